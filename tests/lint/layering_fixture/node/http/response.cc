// The HTTP codec (request parser, response encoder) is pure: base and itself only.
#include "node/http/response.h"
#include "node/http/request_parser.h"
#include "node/base/bytes.h"

#include "runtime/net.h"  // expect-violation
#include "node/http/server.h"  // expect-violation
#include <mutex>  // expect-violation

// The console (docs/http.md, "Console"): GET / serves one self-contained HTML page — no external
// assets — that shows the cluster's members, its topics and every partition's leader, replicas
// and end offset, refreshed from the API every few seconds. It reads the API with the token the
// user types (kept in the page's memory only).
#pragma once

#include <string_view>

namespace sluice::server {

std::string_view console_page();

}  // namespace sluice::server

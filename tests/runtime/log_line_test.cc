// The real node's log lines (runtime/epoll/log_line.h) and its service-manager notifications
// (runtime/epoll/service_notify.h).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "runtime/epoll/log_line.h"
#include "runtime/epoll/posix.h"
#include "runtime/epoll/service_notify.h"

namespace sluice::runtime::epoll {
namespace {

TEST(LogLine, TimestampIsUtcWithMilliseconds) {
  EXPECT_EQ(log_timestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(log_timestamp(1'796'395'718'123'456'789), "2026-12-04T14:48:38.123Z");
}

TEST(LogLine, TsLevelEventThenFields) {
  EXPECT_EQ(format_log_line(0, LogLevel::info, "start", "node=127.0.0.1:7946 node_id=3"),
            "ts=1970-01-01T00:00:00.000Z level=info event=start node=127.0.0.1:7946 node_id=3");
  EXPECT_EQ(format_log_line(0, LogLevel::warn, "membership_socket", ""), "ts=1970-01-01T00:00:00.000Z level=warn event=membership_socket");
  EXPECT_EQ(to_string(LogLevel::error), "error");
}

TEST(LogLine, QuotingEscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(log_quote("plain words"), "\"plain words\"");
  EXPECT_EQ(log_quote("say \"hi\" \\ bye"), "\"say \\\"hi\\\" \\\\ bye\"");
  EXPECT_EQ(log_quote("a\nb\tc\x01"), "\"a\\nb\\tc\\x01\"");
}

TEST(LogLine, ValuesAreBareWordsOrQuoted) {
  EXPECT_EQ(log_value("127.0.0.1:7946"), "127.0.0.1:7946");
  EXPECT_EQ(log_value("[::1]:7946"), "[::1]:7946");
  EXPECT_EQ(log_value("api=10.0.0.2:8080,raft=10.0.0.2:7947"), "api=10.0.0.2:8080,raft=10.0.0.2:7947");
  EXPECT_EQ(log_value("1.2.3.4:5 level=error"), "\"1.2.3.4:5 level=error\"") << "a peer cannot forge a key";
  EXPECT_EQ(log_value(""), "\"\"");
}

// A datagram socket bound at `name` (a path, or '@' + abstract name).
UniqueFd bind_unix_datagram(const std::string& name) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  name.copy(address.sun_path, name.size());
  if (name[0] == '@') address.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '@' ? 0 : 1));
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length), 0) << name;
  return fd;
}

std::string receive(const UniqueFd& fd) {
  char buffer[256];
  const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
  return n < 0 ? std::string("<nothing>") : std::string(buffer, static_cast<size_t>(n));
}

TEST(ServiceNotify, SendsTheStateToAPathOrAnAbstractSocket) {
  const std::string path = "/tmp/sluice-notify-test-" + std::to_string(::getpid());
  ::unlink(path.c_str());
  UniqueFd by_path = bind_unix_datagram(path);
  ASSERT_TRUE(notify_socket(path, "READY=1").ok());
  EXPECT_EQ(receive(by_path), "READY=1");
  ::unlink(path.c_str());

  const std::string abstract = "@sluice-notify-test-" + std::to_string(::getpid());
  UniqueFd by_name = bind_unix_datagram(abstract);
  ASSERT_TRUE(notify_socket(abstract, "STOPPING=1").ok());
  EXPECT_EQ(receive(by_name), "STOPPING=1");
}

TEST(ServiceNotify, NothingWithoutASocketAndAnErrorForAMissingOne) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(notify_service_manager("READY=1").ok());
  EXPECT_TRUE(notify_socket("", "READY=1").ok());
  const Status missing = notify_socket("/nonexistent/sluice-notify", "READY=1");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.to_string().find("/nonexistent/sluice-notify"), std::string::npos) << missing.to_string();
  EXPECT_FALSE(notify_socket("/tmp/" + std::string(200, 'x'), "READY=1").ok());
}

}  // namespace
}  // namespace sluice::runtime::epoll

// The curl examples of docs/http.md ("Examples with curl") against three real sluice-node
// processes on 127.0.0.1 (ctest label e2e), and the node's HTTP flags, config and hash-token.
//
//   1. `sluice-node hash-token` hashes a fresh admin token into a config file with
//      `anonymous = "read"`; three nodes start with it (all controller voters, each with its own
//      ports and HTTP port). Nodes 1 and 2 also get `--anonymous admin`, as the README starts them
//      (the flag overrides the file); node 3 keeps the file's "read". The examples only read
//      through node 3 (port 8082 in the doc), so they run as written, without a token.
//   2. It waits (bounded) until every node answers /readyz with 200 and logs nodes_alive=3.
//   3. Every `$` line of the section runs, in order, in `sh -c` (a line ending in `&` in the
//      background, collected after the next one), with `localhost:8080..8082` mapped to the nodes'
//      HTTP ports and each curl given a time limit and `-w` writing the HTTP status to stderr. Each
//      answer must have the status the test expects and be what the doc shows: equal to a whole
//      JSON answer shown (timestamps aside), every field name of a shortened one (`...`). The
//      test also checks the values that matter itself (offsets, fetched values, the long-poll
//      woken by the background produce well before its wait_ms).
//   4. Tokens on node 3: GET /v1/topics without a token 200, POST /v1/topics without one 403,
//      with the admin token 201, with a wrong token 401.
//   5. SIGTERM to all three: each exits 0.
//
// A second test runs the binary's usage errors (exit 2) and hash-token without a cluster. Without
// curl (or a curl without --json) the tests skip. Every wait has a deadline, every child is
// reaped (NodeProcess; the kernel kills them if this process dies).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "node/http/auth.h"
#include "tests/e2e/node_process.h"

#ifndef SLUICE_NODE_BIN
#error "SLUICE_NODE_BIN: the sluice-node binary under test (tests/CMakeLists.txt)"
#endif
#ifndef SLUICE_SOURCE_DIR
#error "SLUICE_SOURCE_DIR: the repository, for docs/http.md (tests/CMakeLists.txt)"
#endif

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kNodes = 3;
constexpr uint16_t kDocHttpPortFirst = 8080;  // the README's nodes: 8080, 8081, 8082
constexpr auto kReadyWithin = 30s;
constexpr int kCurlSecondsMax = 20;           // --max-time of every curl the test runs
constexpr auto kCommandWithin = 25s;          // one command (sh and its curls)
constexpr auto kPollInterval = 200ms;
constexpr auto kLongPollAnswerMax = 8s;       // the doc's long-poll waits up to 10 s; the produce comes after 1 s
constexpr auto kExitWithin = 15s;             // SIGTERM to exit

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
  return text;
}

// ---- the examples in docs/http.md -----------------------------------------------------------------

struct Example {
  std::string command;              // without the `$ `, continuation lines joined
  std::vector<std::string> output;  // the lines the doc shows after it
  int line = 0;                     // of the `$` in docs/http.md
  bool background = false;          // it ended in `&` (removed from `command`)
};

// The `$` lines of the ```console blocks of the section "## Examples with curl".
std::vector<Example> parse_examples(const std::string& markdown) {
  std::vector<Example> examples;
  std::istringstream lines(markdown);
  std::string line;
  bool in_section = false;
  bool in_console = false;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (line.starts_with("## ")) in_section = line == "## Examples with curl";
    if (!in_section) continue;
    if (line.starts_with("```")) {
      in_console = !in_console && line == "```console";
      continue;
    }
    if (!in_console) continue;
    if (!line.starts_with("$ ")) {
      if (!examples.empty()) examples.back().output.push_back(line);
      continue;
    }
    Example example{line.substr(2), {}, number, false};
    while (example.command.ends_with("\\") && std::getline(lines, line)) {
      ++number;
      example.command.pop_back();
      example.command += line;
    }
    while (example.command.ends_with(" ")) example.command.pop_back();
    if (example.command.ends_with("&")) {
      example.background = true;
      example.command.pop_back();
    }
    examples.push_back(std::move(example));
  }
  return examples;
}

// ---- running commands ---------------------------------------------------------------------------

struct Outcome {
  bool finished = false;  // within the time given
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<int> statuses;  // the `status=NNN` lines curl's -w wrote to stderr
  std::chrono::milliseconds took{0};
};

// `sh -c` commands with stdout and stderr in files of their own, reaped with a deadline.
class Commands {
 public:
  struct Running {
    std::unique_ptr<NodeProcess> process;
    std::string out_path;
    std::string err_path;
    Clock::time_point started;
  };

  explicit Commands(std::string dir) : dir_(std::move(dir)) {}

  Running start(const std::string& command) {
    const std::string base = dir_ + "/command-" + std::to_string(++count_);
    Running running{nullptr, base + ".out", base + ".err", Clock::now()};
    running.process = std::make_unique<NodeProcess>("/bin/sh", std::vector<std::string>{"-c", "exec 2>'" + running.err_path + "'\n" + command},
                                                    running.out_path);
    std::string error;
    if (!running.process->start(error)) ADD_FAILURE() << "starting sh -c " << command << ": " << error;
    return running;
  }

  static Outcome wait(Running& running, std::chrono::milliseconds within) {
    Outcome outcome;
    const std::optional<int> status = running.process->wait_exit(within);
    outcome.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - running.started);
    if (!status) running.process->kill_and_reap();
    outcome.finished = status.has_value();
    outcome.exit_code = status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    outcome.out = read_file(running.out_path);
    outcome.err = read_file(running.err_path);
    static const std::regex kStatus("status=([0-9]{3})");
    for (auto it = std::sregex_iterator(outcome.err.begin(), outcome.err.end(), kStatus); it != std::sregex_iterator(); ++it) {
      outcome.statuses.push_back(std::stoi((*it)[1].str()));
    }
    return outcome;
  }

  Outcome run(const std::string& command, std::chrono::milliseconds within = kCommandWithin) {
    Running running = start(command);
    return wait(running, within);
  }

 private:
  std::string dir_;
  int count_ = 0;
};

std::string describe(const Outcome& outcome) {
  std::string text = outcome.finished ? "exit " + std::to_string(outcome.exit_code) : "did not finish";
  return text + " after " + std::to_string(outcome.took.count()) + " ms; stdout: " + outcome.out + "; stderr: " + outcome.err;
}

// Every curl of `command` with a time limit and its HTTP status written to stderr.
std::string instrument_curl(const std::string& command) {
  const std::string flags = "curl --max-time " + std::to_string(kCurlSecondsMax) + " -w '%{stderr}status=%{http_code}\\n' ";
  std::string out;
  for (size_t at = 0; at < command.size();) {
    const bool word_start = at == 0 || std::string_view(" (;|&").find(command[at - 1]) != std::string_view::npos;
    if (word_start && command.compare(at, 5, "curl ") == 0) {
      out += flags;
      at += 5;
    } else {
      out += command[at++];
    }
  }
  return out;
}

bool curl_usable(Commands& commands) {
  return commands.run("command -v curl > /dev/null && curl --help all | grep -q -- '--json'").exit_code == 0;
}

// The leader's clock: an answer shows it, the doc cannot know it.
void erase_timestamps(Json& json) {
  if (json.is_object()) json.erase("timestamp_ms");
  if (json.is_object() || json.is_array()) {
    for (Json& element : json) erase_timestamps(element);
  }
}

// The answer is as the doc shows it: a whole JSON answer (no `...`) equal to the real one but for
// timestamps; of a shortened one, every `"name":` it shows is in the real one; of a text line,
// the first word (up to `{` or a space).
void expect_answer_shown(const Example& example, const Outcome& outcome) {
  static const std::regex kKey("\"([A-Za-z_]+)\":");
  for (const std::string& line : example.output) {
    Json shown = line.find("...") == std::string::npos ? Json::parse(line, nullptr, false) : Json(Json::value_t::discarded);
    if (shown.is_object()) {
      Json got = Json::parse(outcome.out, nullptr, false);
      erase_timestamps(shown);
      erase_timestamps(got);
      EXPECT_EQ(got, shown) << "docs/http.md:" << example.line << " shows " << line << "; the answer is " << outcome.out;
    } else if (line.starts_with("{")) {
      for (auto it = std::sregex_iterator(line.begin(), line.end(), kKey); it != std::sregex_iterator(); ++it) {
        const std::string key = "\"" + (*it)[1].str() + "\":";
        EXPECT_NE(outcome.out.find(key), std::string::npos)
            << "docs/http.md:" << example.line << " shows " << key << " in the answer; the answer is " << outcome.out;
      }
    } else if (!line.empty()) {
      const std::string word = line.substr(0, line.find_first_of("{ "));
      EXPECT_NE(outcome.out.find(word), std::string::npos) << "docs/http.md:" << example.line << " shows " << line << "; got " << outcome.out;
    }
  }
}

// What the test expects of one example, in the doc's order.
struct Step {
  std::string command_has;  // a part of the example's command that identifies it
  int status = 200;         // of every curl in it
  std::function<void(const Outcome&, const Json&)> check;  // more, on the answer (parsed when JSON)
  // Wait until every node is ready again: a new topic's replicas open a moment after it is
  // created, and a produce before that may get 404 unknown_partition (the doc says so).
  bool then_wait_ready = false;
};

std::string random_token() {
  std::random_device device;
  std::string token = "e2e-";
  for (int i = 0; i < 4; ++i) {
    char part[9];
    std::snprintf(part, sizeof(part), "%08x", device());
    token += part;
  }
  return token;
}

class HttpCurlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(SLUICE_NODE_BIN)) << "no sluice-node at " << SLUICE_NODE_BIN;
    ASSERT_FALSE(dir_.path().empty()) << "cannot create a temporary directory";
    commands_ = std::make_unique<Commands>(dir_.path());
  }

  void TearDown() override {
    if (cluster_ != nullptr) cluster_->finish(HasFailure());
  }

  // The entry line `sluice-node hash-token` prints for `token`.
  std::string hash_token(const std::string& name, const std::string& token) {
    const Outcome hashed = commands_->run("printf '%s\\n' '" + token + "' | " + SLUICE_NODE_BIN + " hash-token " + name);
    EXPECT_EQ(hashed.exit_code, 0) << describe(hashed);
    std::string line = hashed.out;
    while (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  }

  void start_cluster(const std::string& admin_token) {
    const std::string config = dir_.path() + "/auth.toml";
    std::ofstream file(config);
    file << "[http]\nanonymous = \"read\"\n[[http.tokens]]\nentry = \"" << hash_token("e2e-admin", admin_token) << "\"\ncluster_admin = true\n";
    file.close();
    ASSERT_TRUE(file) << "writing " << config;
    std::string error;
    cluster_ = LocalCluster::create({.binary = SLUICE_NODE_BIN,
                                     .dir = dir_.path(),
                                     .cluster_id = 2000 + static_cast<uint64_t>(::getpid()),
                                     .nodes = kNodes,
                                     .extra_args =
                                         [config](int id) {
                                           std::vector<std::string> args = {"--config", config};
                                           // The README's --anonymous admin, over the file's "read".
                                           if (id != 3) args.insert(args.end(), {"--anonymous", "admin"});
                                           return args;
                                         }},
                                    error);
    ASSERT_NE(cluster_, nullptr) << error;
    ASSERT_TRUE(cluster_->start_all(error)) << error;
  }

  // Every node answers /readyz with 200 and has seen the metadata list all three nodes alive.
  void wait_ready() {
    const std::string failed = cluster_->wait_until(kReadyWithin, kPollInterval, [&]() -> std::string {
      std::string waiting;
      for (int id = 1; id <= kNodes && waiting.empty(); ++id) {
        const Outcome ready = commands_->run("curl -s -o /dev/null --max-time 2 -w '%{http_code}' http://127.0.0.1:" +
                                             std::to_string(cluster_->http_port(id)) + "/readyz");
        if (ready.out != "200") waiting = "node " + std::to_string(id) + " answers /readyz with " + ready.out;
        if (!cluster_->log_has(id, "nodes_alive=3")) waiting = "node " + std::to_string(id) + " logs no nodes_alive=3";
      }
      return waiting;
    });
    ASSERT_EQ(failed, "") << "every node ready";
  }

  // The doc's command for this cluster: its HTTP ports, and curl instrumented.
  std::string adapt(const std::string& command) const {
    std::string adapted = command;
    for (int id = 1; id <= kNodes; ++id) {
      adapted = replace_all(adapted, "localhost:" + std::to_string(kDocHttpPortFirst + id - 1),
                            "127.0.0.1:" + std::to_string(cluster_->http_port(id)));
    }
    return instrument_curl(adapted);
  }

  void check_example(const Example& example, const Step& step, const Outcome& outcome) {
    ASSERT_TRUE(outcome.finished && outcome.exit_code == 0) << "docs/http.md:" << example.line << ": " << example.command << ": " << describe(outcome);
    ASSERT_FALSE(outcome.statuses.empty()) << "docs/http.md:" << example.line << ": no curl ran: " << describe(outcome);
    for (int status : outcome.statuses) {
      EXPECT_EQ(status, step.status) << "docs/http.md:" << example.line << ": " << example.command << ": " << describe(outcome);
    }
    if (example.background) return;
    expect_answer_shown(example, outcome);
    if (!step.check) return;
    const Json answer = Json::parse(outcome.out, nullptr, /*allow_exceptions=*/false);
    SCOPED_TRACE("docs/http.md:" + std::to_string(example.line) + ": " + example.command + "\nanswer: " + outcome.out);
    step.check(outcome, answer);
  }

  std::vector<Step> steps();
  void run_examples(const std::vector<Example>& examples);
  void check_tokens(const std::string& admin_token);

  TempDir dir_;
  std::unique_ptr<Commands> commands_;
  std::unique_ptr<LocalCluster> cluster_;  // after dir_: its processes are gone before the directory
};

// The values that matter, per example (the generic checks: status, and the fields the doc shows).
std::vector<Step> HttpCurlTest::steps() {
  auto values_at = [](const Json& answer) {
    std::vector<std::pair<uint64_t, std::string>> records;
    for (const Json& record : answer.value("records", Json::array())) {
      records.emplace_back(record.value("offset", uint64_t{0}), record.value("value", std::string()));
    }
    return records;
  };
  using Records = std::vector<std::pair<uint64_t, std::string>>;
  return {
      {"/healthz", 200, [](const Outcome&, const Json& a) { EXPECT_EQ(a.value("status", ""), "ok"); }},
      {"/readyz", 200, [](const Outcome&, const Json& a) { EXPECT_EQ(a.value("status", ""), "ready"); }},
      {"/v1/cluster", 200,
       [](const Outcome&, const Json& a) {
         EXPECT_EQ(a.value("node", 0), 3);
         EXPECT_GE(a.value("controller_leader", 0), 1);
         ASSERT_TRUE(a.contains("members") && a["members"].is_array());
         EXPECT_EQ(a["members"].size(), 3u);
         for (const Json& member : a["members"]) {
           EXPECT_EQ(member.value("state", ""), "alive");
           if (!member.value("self", false)) {
             EXPECT_TRUE(member.value("api", "").starts_with("127.0.0.1:")) << member.dump();
           }
         }
       }},
      {"\"name\":\"orders\"", 201,
       [](const Outcome&, const Json& a) {
         EXPECT_EQ(a.value("name", ""), "orders");
         EXPECT_EQ(a.value("replication", 0), 3);
         EXPECT_EQ(a.value("partitions", Json::array()).size(), 3u);
       },
       /*then_wait_ready=*/true},
      {"8081/v1/topics", 200,
       [](const Outcome&, const Json& a) {
         ASSERT_EQ(a.value("topics", Json::array()).size(), 1u);
         EXPECT_EQ(a["topics"][0].value("name", ""), "orders");
         EXPECT_EQ(a["topics"][0].value("partitions", 0), 3);
       }},
      {"8082/v1/topics/orders", 200,
       [](const Outcome&, const Json& a) {
         ASSERT_EQ(a.value("partitions", Json::array()).size(), 3u);
         for (const Json& p : a["partitions"]) {
           EXPECT_EQ(p.value("replicas", Json::array()).size(), 3u);
           EXPECT_GE(p.value("leader", 0), 1);
           EXPECT_EQ(p.value("end_offset", -1), 0);  // node 3 holds every partition: replication 3
         }
       }},
      {"customer-17", 200,
       [](const Outcome&, const Json& a) {
         // partition_for_key("customer-17", 3) is 1, as the doc says; a fresh partition.
         EXPECT_EQ(a, Json::parse(R"({"records":[{"offset":0,"partition":1},{"offset":1,"partition":1}]})"));
       }},
      {"\"partition\":0,\"value\":\"hello\"", 200,
       [](const Outcome&, const Json& a) {
         EXPECT_EQ(a, Json::parse(R"({"records":[{"offset":0,"partition":0},{"offset":1,"partition":0}]})"));
       }},
      {"8082/v1/topics/orders/partitions/0/records?offset=0", 200,
       [values_at](const Outcome&, const Json& a) {
         EXPECT_EQ(values_at(a), (Records{{0, "hello"}, {1, "world"}}));
         EXPECT_EQ(a.value("next_offset", 0), 2);
         EXPECT_EQ(a.value("high_watermark", 0), 2);
       }},
      {"\"value\":\"late\"", 200, nullptr},  // in the background: its status is checked after the next
      {"wait_ms=10000", 200,
       [values_at](const Outcome& outcome, const Json& a) {
         EXPECT_EQ(values_at(a), (Records{{2, "late"}}));
         EXPECT_LT(outcome.took.count(), std::chrono::milliseconds(kLongPollAnswerMax).count()) << "the long-poll was not woken by the produce";
       }},
      {"at=earliest", 200, [](const Outcome&, const Json& a) { EXPECT_EQ(a, Json::parse(R"({"offset":0})")); }},
      {"at=latest", 200, [](const Outcome&, const Json& a) { EXPECT_EQ(a, Json::parse(R"({"offset":3})")); }},
      {"-X PUT", 200,
       [](const Outcome&, const Json& a) {
         EXPECT_EQ(a.value("config", Json::object()).value("retention_ms", 0), 86400000);
         EXPECT_EQ(a.value("config", Json::object()).value("segment_bytes", 0), 134217728);
       }},
      {"/metrics | grep", 200,
       [](const Outcome& outcome, const Json&) {
         // The fetch and the long-poll went through node 3.
         static const std::regex kLine("http_requests_total\\{route=\"fetch\",status=\"200\"\\} ([0-9]+)");
         std::smatch match;
         ASSERT_TRUE(std::regex_search(outcome.out, match, kLine)) << outcome.out;
         EXPECT_GE(std::stoi(match[1].str()), 2);
       }},
      {"sluice_(log_", 200,
       [](const Outcome& outcome, const Json&) {
         // Node 3 holds a replica of each of the three partitions, written to: their logs show.
         const auto value = [&](const std::string& name) {
           const std::regex line("(^|\n)" + name + " ([0-9.e+]+)");
           std::smatch match;
           return std::regex_search(outcome.out, match, line) ? std::stod(match[2].str()) : -1.0;
         };
         EXPECT_GE(value("sluice_log_segments"), 3) << outcome.out;
         EXPECT_GT(value("sluice_log_bytes"), 0) << outcome.out;
         EXPECT_GT(value("sluice_log_fsync_seconds_count"), 0) << outcome.out;
         EXPECT_EQ(value("sluice_xdp_active"), 0) << outcome.out;  // --xdp off
       }},
      {"-X DELETE", 200, [](const Outcome&, const Json& a) { EXPECT_EQ(a, Json::parse(R"({"deleted":"orders"})")); }},
      {"8080/v1/topics/orders", 404,
       [](const Outcome&, const Json& a) {
         EXPECT_EQ(a.value("error", Json::object()).value("code", ""), "unknown_topic");
       }},
  };
}

void HttpCurlTest::run_examples(const std::vector<Example>& examples) {
  const std::vector<Step> expected = steps();
  std::string listed;
  for (const Example& example : examples) listed += "  docs/http.md:" + std::to_string(example.line) + ": " + example.command + "\n";
  ASSERT_EQ(examples.size(), expected.size()) << "the examples in docs/http.md and the steps of this test differ:\n" << listed;
  for (size_t i = 0; i < examples.size(); ++i) {
    ASSERT_NE(examples[i].command.find(expected[i].command_has), std::string::npos)
        << "docs/http.md:" << examples[i].line << ": step " << i << " of this test expects a command with " << expected[i].command_has;
  }
  std::optional<Commands::Running> background;
  size_t background_step = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    const Example& example = examples[i];
    if (example.background) {
      ASSERT_FALSE(background.has_value()) << "two background examples in a row";
      background = commands_->start(adapt(example.command));
      background_step = i;
      continue;
    }
    // No retry: a produce right after the topic's creation, while the controller hands its
    // partitions to their preferred leaders, waits for the transfer (it used to get 429).
    const Outcome outcome = commands_->run(adapt(example.command));
    const std::string shown = outcome.out.substr(0, std::min<size_t>(outcome.out.find('\n'), 160));
    std::cout << "docs/http.md:" << example.line << ": " << outcome.took.count() << " ms: " << shown << "\n";
    ASSERT_NO_FATAL_FAILURE(check_example(example, expected[i], outcome));
    if (background) {
      const Outcome collected = Commands::wait(*background, kCommandWithin);
      background.reset();
      ASSERT_NO_FATAL_FAILURE(check_example(examples[background_step], expected[background_step], collected));
    }
    if (expected[i].then_wait_ready) {
      ASSERT_NO_FATAL_FAILURE(wait_ready());
    }
  }
  ASSERT_FALSE(background.has_value()) << "the last example runs in the background: nothing collects it";
}

void HttpCurlTest::check_tokens(const std::string& admin_token) {
  const std::string node3 = "http://127.0.0.1:" + std::to_string(cluster_->http_port(3));
  auto call = [&](const std::string& args, const std::string& token) {
    const std::string auth = token.empty() ? "" : "-H 'Authorization: Bearer " + token + "' ";
    return commands_->run(instrument_curl("curl -s " + auth + args));
  };
  auto code_of = [](const Outcome& outcome) {
    const Json answer = Json::parse(outcome.out, nullptr, false);
    return answer.is_object() ? answer.value("error", Json::object()).value("code", "") : "";
  };
  const std::string create = "--json '{\"name\":\"secured\",\"partitions\":1,\"replication\":1}' " + node3 + "/v1/topics";
  const Outcome listed = call(node3 + "/v1/topics", "");
  EXPECT_EQ(listed.statuses, std::vector<int>{200}) << "anonymous read: " << describe(listed);
  const Outcome anonymous = call(create, "");
  EXPECT_EQ(anonymous.statuses, std::vector<int>{403}) << "anonymous create: " << describe(anonymous);
  EXPECT_EQ(code_of(anonymous), "forbidden");
  const Outcome wrong = call(create, admin_token + "-wrong");
  EXPECT_EQ(wrong.statuses, std::vector<int>{401}) << "a wrong token: " << describe(wrong);
  EXPECT_EQ(code_of(wrong), "unauthorized");
  const Outcome wrong_read = call(node3 + "/v1/topics", "not-" + admin_token);
  EXPECT_EQ(wrong_read.statuses, std::vector<int>{401}) << "a wrong token is no anonymous caller: " << describe(wrong_read);
  const Outcome admin = call(create, admin_token);
  EXPECT_EQ(admin.statuses, std::vector<int>{201}) << "the admin token: " << describe(admin);
  EXPECT_NE(admin.out.find("\"name\":\"secured\""), std::string::npos) << admin.out;
}

TEST_F(HttpCurlTest, TheDocsExamplesWorkAgainstThreeNodesAndTokensAreChecked) {
  if (!curl_usable(*commands_)) GTEST_SKIP() << "no curl with --json (7.82 or newer) on this machine";
  if (!loopback_usable()) GTEST_SKIP() << "this machine does not let a process bind 127.0.0.1";
  const std::vector<Example> examples = parse_examples(read_file(std::string(SLUICE_SOURCE_DIR) + "/docs/http.md"));
  ASSERT_FALSE(examples.empty()) << "no `$` lines in docs/http.md, \"## Examples with curl\"";
  const std::string admin_token = random_token();
  ASSERT_NO_FATAL_FAILURE(start_cluster(admin_token));
  const auto started = Clock::now();
  ASSERT_NO_FATAL_FAILURE(wait_ready());
  std::cout << "ready after " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count() << " ms\n";
  ASSERT_NO_FATAL_FAILURE(run_examples(examples));
  ASSERT_NO_FATAL_FAILURE(check_tokens(admin_token));
  ASSERT_EQ(cluster_->unexpected_exit(), "");

  cluster_->signal_all(SIGTERM);
  for (int id = 1; id <= kNodes; ++id) {
    const std::optional<int> status = cluster_->node(id).wait_exit(kExitWithin);
    ASSERT_TRUE(status.has_value()) << "node " << id << " still runs " << kExitWithin.count() << " s after SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "node " << id << ": " << describe_wait_status(*status);
  }
}

// No cluster: what sluice-node refuses before it binds anything, and hash-token's entry line.
TEST_F(HttpCurlTest, UsageErrorsExit2AndHashTokenPrintsAnEntry) {
  const std::string bin = SLUICE_NODE_BIN;
  const std::string data = " --data-dir '" + dir_.path() + "/unused'";
  const std::string entry = hash_token("e2e-writer", "s3cret-token");
  const std::optional<http::TokenEntry> parsed = http::parse_token_entry_line(entry);
  ASSERT_TRUE(parsed.has_value()) << entry;
  EXPECT_EQ(parsed->name, "e2e-writer");
  EXPECT_EQ(parsed->hash, http::hash_token("s3cret-token", parsed->salt));
  EXPECT_NE(hash_token("e2e-writer", "s3cret-token"), entry) << "a fresh salt every time";

  const std::string bad = dir_.path() + "/bad.toml";
  std::ofstream(bad) << "[http]\nport = 8080\n[[http.tokens]]\nentry = \"e2e:00:00\"\n";
  struct Refused {
    std::string args;
    std::string says;
  };
  const std::vector<Refused> refused = {
      {"--config '" + bad + "'" + data, bad + ":4: http.tokens[0].entry: expected name:<salt hex>:<hash hex>"},
      {"--port 7000 --http-port 7000" + data, "the http port (7000) must differ from the membership, raft and rpc ports"},
      {"--anonymous sometimes" + data, "--anonymous"},
      {"--test-planted-bug no_such_bug" + data, "--test-planted-bug: no_such_bug not in"},
      {"hash-token < /dev/null", "NAME is required"},
      {"hash-token e2e < /dev/null", "the token (one line on standard input) is 1 to 512"},
      {"hash-token 'a:b' < /dev/null", "NAME is 1 to 64"},
  };
  for (const Refused& run : refused) {
    const Outcome outcome = commands_->run(bin + " " + run.args);
    EXPECT_EQ(outcome.exit_code, 2) << run.args << ": " << describe(outcome);
    EXPECT_NE((outcome.out + outcome.err).find(run.says), std::string::npos) << run.args << ": " << describe(outcome);
  }
  const Outcome help = commands_->run(bin + " hash-token --help");
  EXPECT_EQ(help.exit_code, 0) << describe(help);
  EXPECT_NE(help.out.find("Usage: sluice-node hash-token"), std::string::npos) << describe(help);
}

}  // namespace
}  // namespace sluice::e2e

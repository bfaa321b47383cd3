// kvnode's log as an operator meets it: rotation by SIGHUP, SIGPIPE ignored, and the text and
// JSON line formats, from a real process.

#include "apps/kvnode/config.hpp"
#include "harness/node_process.hpp"
#include "harness/temp_dir.hpp"
#include "support/client_util.hpp"
#include "support/json_object.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <regex>

using namespace kv::harness;
using namespace kv::test;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Polls `done` every 10 ms for up to 10 s; returns its last answer.
template <typename Done>
bool eventually(Done done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// `text` as a TOML basic string.
std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

std::string file_log(const std::filesystem::path& path, const std::string& format = "text") {
  return fmt::format("level = \"debug\"\nformat = \"{}\"\nfile = {}\n", format, toml_string(path.string()));
}

void ping_and_set(const node_process& node, std::string key) {
  with_client(node.endpoint(), [key](kv::client& c) -> asio::awaitable<void> {
    BOOST_TEST((co_await c.ping()).ok());
    BOOST_TEST((co_await c.set(key, "v")).ok());
  });
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  for (auto end = text.find('\n'); end != std::string::npos; end = text.find('\n', at)) {
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  BOOST_TEST(at == text.size(), "the last line has no newline");
  return lines;
}

// Sets an environment variable for the processes started while it lives.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

const std::regex rfc3339_utc_millis(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");

}  // namespace

BOOST_AUTO_TEST_SUITE(node_log)

// logrotate's way: rename the file, then kill -HUP. The node keeps serving and writes on at the
// configured path; SIGPIPE does not kill it either.
BOOST_AUTO_TEST_CASE(sighup_reopens_the_log_file_and_sigpipe_is_ignored) {
  temp_dir logs;
  auto path = logs / "kvnode.log";
  node_process node("", file_log(path));
  BOOST_REQUIRE(eventually([&] { return has(slurp(path), "serving on"); }));
  std::filesystem::rename(path, logs / "kvnode.log.1");

  BOOST_REQUIRE(::kill(node.pid(), SIGHUP) == 0);
  BOOST_TEST(eventually([&] { return has(slurp(path), "reopened the log file " + path.string()); }), slurp(path));
  ping_and_set(node, "after-rotation");
  BOOST_TEST(process_running(node.pid()));
  auto rotated = slurp(logs / "kvnode.log.1");
  BOOST_TEST(has(rotated, "serving on"));
  BOOST_TEST(has(rotated, "received SIGHUP: reopening the log file " + path.string()), rotated);
  BOOST_TEST(!has(rotated, "reopened the log file"), rotated);

  BOOST_REQUIRE(::kill(node.pid(), SIGPIPE) == 0);
  ping_and_set(node, "after-sigpipe");
  BOOST_TEST(process_running(node.pid()));

  BOOST_TEST(node.stop() == 0);  // the SIGHUP wait does not hold the node up at shutdown
  BOOST_TEST(has(slurp(path), "stopped cleanly"), slurp(path));
}

BOOST_AUTO_TEST_CASE(sighup_with_the_log_on_stderr_has_nothing_to_reopen) {
  node_process node;
  BOOST_REQUIRE(::kill(node.pid(), SIGHUP) == 0);
  BOOST_TEST(eventually([&] { return has(node.log(), "no log file to reopen"); }), node.log());
  ping_and_set(node, "k");
  BOOST_TEST(node.stop() == 0);
}

// Every line a collector reads is a JSON object with a UTC time, a level as the config spells
// it, the node id and the message, even when the message holds quotes, backslashes and control
// characters (here in the log file's name, which the startup log repeats).
BOOST_AUTO_TEST_CASE(json_lines_parse) {
  temp_dir logs;
  auto path = logs / "log \"quoted\" back\\slash\ttab\nnewline.json";
  node_process node("", file_log(path, "json"));
  ping_and_set(node, "k");
  BOOST_TEST(node.stop() == 0);

  auto lines = lines_of(slurp(path));
  BOOST_TEST(lines.size() >= 8u);
  std::vector<std::string> messages;
  for (const auto& line : lines) {
    std::string why;
    auto members = parse_json_object(line, &why);
    BOOST_TEST(members.has_value(), why << " in: " << line);
    if (!members) continue;
    BOOST_TEST(std::regex_match(members->at("ts"), rfc3339_utc_millis), line);
    BOOST_TEST(kv::is_log_level(members->at("level")), line);
    BOOST_TEST(members->at("node") == "1");
    messages.push_back(members->at("msg"));
  }
  auto logged = [&](const std::string& start) {
    return std::any_of(messages.begin(), messages.end(), [&](const std::string& m) { return m.starts_with(start); });
  };
  BOOST_TEST(logged("kvnode 1 serving on " + node.endpoint()));
  BOOST_TEST(logged("config [log] level=debug format=json file=" + path.string()));
  BOOST_TEST(logged("kvnode 1 stopped cleanly"));
}

// A text line starts with the UTC time and a 'Z' whatever the node's time zone, and a warning
// reads "warn" as [log] level spells it.
BOOST_AUTO_TEST_CASE(text_lines_have_utc_time_and_the_configs_level_names) {
  std::optional<node_process> node;
  {
    scoped_env india("TZ", "IST-5:30");  // UTC+05:30, a POSIX TZ string that needs no tzdata
    node.emplace("[storage]\nfsync = \"never\"\n");
  }
  auto log = node->log();
  std::smatch m;
  const std::regex warning_line(R"((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.\d{3}Z warn  storage\.fsync = "never")");
  BOOST_REQUIRE_MESSAGE(std::regex_search(log, m, warning_line), log);
  std::tm tm{};
  BOOST_REQUIRE(::strptime(m[1].str().c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr);
  auto logged_at = ::timegm(&tm);
  BOOST_TEST(std::abs(std::difftime(std::time(nullptr), logged_at)) < 120.0, m[1].str());
  BOOST_TEST(!has(log, " warning "));
  BOOST_TEST(node->stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

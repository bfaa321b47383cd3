// kvctl against a real node: every command, its output, and its exit status.

#include "harness/node_process.hpp"

#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <random>
#include <sstream>
#include <thread>

using namespace kv::harness;

namespace {

command_result kvctl(const node_process& node, std::vector<std::string> args, const std::string& stdin_data = {}) {
  std::vector<std::string> argv{binary("kvctl").string(), "--endpoints", node.endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, stdin_data);
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

std::string random_bytes(std::size_t n) {
  std::mt19937_64 rng(n);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

// A TCP server on loopback that is not a kvnode node: it answers whatever a connection sends
// with an HTTP error and closes it. Serves on a thread of its own until destroyed.
class http_error_server {
 public:
  http_error_server() : acceptor_(ctx_, {asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { ctx_.run(); });
  }
  ~http_error_server() {
    ctx_.stop();
    thread_.join();
  }
  http_error_server(const http_error_server&) = delete;
  http_error_server& operator=(const http_error_server&) = delete;

  std::string endpoint() const { return fmt::format("127.0.0.1:{}", acceptor_.local_endpoint().port()); }

 private:
  void accept() {
    acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      // Reads the request first and lets the client close, so that the client reads the answer
      // rather than a connection reset.
      char request[512];
      s.read_some(asio::buffer(request), ec);
      asio::write(s, asio::buffer(std::string_view("HTTP/1.0 400 Bad Request\r\n\r\n")), ec);
      s.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      while (!ec) s.read_some(asio::buffer(request), ec);
      accept();
    });
  }

  asio::io_context ctx_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(kvctl_cli)

BOOST_AUTO_TEST_CASE(commands_and_exit_codes) {
  node_process node;
  auto r = kvctl(node, {"set", "name", "kvnode"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(has(r.out, "OK (index"), r.out);

  r = kvctl(node, {"get", "name"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out == "kvnode\n");

  r = kvctl(node, {"get", "--stale", "name"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out == "kvnode\n");

  r = kvctl(node, {"get", "nothing"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err == "kvctl: not found\n");

  r = kvctl(node, {"set", "piped", "-"}, "from standard input");
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(kvctl(node, {"get", "piped"}).out == "from standard input\n");

  r = kvctl(node, {"del", "name"});
  BOOST_TEST(r.exit_code == 0);
  r = kvctl(node, {"del", "name"});
  BOOST_TEST(r.exit_code == 1);

  r = kvctl(node, {"bulk-set", "a", "1", "b", "2"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(has(r.out, "2 pairs"), r.out);
  BOOST_TEST(kvctl(node, {"get", "b"}).out == "2\n");

  r = kvctl(node, {"ping"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(has(r.out, "PONG from " + node.endpoint()), r.out);

  r = kvctl(node, {"status"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(has(r.out, "node_id: 1\n"), r.out);
  BOOST_TEST(has(r.out, "role: leader\n"), r.out);
  BOOST_TEST(has(r.out, "keys: 3\n"), r.out);
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2_with_one_line_and_send_nothing) {
  node_process node;
  const std::vector<std::vector<std::string>> usage_errors{
      {},
      {"frobnicate"},
      {"set", "only-key"},
      {"get"},
      {"get", "--bogus", "k"},
      {"bulk-set", "odd"},
      {"--bogus", "ping"},
      {"ping", "extra"},
      {"set", "", "v"},
      {"set", "", "-"},
      {"get", ""},
      {"get", "--raw", ""},
      {"del", ""},
      {"bulk-set", "a", "1", "", "2"},
      {"--hex", "set", "", "76"},
      {"--hex", "get", "6b0"},
      {"--hex", "get", "zz"},
      {"--hex", "set", "6b", "7"},
      {"--hex", "search", "--prefix", "x", "word"},
  };
  // Against a port nothing listens on: anything sent would fail with exit status 3.
  const auto nowhere = "127.0.0.1:" + std::to_string(free_port());
  for (const auto& args : usage_errors) {
    std::string shown;
    for (const auto& a : args) shown += " [" + a + "]";
    auto r = kvctl(node, args);
    BOOST_TEST(r.exit_code == 2, "args:" << shown << ": " << r.err);
    BOOST_TEST(r.err.starts_with("kvctl: "), r.err);
    BOOST_TEST(lines(r.err) == 1u, "args:" << shown << ": " << r.err);
    BOOST_TEST(r.out.empty(), r.out);
    std::vector<std::string> argv{binary("kvctl").string(), "--endpoints", nowhere};
    argv.insert(argv.end(), args.begin(), args.end());
    auto unsent = run_command(argv, "value");
    BOOST_TEST(unsent.exit_code == 2, "args:" << shown << ": " << unsent.err);
  }
  auto empty_key = kvctl(node, {"set", "", "v"});
  BOOST_TEST(has(empty_key.err, "KEY cannot be empty"), empty_key.err);
  BOOST_TEST(has(kvctl(node, {"status"}).out, "keys: 0\n"));  // nothing was written

  auto help = run_command({binary("kvctl").string(), "--help"});
  BOOST_TEST(help.exit_code == 0);
  BOOST_TEST(has(help.out, "exit status"));
}

BOOST_AUTO_TEST_CASE(binary_values_round_trip_exactly) {
  node_process node;
  const auto value = random_bytes(1u << 20);  // the default max-value-size, 1 MiB
  auto r = kvctl(node, {"set", "blob", "-"}, value);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  r = kvctl(node, {"get", "--raw", "blob"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.size() == value.size());
  BOOST_TEST((r.out == value), "the value read back differs from the value written");

  // Without --raw, get prints a newline after the value; --raw prints nothing more.
  kvctl(node, {"set", "text", "hello"});
  BOOST_TEST(kvctl(node, {"get", "text"}).out == "hello\n");
  BOOST_TEST(kvctl(node, {"get", "--raw", "text"}).out == "hello");
  BOOST_TEST(kvctl(node, {"get", "--stale", "--raw", "text"}).out == "hello");
}

BOOST_AUTO_TEST_CASE(hex_gives_and_prints_any_key_and_value_bytes) {
  node_process node;
  // Key "k\0y", value "v\0\xff": bytes a shell cannot pass as arguments.
  auto r = kvctl(node, {"--hex", "set", "6b0079", "7600FF"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  r = kvctl(node, {"--hex", "get", "6b0079"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "7600ff\n");
  r = kvctl(node, {"--hex", "get", "--raw", "6b0079"});
  BOOST_TEST((r.out == std::string("v\0\xff", 3)));
  // The NUL is part of the key: "k" and "k\0" are other keys.
  BOOST_TEST(kvctl(node, {"get", "k"}).exit_code == 1);
  BOOST_TEST(kvctl(node, {"--hex", "get", "6b00"}).exit_code == 1);
  // A value from standard input is taken as it is, also with --hex.
  r = kvctl(node, {"--hex", "set", "00", "-"}, std::string("a\0b", 3));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(kvctl(node, {"--hex", "get", "00"}).out == "610062\n");
  r = kvctl(node, {"--hex", "bulk-set", "6b31", "", "6b32", "32"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(kvctl(node, {"get", "--raw", "k1"}).out.empty());
  BOOST_TEST(kvctl(node, {"get", "k2"}).out == "2\n");
  BOOST_TEST(kvctl(node, {"--hex", "del", "6b0079"}).exit_code == 0);
  BOOST_TEST(kvctl(node, {"--hex", "get", "6b0079"}).exit_code == 1);
  // Search hits print their keys in hex, and --prefix is hex.
  kvctl(node, {"set", "doc\x01", "brown fox"});
  r = kvctl(node, {"--hex", "search", "--prefix", "646f63", "brown"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.starts_with("646f6301\t"), r.out);
}

BOOST_AUTO_TEST_CASE(input_over_the_value_limit_is_refused_before_it_is_read_whole) {
  node_process node("[storage]\nmax-value-size = \"1KiB\"\n");
  auto r = kvctl(node, {"set", "k", "-"}, std::string(1024, 'x'));
  BOOST_TEST(r.exit_code == 0, r.err);
  r = kvctl(node, {"set", "k", "-"}, std::string(1025, 'y'));
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.err == "kvctl: value exceeds the node's max-value-size (1024 bytes)\n");
  BOOST_TEST(kvctl(node, {"get", "k"}).out == std::string(1024, 'x') + "\n");  // unchanged

  // 100 MB from a pipe: kvctl stops reading past the limit and exits, and the writer, with
  // most of its data still unwritten, is cut off (its status is not 0).
  const auto start = std::chrono::steady_clock::now();
  auto piped = run_command({"/bin/bash", "-c",
                            fmt::format("head -c 100000000 /dev/zero | {} --endpoints {} set big -; "
                                        "echo \"${{PIPESTATUS[0]}} ${{PIPESTATUS[1]}}\"",
                                        binary("kvctl").string(), node.endpoint())});
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(piped.err == "kvctl: value exceeds the node's max-value-size (1024 bytes)\n");
  std::istringstream statuses(piped.out);
  int head_status = -1;
  int kvctl_status = -1;
  statuses >> head_status >> kvctl_status;
  BOOST_TEST(kvctl_status == 3, piped.out);
  BOOST_TEST(head_status != 0, "the writer was not cut off: kvctl read all 100 MB");
  BOOST_TEST(took < std::chrono::seconds(2), "took " << std::chrono::duration<double>(took).count() << " s");
  BOOST_TEST(kvctl(node, {"get", "big"}).exit_code == 1);
}

BOOST_AUTO_TEST_CASE(server_and_network_errors_exit_3) {
  node_process node("[storage]\nmax-key-size = \"8B\"\n");
  auto r = kvctl(node, {"set", "much-too-long-key", "v"});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(has(r.err, "max-key-size"), r.err);
  BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line

  auto down = run_command({binary("kvctl").string(), "--endpoints", "127.0.0.1:" + std::to_string(free_port()),
                           "--timeout", "2s", "ping"});
  BOOST_TEST(down.exit_code == 3);
  BOOST_TEST(has(down.err, "cannot connect"), down.err);
}

BOOST_AUTO_TEST_CASE(an_endpoint_that_is_not_kvnode_is_named) {
  http_error_server web;
  for (const auto& args : std::vector<std::vector<std::string>>{{"get", "k"}, {"set", "k", "v"}, {"ping"}}) {
    std::vector<std::string> argv{binary("kvctl").string(), "--endpoints", web.endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    BOOST_TEST(r.exit_code == 3, args[0] << ": " << r.err);
    BOOST_TEST(r.err.starts_with("kvctl: " + web.endpoint() + " did not answer as a kvnode node (malformed response: "),
               args[0] << ": " << r.err);
    BOOST_TEST(has(r.err, "HTTP/1.0 400"), r.err);
    BOOST_TEST(lines(r.err) == 1u, r.err);
  }
}

BOOST_AUTO_TEST_SUITE_END()

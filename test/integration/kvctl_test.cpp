// kvctl against a real node: every command, its output, and its exit status.

#include "support/process.hpp"

#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <thread>

using namespace kv::test;

namespace {

command_result kvctl(const node_process& node, std::vector<std::string> args, const std::string& stdin_data = {}) {
  std::vector<std::string> argv{binary("kvctl").string(), "--endpoints", node.endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, stdin_data);
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

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

BOOST_AUTO_TEST_CASE(usage_errors_exit_2) {
  node_process node;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"frobnicate"}, {"set", "only-key"}, {"get"}, {"bulk-set", "odd"}, {"--bogus", "ping"}, {"ping", "extra"}}) {
    auto r = kvctl(node, args);
    BOOST_TEST(r.exit_code == 2, "args: " << args.size());
    BOOST_TEST(!r.err.empty());
    BOOST_TEST(has(r.err, "kvctl: "), r.err);
  }
  auto help = run_command({binary("kvctl").string(), "--help"});
  BOOST_TEST(help.exit_code == 0);
  BOOST_TEST(has(help.out, "exit status"));
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

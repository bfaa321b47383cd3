// kvctl against a real node: every command, its output, and its exit status.

#include "harness/node_process.hpp"

#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

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

// kvctl -w json's answer: one object on one line.
nlohmann::json json_of(const command_result& r) {
  BOOST_TEST(lines(r.out) == 1u, r.out);
  return nlohmann::json::parse(r.out);
}

// The node's keyspace revision, from `kvctl status`.
std::uint64_t revision_of(const node_process& node) {
  return json_of(kvctl(node, {"-w", "json", "status"}))["revision"].get<std::uint64_t>();
}

// The number on the one line of a successful ttl (or expire, persist).
std::int64_t number_of(const command_result& r) {
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(lines(r.out) == 1u, r.out);
  return std::stoll(r.out);
}

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
  BOOST_TEST(r.out == fmt::format("OK (revision {})\n", revision_of(node)));

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
  BOOST_TEST(r.out == fmt::format("OK (revision {}, 2 pairs)\n", revision_of(node)));
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
      {"get", "--limit", "x", "k"},
      {"get", "--prefix", "a", "b"},
      {"get", "--prefix", "--from-key", "a"},
      {"get", "--order", "sideways", "k"},
      {"get", "--raw", "a", "b"},
      {"del", "--prefix", "a", "b"},
      {"del", "--bogus", "k"},
      {"txn"},
      {"txn", "extra"},
      {"cas", "k", "v"},
      {"cas", "--absent", "k", "old", "new"},
      {"cas", "--absent", "--mod-rev", "3", "k", "v"},
      {"cas", "--mod-rev", "x", "k", "v"},
      {"incr"},
      {"incr", "k", "x"},
      {"incr", "k", "1.5"},
      {"mget"},
      {"mget", ""},
      {"compact"},
      {"compact", "x"},
      {"compact", "0"},
      {"-w", "yaml", "ping"},
      {"-w"},
      {"--write-out=xml", "ping"},
      {"-w", "json", "get", "--raw", "k"},
      {"set", "k", "v", "--ttl", "10"},
      {"set", "k", "v", "--ttl", "0s"},
      {"set", "k", "v", "--ttl", "5s", "--keep-ttl"},
      {"set", "k", "-", "--ttl", "-1s"},
      {"expire", "k"},
      {"expire", "k", "0ms"},
      {"persist"},
      {"ttl", "k", "--bogus"},
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

BOOST_AUTO_TEST_CASE(range_gets_follow_etcdctl) {
  node_process node;
  BOOST_TEST_REQUIRE(kvctl(node, {"bulk-set", "p/a", "1", "p/b", "2", "p/c", "3", "q", "4"}).exit_code == 0);

  auto r = kvctl(node, {"get", "--prefix", "p/"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "p/a\n1\np/b\n2\np/c\n3\n");
  BOOST_TEST(kvctl(node, {"get", "p/a", "p/c"}).out == "p/a\n1\np/b\n2\n");  // [KEY, END)
  BOOST_TEST(kvctl(node, {"get", "p/b", "--from-key"}).out == "p/b\n2\np/c\n3\nq\n4\n");
  BOOST_TEST(kvctl(node, {"get", "--prefix", "p/", "--keys-only"}).out == "p/a\np/b\np/c\n");
  BOOST_TEST(kvctl(node, {"get", "--prefix", "p/", "--print-value-only"}).out == "1\n2\n3\n");
  BOOST_TEST(kvctl(node, {"get", "--prefix", "p/", "--count-only"}).out == "3\n");
  BOOST_TEST(kvctl(node, {"get", "--prefix", "", "--count-only"}).out == "4\n");  // every key
  BOOST_TEST(kvctl(node, {"get", "--prefix", "p/", "--order=DESCEND", "--limit=1"}).out == "p/c\n3\n");
  BOOST_TEST(kvctl(node, {"get", "--stale", "--prefix", "p/", "--limit", "1"}).out == "p/a\n1\n");

  // --limit: the first keys, with count and more saying what was left out.
  r = kvctl(node, {"-w", "json", "get", "--prefix", "p/", "--limit", "2"});
  BOOST_TEST(r.exit_code == 0, r.err);
  auto j = json_of(r);
  BOOST_TEST(j["count"].get<std::uint64_t>() == 3u);
  BOOST_TEST(j["more"].get<bool>());
  BOOST_TEST_REQUIRE(j["kvs"].size() == 2u);
  BOOST_TEST(j["kvs"][0]["key"].get<std::string>() == "cC9h");  // base64 of "p/a"
  BOOST_TEST(j["kvs"][1]["value"].get<std::string>() == "Mg==");  // "2"
  BOOST_TEST(j["header"]["revision"].get<std::uint64_t>() == revision_of(node));
  j = json_of(kvctl(node, {"-w", "json", "get", "--prefix", "p/", "--limit", "3"}));
  BOOST_TEST(!j["more"].get<bool>());

  // A range that finds nothing prints nothing and exits 0, as etcdctl's; one KEY exits 1.
  r = kvctl(node, {"get", "--prefix", "nothing/"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.empty());
  r = kvctl(node, {"get", "nothing"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out.empty());
  BOOST_TEST(r.err == "kvctl: not found\n");

  // --hex: keys and values printed in hexadecimal.
  BOOST_TEST(kvctl(node, {"--hex", "get", "--prefix", "71"}).out == "71\n34\n");
}

BOOST_AUTO_TEST_CASE(rev_reads_an_overwritten_value_until_compacted) {
  node_process node;
  BOOST_TEST_REQUIRE(kvctl(node, {"set", "k", "first"}).exit_code == 0);
  auto first = json_of(kvctl(node, {"-w", "json", "get", "k"}));
  const auto first_rev = first["kvs"][0]["mod_revision"].get<std::uint64_t>();
  BOOST_TEST(first["kvs"][0]["version"].get<std::uint64_t>() == 1u);
  BOOST_TEST(kvctl(node, {"set", "k", "second"}).exit_code == 0);

  auto r = kvctl(node, {"get", "--rev", std::to_string(first_rev), "k"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "first\n");
  BOOST_TEST(kvctl(node, {"get", "k"}).out == "second\n");
  BOOST_TEST(kvctl(node, {"get", "--rev", std::to_string(first_rev - 1), "k"}).exit_code == 1);  // not yet written

  const auto now = revision_of(node);
  r = kvctl(node, {"compact", std::to_string(now)});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.starts_with(fmt::format("compacted revision {} (index ", now)), r.out);
  r = kvctl(node, {"get", "--rev", std::to_string(first_rev), "k"});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.out.empty());
  BOOST_TEST(r.err.starts_with("kvctl: revision compacted: "), r.err);
  BOOST_TEST(has(r.err, "compacted"), r.err);
  BOOST_TEST(lines(r.err) == 1u, r.err);
  BOOST_TEST(kvctl(node, {"get", "--rev", std::to_string(now), "k"}).out == "second\n");
  BOOST_TEST(kvctl(node, {"compact", std::to_string(now)}).exit_code == 3);  // already compacted
  r = kvctl(node, {"get", "--rev", std::to_string(now + 100), "k"});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(has(r.err, "future revision"), r.err);
  BOOST_TEST(has(kvctl(node, {"status"}).out, fmt::format("compacted_revision: {}\n", now)));
  BOOST_TEST(json_of(kvctl(node, {"-w", "json", "status"}))["compacted_revision"].get<std::uint64_t>() == now);
  // The table of several endpoints: REVISION, then COMPACTED, last.
  r = kvctl(node, {"--endpoints", node.endpoint() + "," + node.endpoint(), "status"});
  BOOST_TEST(r.exit_code == 0, r.err);
  std::istringstream table(r.out);
  std::string header;
  std::string row;
  std::getline(table, header);
  std::getline(table, row);
  BOOST_TEST(header.ends_with(" REVISION    COMPACTED"), header);
  BOOST_TEST(row.ends_with(fmt::format(" {:>12} {:>12}", now, now)), row);
}

BOOST_AUTO_TEST_CASE(del_prints_the_count_like_etcdctl) {
  node_process node;
  BOOST_TEST_REQUIRE(kvctl(node, {"bulk-set", "p/a", "1", "p/b", "2", "p/c", "3", "q", "4", "r", "5"}).exit_code == 0);
  auto r = kvctl(node, {"del", "--prefix", "p/"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "3\n");
  BOOST_TEST(kvctl(node, {"get", "--prefix", "p/", "--count-only"}).out == "0\n");
  r = kvctl(node, {"del", "--prefix", "p/"});  // a range deleting nothing: exit 0
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "0\n");

  r = kvctl(node, {"del", "--prev-kv", "q"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "1\nq\n4\n");
  r = kvctl(node, {"del", "q"});  // one KEY that does not exist: exit 1
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out == "0\n");
  BOOST_TEST(r.err == "kvctl: not found\n");

  r = kvctl(node, {"-w", "json", "del", "--from-key", "a", "--prev-kv"});
  BOOST_TEST(r.exit_code == 0, r.err);
  auto j = json_of(r);
  BOOST_TEST(j["deleted"].get<std::uint64_t>() == 1u);
  BOOST_TEST(j["prev_kvs"][0]["key"].get<std::string>() == "cg==");  // "r"
  BOOST_TEST(j["header"]["revision"].get<std::uint64_t>() == revision_of(node));
  BOOST_TEST(has(kvctl(node, {"status"}).out, "keys: 0\n"));
}

BOOST_AUTO_TEST_CASE(txn_reads_etcdctl_syntax_from_standard_input) {
  node_process node;
  BOOST_TEST_REQUIRE(kvctl(node, {"set", "k", "v"}).exit_code == 0);
  BOOST_TEST_REQUIRE(kvctl(node, {"set", "p/1", "one"}).exit_code == 0);

  const std::string script =
      "value(\"k\") = \"v\"\n"
      "version(\"k\") > \"0\"\n"
      "create(\"absent\") = \"0\"\n"
      "\n"
      "put k \"new value\"\n"
      "get --prefix p/\n"
      "del p/1\n"
      "incr n 5\n"
      "\n"
      "put k failed\n"
      "get k\n";
  auto r = kvctl(node, {"txn"}, script);
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "SUCCESS\n\nOK\n\np/1\none\n\n1\n\n5\n");
  BOOST_TEST(kvctl(node, {"get", "k"}).out == "new value\n");

  // The compares fail now (k is "new value"): the else branch runs, and the exit status is 0.
  r = kvctl(node, {"txn"}, script);
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "FAILURE\n\nOK\n\nk\nfailed\n");
  BOOST_TEST(kvctl(node, {"get", "k"}).out == "failed\n");
  BOOST_TEST(kvctl(node, {"get", "n"}).out == "5\n");

  auto j = json_of(kvctl(node, {"-w", "json", "txn"}, "mod(\"k\") > \"0\"\n\nincr n\nget n\n"));
  BOOST_TEST(j["succeeded"].get<bool>());
  BOOST_TEST(j["header"]["revision"].get<std::uint64_t>() == revision_of(node));
  BOOST_TEST(j["responses"][0]["response_incr"]["value"].get<std::int64_t>() == 6);
  BOOST_TEST(j["responses"][1]["response_range"]["kvs"][0]["value"].get<std::string>() == "Ng==");  // "6"

  // Bad syntax: exit 2, the line named, nothing applied (the first lines were fine).
  const auto before = revision_of(node);
  r = kvctl(node, {"txn"}, "value(\"k\") = \"failed\"\n\nput k changed\nput k\n");
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err == "kvctl: txn: line 4: put takes KEY VALUE (see kvctl --help)\n");
  BOOST_TEST(r.out.empty());
  r = kvctl(node, {"txn"}, "value(\"k\") == \"failed\"\n\nput k changed\n");
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.starts_with("kvctl: txn: line 1: "), r.err);
  BOOST_TEST(revision_of(node) == before);
  BOOST_TEST(kvctl(node, {"get", "k"}).out == "failed\n");

  // What the node refuses (a key written twice in a branch) is exit status 3, nothing applied.
  r = kvctl(node, {"txn"}, "\nput k a\nput k b\n");
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(lines(r.err) == 1u, r.err);
  BOOST_TEST(revision_of(node) == before);
}

BOOST_AUTO_TEST_CASE(cas_swaps_only_when_the_compare_holds) {
  node_process node;
  // --absent: only if the key does not exist.
  auto r = kvctl(node, {"cas", "--absent", "lock", "me"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == fmt::format("OK (revision {})\n", revision_of(node)));
  r = kvctl(node, {"cas", "--absent", "lock", "you"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out == "me\n");  // what it holds
  BOOST_TEST(r.err.starts_with("kvctl: compare failed: the key is at mod revision "), r.err);

  // KEY EXPECTED NEW
  r = kvctl(node, {"cas", "lock", "you", "them"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out == "me\n");
  BOOST_TEST(kvctl(node, {"get", "lock"}).out == "me\n");
  r = kvctl(node, {"cas", "lock", "me", "them"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(kvctl(node, {"get", "lock"}).out == "them\n");
  r = kvctl(node, {"cas", "missing", "x", "y"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out.empty());
  BOOST_TEST(r.err == "kvctl: compare failed: the key does not exist\n");
  BOOST_TEST(kvctl(node, {"get", "missing"}).exit_code == 1);

  // --mod-rev R: only if the key's last write was at revision R.
  auto j = json_of(kvctl(node, {"-w", "json", "get", "lock"}));
  const auto mod = j["kvs"][0]["mod_revision"].get<std::uint64_t>();
  r = kvctl(node, {"cas", "--mod-rev", std::to_string(mod - 1), "lock", "stale"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(has(r.err, fmt::format("mod revision {} (version 2)", mod)), r.err);
  r = kvctl(node, {"-w", "json", "cas", "--mod-rev", std::to_string(mod), "lock", "fresh"});
  BOOST_TEST(r.exit_code == 0, r.err);
  j = json_of(r);
  BOOST_TEST(j["succeeded"].get<bool>());
  BOOST_TEST(j["header"]["revision"].get<std::uint64_t>() == mod + 1);
  r = kvctl(node, {"-w", "json", "cas", "--mod-rev", std::to_string(mod), "lock", "again"});
  BOOST_TEST(r.exit_code == 1);
  j = json_of(r);
  BOOST_TEST(!j["succeeded"].get<bool>());
  BOOST_TEST(j["kvs"][0]["value"].get<std::string>() == "ZnJlc2g=");  // "fresh"
  BOOST_TEST(j["kvs"][0]["mod_revision"].get<std::uint64_t>() == mod + 1);
}

BOOST_AUTO_TEST_CASE(incr_and_mget) {
  node_process node;
  auto r = kvctl(node, {"incr", "n"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "1\n");
  BOOST_TEST(kvctl(node, {"incr", "n", "41"}).out == "42\n");
  BOOST_TEST(kvctl(node, {"incr", "n", "-50"}).out == "-8\n");
  auto j = json_of(kvctl(node, {"-w", "json", "incr", "n", "10"}));
  BOOST_TEST(j["value"].get<std::int64_t>() == 2);
  BOOST_TEST(j["header"]["revision"].get<std::uint64_t>() == revision_of(node));

  kvctl(node, {"set", "text", "hello"});
  r = kvctl(node, {"incr", "text"});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.err.starts_with("kvctl: bad request: "), r.err);
  BOOST_TEST(has(r.err, "integer"), r.err);
  BOOST_TEST(lines(r.err) == 1u, r.err);
  kvctl(node, {"set", "big", "9223372036854775807"});
  r = kvctl(node, {"incr", "big"});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(has(r.err, "overflow"), r.err);
  BOOST_TEST(kvctl(node, {"get", "big"}).out == "9223372036854775807\n");  // unchanged

  kvctl(node, {"set", "empty", "-"}, "");
  r = kvctl(node, {"mget", "n", "absent", "text", "empty"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "2\n\nhello\n\n");
  r = kvctl(node, {"-w", "json", "mget", "n", "absent", "empty", "--stale"});
  BOOST_TEST(r.exit_code == 0, r.err);
  j = json_of(r);
  BOOST_TEST(j["header"]["revision"].get<std::uint64_t>() == revision_of(node));
  BOOST_TEST_REQUIRE(j["kvs"].size() == 3u);
  BOOST_TEST(j["kvs"][0]["value"].get<std::string>() == "Mg==");
  BOOST_TEST(j["kvs"][1].is_null());  // absent ...
  BOOST_TEST(j["kvs"][2]["value"].get<std::string>().empty());  // ... unlike an empty value
  BOOST_TEST(kvctl(node, {"--hex", "mget", "6e", "74657874"}).out == "32\n68656c6c6f\n");
}

BOOST_AUTO_TEST_CASE(json_output_for_the_older_commands) {
  node_process node;
  auto r = kvctl(node, {"-w", "json", "set", "k", "v"});
  BOOST_TEST(r.exit_code == 0, r.err);
  auto j = json_of(r);
  BOOST_TEST(j["header"]["revision"].get<std::uint64_t>() == revision_of(node));
  BOOST_TEST(j["header"]["index"].get<std::uint64_t>() > 0u);
  r = kvctl(node, {"--write-out=json", "bulk-set", "a", "the quick brown fox", "b", "2"});
  BOOST_TEST(r.exit_code == 0, r.err);
  j = json_of(r);
  BOOST_TEST(j["pairs"].get<std::uint64_t>() == 2u);
  const auto index = j["header"]["index"].get<std::uint64_t>();
  const auto revision = j["header"]["revision"].get<std::uint64_t>();
  BOOST_TEST(revision == revision_of(node));
  BOOST_TEST(index > revision);  // the log also holds the leader's no-op and kvctl's sessions

  // get KEY: the whole key, in etcd's shape; still exit 1 (with the answer) when absent.
  r = kvctl(node, {"--write-out", "json", "get", "k"});
  BOOST_TEST(r.exit_code == 0, r.err);
  j = json_of(r);
  BOOST_TEST(j["count"].get<std::uint64_t>() == 1u);
  BOOST_TEST(j["kvs"][0]["key"].get<std::string>() == "aw==");
  BOOST_TEST(j["kvs"][0]["value"].get<std::string>() == "dg==");
  BOOST_TEST(j["kvs"][0]["create_revision"].get<std::uint64_t>() == j["kvs"][0]["mod_revision"].get<std::uint64_t>());
  r = kvctl(node, {"-w", "json", "get", "absent"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(json_of(r)["count"].get<std::uint64_t>() == 0u);
  BOOST_TEST(r.err == "kvctl: not found\n");

  j = json_of(kvctl(node, {"-w", "json", "ping"}));
  BOOST_TEST(j["endpoint"].get<std::string>() == node.endpoint());
  BOOST_TEST(j["took_us"].get<std::int64_t>() >= 0);

  j = json_of(kvctl(node, {"-w", "json", "status"}));
  BOOST_TEST(j["role"].get<std::string>() == "leader");
  BOOST_TEST(j["node_id"].get<std::uint64_t>() == 1u);
  BOOST_TEST(j["keys"].get<std::uint64_t>() == 3u);

  j = json_of(kvctl(node, {"-w", "json", "--endpoints", node.endpoint() + "," + node.endpoint(), "status"}));
  BOOST_TEST_REQUIRE(j["nodes"].size() == 2u);
  BOOST_TEST(j["nodes"][1]["endpoint"].get<std::string>() == node.endpoint());
  BOOST_TEST(j["nodes"][1]["role"].get<std::string>() == "leader");

  // --min-index takes the revision a write printed (--min-revision is the same): that one is
  // there, the next is not yet, and neither is one as large as the write's log index.
  r = kvctl(node, {"-w", "json", "search", "--stale", "--min-index", std::to_string(revision), "quick", "brown"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.err.empty(), r.err);
  j = json_of(r);
  BOOST_TEST(j["total"].get<std::uint64_t>() == 1u);
  BOOST_TEST(j["hits"][0]["key"].get<std::string>() == "YQ==");
  BOOST_TEST(j["hits"][0]["score"].get<double>() > 0);
  j = json_of(kvctl(node, {"-w", "json", "similar", "--stale", "--min-revision", std::to_string(revision),
                           "the quick brown fax"}));
  BOOST_TEST(j["hits"][0]["key"].get<std::string>() == "YQ==");
  BOOST_TEST(j["applied_index"].get<std::uint64_t>() >= index);
  for (auto ahead : {revision + 1, index}) {
    r = kvctl(node, {"search", "--stale", "--min-index", std::to_string(ahead), "quick"});
    BOOST_TEST(r.exit_code == 3, r.out);
    BOOST_TEST(has(r.err, fmt::format("revision {} is beyond this node's revision {}", ahead, revision)), r.err);
    r = kvctl(node, {"similar", "--stale", "--min-revision", std::to_string(ahead), "quick"});
    BOOST_TEST(r.exit_code == 3, r.out);
    BOOST_TEST(has(r.err, "beyond this node's revision"), r.err);
  }

  j = json_of(kvctl(node, {"-w", "json", "compact", std::to_string(revision_of(node))}));
  BOOST_TEST(j["compacted_revision"].get<std::uint64_t>() == revision_of(node));
  BOOST_TEST(j["header"]["index"].get<std::uint64_t>() > index);

  // Errors stay on standard error, one line; nothing on standard output.
  r = kvctl(node, {"-w", "json", "get", "--rev", "1", "k"});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(r.out.empty());
  BOOST_TEST(has(r.err, "compacted"), r.err);
}

// kvctl watch as a user runs it: in the background while writes happen elsewhere, ended with
// Ctrl-C (SIGINT, exit status 0, every event printed); and from a compacted revision (exit 3).
BOOST_AUTO_TEST_CASE(watch_prints_changes_until_interrupted) {
  node_process node("[storage]\nauto-compaction-mode = \"off\"\n");
  temp_dir dir;
  auto start_watch = [&](std::vector<std::string> args, const std::string& name) {
    std::vector<std::string> argv{binary("kvctl").string(), "--endpoints", node.endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    return spawn(argv, dir / (name + ".out"), dir / (name + ".err"));
  };
  auto simple = start_watch({"watch", "--prefix", "w/", "--prev-kv"}, "simple");
  auto json = start_watch({"-w", "json", "watch", "w/a"}, "json");
  // Both watches exist once the node counts them.
  for (int i = 0; i < 500; ++i) {
    if (json_of(kvctl(node, {"-w", "json", "status"}))["watches"].get<std::uint64_t>() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_REQUIRE(kvctl(node, {"set", "w/a", "1"}).exit_code == 0);
  BOOST_REQUIRE(kvctl(node, {"set", "w/a", "2"}).exit_code == 0);
  BOOST_REQUIRE(kvctl(node, {"set", "other", "x"}).exit_code == 0);
  BOOST_REQUIRE(kvctl(node, {"del", "w/a"}).exit_code == 0);
  const std::string expected = "PUT\nw/a\n1\nPUT\nw/a\n1\nw/a\n2\nDELETE\nw/a\n2\nw/a\n\n";
  for (int i = 0; i < 500 && slurp(dir / "simple.out") != expected; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto pid : {simple, json}) {
    ::kill(pid, SIGINT);
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
  }
  BOOST_TEST(slurp(dir / "simple.out") == expected);
  BOOST_TEST(slurp(dir / "simple.err") == "");
  std::istringstream json_lines(slurp(dir / "json.out"));
  std::vector<std::string> types;
  for (std::string line; std::getline(json_lines, line);) {
    auto j = nlohmann::json::parse(line);
    for (const auto& e : j["events"]) {
      types.push_back(e["type"].get<std::string>() + "@" + std::to_string(e["kv"]["mod_revision"].get<int>()));
    }
    BOOST_TEST(j["header"]["revision"].get<int>() == j["events"].back()["kv"]["mod_revision"].get<int>());
  }
  BOOST_TEST(types == (std::vector<std::string>{"PUT@2", "PUT@3", "DELETE@5"}));

  BOOST_REQUIRE(kvctl(node, {"compact", "4"}).exit_code == 0);
  auto r = kvctl(node, {"watch", "--rev", "2", "w/a"});
  BOOST_TEST(r.exit_code == 3);
  BOOST_TEST(has(r.err, "revision 2 has been compacted; the oldest revision a watch can start at is 4"), r.err);
  r = kvctl(node, {"watch", "--no-put", "--no-delete", "w/a"});
  BOOST_TEST(r.exit_code == 2);
}

// kvctl lease as etcdctl's: grant, set --lease, timetolive --keys, keep-alive --once, list,
// revoke (the keys go), and the errors.
BOOST_AUTO_TEST_CASE(lease_commands_follow_etcdctl) {
  node_process node;
  auto r = kvctl(node, {"lease", "grant", "60"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out == "lease 0000000000000001 granted with TTL(60s)\n");
  BOOST_TEST(kvctl(node, {"set", "--lease", "1", "a", "x"}).exit_code == 0);
  BOOST_TEST(kvctl(node, {"set", "b", "y", "--lease=1"}).exit_code == 0);
  r = kvctl(node, {"lease", "timetolive", "1", "--keys"});
  BOOST_TEST(r.out == "lease 0000000000000001 granted with TTL(60s), remaining(60s), attached keys([a b])\n", r.out);
  r = kvctl(node, {"-w", "json", "lease", "timetolive", "1", "--keys"});
  auto j = json_of(r);
  BOOST_TEST(j["grantedTTL"].get<int>() == 60);
  BOOST_TEST(j["keys"].size() == 2u);
  r = kvctl(node, {"lease", "keep-alive", "--once", "1"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out == "lease 0000000000000001 keepalived with TTL(60)\n");
  r = kvctl(node, {"lease", "list"});
  BOOST_TEST(r.out == "found 1 leases\n0000000000000001\n");
  r = kvctl(node, {"lease", "revoke", "1"});
  BOOST_TEST(r.out == "lease 0000000000000001 revoked\n");
  BOOST_TEST(kvctl(node, {"get", "a"}).exit_code == 1);
  r = kvctl(node, {"lease", "revoke", "1"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(has(r.err, "lease 1 not found"), r.err);
  r = kvctl(node, {"set", "--lease", "a0", "k", "v"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(has(r.err, "lease 160 not found"), r.err);
  BOOST_TEST(kvctl(node, {"lease", "grant", "0"}).exit_code == 3);
  BOOST_TEST(kvctl(node, {"lease", "revoke", "zz"}).exit_code == 2);
  BOOST_TEST(kvctl(node, {"lease", "frobnicate"}).exit_code == 2);
  // keep-alive until interrupted: at least one renewal printed, exit 0.
  kvctl(node, {"lease", "grant", "--id", "ff", "3"});
  temp_dir dir;
  std::vector<std::string> argv{binary("kvctl").string(), "--endpoints", node.endpoint(), "lease", "keep-alive", "ff"};
  auto pid = spawn(argv, dir / "out", dir / "err");
  for (int i = 0; i < 300 && slurp(dir / "out").empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  BOOST_TEST(has(slurp(dir / "out"), "lease 00000000000000ff keepalived with TTL(3)"));
}

// Redis's TTL commands: set --ttl / --keep-ttl, expire, persist, ttl.

BOOST_AUTO_TEST_CASE(per_key_ttls_as_redis) {
  node_process node;
  auto r = kvctl(node, {"set", "s", "v", "--ttl", "30s"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == fmt::format("OK (revision {})\n", revision_of(node)));
  const auto seconds = number_of(kvctl(node, {"ttl", "s"}));
  BOOST_TEST((seconds > 20 && seconds <= 30), seconds);
  const auto ms = number_of(kvctl(node, {"ttl", "--ms", "s"}));
  BOOST_TEST((ms > 20'000 && ms <= 30'000), ms);
  auto j = json_of(kvctl(node, {"-w", "json", "ttl", "s"}));
  BOOST_TEST(j["header"]["revision"].get<std::uint64_t>() == revision_of(node));
  BOOST_TEST((j["ttl_ms"].get<std::int64_t>() > 20'000 && j["ttl_ms"].get<std::int64_t>() <= 30'000), j.dump());
  BOOST_TEST((j["ttl"].get<std::int64_t>() > 20 && j["ttl"].get<std::int64_t>() <= 30), j.dump());

  // -1: no TTL; -2: no such key (an answer, exit status 0, not "not found").
  kvctl(node, {"set", "p", "v"});
  BOOST_TEST(number_of(kvctl(node, {"ttl", "p"})) == -1);
  BOOST_TEST(number_of(kvctl(node, {"ttl", "--ms", "nothing"})) == -2);
  j = json_of(kvctl(node, {"-w", "json", "ttl", "nothing"}));
  BOOST_TEST(j["ttl"].get<std::int64_t>() == -2);
  BOOST_TEST(j["ttl_ms"].get<std::int64_t>() == -2);

  // expire and persist print 1 when they changed the key, else 0.
  BOOST_TEST(kvctl(node, {"expire", "p", "10s"}).out == "1\n");
  const auto after_expire = number_of(kvctl(node, {"ttl", "p"}));
  BOOST_TEST((after_expire > 5 && after_expire <= 10), after_expire);
  BOOST_TEST(kvctl(node, {"persist", "p"}).out == "1\n");
  BOOST_TEST(kvctl(node, {"persist", "p"}).out == "0\n");  // it has no TTL now
  BOOST_TEST(number_of(kvctl(node, {"ttl", "p"})) == -1);
  BOOST_TEST(kvctl(node, {"expire", "nothing", "5s"}).out == "0\n");
  BOOST_TEST(kvctl(node, {"persist", "nothing"}).out == "0\n");
  j = json_of(kvctl(node, {"-w", "json", "expire", "p", "1m"}));
  BOOST_TEST(j["changed"].get<bool>());
  BOOST_TEST(j["header"]["revision"].get<std::uint64_t>() == revision_of(node));  // a write: a new version

  // --keep-ttl keeps it; a plain set removes it, as Redis's SET.
  BOOST_TEST(kvctl(node, {"set", "p", "w", "--keep-ttl"}).exit_code == 0);
  const auto kept = number_of(kvctl(node, {"ttl", "p"}));
  BOOST_TEST((kept > 50 && kept <= 60), kept);
  BOOST_TEST(kvctl(node, {"set", "p", "x"}).exit_code == 0);
  BOOST_TEST(number_of(kvctl(node, {"ttl", "p"})) == -1);

  // --ttl with --lease: revoking the lease still deletes the key.
  kvctl(node, {"lease", "grant", "60"});
  r = kvctl(node, {"set", "l", "v", "--lease", "1", "--ttl", "1m"});
  BOOST_TEST(r.exit_code == 0, r.err);
  const auto leased = number_of(kvctl(node, {"ttl", "l"}));
  BOOST_TEST((leased > 50 && leased <= 60), leased);
  kvctl(node, {"lease", "revoke", "1"});
  BOOST_TEST(kvctl(node, {"get", "l"}).exit_code == 1);

  // txn's TTL ops; ttl answers in milliseconds there.
  r = kvctl(node, {"txn"}, "\nput t v --ttl 5s\nexpire p 9s\nttl s\npersist nothing\n");
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.starts_with("SUCCESS\n\nOK\n\n1\n\n"), r.out);
  BOOST_TEST(r.out.ends_with("\n\n0\n"), r.out);
  const auto txn_t = number_of(kvctl(node, {"ttl", "t"}));
  BOOST_TEST((txn_t > 0 && txn_t <= 5), txn_t);
}

BOOST_AUTO_TEST_CASE(a_key_with_a_short_ttl_disappears_after_it) {
  node_process node;
  const auto start = std::chrono::steady_clock::now();
  auto r = kvctl(node, {"set", "short", "v", "--ttl", "1s"});
  BOOST_TEST(r.exit_code == 0, r.err);
  int status = 0;
  for (int i = 0; i < 100 && status == 0; ++i) {
    status = kvctl(node, {"get", "short"}).exit_code;
    if (status == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  BOOST_TEST(status == 1);  // not found
  BOOST_TEST(waited.count() >= 1000);  // never before its TTL
  BOOST_TEST(number_of(kvctl(node, {"ttl", "short"})) == -2);
}

BOOST_AUTO_TEST_CASE(ttl_usage_errors_say_what_is_wrong) {
  node_process node;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"set", "k", "v", "--ttl", "ten"},
       "set: --ttl takes a duration such as 30s, 1500ms or 2m (a number then ns, us, ms, s, m or h), got \"ten\""},
      {{"set", "k", "v", "--ttl", "0s"}, "set: --ttl must be at least 1ms, got \"0s\""},
      {{"set", "k", "v", "--ttl", "-5s"}, "set: --ttl must be at least 1ms, got \"-5s\""},
      {{"set", "k", "v", "--ttl", "1500us"}, "set: --ttl takes whole milliseconds, got \"1500us\""},
      {{"set", "k", "v", "--ttl", "5s", "--keep-ttl"}, "set: --ttl and --keep-ttl cannot be combined"},
      {{"expire", "k", "0s"}, "expire: DURATION must be at least 1ms, got \"0s\""},
      {{"expire", "k", "-1m"}, "expire: DURATION must be at least 1ms, got \"-1m\""},
      {{"expire", "k", "5"},
       "expire: DURATION takes a duration such as 30s, 1500ms or 2m (a number then ns, us, ms, s, m or h), "
       "got \"5\""},
      {{"expire", "k"}, "expire takes KEY DURATION"},
      {{"persist", "a", "b"}, "persist takes KEY"},
      {{"ttl"}, "ttl takes KEY"},
  };
  for (const auto& [args, message] : cases) {
    auto r = kvctl(node, args);
    BOOST_TEST(r.exit_code == 2, message << ": " << r.err);
    BOOST_TEST(r.err == "kvctl: " + message + " (see kvctl --help)\n");
    BOOST_TEST(r.out.empty(), r.out);
  }
  BOOST_TEST(has(kvctl(node, {"status"}).out, "keys: 0\n"));  // nothing was written
}

BOOST_AUTO_TEST_SUITE_END()

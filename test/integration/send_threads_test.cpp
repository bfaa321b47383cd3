// Replies through send threads ([server] send-threads, send-offload = "always"), on a real
// kvnode: pipelines answered in order, replies far beyond the output limit to a client that reads
// late, a reply before the end of a connection that asked for it (QUIT), a client gone with
// replies queued costing only itself, and outside clients (redis-benchmark, and kvbench over the
// binary protocol) running to completion without an error.

#include "harness/process.hpp"
#include "harness/resp_client.hpp"
#include "support/resp_expect.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <thread>

using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

const std::string send_threads_toml = "send-threads = 2\nsend-offload = \"always\"\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(send_threads)

// 100,000 SETs and GETs interleaved in one pipeline, sent from a thread while the replies are
// read: every reply, in order, each GET seeing the SET before it.
BOOST_AUTO_TEST_CASE(a_pipeline_is_answered_in_order) {
  resp_node n(send_threads_toml);
  raw_client c(n.port);
  std::string request;
  std::string expected;
  for (int i = 0; i < 50'000; ++i) {
    const auto v = std::to_string(i);
    request += cmd({"SET", "k" + std::to_string(i % 100), v});
    request += cmd({"GET", "k" + std::to_string(i % 100)});
    expected += "+OK\r\n$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
  }
  std::thread sender([&] { c.send(request); });
  auto got = read_all(c, expected.size(), 120s);
  sender.join();
  BOOST_TEST(got.size() == expected.size());
  BOOST_TEST((got == expected));
}

// 40 GETs of a 1 MiB value (40 MiB of replies, ten times the output limit) to a client that
// reads nothing for a second: the node stops taking its commands while the output is full, goes
// on as the client reads, and every reply arrives whole; another client is served meanwhile.
BOOST_AUTO_TEST_CASE(replies_beyond_the_output_limit_wait_for_a_slow_reader) {
  resp_node n(send_threads_toml);
  raw_client c(n.port);
  const std::string value(1u << 20, 'v');
  expect(c, cmd({"SET", "big", value}), "+OK\r\n");
  std::string request;
  for (int i = 0; i < 40; ++i) request += cmd({"GET", "big"});
  std::thread sender([&] { c.send(request); });
  std::this_thread::sleep_for(1s);
  {
    raw_client other(n.port);
    expect(other, cmd({"SET", "other", "1"}), "+OK\r\n");
  }
  const std::string one = "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
  auto got = read_all(c, one.size() * 40, 120s);
  sender.join();
  BOOST_TEST(got.size() == one.size() * 40);
  bool whole = got.size() == one.size() * 40;
  for (std::size_t i = 0; whole && i < 40; ++i) whole = std::string_view(got).substr(i * one.size(), one.size()) == one;
  BOOST_TEST(whole);
}

// QUIT's +OK arrives before the end of the stream; a client that leaves with 40 MiB of replies
// queued costs only its own connection.
BOOST_AUTO_TEST_CASE(connections_end_after_their_last_reply_or_at_once_when_gone) {
  resp_node n(send_threads_toml);
  {
    raw_client c(n.port);
    expect(c, cmd({"SET", "big", std::string(1u << 20, 'v')}), "+OK\r\n");
    std::string request;
    for (int i = 0; i < 40; ++i) request += cmd({"GET", "big"});
    c.send(request);
    std::this_thread::sleep_for(200ms);
  }  // closed with replies unread
  raw_client c(n.port);
  c.send(cmd({"QUIT"}));
  BOOST_TEST(read_all(c, 5, 10s) == "+OK\r\n");
  BOOST_TEST(c.read(1).empty());
  BOOST_TEST(c.closed());
  raw_client after(n.port);
  expect(after, cmd({"EXISTS", "big"}), ":1\r\n");
  BOOST_TEST(n.node.running());
}

// Clients nobody here wrote: redis-benchmark pipelining, and kvbench on the binary protocol.
BOOST_AUTO_TEST_CASE(outside_clients_run_to_completion) {
  resp_node n(send_threads_toml);
  auto r = run_command({"/usr/bin/redis-benchmark", "-p", std::to_string(n.port), "-t", "set,get,incr", "-n", "20000",
                        "-c", "20", "-P", "16", "-q"},
                       {}, std::chrono::seconds(120));
  BOOST_TEST(r.exit_code == 0, r.err);
  for (auto test : {"SET: ", "GET: ", "INCR: "}) BOOST_TEST(r.out.find(test) != std::string::npos, r.out);
  BOOST_TEST(r.out.find("rror") == std::string::npos, r.out);
  raw_client c(n.port);
  expect(c, cmd({"GET", "counter:__rand_int__"}), "$5\r\n20000\r\n");

  auto b = run_command({binary("kvbench").string(), "--endpoints", n.node.endpoint(), "--connections", "8",
                        "--pipeline", "16", "--reads", "0.5", "--keys", "1000", "--seconds", "1", "--warmup", "0",
                        "--json"},
                       {}, std::chrono::seconds(60));
  BOOST_TEST(b.exit_code == 0, b.err);
  auto report = nlohmann::json::parse(b.out, nullptr, false);
  BOOST_TEST(!report.is_discarded(), b.out);
  if (!report.is_discarded()) {
    BOOST_TEST(report.value("errors", -1) == 0, b.out);
    BOOST_TEST(report.value("ops", 0) > 0, b.out);
  }
}

BOOST_AUTO_TEST_SUITE_END()

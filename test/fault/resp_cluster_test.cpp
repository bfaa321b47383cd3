// The Redis protocol on a 3-node cluster: a follower forwards the writes it is given to the
// leader and answers them itself, reads on it are linearizable, and a Redis client connected to a
// follower keeps going when the leader is killed, with no acknowledged write lost or applied twice.

#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "harness/resp_client.hpp"
#include "support/resp_expect.hpp"
#include "support/client_util.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>
#include <string>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

std::uint64_t current_leader(cluster& cl) {
  std::uint64_t leader = 0;
  run_async([&](asio::io_context&) -> asio::awaitable<void> { leader = co_await wait_for_leader(cl); });
  return leader;
}

// The integer of a ":n\r\n" reply; nullopt for anything else.
std::optional<long long> integer_of(const std::string& line) {
  if (line.size() < 3 || line[0] != ':') return std::nullopt;
  return std::stoll(line.substr(1));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resp_cluster)

BOOST_AUTO_TEST_CASE(a_follower_forwards_writes_and_reads_its_own) {
  cluster cl;
  const auto leader = current_leader(cl);
  const auto follower = leader % 3 + 1;
  raw_client f(cl.member(follower).resp_port());
  expect(f, cmd({"SET", "greeting", "hello"}), "+OK\r\n");
  expect(f, cmd({"GET", "greeting"}), "$5\r\nhello\r\n");
  expect(f, cmd({"INCR", "n"}), ":1\r\n");
  expect(f, cmd({"INCRBY", "n", "41"}), ":42\r\n");
  expect(f, cmd({"APPEND", "greeting", " world"}), ":11\r\n");  // read, then a compare-and-set
  expect(f, cmd({"SET", "greeting", "hi", "GET"}), "$11\r\nhello world\r\n");
  expect(f, cmd({"EXPIRE", "greeting", "100"}), ":1\r\n");  // stamped by the leader's clock
  expect(f, cmd({"TTL", "greeting"}), ":100\r\n");
  expect(f, cmd({"WATCH", "n"}), "+OK\r\n");
  expect(f, cmd({"MULTI"}), "+OK\r\n");
  expect(f, cmd({"INCR", "n"}), "+QUEUED\r\n");
  expect(f, cmd({"GET", "n"}), "+QUEUED\r\n");
  expect(f, cmd({"EXEC"}), "*2\r\n:43\r\n$2\r\n43\r\n");
  expect(f, cmd({"INCR", "greeting"}), "-ERR value is not an integer or out of range\r\n");
  // A pipeline of forwarded writes is answered in order.
  f.send(cmd({"SET", "a", "1"}) + cmd({"INCR", "a"}) + cmd({"GET", "a"}) + cmd({"DEL", "a", "n"}));
  BOOST_TEST(f.read(22) == "+OK\r\n:2\r\n$1\r\n2\r\n:2\r\n");
  // Everyone sees the writes: the leader, and the other follower (linearizable by default).
  raw_client l(cl.member(leader).resp_port());
  expect(l, cmd({"GET", "greeting"}), "$2\r\nhi\r\n");
  raw_client other(cl.member(6 - leader - follower).resp_port());
  expect(other, cmd({"EXISTS", "greeting", "n", "a"}), ":1\r\n");
}

BOOST_AUTO_TEST_CASE(a_client_of_a_follower_rides_out_a_leader_kill) {
  cluster cl;
  const auto leader = current_leader(cl);
  const auto follower = leader % 3 + 1;
  raw_client f(cl.member(follower).resp_port());
  long long acked = 0;
  long long refused = 0;
  long long after_kill = 0;
  bool killed = false;
  std::string last_error;
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (after_kill < 200 && std::chrono::steady_clock::now() < give_up) {
    if (!killed && acked == 200) {
      cl.member(leader).kill9();
      killed = true;
    }
    f.send(cmd({"INCR", "counter"}));
    auto line = f.read_line();
    BOOST_REQUIRE_MESSAGE(!line.empty(), "no answer from the follower after " << acked << " INCRs");
    if (auto n = integer_of(line)) {
      // Each answer is one more than the last acknowledged: nothing applied twice or lost.
      BOOST_TEST(*n > acked);
      BOOST_TEST(*n <= acked + refused + 1);
      ++acked;
      if (killed) ++after_kill;
    } else {
      ++refused;
      last_error = line;
    }
  }
  BOOST_TEST_MESSAGE(acked << " INCRs acknowledged, " << refused << " refused");
  BOOST_TEST(after_kill == 200, "writes did not resume after the leader was killed; last error " << last_error);
  // The writes the client library would have retried: every refusal was a clean error line.
  BOOST_TEST(refused <= 5, refused << " INCRs refused during the failover, e.g. " << last_error);
  f.send(cmd({"STRLEN", "counter"}));
  const auto digits = integer_of(f.read_line());
  BOOST_REQUIRE(digits.has_value());
  const auto digit_count = static_cast<std::size_t>(*digits);
  f.send(cmd({"GET", "counter"}));
  const auto bulk = f.read(fmt::format("${}\r\n", digit_count).size() + digit_count + 2);
  const auto final_value = std::stoll(bulk.substr(bulk.find('\n') + 1));
  BOOST_TEST(final_value >= acked);
  BOOST_TEST(final_value <= acked + refused);
}

// Without a majority a forwarded write cannot commit: it is answered with an error once the
// forwarder gives up looking for a leader (seconds, not never), the node keeps serving other
// commands meanwhile, and it still stops promptly with such a write in flight.
BOOST_AUTO_TEST_CASE(a_follower_without_a_majority_answers_and_stops) {
  cluster cl;
  const auto leader = current_leader(cl);
  const auto follower = leader % 3 + 1;
  raw_client f(cl.member(follower).resp_port());
  expect(f, cmd({"SET", "before", "1"}), "+OK\r\n");
  cl.member(leader).kill9();
  cl.member(6 - leader - follower).kill9();
  const auto sent = std::chrono::steady_clock::now();
  f.send(cmd({"SET", "k", "v"}));
  raw_client other(cl.member(follower).resp_port());
  expect(other, cmd({"PING"}), "+PONG\r\n");  // served while the write waits
  std::string answer;
  for (int i = 0; i < 4 && answer.empty(); ++i) answer = f.read_line();  // up to 20 s
  const auto waited = std::chrono::steady_clock::now() - sent;
  BOOST_TEST_MESSAGE("without a majority, after " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
                                                   << " ms: " << answer);
  BOOST_TEST(answer.rfind("-ERR ", 0) == 0u, "answer: " << answer);
  BOOST_TEST((waited < 15s));
  // Stopping with a forwarded write in flight: the node exits cleanly, within its shutdown timeout.
  raw_client last(cl.member(follower).resp_port());
  last.send(cmd({"SET", "k", "w"}));
  std::this_thread::sleep_for(200ms);
  const auto stopping = std::chrono::steady_clock::now();
  BOOST_TEST(cl.member(follower).stop() == 0);
  BOOST_TEST((std::chrono::steady_clock::now() - stopping < 15s));
}

BOOST_AUTO_TEST_SUITE_END()

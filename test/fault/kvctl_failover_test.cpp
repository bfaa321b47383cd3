// kvctl against a 3-node cluster whose leader is killed with kill -9: reads sent at once, through
// every endpoint, wait out the election as writes do.

#include "support/async.hpp"
#include "support/cluster.hpp"

#include <boost/test/unit_test.hpp>

using namespace kv;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

std::string joined(const std::vector<std::string>& endpoints) {
  std::string out;
  for (const auto& e : endpoints) out += (out.empty() ? "" : ",") + e;
  return out;
}

command_result kvctl(const cluster& cl, std::vector<std::string> args) {
  std::vector<std::string> argv{binary("kvctl").string(), "--endpoints", joined(cl.endpoints())};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

std::uint64_t agreed_leader(cluster& cl) {
  std::uint64_t leader = 0;
  run_async([&](asio::io_context&) -> asio::awaitable<void> { leader = co_await wait_for_leader(cl); });
  return leader;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

BOOST_AUTO_TEST_SUITE(kvctl_failover)

// Each round kills the leader and at once sends one read (get, search or similar in turn)
// through all three endpoints; then restarts the killed node, so that the cluster has three
// members again.
BOOST_AUTO_TEST_CASE(a_read_sent_right_after_kill_9_of_the_leader_succeeds) {
  cluster cl;
  auto w = kvctl(cl, {"set", "fox", "the quick brown fox"});
  BOOST_REQUIRE_MESSAGE(w.exit_code == 0, w.err);
  constexpr int rounds = 20;
  for (int round = 0; round < rounds; ++round) {
    const auto leader = agreed_leader(cl);
    cl.member(leader).kill9();
    const auto sent = std::chrono::steady_clock::now();
    command_result r;
    std::string expected;
    switch (round % 3) {
      case 0:
        r = kvctl(cl, {"get", "fox"});
        expected = "the quick brown fox\n";
        break;
      case 1:
        r = kvctl(cl, {"search", "brown", "quick"});
        expected = "fox\t";
        break;
      default:
        r = kvctl(cl, {"similar", "the quick brown fax"});
        expected = "fox\t";
        break;
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent);
    BOOST_TEST_MESSAGE("round " << round << ": killed node " << leader << ", the read took " << took.count()
                                << " ms");
    BOOST_TEST(r.exit_code == 0, "round " << round << " (killed node " << leader << "): " << r.err);
    BOOST_TEST(starts_with(r.out, expected), "round " << round << ": " << r.out);
    cl.member(leader).start();
  }
}

BOOST_AUTO_TEST_SUITE_END()

// kvctl against a 3-node cluster whose leader is killed with kill -9: reads sent at once, through
// every endpoint, wait out the election as writes do; `kvctl status` shows which process to kill.

#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "support/async.hpp"

#include <boost/test/unit_test.hpp>

#include <set>
#include <sstream>
#include <thread>

using namespace kv;
using namespace kv::harness;
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

// README's walk-through finds the leader's pid in `kvctl status` and kills it.
BOOST_AUTO_TEST_CASE(the_status_table_shows_each_pid_and_the_readme_command_kills_the_leader) {
  cluster cl;
  const auto leader = agreed_leader(cl);
  auto table = kvctl(cl, {"status"});
  BOOST_TEST_REQUIRE(table.exit_code == 0, table.err);
  std::istringstream rows(table.out);
  std::string row;
  std::getline(rows, row);
  BOOST_TEST(row.starts_with("ENDPOINT"), row);
  std::set<std::string> seen;
  while (std::getline(rows, row)) {
    std::istringstream words(row);
    std::string endpoint, id, pid, role;
    words >> endpoint >> id >> pid >> role;
    const auto& m = cl.member(std::stoull(id));
    BOOST_TEST(endpoint == m.endpoint());
    BOOST_TEST(pid == std::to_string(m.pid()), row);
    BOOST_TEST(role == (m.id() == leader ? "leader" : "follower"), row);
    seen.insert(endpoint);
  }
  BOOST_TEST(seen.size() == 3u, table.out);

  auto kill = run_command({"/bin/bash", "-c",
                           fmt::format("export KVCTL_ENDPOINTS={}\n"
                                       "kill -9 \"$({} status | awk '$4 == \"leader\" {{ print $3 }}')\"",
                                       joined(cl.endpoints()), binary("kvctl").string())});
  BOOST_TEST(kill.exit_code == 0, kill.err);
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (!cl.member(leader).exited() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  BOOST_TEST(!cl.member(leader).running(), "the leader, node " << leader << ", is still running");
  std::vector<std::uint64_t> others;
  for (auto id : cl.ids()) {
    if (id == leader) continue;
    BOOST_TEST(!cl.member(id).exited(), "node " << id << ", not the leader, was killed");
    others.push_back(id);
  }
  run_async([&](asio::io_context&) -> asio::awaitable<void> { co_await wait_for_leader(cl, others, 10s); });
}

BOOST_AUTO_TEST_SUITE_END()

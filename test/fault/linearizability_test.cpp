// Linearizability of a real 3-node cluster under kills and pauses
// (fault/linearizability_histories.hpp; the same with partitions is
// linearizability_partition_test.cpp, skipped where nft cannot be used). The checker is shown
// to have teeth on a real history too: stale reads from followers are flagged, of one key and of
// several at once.

#include "fault/linearizability_histories.hpp"
#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "support/client_util.hpp"
#include "support/linearizability.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <vector>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

// A transaction writing `value` to both a and b, recorded as client 0's.
kv::txn write_both(history_recorder& h, const std::string& value, std::size_t& op) {
  std::vector<key_state> writes{{"a", value}, {"b", value}};
  op = h.invoke_txn(0, {}, std::move(writes));
  kv::txn t;
  t.then_ops.push_back(make_put("a", value));
  t.then_ops.push_back(make_put("b", value));
  return t;
}

std::vector<std::string> both() { return {"a", "b"}; }

// An mget of a and b, recorded as client 1's.
std::size_t invoke_read_both(history_recorder& h) { return h.invoke_txn(1, {}, {}, both()); }

}  // namespace

BOOST_AUTO_TEST_SUITE(linearizability)

BOOST_AUTO_TEST_CASE(histories_under_kills_and_pauses_are_linearizable) {
  check_histories_under_faults(network_faults::none);
}

BOOST_AUTO_TEST_CASE(transaction_histories_under_kills_and_pauses_are_linearizable) {
  check_histories_under_faults(network_faults::none, workload_kind::transactions);
}

BOOST_AUTO_TEST_CASE(stale_reads_from_followers_are_caught) {
  // The checker must flag a real history with stale reads in it. One client writes through the
  // leader and, right after each acknowledgement, reads a follower's local state
  // (read_mode::stale). A follower learns that a write committed only from the leader's next
  // message, so such a read often misses the write it follows.
  cluster cl;
  history_recorder h;
  std::optional<linearizability_result> caught;
  const auto started = steady::now();
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    const auto leader = co_await wait_for_leader(cl);
    client writer(ctx.get_executor(), direct_options(cl.member(leader).endpoint()));
    std::vector<std::unique_ptr<client>> followers;
    for (auto id : cl.ids()) {
      if (id != leader) {
        followers.push_back(std::make_unique<client>(ctx.get_executor(), direct_options(cl.member(id).endpoint())));
      }
    }
    // Until the checker flags the history, for at most 10 s.
    for (int i = 0; !caught && steady::now() - started < 10s; ++i) {
      auto value = fmt::format("v{}", i);
      auto op = h.invoke(0, op_kind::set, "k", value);
      h.complete_write(op, co_await writer.set("k", value));
      auto& follower = *followers[static_cast<std::size_t>(i) % followers.size()];
      op = h.invoke(1, op_kind::get, "k");
      h.complete_get(op, co_await follower.get("k", read_mode::stale));
      if (i % 20 == 19) {
        auto result = check_linearizable(h.ops());
        if (!result.linearizable) caught = result;
      }
    }
    writer.close();
    for (auto& f : followers) f->close();
  });
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started).count();
  BOOST_REQUIRE_MESSAGE(caught, "no stale read flagged in " << h.ops().size() << " operations (" << took << " ms)");
  BOOST_TEST_MESSAGE("stale reads flagged after " << h.ops().size() << " operations (" << took << " ms):\n"
                                                  << caught->explanation);
}

BOOST_AUTO_TEST_CASE(stale_multi_key_reads_from_followers_are_caught) {
  // The same with transactions: one client writes a and b together through the leader and,
  // right after each acknowledgement, reads both from a follower's local state (an mget,
  // read_mode::stale). The checker follows a and b as one state.
  cluster cl;
  history_recorder h;
  std::optional<linearizability_result> caught;
  const auto started = steady::now();
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    const auto leader = co_await wait_for_leader(cl);
    client writer(ctx.get_executor(), direct_options(cl.member(leader).endpoint()));
    std::vector<std::unique_ptr<client>> followers;
    for (auto id : cl.ids()) {
      if (id != leader) {
        followers.push_back(std::make_unique<client>(ctx.get_executor(), direct_options(cl.member(id).endpoint())));
      }
    }
    for (int i = 0; !caught && steady::now() - started < 10s; ++i) {
      std::size_t op = 0;
      auto t = write_both(h, fmt::format("v{}", i), op);
      h.complete_txn(op, co_await writer.txn(std::move(t)));
      auto& follower = *followers[static_cast<std::size_t>(i) % followers.size()];
      op = invoke_read_both(h);
      h.complete_txn(op, co_await follower.mget(both(), read_mode::stale));
      if (i % 20 == 19) {
        auto result = check_linearizable(h.ops());
        if (!result.linearizable) caught = result;
      }
    }
    writer.close();
    for (auto& f : followers) f->close();
  });
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started).count();
  BOOST_REQUIRE_MESSAGE(caught, "no stale read flagged in " << h.ops().size() << " operations (" << took << " ms)");
  BOOST_TEST(caught->components == 1u);
  BOOST_TEST_MESSAGE("stale multi-key reads flagged after " << h.ops().size() << " operations (" << took << " ms):\n"
                                                            << caught->explanation);
}

BOOST_AUTO_TEST_SUITE_END()

// The leader's lease deadlines (raft/replica/lessor.hpp), with time passed in: a new leader's
// full TTL or checkpointed remainder, renewals from the barrier's start, expiry handed out once
// and again after a failed revoke, and which leases need checkpoints.

#include "raft/replica/lessor.hpp"

#include <boost/test/unit_test.hpp>

using namespace kv;
using namespace std::chrono_literals;

namespace {
const lessor::clock::time_point t0{std::chrono::hours(1)};

std::vector<std::uint64_t> ids(std::initializer_list<std::uint64_t> l) { return l; }
}  // namespace

BOOST_AUTO_TEST_SUITE(lessor_deadlines)

BOOST_AUTO_TEST_CASE(a_new_leader_grants_a_full_ttl_or_the_checkpointed_remainder) {
  lease_table table;
  BOOST_REQUIRE(table.grant(1, 10).ok());
  BOOST_REQUIRE(table.grant(2, 600).ok());
  table.checkpoint(2, 30'000);
  lessor l;
  BOOST_TEST(!l.remaining(1, t0).has_value());  // not primary: no deadlines
  l.promote(table, t0);
  BOOST_TEST(l.remaining(1, t0)->count() == 10'000);
  BOOST_TEST(l.remaining(2, t0)->count() == 30'000);
  BOOST_TEST(l.expired(t0 + 9999ms, 10).empty());
  BOOST_TEST(l.expired(t0 + 10s, 10) == ids({1}));
  BOOST_TEST(l.expired(t0 + 10s, 10).empty());  // handed out once
  BOOST_TEST(l.expired(t0 + 31s, 10) == ids({2}));
  l.demote();
  BOOST_TEST(!l.primary());
  BOOST_TEST(l.size() == 0u);
}

BOOST_AUTO_TEST_CASE(renewals_count_from_the_barrier_and_never_revive_an_expired_lease) {
  lease_table table;
  BOOST_REQUIRE(table.grant(1, 10).ok());
  lessor l;
  l.promote(table, t0);
  BOOST_TEST((l.renew(1, 10, t0 + 5s) == lessor::renewal::renewed));
  BOOST_TEST(l.remaining(1, t0 + 5s)->count() == 10'000);
  // A renewal whose barrier began before the current deadline's promise does not shorten it.
  BOOST_TEST((l.renew(1, 10, t0 + 1s) == lessor::renewal::renewed));
  BOOST_TEST(l.remaining(1, t0 + 5s)->count() == 10'000);
  BOOST_TEST((l.renew(7, 10, t0) == lessor::renewal::unknown));
  BOOST_TEST(l.expired(t0 + 15s, 10) == ids({1}));
  BOOST_TEST((l.renew(1, 10, t0 + 15s) == lessor::renewal::expired));  // its revoke is under way
  l.revoke_failed(1);  // leadership blipped: the revoke is proposed again
  BOOST_TEST(l.expired(t0 + 15s, 10) == ids({1}));
  l.revoked(1);
  BOOST_TEST((l.renew(1, 10, t0 + 15s) == lessor::renewal::unknown));
}

BOOST_AUTO_TEST_CASE(expiry_is_handed_out_in_bounded_batches_soonest_first) {
  lease_table table;
  for (std::uint64_t id = 1; id <= 5; ++id) BOOST_REQUIRE(table.grant(id, static_cast<std::int64_t>(6 - id)).ok());
  lessor l;
  l.promote(table, t0);
  BOOST_TEST(l.expired(t0 + 10s, 2) == ids({5, 4}));
  BOOST_TEST(l.expired(t0 + 10s, 2) == ids({3, 2}));
  BOOST_TEST(l.expired(t0 + 10s, 2) == ids({1}));
  l.granted(9, 1, t0 + 10s);
  BOOST_TEST(l.expired(t0 + 10s, 2).empty());
  BOOST_TEST(l.expired(t0 + 11s, 2) == ids({9}));
}

BOOST_AUTO_TEST_CASE(only_leases_longer_than_the_interval_are_checkpointed) {
  lease_table table;
  BOOST_REQUIRE(table.grant(1, 10).ok());
  BOOST_REQUIRE(table.grant(2, 3600).ok());
  lessor l;
  l.promote(table, t0);
  auto cps = l.checkpoints(t0 + 60s, std::chrono::minutes(5), 100);
  BOOST_REQUIRE(cps.size() == 1u);
  BOOST_TEST(cps[0].id == 2u);
  BOOST_TEST(cps[0].remaining_ms == 3'540'000);
  l.checkpoints_proposed(cps);
  BOOST_TEST(l.checkpoint_pending(2));
  l.checkpoint_done(2);
  BOOST_TEST(!l.checkpoint_pending(2));
}

BOOST_AUTO_TEST_SUITE_END()

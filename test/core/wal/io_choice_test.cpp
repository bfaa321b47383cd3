// io_choice: when the WAL in io_mode::automatic writes direct and when buffered, from the
// completion times it is told.
#include "core/wal/io_choice.hpp"

#include <boost/test/unit_test.hpp>

using namespace kv::wal;
using namespace std::chrono_literals;

namespace {

using clock_type = io_choice::clock;

// Drives a choice the way the WAL does: asks which path the next batch takes, starts it, and
// reports its completion time on that path (`direct_took` or `buffered_took`).
struct driver {
  io_choice choice;
  clock_type::time_point now{};
  std::size_t direct_batches = 0;
  std::size_t buffered_batches = 0;
  std::vector<io_choice::verdict> verdicts;

  explicit driver(io_choice::settings s = {}) : choice(s) {}
  // Runs n batches, 1 ms apart; returns the verdicts other than none.
  void run(std::size_t n, clock_type::duration direct_took, clock_type::duration buffered_took) {
    for (std::size_t i = 0; i < n; ++i) {
      const bool direct = choice.direct(now);
      BOOST_TEST(choice.direct(now) == direct);  // asking again gives the same answer
      choice.started(direct);
      (direct ? direct_batches : buffered_batches) += 1;
      now += direct ? direct_took : buffered_took;
      auto v = choice.completed(direct, direct ? direct_took : buffered_took, now);
      if (v != io_choice::verdict::none) verdicts.push_back(v);
      now += 1ms;
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(wal_io_choice)

BOOST_AUTO_TEST_CASE(fast_direct_writes_stay_direct_with_one_buffered_sample_in_sixteen) {
  driver d;
  d.run(1600, 150us, 250us);
  BOOST_TEST(d.verdicts.empty());
  BOOST_TEST(d.buffered_batches == 100u);
  BOOST_TEST(d.direct_batches == 1500u);
  BOOST_TEST(d.choice.fallbacks() == 0u);
}

BOOST_AUTO_TEST_CASE(direct_writes_waiting_for_the_tick_fall_back_to_buffered) {
  driver d;
  d.run(200, 4ms, 200us);
  BOOST_REQUIRE(d.verdicts.size() == 1u);
  BOOST_TEST((d.verdicts[0] == io_choice::verdict::fell_back));
  BOOST_TEST(d.choice.falling_back());
  BOOST_TEST((d.choice.hold() == 10s));
  BOOST_TEST((d.choice.direct_median() == 4ms));
  BOOST_TEST((d.choice.limit() == 2500us));  // `slow`: four times 200 µs is less
  // The verdict waits for four buffered samples (one in 16 batches: the 64th batch is the
  // fourth) and comes with the next direct write.
  BOOST_TEST(d.direct_batches == 61u);
  BOOST_TEST(d.buffered_batches == 139u);
}

BOOST_AUTO_TEST_CASE(no_verdict_before_enough_buffered_writes_were_seen) {
  driver d;
  d.run(63, 4ms, 200us);  // 3 buffered samples
  BOOST_TEST(d.verdicts.empty());
  BOOST_TEST(!d.choice.falling_back());
  d.run(1, 4ms, 200us);  // the fourth
  d.run(1, 4ms, 200us);
  BOOST_TEST(d.verdicts.size() == 1u);
}

BOOST_AUTO_TEST_CASE(large_batches_slower_direct_than_buffered_stay_direct) {
  // Under a load that keeps the cores busy, large direct batches take two to four times as long
  // as buffered ones: not the tick, and no reason to change.
  driver d;
  d.run(2000, 2ms, 900us);
  BOOST_TEST(d.verdicts.empty());
  BOOST_TEST((d.choice.limit() == 3600us));
  driver e;
  e.run(2000, 1600us, 370us);
  BOOST_TEST(e.verdicts.empty());
  BOOST_TEST((e.choice.limit() == 2500us));
}

BOOST_AUTO_TEST_CASE(a_disk_slow_on_both_paths_stays_direct) {
  driver d;
  d.run(2000, 8ms, 7ms);
  BOOST_TEST(d.verdicts.empty());
}

BOOST_AUTO_TEST_CASE(a_failed_probe_doubles_the_hold_and_a_passed_one_resets_it) {
  io_choice::settings s;
  s.first_hold = 10s;
  s.max_hold = 30s;
  driver d(s);
  d.run(200, 4ms, 200us);
  BOOST_REQUIRE(d.choice.falling_back());
  const auto fell_at = d.now;
  d.run(100, 4ms, 200us);  // held: all buffered
  BOOST_TEST(d.choice.falling_back());
  d.now = fell_at + 10s;
  BOOST_TEST(d.choice.direct(d.now));  // the hold is over: a probe
  d.verdicts.clear();
  d.run(16, 4ms, 200us);  // the probe fails (the 16th batch of a probe is a buffered sample)
  d.run(1, 4ms, 200us);
  BOOST_REQUIRE(d.verdicts.size() == 1u);
  BOOST_TEST((d.verdicts[0] == io_choice::verdict::fell_back));
  BOOST_TEST((d.choice.hold() == 20s));
  d.now += 20s;
  d.verdicts.clear();
  d.run(17, 4ms, 200us);
  BOOST_TEST((d.choice.hold() == 30s));  // doubled, up to max_hold
  BOOST_TEST(d.choice.fallbacks() == 3u);
  d.now += 30s;
  d.verdicts.clear();
  d.run(40, 150us, 200us);  // the tick no longer delays direct writes
  BOOST_REQUIRE(d.verdicts.size() == 1u);
  BOOST_TEST((d.verdicts[0] == io_choice::verdict::proved));
  BOOST_TEST(!d.choice.falling_back());
  d.run(200, 4ms, 200us);  // slow again: the hold starts over from first_hold
  BOOST_TEST((d.choice.hold() == 10s));
}

BOOST_AUTO_TEST_CASE(a_direct_write_completing_after_a_fall_back_is_not_judged) {
  driver d;
  d.run(200, 4ms, 200us);
  BOOST_REQUIRE(d.choice.falling_back());
  auto v = d.choice.completed(true, 50us, d.now);  // issued before the fall-back
  BOOST_TEST((v == io_choice::verdict::none));
  BOOST_TEST(d.choice.falling_back());
}

BOOST_AUTO_TEST_SUITE_END()

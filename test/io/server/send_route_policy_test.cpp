// The send route policy against simulated loads: it tries the send threads only when the loop is
// busy for a while, keeps them only when they serve more, backs off after failed trials (doubling
// up to the cap), and measures again when the load changes.

#include "io/server/send_route_policy.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <functional>

namespace {

using kv::send_route_policy;
using route = send_route_policy::route;

// A load: what the loop's running share and the requests per period are on each route, as a
// function of the period's number.
struct load {
  std::function<double(route, std::uint64_t)> running;
  std::function<std::uint64_t(route, std::uint64_t)> requests;
  std::uint64_t pipeline = 16;  // replies per send
};

struct run_result {
  std::uint64_t periods_on_threads = 0;
  std::uint64_t trials = 0;  // times the policy left the loop
  route last = route::owner;
};

run_result run(send_route_policy& p, const load& l, std::uint64_t periods, std::uint64_t from = 0) {
  run_result r;
  for (std::uint64_t t = from; t < from + periods; ++t) {
    const auto before = p.current();
    const auto requests = l.requests(before, t);
    const auto now = p.next({.running = l.running(before, t), .requests = requests, .sends = requests / l.pipeline});
    if (before == route::owner && now == route::send_thread) ++r.trials;
    if (now == route::send_thread) ++r.periods_on_threads;
    r.last = now;
  }
  return r;
}

load steady(double running, std::uint64_t on_loop, std::uint64_t on_threads) {
  return {[=](route, std::uint64_t) { return running; },
          [=](route r, std::uint64_t) { return r == route::owner ? on_loop : on_threads; }};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(send_route_policy_decisions)

BOOST_AUTO_TEST_CASE(a_loop_with_time_to_spare_keeps_its_replies) {
  send_route_policy p;
  auto r = run(p, steady(0.85, 1000, 5000), 100'000);
  BOOST_TEST(r.trials == 0u);
  BOOST_TEST(r.periods_on_threads == 0u);
}

// Clients that wait for each reply (one per send): the hand-off's wake-up would be lost
// throughput, so it is not tried.
BOOST_AUTO_TEST_CASE(clients_without_pipelines_keep_their_replies_on_the_loop) {
  send_route_policy p;
  auto l = steady(1.0, 1000, 5000);
  l.pipeline = 1;
  BOOST_TEST(run(p, l, 10'000).trials == 0u);
}

BOOST_AUTO_TEST_CASE(short_busy_spikes_start_no_trial) {
  send_route_policy p;
  load spiky{[](route, std::uint64_t t) { return t % 3 == 0 ? 0.5 : 1.0; },  // two busy periods in three
             [](route r, std::uint64_t) -> std::uint64_t { return r == route::owner ? 1000 : 5000; }};
  BOOST_TEST(run(p, spiky, 10'000).trials == 0u);
}

// Send threads that serve 20 % more are kept, and stay through the rechecks of the loop.
BOOST_AUTO_TEST_CASE(send_threads_that_serve_more_keep_the_replies) {
  send_route_policy::settings s;
  send_route_policy p(s);
  auto r = run(p, steady(1.0, 1000, 1200), 20'500);  // ends between two rechecks
  BOOST_TEST((r.last == route::send_thread));
  // Off them only for the loop's rechecks: a trial of 50 periods every 1000.
  BOOST_TEST(r.periods_on_threads > 20'500u * 9 / 10);
}

// Send threads that serve less give the replies back; the next trials wait 200, 400, 800...
// periods, up to 6000.
BOOST_AUTO_TEST_CASE(send_threads_that_serve_less_back_off_doubling) {
  send_route_policy::settings s;
  send_route_policy p(s);
  auto first = run(p, steady(1.0, 1000, 700), 1000);
  BOOST_TEST((first.last == route::owner));
  BOOST_TEST(first.trials == 3u);  // at 50 (a full baseline first), 300 and 750: back-offs 200, 400
  // Over a long run the back-off reaches its cap: a trial every 6000 periods or so.
  auto later = run(p, steady(1.0, 1000, 700), 60'000, 1000);
  BOOST_TEST(later.trials >= 9u);
  BOOST_TEST(later.trials <= 13u);
  BOOST_TEST(later.periods_on_threads <= later.trials * s.trial_periods);
  BOOST_TEST(later.periods_on_threads >= (later.trials - 1) * s.trial_periods);
}

// An even result stays on the loop (the send threads must win by the gain).
BOOST_AUTO_TEST_CASE(a_tie_stays_on_the_loop) {
  send_route_policy p;
  BOOST_TEST((run(p, steady(1.0, 1000, 1010), 5000).last == route::owner));
}

// The load changes after the send threads won: the next recheck finds the loop serving more and
// gives it the replies back; a later change back is found by the next trial.
BOOST_AUTO_TEST_CASE(a_changed_load_is_measured_again) {
  send_route_policy p;
  BOOST_TEST((run(p, steady(1.0, 1000, 1500), 500).last == route::send_thread));
  auto r = run(p, steady(1.0, 1000, 600), 2000, 500);
  BOOST_TEST((r.last == route::owner));
  r = run(p, steady(1.0, 1000, 1500), 2000, 2500);
  BOOST_TEST((r.last == route::send_thread));
}

BOOST_AUTO_TEST_SUITE_END()

#include "io/sys/event.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Waits once until `deadline` and records when it resumed.
void spawn_waiter(asio::io_context& ctx, kv::io::event& e, clock_type::time_point deadline,
                  clock_type::time_point& resumed) {
  asio::co_spawn(
      ctx,
      [&e, deadline, &resumed]() -> asio::awaitable<void> {
        co_await e.wait_until(deadline);
        resumed = clock_type::now();
      },
      asio::detached);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_event)

BOOST_AUTO_TEST_CASE(notify_resumes_waiters_after_the_notifier_returns) {
  asio::io_context ctx;
  kv::io::event e(ctx.get_executor());
  int resumed = 0;
  for (int i = 0; i < 2; ++i) {
    asio::co_spawn(
        ctx,
        [&e, &resumed, i]() -> asio::awaitable<void> {
          if (i == 0) {
            co_await e.wait();
          } else {
            co_await e.wait_until(clock_type::now() + 1h);
          }
          ++resumed;
        },
        asio::detached);
  }
  ctx.poll();
  BOOST_TEST(resumed == 0);
  e.notify();
  BOOST_TEST(resumed == 0);  // not inside notify()
  ctx.run_for(1s);
  BOOST_TEST(resumed == 2);
}

// Each timed waiter resumes at its own deadline, neither before nor long after, whatever the
// order they came in: the timer is re-armed for the later one once the earlier one is due.
BOOST_AUTO_TEST_CASE(each_waiter_resumes_at_its_deadline) {
  asio::io_context ctx;
  kv::io::event e(ctx.get_executor());
  const auto start = clock_type::now();
  clock_type::time_point late{}, early{}, middle{};
  spawn_waiter(ctx, e, start + 90ms, late);
  spawn_waiter(ctx, e, start + 30ms, early);
  spawn_waiter(ctx, e, start + 60ms, middle);
  ctx.run_for(2s);
  BOOST_TEST((early >= start + 30ms && early < start + 1s));
  BOOST_TEST((middle >= start + 60ms && middle < start + 1s));
  BOOST_TEST((late >= start + 90ms && late < start + 1s));
}

// A group commit's loop: notified, it waits again for the same deadline, and still returns then.
BOOST_AUTO_TEST_CASE(a_waiter_notified_early_still_gets_its_deadline_next_time) {
  asio::io_context ctx;
  kv::io::event e(ctx.get_executor());
  const auto deadline = clock_type::now() + 50ms;
  int rounds = 0;
  clock_type::time_point done{};
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        while (clock_type::now() < deadline) {
          co_await e.wait_until(deadline);
          ++rounds;
        }
        done = clock_type::now();
      },
      asio::detached);
  ctx.poll();
  e.notify();
  ctx.poll();
  e.notify();
  ctx.run_for(2s);
  BOOST_TEST(rounds >= 3);
  BOOST_TEST((done >= deadline && done < deadline + 1s));
}

// A node's shutdown returns from run() once its work is done: a timer armed for a waiter that
// was notified must not hold it up until the deadline.
BOOST_AUTO_TEST_CASE(a_notified_waiter_leaves_no_timer_behind) {
  asio::io_context ctx;
  kv::io::event e(ctx.get_executor());
  clock_type::time_point resumed{};
  const auto start = clock_type::now();
  spawn_waiter(ctx, e, start + 3s, resumed);
  ctx.poll();
  e.notify();
  ctx.run();  // returns once nothing is left to do
  BOOST_TEST((resumed != clock_type::time_point{}));
  BOOST_TEST((clock_type::now() - start < 1s));
}

BOOST_AUTO_TEST_CASE(destroying_the_event_resumes_its_waiters) {
  asio::io_context ctx;
  auto e = std::make_unique<kv::io::event>(ctx.get_executor());
  clock_type::time_point resumed{};
  spawn_waiter(ctx, *e, clock_type::now() + 1h, resumed);
  ctx.poll();
  e.reset();
  ctx.run_for(1s);
  BOOST_TEST((resumed != clock_type::time_point{}));
}

BOOST_AUTO_TEST_SUITE_END()

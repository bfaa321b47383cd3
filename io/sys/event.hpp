#pragma once
// A wakeup for coroutines on one executor: wait() suspends until the next notify().
//
// It keeps no state between the two: a notify() with nobody waiting is lost. Callers check
// their condition before they wait, which on a single-threaded executor cannot race.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace kv::io {

class event {
 public:
  explicit event(asio::any_io_executor executor) : timer_(std::move(executor)) {}

  // Wakes every coroutine currently in wait().
  void notify() { timer_.cancel(); }

  asio::awaitable<void> wait() { co_await wait_until(asio::steady_timer::time_point::max()); }

  // Like wait(), but returns at `deadline` at the latest.
  asio::awaitable<void> wait_until(asio::steady_timer::time_point deadline) {
    std::error_code ignored;
    timer_.expires_at(deadline);
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

 private:
  asio::steady_timer timer_;
};

}  // namespace kv::io

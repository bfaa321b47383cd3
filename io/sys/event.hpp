#pragma once
// A wakeup for coroutines on one executor: wait() suspends until the next notify().
//
// It keeps no state between the two: a notify() with nobody waiting is lost. Callers check
// their condition before they wait, which on a single-threaded executor cannot race.
//
// A waiter resumes from the executor's queue, never inside notify(): the notifier finishes its
// handler first (so, say, every response one round of work produces leaves in one write).
// wait() keeps its waiters in a list and posts them; only wait_until() arms a timer, because a
// timer costs a lock and a heap update on each wait and each cancel, and wait() sits on the
// path of every request. Destroying the event resumes its waiters, as cancelling a timer would.

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <utility>
#include <vector>

namespace kv::io {

class event {
 public:
  explicit event(asio::any_io_executor executor) : executor_(executor), timer_(std::move(executor)) {}
  ~event() { notify(); }
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  // Wakes every coroutine currently in wait() or wait_until().
  void notify() {
    if (!waiters_.empty()) {
      resuming_.swap(waiters_);
      for (auto& h : resuming_) {
        auto ex = asio::get_associated_executor(h, executor_);
        asio::post(ex, std::move(h));
      }
      resuming_.clear();  // keeps its capacity: a wakeup allocates nothing of its own
    }
    if (timed_waiters_ > 0) timer_.cancel();
  }

  asio::awaitable<void> wait() {
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [this](handler h) { waiters_.push_back(std::move(h)); }, asio::use_awaitable);
  }

  // Like wait(), but returns at `deadline` at the latest.
  asio::awaitable<void> wait_until(asio::steady_timer::time_point deadline) {
    std::error_code ignored;
    timer_.expires_at(deadline);
    ++timed_waiters_;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    --timed_waiters_;
  }

 private:
  // What use_awaitable makes of a void() completion: the suspended coroutine. Stored as is (no
  // type erasure), so a wait allocates nothing once the vectors have grown.
  using handler = asio::detail::awaitable_handler<asio::any_io_executor>;

  asio::any_io_executor executor_;
  std::vector<handler> waiters_;
  std::vector<handler> resuming_;
  asio::steady_timer timer_;
  int timed_waiters_ = 0;
};

}  // namespace kv::io

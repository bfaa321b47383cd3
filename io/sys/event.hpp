#pragma once
// A wakeup for coroutines on one executor: wait() suspends until the next notify().
//
// It keeps no state between the two: a notify() with nobody waiting is lost. Callers check
// their condition before they wait, which on a single-threaded executor cannot race.
//
// A waiter resumes from the executor's queue, never inside notify(): the notifier finishes its
// handler first (so, say, every response one round of work produces leaves in one write).
// Waiters wait in a list and notify() posts them; no timer is touched on the way, because a timer
// costs a lock and a heap update on each wait and each cancel, and a timerfd_settime whenever it
// becomes the earliest, and wait() sits on the path of every request. wait_until() adds a
// deadline: one timer per event stays armed at the earliest deadline of its waiters, and a
// waiter that notify() resumes leaves it armed, so a loop that waits again for the same deadline
// after each notify (a group commit gathering writes) arms it once; a timer nobody waits for
// any more is cancelled once the resumed waiters have run, so that it holds up no executor's
// run(). When it fires it resumes the waiters whose deadline has passed and re-arms for the rest.
// Destroying the event resumes its waiters, as cancelling a timer would.

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

namespace kv::io {

class event {
 public:
  using time_point = asio::steady_timer::time_point;

  explicit event(asio::any_io_executor executor)
      : executor_(executor), timer_(std::move(executor)), self_(std::make_shared<event*>(this)) {}
  ~event() {
    *self_ = nullptr;
    notify();
  }
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  // Wakes every coroutine currently in wait() or wait_until().
  void notify() {
    if (waiters_.empty()) return;
    resuming_.swap(waiters_);
    for (auto& w : resuming_) post(std::move(w.h));
    resuming_.clear();  // keeps its capacity: a wakeup allocates nothing of its own
    if (armed_at_ != time_point::max() && !disarm_posted_) {
      // Queued behind the waiters just resumed: a waiter that waits again at once keeps the timer.
      disarm_posted_ = true;
      asio::post(executor_, [self = self_] {
        if (*self != nullptr) (*self)->disarm_if_unused();
      });
    }
  }

  asio::awaitable<void> wait() { return wait_until(time_point::max()); }

  // Like wait(), but returns at `deadline` at the latest.
  asio::awaitable<void> wait_until(time_point deadline) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [this, deadline](handler h) {
          waiters_.push_back(waiter{std::move(h), deadline});
          if (deadline < armed_at_) arm(deadline);
        },
        asio::use_awaitable);
  }

 private:
  // What use_awaitable makes of a void() completion: the suspended coroutine. Stored as is (no
  // type erasure), so a wait allocates nothing once the vectors have grown.
  using handler = asio::detail::awaitable_handler<asio::any_io_executor>;
  struct waiter {
    handler h;
    time_point deadline;  // time_point::max() for wait()
  };

  void post(handler h) {
    auto ex = asio::get_associated_executor(h, executor_);
    asio::post(ex, std::move(h));
  }

  // The timer's handler may run after the event is gone (a wait that expired just before), so it
  // reaches the event through self_. An aborted wait was replaced by one for an earlier deadline.
  void arm(time_point deadline) {
    armed_at_ = deadline;
    timer_.expires_at(deadline);
    timer_.async_wait([self = self_](std::error_code ec) {
      if (!ec && *self != nullptr) (*self)->on_timer();
    });
  }

  // A timer left armed for nobody would keep the executor's run() from returning until it fires.
  void disarm_if_unused() {
    disarm_posted_ = false;
    if (armed_at_ == time_point::max()) return;
    for (const auto& w : waiters_) {
      if (w.deadline != time_point::max()) return;
    }
    armed_at_ = time_point::max();
    timer_.cancel();
  }

  void on_timer() {
    armed_at_ = time_point::max();
    const auto now = asio::steady_timer::clock_type::now();
    auto next = time_point::max();
    resuming_.swap(waiters_);
    for (auto& w : resuming_) {
      if (w.deadline <= now) {
        post(std::move(w.h));
      } else {
        next = std::min(next, w.deadline);
        waiters_.push_back(std::move(w));
      }
    }
    resuming_.clear();
    if (next != time_point::max()) arm(next);
  }

  asio::any_io_executor executor_;
  std::vector<waiter> waiters_;
  std::vector<waiter> resuming_;
  asio::steady_timer timer_;
  time_point armed_at_ = time_point::max();  // the timer's expiry while its wait is pending
  bool disarm_posted_ = false;
  std::shared_ptr<event*> self_;             // this event, or null once it is destroyed
};

}  // namespace kv::io

#pragma once
// A move-only, type-erased completion handler, so that asynchronous operations can park their
// caller (usually a coroutine waiting through asio::use_awaitable) in a plain container and resume
// it later from any callback.

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>

#include <memory>
#include <tuple>
#include <utility>

namespace kv::io {

template <typename Signature>
class completion;

// Holds one handler for void(Args...). Invoking it posts the handler to the handler's associated
// executor (never runs it inline), so a caller may complete many waiters while iterating over its
// own state without being re-entered. Keeps the executor's work count up until invoked.
template <typename... Args>
class completion<void(Args...)> {
 public:
  completion() = default;

  template <typename Handler>
  explicit completion(Handler&& handler)
      : impl_(std::make_unique<impl<std::decay_t<Handler>>>(std::forward<Handler>(handler))) {}

  explicit operator bool() const noexcept { return impl_ != nullptr; }

  // Completes the operation. The completion becomes empty.
  void operator()(Args... args) {
    auto p = std::move(impl_);
    p->invoke(std::move(args)...);
  }

 private:
  struct base {
    virtual ~base() = default;
    virtual void invoke(Args&&... args) = 0;
  };

  template <typename Handler>
  struct impl final : base {
    explicit impl(Handler&& h)
        : handler(std::move(h)), work(asio::make_work_guard(asio::get_associated_executor(handler))) {}

    void invoke(Args&&... args) override {
      auto ex = work.get_executor();
      asio::post(ex, [h = std::move(handler), tup = std::make_tuple(std::move(args)...)]() mutable {
        std::apply(std::move(h), std::move(tup));
      });
      work.reset();
    }

    Handler handler;
    asio::executor_work_guard<asio::associated_executor_t<Handler>> work;
  };

  std::unique_ptr<base> impl_;
};

// Starts an asynchronous wait: `park` receives a completion<void(Args...)> and stores it wherever
// the operation keeps its waiters. Usage: `co_await async_park<int>([&](auto c) { q.push(std::move(c)); },
// asio::use_awaitable)`.
template <typename... Args, typename Park, typename Token>
auto async_park(Park&& park, Token&& token) {
  return asio::async_initiate<Token, void(Args...)>(
      [](auto handler, Park p) { p(completion<void(Args...)>(std::move(handler))); }, token,
      std::forward<Park>(park));
}

}  // namespace kv::io

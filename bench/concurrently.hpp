#pragma once
// Running several coroutines of a benchmark at once on one executor.

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <functional>

namespace kv::bench {

// Runs `body(0..n-1)` concurrently on the current executor; returns when all have ended,
// rethrowing the first failure.
inline asio::awaitable<void> all_of(int n, std::function<asio::awaitable<void>(int)> body) {
  auto ex = co_await asio::this_coro::executor;
  int running = n;
  asio::steady_timer done(ex, std::chrono::steady_clock::time_point::max());
  std::exception_ptr failure;
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(ex, body(i), [&](std::exception_ptr e) {
      if (e && !failure) failure = e;
      if (--running == 0) done.cancel();
    });
  }
  std::error_code ec;
  while (running > 0) co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (failure) std::rethrow_exception(failure);
}

}  // namespace kv::bench

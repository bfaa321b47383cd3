#pragma once
// Running coroutines to completion inside a test.

#include "raft/replica/store.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <functional>

namespace kv::test {

// Runs `body` on a fresh single-threaded io_context until it and everything it started finish.
// Rethrows an exception that escapes `body`. A body still running after `limit` is abandoned
// and reported as a failure, so a hang fails the test instead of stalling the suite.
inline void run_async(std::function<asio::awaitable<void>(asio::io_context&)> body,
                      std::chrono::seconds limit = std::chrono::seconds(120)) {
  asio::io_context ctx(1);
  std::exception_ptr failure;
  bool finished = false;
  asio::steady_timer watchdog(ctx, limit);
  watchdog.async_wait([&](std::error_code ec) {
    if (!ec) ctx.stop();
  });
  asio::co_spawn(ctx, body(ctx), [&](std::exception_ptr e) {
    failure = e;
    finished = true;
    watchdog.cancel();
  });
  ctx.run();
  if (!finished) throw std::runtime_error("test body did not finish within its time limit (a hang?)");
  if (failure) std::rethrow_exception(failure);
}

// Opens a store on `dir`, runs `body` against it while the store's coroutines run, then stops
// the store and waits until it has drained.
inline void with_store(const std::filesystem::path& dir, const storage_config& cfg,
                       std::function<asio::awaitable<void>(store&)> body) {
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    store s(ctx.get_executor(), dir, cfg);
    auto driver = [&]() -> asio::awaitable<void> {
      try {
        co_await body(s);
      } catch (...) {
        s.stop();
        throw;
      }
      s.stop();
    };
    co_await (s.run() && driver());
  });
}

// A storage configuration small enough for tests to cross segment and snapshot thresholds.
inline storage_config small_storage() {
  storage_config c;
  c.segment_bytes = 256u << 10;
  c.max_batch_bytes = 64u << 10;
  return c;
}

}  // namespace kv::test

#include "fault/run_support.hpp"

#include "core/model/key_range.hpp"

#include <asio/co_spawn.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <chrono>

namespace kv::test {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

void task_group::spawn(asio::awaitable<void> task, std::function<void(std::exception_ptr)> on_end) {
  ++running_;
  asio::co_spawn(ex_, std::move(task), [this, on_end = std::move(on_end)](std::exception_ptr e) {
    on_end(e);
    --running_;
    done_.notify();
  });
}

void task_group::spawn(asio::awaitable<void> task, std::string what) {
  spawn(std::move(task), [what = std::move(what)](std::exception_ptr e) {
    if (e) BOOST_ERROR(what << " threw: " << what_threw(e));
  });
}

asio::awaitable<void> task_group::wait_all() {
  while (running_ > 0) co_await done_.wait();
}

std::string what_threw(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an unknown exception";
  }
}

asio::awaitable<std::unique_ptr<watch_stream>> open_replay(client& c, std::string prefix) {
  watch_spec spec;
  spec.key = prefix;
  spec.end = prefix_end(prefix);
  spec.start_revision = 1;
  const auto deadline = steady::now() + 30s;
  for (;;) {
    auto s = co_await c.watch(spec);
    if (s) co_return std::move(*s);
    BOOST_REQUIRE_MESSAGE(s.is(errc::unavailable) && steady::now() < deadline, s.message());
  }
}

asio::awaitable<std::string> replay_deletes(client& c, std::string prefix, std::uint64_t last,
                                            std::function<void(std::string_view, std::uint64_t)> on_delete) {
  auto w = co_await open_replay(c, std::move(prefix));
  const auto deadline = steady::now() + 20s;
  std::uint64_t delivered = 0;
  while (delivered < last && steady::now() < deadline) {
    w->request_progress();
    auto b = co_await w->next();
    if (!b) continue;
    delivered = b->revision;
    for (const auto& e : b->events) {
      if (e.deleted) on_delete(e.kv.key, e.kv.mod_revision);
    }
  }
  w->cancel();
  if (delivered < last) co_return fmt::format("its replay reached only revision {}; ", delivered);
  co_return std::string();
}

}  // namespace kv::test

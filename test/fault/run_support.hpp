#pragma once
// What the workload fault tests (lease, TTL and watch faults) share besides the nemesis: the
// group of coroutines a run starts and waits for, and the replay from revision 1 that reads the
// history one node holds alone at the end of a run.

#include "io/client/client.hpp"
#include "io/client/watch_stream.hpp"
#include "io/sys/event.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace kv::test {

// The coroutines a run starts (writers, watchers, pollers...) and waits for. On the run's
// io_context thread only.
class task_group {
 public:
  explicit task_group(asio::any_io_executor ex) : ex_(ex), done_(ex) {}
  // Runs `task`; `on_end` is called when it ends, with what it threw, if anything.
  void spawn(asio::awaitable<void> task, std::function<void(std::exception_ptr)> on_end);
  // Runs `task`; if it throws, the test fails with `what` and the exception's text.
  void spawn(asio::awaitable<void> task, std::string what);
  asio::awaitable<void> wait_all();

 private:
  asio::any_io_executor ex_;
  io::event done_;
  int running_ = 0;
};

// The text of what `e` holds.
std::string what_threw(std::exception_ptr e);

// A watch of every key under `prefix` from revision 1 through `c`, retried while no node takes
// it, for up to 30 s (then the test fails).
asio::awaitable<std::unique_ptr<watch_stream>> open_replay(client& c, std::string prefix);

// Replays the keys under `prefix` from revision 1 through `c` until revision `last` is delivered
// (20 s at most), calling `on_delete` with each delete; returns what went wrong, or "".
asio::awaitable<std::string> replay_deletes(client& c, std::string prefix, std::uint64_t last,
                                            std::function<void(std::string_view key, std::uint64_t revision)> on_delete);

}  // namespace kv::test

#pragma once
// Helpers for tests that write and read WAL directories directly.

#include "core/wal/wal.hpp"
#include "io/sys/event.hpp"
#include "io/sys/uring.hpp"
#include "support/async.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include <fstream>
#include <iterator>
#include <vector>

namespace kv::test {

inline wal::options small_wal(const std::filesystem::path& dir) {
  wal::options o;
  o.dir = dir;
  o.segment_bytes = 64u << 10;
  o.max_batch_bytes = 16u << 10;
  return o;
}

// Opens the log and returns what recovery found. Throws like wal::log does.
inline wal::recovered read_log(const wal::options& opts, std::uint64_t after_index = 0) {
  return wal::log::read(opts, after_index);
}

// One group commit's worth of appends: entries and optionally a hard state first.
struct write_group {
  std::vector<raft::entry> entries;
  std::optional<raft::hard_state> state;
  std::optional<std::uint64_t> reset = std::nullopt;  // queued first: the log restarts after this index
};

// Opens the log, then writes each group as its own batch (waiting for it to be durable before
// queueing the next), and closes. Returns what recovery found before the writes; `written`, if
// set, receives the log's counts of what it wrote.
inline wal::recovered write_log(const wal::options& opts, const std::vector<write_group>& groups,
                                std::uint64_t after_index = 0, std::uint64_t compact_to = 0,
                                wal::log::stats* written = nullptr) {
  wal::recovered out = wal::log::read(opts, after_index);
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    io::uring ring(ctx.get_executor());
    wal::log log(ring, opts, out);
    io::event durable(ctx.get_executor());
    std::size_t batches_done = 0;
    auto driver = [&]() -> asio::awaitable<void> {
      for (const auto& g : groups) {
        auto before = log.written().batches;
        if (g.reset) log.reset(*g.reset);
        if (g.state) log.save_hard_state(*g.state);
        for (const auto& e : g.entries) log.append(e.term, e.index, e.data);
        while (log.written().batches == before) co_await durable.wait();
        ++batches_done;
      }
      if (compact_to != 0) co_await log.compact(compact_to);
      if (written != nullptr) *written = log.written();
      log.stop();
    };
    co_await (log.run([&](std::uint64_t) { durable.notify(); }) && driver());
  });
  return out;
}

inline raft::entry make_entry(std::uint64_t term, std::uint64_t index, std::size_t size = 40) {
  std::string data = "e" + std::to_string(index) + "-";
  while (data.size() < size) data.push_back(static_cast<char>('a' + (data.size() + index) % 26));
  return raft::entry{term, index, data};
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// One past the last non-zero byte: where the written part of a preallocated segment ends.
inline std::size_t written_end(const std::string& data) {
  auto n = data.size();
  while (n > 0 && data[n - 1] == 0) --n;
  return n;
}

}  // namespace kv::test

#pragma once
// The durable single-node storage engine: a WAL, the state machine it feeds, and snapshots that
// bound the log. It follows the path Raft will take with one voter: a write is proposed (appended
// to the log), committed once its batch is durable, applied in log order by the apply coroutine,
// and only then acknowledged.
//
// Guarantees:
//  - set/del/bulk_set complete only after their entry is fdatasynced (fsync = always) and
//    applied; a get() issued after that sees the write.
//  - bulk_set is one log entry: after any crash all of its pairs are present or none.
//  - While a snapshot is written, writes continue (see state_machine's point-in-time capture).
//
// Threading: every member runs on the executor passed to the constructor (one thread).

#include "core/callback.hpp"
#include "core/command.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/state_machine.hpp"
#include "core/wal/wal.hpp"
#include "io/completion.hpp"
#include "io/event.hpp"
#include "io/file.hpp"
#include "io/uring.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kv {

class store {
 public:
  // What opening the data directory found.
  struct recovery_info {
    std::uint64_t snapshot_index = 0;  // 0: no snapshot
    std::uint64_t snapshot_pairs = 0;
    std::uint64_t replayed_entries = 0;  // log entries applied after the snapshot
    std::uint64_t torn_bytes = 0;        // discarded from a torn WAL tail
    std::size_t segments = 0;
    std::chrono::microseconds duration{0};           // all of recovery
    std::chrono::microseconds snapshot_duration{0};  // loading the snapshot
    std::chrono::microseconds log_read_duration{0};  // reading and checking the WAL (in parallel)
    std::chrono::microseconds replay_duration{0};    // applying the log entries after the snapshot
  };

  struct stats {
    std::uint64_t snapshots = 0;
    std::uint64_t last_snapshot_index = 0;
    std::chrono::microseconds last_snapshot_duration{0};
  };

  // Opens `dir` (creating it if needed): takes its lock, loads the newest snapshot, replays the
  // WAL and applies it. Throws corruption_error for damaged data, std::runtime_error if another
  // process holds the directory, std::system_error for I/O errors.
  store(asio::any_io_executor executor, std::filesystem::path dir, storage_config cfg);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Runs the WAL writer and the apply coroutine; returns after stop() once every accepted write
  // is durable and applied and any snapshot in progress is finished.
  asio::awaitable<void> run();
  // Stops accepting writes (they fail with errc::unavailable) and lets run() drain and return.
  void stop();

  // Writes. Each yields the log index of the write once it is durable and applied, or
  // errc::bad_request / errc::too_large for invalid input, errc::unavailable when stopping.
  // del yields errc::not_found (once the delete is durable) if the key did not exist.

  // Callback form: `done` runs on the store's executor once the write is applied, or before
  // submit_* returns if the write is refused. It must not call back into the store.
  using write_done = callback<void(result<std::uint64_t>)>;
  void submit_set(std::string_view key, std::string_view value, write_done done);
  void submit_del(std::string_view key, write_done done);
  // `pairs`: `count` pairs in the append_pair() encoding (as the wire protocol carries them).
  void submit_bulk_set(std::string_view pairs, std::uint32_t count, write_done done);

  // Coroutine form.
  asio::awaitable<result<std::uint64_t>> set(std::string key, std::string value);
  asio::awaitable<result<std::uint64_t>> del(std::string key);
  asio::awaitable<result<std::uint64_t>> bulk_set(std::vector<kv_pair> pairs);

  // The value of `key` in the applied state, or errc::not_found.
  result<std::string> get(std::string_view key) const;
  // The same without a copy: valid until the next write is applied.
  std::optional<std::string_view> find(std::string_view key) const { return sm_.get(key); }
  // errc::ok if `key` is acceptable for a read or a write (non-empty, within max-key-size).
  errc check_key_for_read(std::string_view key) const { return check_key(key); }
  bool stopping() const noexcept { return stopping_; }

  // Takes a snapshot now unless one is running, and waits for the one in progress to finish.
  asio::awaitable<void> snapshot_now();

  const state_machine& state() const noexcept { return sm_; }
  const recovery_info& recovery() const noexcept { return recovery_; }
  const stats& statistics() const noexcept { return stats_; }
  const wal::log& log() const noexcept { return *wal_; }
  std::uint64_t applied_index() const noexcept { return sm_.applied_index(); }
  std::uint64_t commit_index() const noexcept { return commit_index_; }
  std::uint64_t term() const noexcept { return term_; }
  std::uint64_t snapshot_index() const noexcept { return snapshot_index_; }

 private:
  struct waiter {
    std::uint64_t index;
    write_done done;
  };

  errc check_key(std::string_view key) const;
  errc check_pair(std::string_view key, std::string_view value) const;
  void propose(std::string command, write_done done);
  asio::awaitable<result<std::uint64_t>> await_write(auto submit);
  void on_durable(std::uint64_t index);
  asio::awaitable<void> apply_loop();
  void apply_committed();
  void maybe_start_snapshot();
  asio::awaitable<void> take_snapshot();
  void remove_stale_files();
  void recover();

  asio::any_io_executor executor_;
  std::filesystem::path dir_;
  storage_config cfg_;
  io::directory_lock lock_;
  io::uring ring_;
  state_machine sm_;
  std::unique_ptr<wal::log> wal_;
  recovery_info recovery_;
  stats stats_;

  struct pending_entry {
    std::uint64_t index;
    std::uint64_t term;
    std::string command;
  };

  io::unique_fd dir_fd_;
  std::uint64_t term_ = 1;
  std::uint64_t applied_term_ = 0;
  std::uint64_t commit_index_ = 0;
  // Entries appended but not yet applied, in index order, for the apply loop.
  std::deque<pending_entry> unapplied_;
  std::deque<waiter> waiters_;  // in index order
  io::event apply_wake_;
  bool stopping_ = false;

  bool snapshot_running_ = false;
  io::event snapshot_done_;
  std::uint64_t snapshot_index_ = 0;       // index of the newest snapshot on disk
  std::uint64_t log_bytes_ = 0;            // bytes of entry records appended (or replayed) since start
  std::uint64_t log_bytes_at_snapshot_ = 0;  // log_bytes_ when the newest snapshot was taken
};

}  // namespace kv

// The store's assembly: construction (which recovers the data directory) and its lifecycle, the
// coroutines run() joins and stop() ends. Each job lives in its own file: recovery.cpp,
// admission.cpp, ready_loop.cpp, reads.cpp, apply.cpp, snapshots.cpp, leases.cpp, expiry.cpp.

#include "raft/replica/store.hpp"

#include <asio/experimental/awaitable_operators.hpp>

namespace kv {

namespace {

std::filesystem::path created(std::filesystem::path dir) {
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

store::store(asio::any_io_executor executor, std::filesystem::path dir, storage_config cfg, replication_options repl,
             apply_observer* observer)
    : executor_(executor),
      dir_(std::move(dir)),
      cfg_(std::move(cfg)),
      repl_(std::move(repl)),
      observer_(observer),
      lock_(created(dir_)),
      ring_(executor),
      sessions_(repl_.max_sessions),
      raft_wake_(executor),
      role_changed_(executor),
      tick_timer_(executor),
      expiry_wake_(executor),
      apply_wake_(executor),
      snapshot_done_(executor) {
  if (repl_.voters.empty()) repl_.voters.push_back(repl_.id);
  dir_fd_ = io::open_directory(dir_);
  recover();
}

store::~store() = default;

asio::awaitable<void> store::run() {
  using namespace asio::experimental::awaitable_operators;
  note_role_change();
  co_await (wal_->run([this](std::uint64_t) { on_durable(); }) && apply_loop() && raft_loop() && tick_loop() &&
            expiry_loop());
}

void store::stop() {
  if (stopping_) return;
  stopping_ = true;
  tick_timer_.cancel();
  raft_wake_.notify();
  apply_wake_.notify();
  expiry_wake_.notify();
  release_clock_waiters();  // they fail as unavailable, as every write does now
}

}  // namespace kv

// Snapshots: taking this node's own (a point-in-time capture written while writes go on, then
// compacting the log it covers), streaming the newest one to a follower that needs entries
// compacted away, and installing one streamed from the leader.

#include "raft/replica/store.hpp"

#include "core/base/fail_stop.hpp"
#include "core/base/spawn.hpp"
#include "core/snapshot/snapshot.hpp"
#include "core/snapshot/writer.hpp"
#include "raft/replica/elapsed.hpp"

#include <asio/co_spawn.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>

namespace kv {

using replica_detail::since;

namespace {

// Snapshot chunks are written once this many bytes are queued.
constexpr std::size_t snapshot_write_bytes = 1u << 20;
// The longest the snapshot's capture runs before letting other work on the event loop run.
constexpr std::chrono::microseconds snapshot_capture_slice{300};
// A snapshot file is written back to the disk, and waited for, every this many bytes: its final
// fdatasync then has little left to flush, and no more than this much of it is ever queued at
// the device ahead of the WAL's fdatasyncs.
constexpr std::uint64_t snapshot_writeback_bytes = 1u << 20;
// After a snapshot could not be written for lack of space: how long until the next try (a try
// captures the whole state, so not as often as the WAL's cheap ones).
constexpr std::chrono::seconds snapshot_space_retry{10};

bool is_lack_of_space(int error) noexcept { return error == ENOSPC || error == EDQUOT; }

}  // namespace

void store::maybe_start_snapshot() {
  if (snapshot_running_ || stopping_ || std::chrono::steady_clock::now() < snapshot_retry_at_) return;
  bool by_entries = sm_.applied_index() - snapshot_index_ >= snapshot_entry_bound();
  bool by_bytes = log_bytes_ - log_bytes_at_snapshot_ >= snapshot_log_bound();
  if (!by_entries && !by_bytes) return;
  snapshot_running_ = true;
  asio::co_spawn(executor_, take_snapshot(), stop_on_failure("the snapshot"));
}

std::uint64_t store::snapshot_log_bound() const noexcept {
  // No overflow: the percent is at most 10000 (config) and a snapshot far below 2^50 bytes.
  return std::max(cfg_.snapshot_log_bytes, snapshot_bytes_ / 100 * cfg_.snapshot_log_percent);
}

std::uint64_t store::snapshot_entry_bound() const noexcept {
  // As the byte bound, and for the same reason: with a fixed count, a store of n keys would
  // capture all n every snapshot_entries writes, a cost per write that grows with the store.
  // Replaying an entry costs a small multiple of loading a key, so the replay stays within a
  // fixed multiple of the snapshot's load.
  return std::max(cfg_.snapshot_entries, snapshot_keys_ / 100 * cfg_.snapshot_log_percent);
}

asio::awaitable<void> store::snapshot_now() {
  if (!snapshot_running_ && sm_.applied_index() > snapshot_index_) {
    snapshot_running_ = true;
    co_await take_snapshot();
    co_return;
  }
  while (snapshot_running_) co_await snapshot_done_.wait();
}

asio::awaitable<void> store::take_snapshot() {
  snapshot_running_ = true;
  auto start = std::chrono::steady_clock::now();
  const auto index = sm_.applied_index();
  const auto term = applied_term_;
  const auto bytes_mark = log_bytes_;
  const auto final_name = snapshot::file_name(index);
  const auto tmp_name = final_name + ".tmp";
  const auto tmp_path = (dir_ / tmp_name).string();
  auto finish = [&] {
    snapshot_running_ = false;
    snapshot_done_.notify();
  };

  int fd = co_await ring_.openat(dir_fd_.get(), tmp_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 && !is_lack_of_space(-fd)) {
    fail_stop(fmt::format("snapshot {}: create failed: {}", tmp_path, std::strerror(-fd)));
  }
  io::unique_fd file(fd < 0 ? -1 : fd);
  snapshot::write_outcome outcome;
  std::string where = "on the event loop";
  if (fd < 0) {
    outcome.failed = snapshot::write_outcome::step::write;
    outcome.error = -fd;
  } else {
    // The session and lease tables as of the index the capture starts at, with nothing applied
    // in between: there is no suspension from here to the capture's start.
    snapshot::file_parts parts{snapshot::encode_header(index, term, sm_.key_count()),
                               snapshot::encode_sessions(sessions_.encode()),
                               sm_.leases().empty() ? std::string() : snapshot::encode_leases(sm_.leases().encode())};
    if (observer_) observer_->checkpoint(index);
    bool captured = false;
    if (cfg_.snapshot_capture_mode == snapshot_capture::fork) {
      auto child = co_await capture_in_child(file.get(), parts, index);
      if (child.kind == child_capture::ended::died) {
        // Not a disk error: nothing is known about the file, which is dropped; the log keeps
        // every entry until a snapshot is written.
        co_await ring_.unlinkat(dir_fd_.get(), tmp_name);
        snapshot_retry_at_ = std::chrono::steady_clock::now() + snapshot_space_retry;
        spdlog::error("snapshot at index {} not written: its child process {}; next try in {}s", index, child.death,
                      snapshot_space_retry.count());
        finish();
        co_return;
      }
      if (child.kind == child_capture::ended::wrote) {
        outcome = child.outcome;
        captured = true;
        where = fmt::format("by child process {} (fork took {} us)", child.pid, child.fork_duration.count());
      }
    }
    if (!captured && cfg_.snapshot_capture_mode == snapshot_capture::thread) {
      if (auto out = co_await capture_on_thread(file.get(), parts)) {
        outcome = *out;
        captured = true;
        where = "by the snapshot thread";
      }
    }
    if (!captured) outcome = co_await capture_on_event_loop(file.get(), std::move(parts), tmp_path);
  }
  file.reset();
  if (outcome.failed != snapshot::write_outcome::step::none) {
    if (!is_lack_of_space(outcome.error)) {
      fail_stop(fmt::format("snapshot {}: {} failed: {}", tmp_path, snapshot::step_name(outcome.failed),
                            std::strerror(outcome.error)));
    }
    if (fd >= 0) co_await ring_.unlinkat(dir_fd_.get(), tmp_name);
    snapshot_retry_at_ = std::chrono::steady_clock::now() + snapshot_space_retry;
    spdlog::warn("snapshot at index {} not written: {} in {} ({} bytes written before it); the log keeps growing "
                 "until a snapshot fits, next try in {}s",
                 index, std::strerror(outcome.error), dir_.string(), outcome.bytes, snapshot_space_retry.count());
    finish();
    co_return;
  }
  if (int rc = co_await ring_.renameat(dir_fd_.get(), tmp_name, final_name); rc < 0) {
    fail_stop(fmt::format("snapshot {}: rename failed: {}", tmp_path, std::strerror(-rc)));
  }
  if (cfg_.fsync == fsync_policy::always) {
    if (int rc = co_await ring_.fsync(dir_fd_.get()); rc < 0) {
      fail_stop(fmt::format("snapshot {}: directory fsync failed: {}", tmp_path, std::strerror(-rc)));
    }
  }
  // The new snapshot is durable: older snapshots and the log it covers can go.
  for (const auto& name : io::list_files(dir_, "snap-", ".snap")) {
    if (name == final_name) continue;
    if (co_await ring_.renameat(dir_fd_.get(), name, io::trash::trash_name(name)) == 0) {
      trash_.add(name);
    } else {
      co_await ring_.unlinkat(dir_fd_.get(), name);
    }
  }
  snapshot_index_ = index;
  log_bytes_at_snapshot_ = bytes_mark;
  snapshot_bytes_ = outcome.bytes;
  snapshot_keys_ = outcome.pairs;
  // The core keeps recent entries past the snapshot so that a follower slightly behind gets
  // appends rather than the whole snapshot.
  const auto keep = repl_.snapshot_catch_up_entries;
  if (index > keep) node_->compact(std::min(index - keep, node_->log().applied()));
  co_await wal_->compact(index);

  stats_.snapshots++;
  stats_.last_snapshot_index = index;
  stats_.last_snapshot_bytes = outcome.bytes;
  stats_.last_snapshot_duration = since(start);
  spdlog::info("snapshot at index {} written {}: {} keys, {} bytes in {} ms", index, where, outcome.pairs,
               outcome.bytes, stats_.last_snapshot_duration.count() / 1000);
  finish();
}

asio::awaitable<snapshot::write_outcome> store::capture_on_event_loop(int fd, snapshot::file_parts parts,
                                                                      const std::string& path) {
  snapshot::write_outcome out;
  // Lack of space only abandons this snapshot (nothing depends on it yet): the capture runs to its
  // end and what it produces is dropped. Other errors are fatal at once.
  auto fail = [&](snapshot::write_outcome::step step, int rc) {
    if (!is_lack_of_space(-rc)) {
      fail_stop(fmt::format("snapshot {}: {} failed: {}", path, snapshot::step_name(step), std::strerror(-rc)));
    }
    if (out.failed == snapshot::write_outcome::step::none) {
      out.failed = step;
      out.error = -rc;
    }
  };
  std::uint64_t written_back = 0;
  snapshot::file_stream stream(sm_, std::move(parts));
  auto write_queued = [&]() -> asio::awaitable<void> {
    std::vector<iovec> iov;
    while (stream.has_queued()) {
      auto batch = stream.take();
      if (out.failed != snapshot::write_outcome::step::none) continue;  // the capture runs on; its output is dropped
      for (std::size_t i = 0; i < batch.size(); i += IOV_MAX) {
        const auto len = snapshot::gather(batch, i, iov);
        int rc = co_await ring_.write(fd, iov, out.bytes);
        if (rc >= 0 && static_cast<std::uint64_t>(rc) != len) rc = -ENOSPC;  // a short write: the file system is full
        if (rc < 0) {
          fail(snapshot::write_outcome::step::write, rc);
          co_return;
        }
        out.bytes += len;
      }
      if (out.bytes - written_back >= snapshot_writeback_bytes) {
        if (int rc = co_await ring_.write_back(fd, written_back, out.bytes - written_back); rc < 0) {
          fail(snapshot::write_outcome::step::writeback, rc);
        }
        written_back = out.bytes;
      }
    }
  };
  // Capture in short slices so that writes keep flowing between them.
  for (bool more = true; more;) {
    auto slice_start = std::chrono::steady_clock::now();
    do {
      more = stream.step();
    } while (more && stream.queued_bytes() < snapshot_write_bytes &&
             std::chrono::steady_clock::now() - slice_start < snapshot_capture_slice);
    if (!more || stream.queued_bytes() >= snapshot_write_bytes) {
      co_await write_queued();
    } else {
      co_await asio::post(executor_, asio::use_awaitable);
    }
  }
  out.pairs = stream.pairs();
  out.chunks = stream.chunks();
  if (cfg_.fsync == fsync_policy::always && out.failed == snapshot::write_outcome::step::none) {
    if (int rc = co_await ring_.fdatasync(fd); rc < 0) fail(snapshot::write_outcome::step::fdatasync, rc);
  }
  co_return out;
}

asio::awaitable<std::optional<snapshot::write_outcome>> store::capture_on_thread(int fd,
                                                                                const snapshot::file_parts& parts) {
  // The thread wakes this coroutine through the event loop; a wake-up posted after the capture
  // ended finds the event gone and does nothing.
  auto woken = std::make_shared<io::event>(executor_);
  auto wake = [executor = executor_, weak = std::weak_ptr<io::event>(woken)] {
    asio::post(executor, [weak] {
      if (auto e = weak.lock()) e->notify();
    });
  };
  try {
    snapshot_writer_ = std::make_unique<snapshot::thread_writer>(sm_, fd, parts, cfg_.fsync == fsync_policy::always,
                                                                 snapshot_writeback_bytes, std::move(wake));
  } catch (const std::system_error& e) {
    // No thread (a process or memory limit): nothing was captured; the event loop does it.
    spdlog::warn("snapshot: cannot start the snapshot thread ({}); capturing on the event loop", e.what());
    co_return std::nullopt;
  }
  // pump() and wait() with no suspension between them, and every wake-up runs on this thread:
  // none is lost.
  while (!snapshot_writer_->pump()) co_await woken->wait();
  auto out = snapshot_writer_->outcome();
  snapshot_writer_.reset();
  co_return out;
}

namespace {

// The child's lower scheduling priority (a nice value): on a busy machine the serving threads
// win the cores and the snapshot takes longer, rather than the writes' latency growing.
constexpr int snapshot_child_nice = 10;

// The body of the snapshot's child process: writes the file from the child's copy of the state
// and hands the outcome to the parent through `result_fd`. It runs alone in a copy of a
// multi-threaded process, so it only allocates (the allocator is fork-safe) and makes system
// calls: no logging, no locks another thread may have held at the fork.
[[noreturn]] void run_snapshot_child(pid_t parent, int result_fd, int file_fd, state_machine& sm,
                                     const snapshot::file_parts& parts, bool sync) noexcept {
  // Dies with the node rather than outliving it with its files open (the data directory's lock).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(3);
  // The node's handlers would wake the parent's event loop; an interrupt or a stop ends the child.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &dfl, nullptr);
  ::setpriority(PRIO_PROCESS, 0, snapshot_child_nice);
  snapshot::write_outcome out;
  try {
    out = snapshot::write_file(file_fd, sm, parts, sync, snapshot_writeback_bytes);
  } catch (...) {
    ::_exit(2);
  }
  const char* p = reinterpret_cast<const char*>(&out);
  for (std::size_t left = sizeof out; left > 0;) {
    ssize_t n = ::write(result_fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(4);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ::_exit(0);
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  if (WIFEXITED(status)) return fmt::format("exited with status {} before reporting", WEXITSTATUS(status));
  return fmt::format("ended with wait status {:#x}", status);
}

}  // namespace

asio::awaitable<store::child_capture> store::capture_in_child(int fd, const snapshot::file_parts& parts,
                                                              std::uint64_t index) {
  child_capture result;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    spdlog::warn("snapshot at index {}: no pipe for a child process ({}); capturing on the event loop", index,
                 std::strerror(errno));
    co_return result;
  }
  io::unique_fd read_end(pipe_fds[0]);
  io::unique_fd write_end(pipe_fds[1]);
  const pid_t parent = ::getpid();
  const auto fork_start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) run_snapshot_child(parent, write_end.get(), fd, sm_, parts, cfg_.fsync == fsync_policy::always);
  if (pid < 0) {
    spdlog::warn("snapshot at index {}: fork failed ({}); capturing on the event loop instead", index,
                 std::strerror(errno));
    co_return result;
  }
  result.fork_duration = since(fork_start);
  result.pid = pid;
  write_end.reset();  // the pipe ends (EOF) when the child does
  asio::posix::stream_descriptor from_child(executor_, read_end.release());
  std::error_code ec;
  const std::size_t got =
      co_await asio::async_read(from_child, asio::buffer(&result.outcome, sizeof result.outcome),
                                asio::redirect_error(asio::use_awaitable, ec));
  // Reap it. It exits right after reporting, but tearing down its copy of the heap takes a
  // moment, so poll instead of blocking the event loop in waitpid.
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;  // ECHILD: reaped elsewhere; the pipe tells
    asio::steady_timer pause(executor_, std::chrono::milliseconds(1));
    co_await pause.async_wait(asio::use_awaitable);
  }
  if (got == sizeof result.outcome) {
    result.kind = child_capture::ended::wrote;
  } else {
    result.kind = child_capture::ended::died;
    result.death = fmt::format("{} {}", pid, describe_exit(status));
  }
  co_return result;
}

void store::send_snapshot(raft::message m) {
  // A follower needs entries compacted away: stream it the snapshot they went into.
  auto file = snapshot::newest(dir_);
  if (!file) {
    spdlog::error("node {}: node {} needs a snapshot, but there is none in {}", repl_.id, m.to, dir_.string());
    node_->report_snapshot(m.to, false);
    return;
  }
  auto meta = snapshot::read_header(*file);
  m.snapshot_index = meta.index;
  m.snapshot_term = meta.term;
  transport_->send_snapshot(std::move(m), *file);
}

void store::snapshot_sent(raft::node_id peer, bool ok) {
  node_->report_snapshot(peer, ok);
  raft_wake_.notify();
}

std::filesystem::path store::incoming_snapshot_path(raft::node_id from) const {
  return snapshot::incoming_path(dir_, from);
}

bool store::accept_snapshot(const raft::message& m) {
  auto path = incoming_snapshot_path(m.from);
  if (snapshot_running_) {
    // Replacing the state machine under a capture is not possible; the leader sends it again.
    spdlog::warn("node {}: dropping the snapshot from node {} while taking one of its own", repl_.id, m.from);
    return false;
  }
  try {
    auto incoming = std::make_unique<state_machine>();
    auto meta = snapshot::load(path, *incoming);
    session_table sessions(repl_.max_sessions);
    if (!meta.sessions.empty() && !sessions.decode(meta.sessions)) {
      spdlog::error("node {}: the snapshot from node {} holds a malformed session table; dropping it", repl_.id,
                    m.from);
      return false;
    }
    if (meta.index != m.snapshot_index || meta.term != m.snapshot_term) {
      spdlog::error("node {}: the snapshot from node {} covers ({}, term {}), not ({}, term {}) as announced; "
                    "dropping it",
                    repl_.id, m.from, meta.index, meta.term, m.snapshot_index, m.snapshot_term);
      return false;
    }
    incoming_ = std::move(incoming);
    incoming_sessions_ = std::move(sessions);
    incoming_path_ = path;
    return true;
  } catch (const std::exception& e) {
    spdlog::error("node {}: the snapshot received from node {} is unusable: {}", repl_.id, m.from, e.what());
    return false;
  }
}

void store::install_snapshot(const raft::snapshot_meta& meta) {
  if (!incoming_ || incoming_->applied_index() != meta.index) {
    fail_stop(fmt::format("the Raft core installed snapshot {} that this node does not hold", meta.index));
  }
  // The snapshot becomes this node's newest, durably, before the log says it starts after it.
  auto final_path = dir_ / snapshot::file_name(meta.index);
  std::filesystem::rename(incoming_path_, final_path);
  io::sync_directory(dir_);
  for (const auto& name : io::list_files(dir_, "snap-", ".snap")) {
    if (dir_ / name == final_path) continue;
    std::error_code ec;
    std::filesystem::rename(dir_ / name, dir_ / io::trash::trash_name(name), ec);
    if (!ec) {
      trash_.add(name);
    } else {
      std::filesystem::remove(dir_ / name);
    }
  }
  sm_ = std::move(*incoming_);
  incoming_.reset();
  // The marks before the snapshot name entries this state never applied one by one; they start
  // again at the snapshot's.
  revision_marks_.clear();
  revision_marks_.emplace_back(sm_.revision(), meta.index);
  watches_.restarted();
  if (observer_) observer_->restart_from(std::make_shared<io::mapped_file>(final_path), meta.index, meta.index);
  sessions_ = std::move(incoming_sessions_);
  wal_->reset(meta.index);
  unapplied_.clear();
  snapshot_index_ = meta.index;
  applied_term_ = meta.term;
  commit_index_ = meta.index;
  log_bytes_at_snapshot_ = log_bytes_;
  snapshot_bytes_ = std::filesystem::file_size(final_path);
  snapshot_keys_ = sm_.key_count() + sm_.keys().tombstones();
  spdlog::info("node {}: installed the leader's snapshot through index {} (term {}): {} keys", repl_.id, meta.index,
               meta.term, sm_.key_count());
  release_reads();
}

}  // namespace kv

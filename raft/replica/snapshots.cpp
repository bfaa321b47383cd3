// Snapshots: taking this node's own (a point-in-time capture written while writes go on, then
// compacting the log it covers), streaming the newest one to a follower that needs entries
// compacted away, and installing one streamed from the leader.

#include "raft/replica/store.hpp"

#include "core/base/fail_stop.hpp"
#include "core/base/spawn.hpp"
#include "core/snapshot/snapshot.hpp"
#include "raft/replica/elapsed.hpp"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace kv {

using replica_detail::since;

namespace {

// Snapshot chunks are written once this many bytes are queued.
constexpr std::size_t snapshot_write_bytes = 1u << 20;
// The longest the snapshot's capture runs before letting other work on the event loop run.
constexpr std::chrono::microseconds snapshot_capture_slice{300};
// Writeback of a snapshot file is started every this many bytes, so that its final fdatasync
// does not flush the whole file at once and stall the WAL's syncs behind it.
constexpr std::uint64_t snapshot_writeback_bytes = 8u << 20;
// After a snapshot could not be written for lack of space: how long until the next try (a try
// captures the whole state, so not as often as the WAL's cheap ones).
constexpr std::chrono::seconds snapshot_space_retry{10};

bool is_lack_of_space(int error) noexcept { return error == ENOSPC || error == EDQUOT; }

}  // namespace

void store::maybe_start_snapshot() {
  if (snapshot_running_ || stopping_ || std::chrono::steady_clock::now() < snapshot_retry_at_) return;
  bool by_entries = sm_.applied_index() - snapshot_index_ >= cfg_.snapshot_entries;
  bool by_bytes = log_bytes_ - log_bytes_at_snapshot_ >= snapshot_log_bound();
  if (!by_entries && !by_bytes) return;
  snapshot_running_ = true;
  asio::co_spawn(executor_, take_snapshot(), stop_on_failure("the snapshot"));
}

std::uint64_t store::snapshot_log_bound() const noexcept {
  // No overflow: the percent is at most 10000 (config) and a snapshot far below 2^50 bytes.
  return std::max(cfg_.snapshot_log_bytes, snapshot_bytes_ / 100 * cfg_.snapshot_log_percent);
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
  // Lack of space only abandons this snapshot (nothing depends on it yet); other errors are fatal.
  int space_error = 0;
  auto fail = [&](std::string_view what, int rc) {
    if (is_lack_of_space(-rc)) {
      if (space_error == 0) space_error = -rc;
      return;
    }
    fail_stop(fmt::format("snapshot {}: {} failed: {}", (dir_ / tmp_name).string(), what, std::strerror(-rc)));
  };

  int fd = co_await ring_.openat(dir_fd_.get(), tmp_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("create", fd);
  io::unique_fd file(fd < 0 ? -1 : fd);

  std::vector<std::string> queued;
  std::size_t queued_bytes = 0;
  std::uint64_t offset = 0;
  std::uint64_t written_back = 0;
  std::uint64_t pairs = 0;
  std::uint64_t chunks = 0;
  queued.push_back(snapshot::encode_header(index, term, sm_.key_count()));
  queued_bytes += queued.back().size();
  // The session and lease tables as of the same index as the capture beginning now.
  auto sessions = snapshot::encode_sessions(sessions_.encode());
  auto leases = sm_.leases().empty() ? std::string() : snapshot::encode_leases(sm_.leases().encode());
  sm_.begin_capture([&](state_machine::chunk c) {
    pairs += c.count;
    ++chunks;
    queued.push_back(snapshot::encode_chunk(c));
    queued_bytes += queued.back().size();
  });
  queued.push_back(snapshot::encode_revisions(sm_.capture_revision(), sm_.capture_compacted(), sm_.capture_clock()));
  queued_bytes += queued.back().size();
  if (observer_) observer_->checkpoint(index);
  auto write_queued = [&]() -> asio::awaitable<void> {
    if (space_error != 0) {  // the capture runs to its end; what it produces is dropped
      queued.clear();
      queued_bytes = 0;
    }
    while (!queued.empty()) {
      // Take the batch out first: writes arriving during the await may queue more chunks.
      std::vector<std::string> batch;
      batch.swap(queued);
      queued_bytes = 0;
      for (std::size_t i = 0; i < batch.size(); i += IOV_MAX) {
        std::vector<iovec> iov;
        std::uint64_t len = 0;
        for (std::size_t j = i; j < batch.size() && j < i + IOV_MAX; ++j) {
          iov.push_back({batch[j].data(), batch[j].size()});
          len += batch[j].size();
        }
        int rc = co_await ring_.write(file.get(), iov, offset);
        if (rc >= 0 && static_cast<std::uint64_t>(rc) != len) rc = -ENOSPC;  // a short write: the file system is full
        if (rc < 0) {
          fail("write", rc);
          queued.clear();
          queued_bytes = 0;
          co_return;
        }
        offset += len;
      }
      if (offset - written_back >= snapshot_writeback_bytes) {
        if (int rc = co_await ring_.start_writeback(file.get(), written_back, offset - written_back); rc < 0) {
          fail("sync_file_range", rc);
        }
        written_back = offset;
      }
    }
  };
  // Capture in short slices so that writes keep flowing between them.
  for (bool more = true; more;) {
    auto slice_start = std::chrono::steady_clock::now();
    do {
      more = sm_.capture_step();
    } while (more && queued_bytes < snapshot_write_bytes &&
             std::chrono::steady_clock::now() - slice_start < snapshot_capture_slice);
    if (!more || queued_bytes >= snapshot_write_bytes) {
      co_await write_queued();
    } else {
      co_await asio::post(executor_, asio::use_awaitable);
    }
  }
  queued.push_back(std::move(sessions));
  if (!leases.empty()) queued.push_back(std::move(leases));
  queued.push_back(snapshot::encode_footer(pairs, chunks));
  co_await write_queued();
  if (cfg_.fsync == fsync_policy::always && space_error == 0) {
    if (int rc = co_await ring_.fdatasync(file.get()); rc < 0) fail("fdatasync", rc);
  }
  file.reset();
  if (space_error != 0) {
    if (fd >= 0) co_await ring_.unlinkat(dir_fd_.get(), tmp_name);
    snapshot_retry_at_ = std::chrono::steady_clock::now() + snapshot_space_retry;
    spdlog::warn("snapshot at index {} not written: {} in {} ({} bytes written before it); the log keeps growing "
                 "until a snapshot fits, next try in {}s",
                 index, std::strerror(space_error), dir_.string(), offset, snapshot_space_retry.count());
    snapshot_running_ = false;
    snapshot_done_.notify();
    co_return;
  }
  if (int rc = co_await ring_.renameat(dir_fd_.get(), tmp_name, final_name); rc < 0) fail("rename", rc);
  if (cfg_.fsync == fsync_policy::always) {
    if (int rc = co_await ring_.fsync(dir_fd_.get()); rc < 0) fail("directory fsync", rc);
  }
  // The new snapshot is durable: older snapshots and the log it covers can go.
  for (const auto& name : io::list_files(dir_, "snap-", ".snap")) {
    if (name != final_name) co_await ring_.unlinkat(dir_fd_.get(), name);
  }
  snapshot_index_ = index;
  log_bytes_at_snapshot_ = bytes_mark;
  snapshot_bytes_ = offset;
  // The core keeps recent entries past the snapshot so that a follower slightly behind gets
  // appends rather than the whole snapshot.
  const auto keep = repl_.snapshot_catch_up_entries;
  if (index > keep) node_->compact(std::min(index - keep, node_->log().applied()));
  co_await wal_->compact(index);

  stats_.snapshots++;
  stats_.last_snapshot_index = index;
  stats_.last_snapshot_bytes = offset;
  stats_.last_snapshot_duration = since(start);
  spdlog::info("snapshot at index {} written: {} keys, {} bytes in {} ms", index, pairs, offset,
               stats_.last_snapshot_duration.count() / 1000);
  snapshot_running_ = false;
  snapshot_done_.notify();
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
    if (dir_ / name != final_path) std::filesystem::remove(dir_ / name);
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
  spdlog::info("node {}: installed the leader's snapshot through index {} (term {}): {} keys", repl_.id, meta.index,
               meta.term, sm_.key_count());
  release_reads();
}

}  // namespace kv

// Recovery: opening the data directory loads the newest snapshot while a helper thread reads and
// checks the WAL, replays the entries known committed, and starts the Raft core from the log.

#include "raft/replica/store.hpp"

#include "core/snapshot/snapshot.hpp"
#include "raft/replica/elapsed.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>

namespace kv {

using replica_detail::since;

namespace {

wal::io_mode wal_mode(wal_io io) {
  switch (io) {
    case wal_io::direct: return wal::io_mode::direct;
    case wal_io::buffered: return wal::io_mode::buffered;
    case wal_io::automatic: return wal::io_mode::automatic;
  }
  return wal::io_mode::buffered;
}

// How many keys the entries set, at most: sizes the state machine before a replay.
std::uint64_t keys_written(const std::vector<raft::entry>& entries) {
  std::uint64_t keys = 0;
  for (const auto& e : entries) {
    auto cmd = decode_command(e.data);
    if (cmd) keys += cmd->type == command_type::bulk_set ? cmd->count : 1;
  }
  return keys;
}

}  // namespace

void store::remove_stale_files() {
  for (const auto& name : io::list_files(dir_, "snap-", ".tmp")) {
    spdlog::info("removing the unfinished snapshot {}", (dir_ / name).string());
    std::filesystem::remove(dir_ / name);
  }
  auto snaps = io::list_files(dir_, "snap-", ".snap");
  for (std::size_t i = 0; i + 1 < snaps.size(); ++i) std::filesystem::remove(dir_ / snaps[i]);
}

void store::recover() {
  auto start = std::chrono::steady_clock::now();
  remove_stale_files();
  auto snapshot_path = snapshot::newest(dir_);
  auto snapshot_index = snapshot_path ? snapshot::read_header(*snapshot_path).index : 0;

  // Two cores: read the log on a helper thread while this one loads the snapshot.
  wal::options opts;
  opts.dir = dir_;
  opts.segment_bytes = cfg_.segment_bytes;
  opts.max_batch_bytes = cfg_.max_batch_bytes;
  opts.sync = cfg_.fsync == fsync_policy::always;
  opts.io = wal_mode(cfg_.wal_io_mode);
  opts.syncs_in_flight = static_cast<std::size_t>(cfg_.syncs_in_flight);
  opts.group_commit_delay = cfg_.group_commit_delay;
  opts.trash = &trash_;
  auto log_read = std::async(std::launch::async, [&] {
    auto log_start = std::chrono::steady_clock::now();
    auto found = wal::log::read(opts, snapshot_index);
    recovery_.log_read_duration = since(log_start);
    return found;
  });
  try {
    if (snapshot_path) {
      auto m = snapshot::load(*snapshot_path, sm_);
      if (!m.sessions.empty() && !sessions_.decode(m.sessions)) {
        throw corruption_error(fmt::format("{}: malformed client session table", snapshot_path->string()));
      }
      recovery_.snapshot_index = m.index;
      recovery_.snapshot_pairs = m.pairs;
      snapshot_index_ = m.index;
      snapshot_bytes_ = m.file_bytes;
      snapshot_keys_ = m.pairs;
      applied_term_ = m.term;
      applied_term_at_snapshot_ = m.term;
    }
  } catch (...) {
    log_read.wait();
    throw;
  }
  recovery_.snapshot_duration = since(start);
  wal::recovered rec = log_read.get();
  if (observer_) {
    // After the log is read, so the observer learns how far it goes.
    auto index_start = std::chrono::steady_clock::now();
    observer_->restart_from(snapshot_path ? std::make_shared<io::mapped_file>(*snapshot_path) : nullptr,
                            snapshot_index_, std::max(snapshot_index_, rec.last_index));
    recovery_.index_duration = since(index_start);
  }
  auto open_start = std::chrono::steady_clock::now();
  wal_ = std::make_unique<wal::log>(ring_, opts, rec);
  recovery_.open_duration = since(open_start);
  auto replay_start = std::chrono::steady_clock::now();
  // Entries up to the durable commit index are known committed: apply them now. Those after it
  // are applied once the cluster commits them again. In a cluster of one, every durable entry
  // is on a majority of the voters, so the whole log is committed.
  if (repl_.voters.size() == 1) rec.state.commit = std::max(rec.state.commit, rec.last_index);
  const auto committed = std::min(rec.state.commit, rec.last_index);
  sm_.reserve(sm_.key_count() + keys_written(rec.entries));
  std::uint64_t replayed = 0;
  for (const auto& e : rec.entries) {
    log_bytes_ += wal::header_bytes + e.data.size();
    if (e.index > committed) continue;
    apply_entry(e.index, e.term, e.data);
    ++replayed;
  }
  commit_index_ = sm_.applied_index();
  // The revision marks start here: revision_at_index() knows no earlier index.
  revision_marks_.clear();
  revision_marks_.emplace_back(sm_.revision(), sm_.applied_index());
  recovery_.replay_duration = since(replay_start);
  const auto raft_start = std::chrono::steady_clock::now();
  recovery_.replayed_entries = replayed;
  recovery_.torn_bytes = rec.torn_bytes;
  recovery_.segments = rec.segments.size();

  raft::config rc;
  rc.id = repl_.id;
  rc.voters = repl_.voters;
  rc.election_ticks = repl_.election_ticks;
  rc.heartbeat_ticks = 1;
  rc.max_append_bytes = repl_.max_append_bytes;
  rc.max_entries_in_flight = repl_.max_entries_in_flight;
  rc.seed = repl_.seed != 0 ? repl_.seed
                            : static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  saved_state_ = current_state_ = durable_state_ = rec.state;
  node_ = std::make_unique<raft::node>(
      rc, rec.state, raft::log(snapshot_index_, applied_term_at_snapshot_, std::move(rec.entries), sm_.applied_index()));
  recovery_.open_duration += since(raft_start);  // the Raft core, from the replayed log
  recovery_.duration = since(start);
}

}  // namespace kv

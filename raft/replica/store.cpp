#include "raft/replica/store.hpp"

#include "core/base/fail_stop.hpp"
#include "core/base/bytes.hpp"
#include "core/snapshot/snapshot.hpp"
#include "core/base/spawn.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>

#include <climits>
#include <cstring>
#include <future>

namespace kv {

namespace {

// Apply at most this many entries before letting other coroutines run.
constexpr std::size_t apply_round_entries = 64;
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

std::filesystem::path created(std::filesystem::path dir) {
  std::filesystem::create_directories(dir);
  return dir;
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

template <typename Clock = std::chrono::steady_clock>
std::chrono::microseconds since(typename Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
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
      apply_wake_(executor),
      snapshot_done_(executor) {
  if (repl_.voters.empty()) repl_.voters.push_back(repl_.id);
  dir_fd_ = io::open_directory(dir_);
  recover();
}

store::~store() = default;

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
  wal::options opts{dir_,
                    cfg_.segment_bytes,
                    cfg_.max_batch_bytes,
                    cfg_.fsync == fsync_policy::always,
                    static_cast<std::size_t>(cfg_.syncs_in_flight),
                    cfg_.group_commit_delay};
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

void store::apply_entry(std::uint64_t index, std::uint64_t term, std::string_view data, write_done* done) {
  applied_term_ = term;
  if (data.empty()) {  // a leader's no-op
    sm_.restore_index(index);
    if (observer_) observer_->applied(index, {});
    if (done) (*done)(index);
    return;
  }
  auto cmd = decode_command(data);
  if (!cmd) {
    throw corruption_error(fmt::format("{}: log entry {} holds a malformed command", dir_.string(), index));
  }
  // Runs after the state machine has (or has not) changed: `changed` tells the observer which.
  auto answer = [&](session_table::outcome o, bool changed = false) {
    if (observer_) observer_->applied(index, changed ? data : std::string_view{});
    if (!done) return;
    if (o.code == errc::ok) {
      (*done)(o.index);
    } else {
      (*done)(o.code);
    }
  };
  if (cmd->type == command_type::open_session) {
    sessions_.open(index);
    sm_.restore_index(index);
    return answer({index, errc::ok});
  }
  const auto& ref = cmd->session;
  if (ref.session == 0) return answer({index, sm_.apply(index, *cmd)}, true);
  session_table::outcome previous;
  switch (sessions_.check(ref.session, ref.seq, ref.first_unacked, index, previous)) {
    case session_table::verdict::apply: {
      session_table::outcome o{index, sm_.apply(index, *cmd)};
      sessions_.record(ref.session, ref.seq, o);
      return answer(o, true);
    }
    case session_table::verdict::duplicate:
      sm_.restore_index(index);
      return answer(previous);
    case session_table::verdict::expired:
      sm_.restore_index(index);
      return answer({index, errc::session_expired});
    case session_table::verdict::stale:
      sm_.restore_index(index);
      return answer({index, errc::bad_request});
  }
}

errc store::check_key(std::string_view key) const {
  if (key.empty()) return errc::bad_request;
  if (key.size() > cfg_.max_key_bytes) return errc::too_large;
  return errc::ok;
}

errc store::check_pair(std::string_view key, std::string_view value) const {
  if (auto e = check_key(key); e != errc::ok) return e;
  return value.size() > cfg_.max_value_bytes ? errc::too_large : errc::ok;
}

void store::submit_set(std::string_view key, std::string_view value, write_done done, const session_ref& session) {
  if (auto e = check_pair(key, value); e != errc::ok) return done(e);
  propose(encode_set(key, value), std::move(done), session);
}

void store::submit_del(std::string_view key, write_done done, const session_ref& session) {
  if (auto e = check_key(key); e != errc::ok) return done(e);
  propose(encode_del(key), std::move(done), session);
}

void store::submit_open_session(write_done done) { propose(encode_open_session(), std::move(done)); }

void store::submit_bulk_set(std::string_view pairs, std::uint32_t count, write_done done, const session_ref& session) {
  if (count == 0 || !valid_pairs(pairs, count)) return done(errc::bad_request);
  errc e = errc::ok;
  for_each_pair(pairs, count, [&](std::string_view k, std::string_view v) {
    if (e == errc::ok) e = check_pair(k, v);
  });
  if (e != errc::ok) return done(e);
  std::string command;
  command.reserve(1 + 4 + pairs.size());
  command.push_back(static_cast<char>(command_type::bulk_set));
  append_fixed<std::uint32_t>(command, count);
  command.append(pairs);
  propose(std::move(command), std::move(done), session);
}

asio::awaitable<result<std::uint64_t>> store::await_write(auto submit) {
  co_return co_await io::async_park<result<std::uint64_t>>(
      [&](io::completion<void(result<std::uint64_t>)> c) {
        submit([c = std::move(c)](result<std::uint64_t> r) mutable { c(std::move(r)); });
      },
      asio::use_awaitable);
}

asio::awaitable<result<std::uint64_t>> store::set(std::string key, std::string value) {
  co_return co_await await_write([&](write_done done) { submit_set(key, value, std::move(done)); });
}

asio::awaitable<result<std::uint64_t>> store::del(std::string key) {
  co_return co_await await_write([&](write_done done) { submit_del(key, std::move(done)); });
}

asio::awaitable<result<std::uint64_t>> store::bulk_set(std::vector<kv_pair> pairs) {
  std::string encoded;
  for (const auto& p : pairs) append_pair(encoded, p.key, p.value);
  auto count = static_cast<std::uint32_t>(pairs.size());
  co_return co_await await_write([&](write_done done) { submit_bulk_set(encoded, count, std::move(done)); });
}

result<std::string> store::get(std::string_view key) const {
  auto v = sm_.get(key);
  if (!v) return errc::not_found;
  return std::string(*v);
}

error_info store::not_leader_error() const {
  auto leader = node_->leader();
  if (leader == 0) {
    return error_info{make_error_code(errc::not_leader),
                      fmt::format("no leader (node {} is {} in term {}): an election is under way or a majority of "
                                  "the cluster is unreachable; retry",
                                  repl_.id, raft::to_string(role()), term()),
                      {}};
  }
  auto it = repl_.client_addresses.find(leader);
  auto address = it == repl_.client_addresses.end() ? std::string() : it->second;
  return error_info{make_error_code(errc::not_leader),
                    fmt::format("node {} is not the leader; the leader is node {}{}", repl_.id, leader,
                                address.empty() ? "" : " at " + address),
                    address};
}

void store::propose(std::string command, write_done done, const session_ref& session) {
  if (stopping_) return done(errc::unavailable);
  if (wal_->out_of_space() && role() == raft::role::leader) {  // a follower redirects instead
    return done(error_info{make_error_code(errc::no_space),
                           fmt::format("node {} cannot write: {}; the write was not applied, and writes are taken "
                                       "again once space is freed",
                                       repl_.id, wal_->space_problem()),
                           {}});
  }
  if (session.session != 0) command = encode_in_session(session, command);
  if (command.size() > cfg_.max_batch_bytes) return done(errc::too_large);
  auto size = command.size();
  auto index = node_->propose(std::move(command));
  if (!index) {
    if (index.is(errc::not_leader)) return done(not_leader_error());
    return done(error_info{index.error(), "leadership is being transferred; retry", {}});
  }
  log_bytes_ += wal::header_bytes + size;
  waiters_.push_back(waiter{*index, node_->term(), std::move(done)});
  raft_wake_.notify();
}

bool store::reads_are_local() const noexcept {
  return repl_.voters.size() == 1 && role() == raft::role::leader;
}

void store::read_barrier(read_done done) {
  if (stopping_) return done(errc::unavailable);
  if (reads_are_local()) return done(sm_.applied_index());
  reads_to_start_.push_back(std::move(done));
  raft_wake_.notify();
}

asio::awaitable<result<std::uint64_t>> store::read_barrier() {
  co_return co_await await_write([&](read_done done) { read_barrier(std::move(done)); });
}

void store::receive(const raft::message& m) {
  if (stopping_) return;
  // Out of space, a follower takes no new entries: the room left is kept for the term and vote
  // it must make durable to take part in elections. The leader, which commits with the other
  // members meanwhile, sends the entries again once this node takes them (its probes go on).
  if (m.type == raft::message_type::append && !m.entries.empty() && wal_->out_of_space()) return;
  if (m.type == raft::message_type::snapshot && !accept_snapshot(m)) return;
  node_->step(m);
  raft_wake_.notify();
}

void store::peer_unreachable(raft::node_id peer) {
  node_->report_unreachable(peer);
  raft_wake_.notify();
}

void store::on_durable() {
  const auto durable = wal_->durable_records();
  std::optional<persist_mark> last;
  while (!persist_marks_.empty() && persist_marks_.front().records <= durable) {
    last = persist_marks_.front();
    persist_marks_.pop_front();
  }
  while (!state_marks_.empty() && state_marks_.front().records <= durable) {
    durable_state_ = state_marks_.front().state;
    state_marks_.pop_front();
  }
  if (last) node_->persisted(last->index, last->term);
  while (!after_sync_.empty() && after_sync_.front().records <= durable) {
    send_all(after_sync_.front().messages);
    after_sync_.pop_front();
  }
  raft_wake_.notify();
}

void store::save_hard_state(const raft::hard_state& hs) {
  wal_->save_hard_state(hs);
  saved_state_ = hs;
  state_marks_.push_back(state_mark{wal_->queued_records(), hs});
}

void store::send_all(std::vector<raft::message>& messages) {
  if (transport_ == nullptr) return;  // a cluster of one sends nothing
  for (auto& m : messages) {
    if (m.type != raft::message_type::snapshot) {
      transport_->send(std::move(m));
      continue;
    }
    // A follower needs entries compacted away: stream it the snapshot they went into.
    auto file = snapshot::newest(dir_);
    if (!file) {
      spdlog::error("node {}: node {} needs a snapshot, but there is none in {}", repl_.id, m.to, dir_.string());
      node_->report_snapshot(m.to, false);
      continue;
    }
    auto meta = snapshot::read_header(*file);
    m.snapshot_index = meta.index;
    m.snapshot_term = meta.term;
    transport_->send_snapshot(std::move(m), *file);
  }
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

asio::awaitable<void> store::run() {
  using namespace asio::experimental::awaitable_operators;
  note_role_change();
  co_await (wal_->run([this](std::uint64_t) { on_durable(); }) && apply_loop() && raft_loop() && tick_loop());
}

void store::stop() {
  if (stopping_) return;
  stopping_ = true;
  tick_timer_.cancel();
  raft_wake_.notify();
  apply_wake_.notify();
}

asio::awaitable<bool> store::hand_over_leadership() {
  if (role() != raft::role::leader || repl_.voters.size() == 1 || stopping_) co_return false;
  raft::node_id target = 0;
  raft::index_t best = 0;
  for (auto peer : repl_.voters) {
    const auto* pr = node_->progress_of(peer);
    if (pr != nullptr && (target == 0 || pr->match > best)) {
      target = peer;
      best = pr->match;
    }
  }
  if (node_->transfer_leadership(target) != errc::ok) co_return false;
  spdlog::info("node {}: handing leadership to node {} (its log matches through index {} of {})", repl_.id, target,
               best, last_index());
  raft_wake_.notify();
  auto deadline = std::chrono::steady_clock::now() + repl_.tick * repl_.election_ticks;
  while (role() == raft::role::leader && std::chrono::steady_clock::now() < deadline) {
    co_await role_changed_.wait_until(deadline);
  }
  bool handed = role() != raft::role::leader;
  if (handed) {
    spdlog::info("node {}: node {} took over leadership in term {}", repl_.id, node_->leader(), term());
  } else {
    spdlog::warn("node {}: node {} did not take over leadership within an election timeout; stopping anyway",
                 repl_.id, target);
  }
  co_return handed;
}

asio::awaitable<void> store::tick_loop() {
  auto next = std::chrono::steady_clock::now();
  while (!stopping_) {
    // After a stall (a long snapshot install, the process paused) tick once, not once per tick
    // missed: a burst of ticks would look like an election timeout that never happened.
    next = std::max(next + repl_.tick, std::chrono::steady_clock::now());
    tick_timer_.expires_at(next);
    std::error_code ignored;
    co_await tick_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (stopping_) break;
    tick();
  }
}

void store::tick() {
  ++ticks_;
  node_->tick();
  watch_space();
  expire_reads();
  raft_wake_.notify();
}

asio::awaitable<void> store::raft_loop() {
  while (!stopping_) {
    if (!reads_to_start_.empty()) {
      auto context = next_read_context_++;
      read_rounds_[context] = read_round{ticks_, std::move(reads_to_start_)};
      reads_to_start_.clear();
      node_->read_index(context);
    }
    if (node_->has_ready()) {
      handle_ready(node_->take_ready());
      continue;
    }
    co_await raft_wake_.wait();
  }
  // Stopping: what the core handed out so far is queued; record the final commit index so a
  // restart replays everything committed, then let the WAL drain.
  if (node_->has_ready()) handle_ready(node_->take_ready());
  current_state_ = raft::hard_state{node_->term(), node_->vote(), node_->log().committed()};
  save_hard_state(current_state_);
  fail_waiters(error_info{make_error_code(errc::unavailable),
                          "the node is shutting down; the write may or may not be applied", {}});
  for (auto& d : reads_to_start_) d(errc::unavailable);
  reads_to_start_.clear();
  for (auto& [ctx, round] : read_rounds_)
    for (auto& d : round.readers) d(errc::unavailable);
  read_rounds_.clear();
  wal_->stop();
  raft_stopped_ = true;
  apply_wake_.notify();
}

void store::handle_ready(raft::ready rd) {
  if (rd.snapshot) install_snapshot(*rd.snapshot);
  // Term and vote must be durable before anyone hears of them. The commit index need not be (it
  // is relearned from the leader): it rides along with the next entries written, so that each
  // commit does not cost a sync of its own.
  if (rd.state) current_state_ = *rd.state;
  const bool vote_changed = current_state_.term != saved_state_.term || current_state_.vote != saved_state_.vote;
  if (current_state_ != saved_state_ && (vote_changed || !rd.entries.empty())) save_hard_state(current_state_);
  for (const auto& e : rd.entries) wal_->append(e.term, e.index, e.data);
  if (!rd.entries.empty()) {
    persist_marks_.push_back(persist_mark{wal_->queued_records(), rd.entries.back().index, rd.entries.back().term});
  }
  send_all(rd.messages);
  if (!rd.after_persist.empty()) {
    if (wal_->durable_records() >= wal_->queued_records()) {
      send_all(rd.after_persist);
    } else {
      after_sync_.push_back(after_sync{wal_->queued_records(), std::move(rd.after_persist)});
    }
  }
  for (auto& e : rd.committed) {
    unapplied_.push_back(pending_entry{e.index, e.term, std::move(e.data)});
    commit_index_ = e.index;
  }
  if (!rd.committed.empty()) apply_wake_.notify();
  handle_reads(rd.reads);
  note_role_change();
}

void store::handle_reads(std::vector<raft::read_state>& reads) {
  for (const auto& r : reads) {
    auto it = read_rounds_.find(r.context);
    if (it == read_rounds_.end()) continue;  // expired
    auto readers = std::move(it->second.readers);
    read_rounds_.erase(it);
    if (!r.ok) {
      auto why = not_leader_error();
      for (auto& d : readers) d(why);
      continue;
    }
    for (auto& d : readers) reads_waiting_apply_.emplace(r.index, std::move(d));
  }
  release_reads();
}

void store::release_reads() {
  while (!reads_waiting_apply_.empty() && reads_waiting_apply_.begin()->first <= sm_.applied_index()) {
    auto node = reads_waiting_apply_.extract(reads_waiting_apply_.begin());
    node.mapped()(node.key());
  }
}

void store::expire_reads() {
  // A read index request or its answer may be lost; after two election timeouts give up.
  const auto limit = static_cast<std::uint64_t>(2 * repl_.election_ticks);
  for (auto it = read_rounds_.begin(); it != read_rounds_.end();) {
    if (ticks_ - it->second.started_tick < limit) {
      ++it;
      continue;
    }
    for (auto& d : it->second.readers) {
      d(error_info{make_error_code(errc::unavailable),
                   "no leader confirmed a read index within two election timeouts; retry", {}});
    }
    it = read_rounds_.erase(it);
  }
}

void store::note_role_change() {
  auto r = role();
  auto leader = node_->leader();
  auto term = node_->term();
  if (r == last_role_ && leader == last_leader_ && term == last_term_) return;
  if (last_role_ == raft::role::leader && r != raft::role::leader) {
    spdlog::warn("node {}: no longer the leader (term {}); answering {} pending write(s) as unavailable", repl_.id,
                 term, waiters_.size());
    fail_waiters(error_info{make_error_code(errc::unavailable),
                            "leadership was lost before the write committed; it may or may not be applied", {}});
  }
  if (r == raft::role::leader && last_role_ != raft::role::leader) {
    spdlog::info("node {}: became the leader in term {}", repl_.id, term);
  } else if (r == raft::role::follower && leader != 0 && leader != last_leader_) {
    spdlog::info("node {}: following node {} in term {}", repl_.id, leader, term);
  } else if (r == raft::role::candidate && last_role_ != raft::role::candidate) {
    spdlog::info("node {}: campaigning in term {}", repl_.id, term);
  }
  // Waiting for more writers before a sync pays only on the leader of a cluster of one, where a
  // write is answered as soon as it is durable. A follower's batches are the leader's, already
  // gathered, and its wait would hold back the acknowledgement the leader needs to commit. A
  // leader of several nodes answers its writers only after a follower's sync too, so they come
  // back well after its own sync ended, and its wait only adds latency (docs/benchmarks.md has
  // the A/B runs).
  const bool sole_leader = r == raft::role::leader && repl_.voters.size() <= 1;
  if (wal_) wal_->set_group_commit_delay(sole_leader ? cfg_.group_commit_delay : std::chrono::microseconds(0));
  last_role_ = r;
  last_leader_ = leader;
  last_term_ = term;
  role_changed_.notify();
}

void store::watch_space() {
  const bool out = wal_->out_of_space();
  if (out != no_space_) {
    no_space_ = out;
    node_->set_may_lead(!out);
    if (out) {
      spdlog::error("node {}: NOSPACE alarm: writes are refused and this node will not be elected leader while "
                    "another member can be, until space is freed in {}",
                    repl_.id, dir_.string());
    } else {
      spdlog::info("node {}: NOSPACE alarm cleared: writes are taken again", repl_.id);
    }
  }
  // A leader that cannot make its own entries durable cannot commit: hand over to the followers
  // in turn (one that is out of space too lets the transfer time out) until one takes over.
  if (!out || role() != raft::role::leader || repl_.voters.size() == 1 || node_->transfer_target() != 0 ||
      ticks_ < next_handover_tick_) {
    return;
  }
  next_handover_tick_ = ticks_ + static_cast<std::uint64_t>(repl_.election_ticks);
  for (std::size_t i = 0; i < repl_.voters.size(); ++i) {
    auto peer = repl_.voters[handover_cursor_++ % repl_.voters.size()];
    if (peer == repl_.id) continue;
    if (node_->transfer_leadership(peer) == errc::ok) {
      spdlog::warn("node {}: out of space: handing leadership to node {}", repl_.id, peer);
      raft_wake_.notify();
    }
    return;
  }
}

void store::fail_waiters(const error_info& why) {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) w.done(why);
}

asio::awaitable<void> store::apply_loop() {
  for (;;) {
    if (sm_.applied_index() < commit_index_) {
      apply_committed();
      release_reads();
      maybe_start_snapshot();
      co_await asio::post(executor_, asio::use_awaitable);
      continue;
    }
    if (stopping_ && raft_stopped_) {
      while (snapshot_running_) co_await snapshot_done_.wait();
      co_return;
    }
    co_await apply_wake_.wait();
  }
}

void store::apply_committed() {
  for (std::size_t n = 0; n < apply_round_entries && sm_.applied_index() < commit_index_; ++n) {
    auto& e = unapplied_.front();
    while (!waiters_.empty() && waiters_.front().index < e.index) {
      // Cannot happen: a waiter's entry is either applied or overwritten at its own index.
      auto w = std::move(waiters_.front());
      waiters_.pop_front();
      w.done(errc::internal);
    }
    if (!waiters_.empty() && waiters_.front().index == e.index) {
      auto w = std::move(waiters_.front());
      waiters_.pop_front();
      if (w.term == e.term) {
        apply_one(e, &w.done);
      } else {
        apply_one(e, nullptr);
        w.done(error_info{make_error_code(errc::unavailable),
                          "leadership changed before the write committed; it was not applied", {}});
      }
    } else {
      apply_one(e, nullptr);
    }
    unapplied_.pop_front();
  }
}

void store::apply_one(const pending_entry& e, write_done* done) {
  try {
    apply_entry(e.index, e.term, e.command, done);
  } catch (const corruption_error& ex) {
    fail_stop(ex.what());
  }
}

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
  // The session table as of the same index as the capture beginning now.
  auto sessions = snapshot::encode_sessions(sessions_.encode());
  sm_.begin_capture([&](state_machine::chunk c) {
    pairs += c.count;
    ++chunks;
    queued.push_back(snapshot::encode_chunk(c));
    queued_bytes += queued.back().size();
  });
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

}  // namespace kv

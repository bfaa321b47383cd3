// Apply: the apply coroutine applies committed entries in index order to the state machine,
// through the client sessions (exactly-once), answers their writers, and releases the reads
// waiting for the applied index.

#include "raft/replica/store.hpp"

#include "core/base/fail_stop.hpp"

#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace kv {

namespace {

// Apply at most this many entries before letting other coroutines run.
constexpr std::size_t apply_round_entries = 64;
// Entries that took a revision remembered for index_of_revision().
constexpr std::size_t revision_marks = 4096;
// How far ahead of the entry being applied the keys of point writes are prefetched
// (keyspace::prefetch_slots, then prefetch_head once the slots are in cache).
constexpr std::size_t prefetch_slots_ahead = 8;
constexpr std::size_t prefetch_head_ahead = 4;
// Compacted versions freed per apply round, at least, while entries wait to be applied.
constexpr std::size_t busy_trim_versions = 128;
// ... and per round with nothing to apply: small enough that a request read meanwhile (nothing
// to apply is not no work: the fsync may be about to complete, requests may be arriving) waits
// about a tenth of a millisecond behind it.
constexpr std::size_t idle_trim_versions = 512;

// The key a point write (set, del, incr) touches, or empty: command_view::key is set for those
// alone.
std::string_view point_key(std::string_view command) {
  auto cmd = decode_command(command);
  return cmd ? cmd->key : std::string_view{};
}

}  // namespace

asio::awaitable<void> store::apply_loop() {
  for (;;) {
    if (sm_.applied_index() < commit_index_) {
      const auto queued = sm_.history_queued();
      apply_committed();
      release_reads();
      maybe_start_snapshot();
      // Compacted history, freed a step per round: twice what this round queued (so frees keep
      // ahead of writes), at least busy_trim_versions; more only when idle, below.
      // A backlog (what a snapshot's capture held back) thus costs each write a little for a
      // while, not each request in flight tens of milliseconds at once.
      if (sm_.trim_pending()) {
        const auto now_queued = sm_.history_queued();
        const auto added = now_queued > queued ? now_queued - queued : 0;
        sm_.trim_step(std::max(busy_trim_versions, 2 * added));
      }
      co_await asio::post(executor_, asio::use_awaitable);
      continue;
    }
    if (sm_.trim_pending()) {
      sm_.trim_step(idle_trim_versions);
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

void store::prefetch_ahead() {
  const auto& keys = sm_.keys();
  if (unapplied_.size() > prefetch_slots_ahead) {
    const auto& e = unapplied_[prefetch_slots_ahead];
    const auto key = point_key(e.command);
    if (!key.empty()) prefetched_[e.index % prefetched_.size()] = {e.index, keys.prefetch_slots(key)};
  }
  if (unapplied_.size() > prefetch_head_ahead) {
    const auto& e = unapplied_[prefetch_head_ahead];
    const auto& p = prefetched_[e.index % prefetched_.size()];
    if (p.index == e.index) keys.prefetch_head(p.hash);
  }
}

void store::apply_committed() {
  for (std::size_t n = 0; n < apply_round_entries && sm_.applied_index() < commit_index_; ++n) {
    prefetch_ahead();
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
  expiry_applied();
  if (watches_.catching_up()) watches_.step();
}

void store::apply_one(const pending_entry& e, write_done* done) {
  const auto revision = sm_.revision();
  try {
    apply_entry(e.index, e.term, e.command, done);
  } catch (const corruption_error& ex) {
    fail_stop(ex.what());
  }
  if (sm_.revision() != revision) {
    revision_marks_.emplace_back(sm_.revision(), e.index);
    if (revision_marks_.size() > revision_marks) revision_marks_.pop_front();
    if (watches_.watchers() != 0) notify_watches(e.command);
  }
}

void store::notify_watches(std::string_view command) {
  auto cmd = decode_command(command);
  if (!cmd) return;  // apply_entry() refused it already
  if (cmd->type == command_type::lease_revoke || cmd->type == command_type::expire) {
    cmd = decode_command(changes_.command());  // apply_entry() filled it
  }
  if (!cmd) return;
  watch_ranges_.clear();
  written_ranges(*cmd, watch_ranges_);
  watches_.applied(sm_.revision(), watch_ranges_);
}

void store::tell_change_listener(const command_view& cmd) {
  auto tell_changes = [&](change_cause cause) {
    auto changes = decode_command(changes_.command());
    if (!changes) return;
    changes->for_each_change([&](bool deleted, std::string_view key, std::string_view) {
      change_listener_->key_changed(cause, deleted, key);
    });
  };
  switch (cmd.type) {
    case command_type::set:
      return change_listener_->key_changed(change_cause::write, false, cmd.key);
    case command_type::del:
      return change_listener_->key_changed(change_cause::write, true, cmd.key);
    case command_type::incr:
      return change_listener_->key_changed(change_cause::write, false, cmd.key);
    case command_type::bulk_set:
      return cmd.for_each_pair([&](std::string_view key, std::string_view) {
        change_listener_->key_changed(change_cause::write, false, key);
      });
    case command_type::txn:
      return tell_changes(change_cause::write);
    case command_type::expire:
      return tell_changes(change_cause::expiry);
    case command_type::lease_revoke:
      return tell_changes(change_cause::lease_revoke);
    default:
      return;
  }
}

std::uint64_t store::index_of_revision(std::uint64_t revision) const noexcept {
  if (revision == 0) return 0;
  auto it = std::lower_bound(revision_marks_.begin(), revision_marks_.end(), revision,
                             [](const auto& mark, std::uint64_t r) { return mark.first < r; });
  return it == revision_marks_.end() ? sm_.applied_index() : it->second;
}

std::optional<std::uint64_t> store::revision_at_index(std::uint64_t index) const noexcept {
  if (index >= sm_.applied_index()) return sm_.revision();
  // The first mark after `index`: the one before it holds the revision at `index`. The first
  // mark is the recovered (or installed) state's, or an entry's once the oldest were dropped:
  // before it, the revision is not known.
  auto after = std::upper_bound(revision_marks_.begin(), revision_marks_.end(), index,
                                [](std::uint64_t i, const auto& mark) { return i < mark.second; });
  if (after == revision_marks_.begin()) return std::nullopt;
  return std::prev(after)->first;
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
  if (!cmd || cmd->type == command_type::changes) {
    throw corruption_error(fmt::format("{}: log entry {} holds a malformed command", dir_.string(), index));
  }
  // A txn's and an incr's changes go to the observer in place of its command (an incr's command
  // holds a delta, not the value); a revoke's and an expire's also to the watches (their commands
  // name a lease, or keys that may not all go).
  const bool txn = cmd->type == command_type::txn || cmd->type == command_type::incr;
  const bool revoke = cmd->type == command_type::lease_revoke || cmd->type == command_type::expire;
  const bool txn_changes_wanted = observer_ != nullptr || change_listener_ != nullptr;
  change_list* changes = (txn_changes_wanted && txn) || revoke ? &changes_ : nullptr;
  changes_.clear();
  reply_.clear();
  // Runs after the state machine has (or has not) changed: `changed` tells the observer which.
  auto answer = [&](const session_table::outcome& o, bool changed = false) {
    if (observer_) {
      std::string_view seen = changed ? (txn || revoke ? changes_.command() : data) : std::string_view{};
      observer_->applied(index, seen);
    }
    if (changed && change_listener_ != nullptr) tell_change_listener(*cmd);
    if (!done) return;
    if (o.code == errc::ok) {
      (*done)(o.index);
    } else {
      (*done)(error_info{make_error_code(o.code), o.reply, {}});
    }
  };
  if (cmd->type == command_type::open_session) {
    sessions_.open(index);
    sm_.restore_index(index);
    return answer({index, errc::ok, {}});
  }
  const auto& ref = cmd->session;
  if (ref.session == 0) {
    auto code = sm_.apply(index, *cmd, &reply_, changes);
    lease_applied(*cmd, code);
    return answer({index, code, code == errc::ok ? std::string() : reply_}, code == errc::ok);
  }
  session_table::outcome previous;
  switch (sessions_.check(ref.session, ref.seq, ref.first_unacked, index, previous)) {
    case session_table::verdict::apply: {
      session_table::outcome o{index, sm_.apply(index, *cmd, &reply_, changes), {}};
      lease_applied(*cmd, o.code);
      o.reply = reply_;
      answer(o, o.code == errc::ok);
      sessions_.record(ref.session, ref.seq, std::move(o));
      return;
    }
    case session_table::verdict::duplicate:
      sm_.restore_index(index);
      reply_ = previous.reply;
      return answer(previous);
    case session_table::verdict::expired:
      sm_.restore_index(index);
      return answer({index, errc::session_expired, {}});
    case session_table::verdict::stale:
      sm_.restore_index(index);
      return answer({index, errc::bad_request, {}});
  }
}

void store::fail_waiters(const error_info& why) {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) w.done(why);
}

}  // namespace kv

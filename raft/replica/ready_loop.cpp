// The Raft Ready loop: feeds the core messages and ticks, queues what each ready holds to the
// WAL, sends messages (those marked after_persist only once the WAL has made everything queued
// before them durable), hands committed entries to the apply coroutine, and follows role changes,
// the NOSPACE alarm and leadership hand-over.

#include "raft/replica/store.hpp"

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <utility>

namespace kv {

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
  auto_compact();
  tick_leases();
  if (sm_.trim_pending()) apply_wake_.notify();  // history a finished snapshot held back
  if (watches_.catching_up()) watches_.step();
  raft_wake_.notify();
}

asio::awaitable<void> store::raft_loop() {
  while (!stopping_) {
    start_read_round();
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
  reads_.fail_unconfirmed(errc::unavailable);
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
    send_snapshot(std::move(m));
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
  follow_leadership_for_leases();
  follow_clock();
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

asio::awaitable<bool> store::hand_over_leadership() {
  if (role() != raft::role::leader || repl_.voters.size() == 1 || stopping_) co_return false;
  // The follower heard from most recently with the longest log: one that has not answered since
  // the last check-quorum round may be down (and just after an election every match is 0).
  raft::node_id target = 0;
  raft::index_t best = 0;
  bool best_active = false;
  for (auto peer : repl_.voters) {
    const auto* pr = node_->progress_of(peer);
    if (peer == repl_.id || pr == nullptr) continue;
    if (target == 0 || std::pair(pr->recent_active, pr->match) > std::pair(best_active, best)) {
      target = peer;
      best = pr->match;
      best_active = pr->recent_active;
    }
  }
  if (target == 0) co_return false;
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
    if (node_->leader() != 0) {
      spdlog::info("node {}: node {} took over leadership in term {}", repl_.id, node_->leader(), term());
    } else {
      spdlog::info("node {}: stepped down; node {} is taking over leadership in term {}", repl_.id, target, term());
    }
  } else {
    spdlog::warn("node {}: node {} did not take over leadership within an election timeout; stopping anyway",
                 repl_.id, target);
  }
  co_return handed;
}

}  // namespace kv

#include "raft/node.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace kv::raft {

const char* to_string(role r) noexcept {
  switch (r) {
    case role::follower: return "follower";
    case role::pre_candidate: return "pre_candidate";
    case role::candidate: return "candidate";
    case role::leader: return "leader";
  }
  return "unknown";
}

node::node(config cfg, hard_state state, raft::log l)
    : cfg_(std::move(cfg)), log_(std::move(l)), term_(state.term), vote_(state.vote), reported_(state),
      rng_(cfg_.seed * 0x9E3779B97F4A7C15ull + cfg_.id) {
  if (!is_voter(cfg_.id)) throw std::invalid_argument(fmt::format("raft: node {} is not among the voters", cfg_.id));
  // The commit index was durable; entries up to it (that we still hold) are committed.
  log_.commit_to(std::min(state.commit, log_.last_index()));
  reset_election_timer();
  // A cluster of one wins its election without asking anyone: no reason to wait for a timeout.
  if (cfg_.voters.size() == 1) campaign(campaign_type::election);
}

bool node::is_voter(node_id n) const {
  return std::find(cfg_.voters.begin(), cfg_.voters.end(), n) != cfg_.voters.end();
}

const progress* node::progress_of(node_id peer) const {
  auto it = progress_.find(peer);
  return it == progress_.end() ? nullptr : &it->second;
}

void node::reset_election_timer() {
  election_elapsed_ = 0;
  std::uniform_int_distribution<int> spread(0, cfg_.election_ticks - 1);
  randomized_timeout_ = cfg_.election_ticks + spread(rng_);
}

// ---- roles -----------------------------------------------------------------------------

void node::become_follower(term_t term, node_id leader) {
  fail_pending_reads();
  if (term > term_) {
    term_ = term;
    vote_ = 0;
  }
  role_ = role::follower;
  leader_ = leader;
  transferee_ = 0;
  votes_.clear();
  progress_.clear();
  reset_election_timer();
}

void node::become_pre_candidate() {
  role_ = role::pre_candidate;
  leader_ = 0;
  votes_.clear();
  reset_election_timer();
}

void node::become_candidate() {
  role_ = role::candidate;
  ++term_;
  vote_ = cfg_.id;
  leader_ = 0;
  votes_.clear();
  reset_election_timer();
}

void node::become_leader() {
  role_ = role::leader;
  leader_ = cfg_.id;
  transferee_ = 0;
  votes_.clear();
  progress_.clear();
  round_acked_.clear();
  for (auto peer : cfg_.voters) {
    if (peer == cfg_.id) continue;
    progress_[peer] = progress{0, log_.last_index() + 1, mode::probe, false, true};
  }
  heartbeat_elapsed_ = 0;
  election_elapsed_ = 0;
  // A no-op of the new term: committing it commits everything before it (§5.4.2).
  log_.append(entry{term_, log_.last_index() + 1, {}});
  broadcast_append();
  maybe_commit();
}

void node::campaign(campaign_type type) {
  const bool pre_vote = type == campaign_type::pre_vote;
  if (pre_vote) {
    become_pre_candidate();
  } else {
    become_candidate();
  }
  const term_t campaign_term = pre_vote ? term_ + 1 : term_;
  votes_[cfg_.id] = true;
  for (auto peer : cfg_.voters) {
    if (peer == cfg_.id) continue;
    message m;
    m.type = pre_vote ? message_type::pre_vote : message_type::vote;
    m.to = peer;
    m.term = campaign_term;
    m.last_index = log_.last_index();
    m.last_term = log_.last_term();
    m.leader_transfer = type == campaign_type::transfer;
    // A vote request follows our own vote for ourselves onto the disk; a pre-vote changes nothing.
    send(std::move(m), /*after_persist=*/!pre_vote);
  }
  tally(cfg_.id, true, pre_vote);  // a single-node cluster wins at once
}

void node::tally(node_id from, bool granted, bool pre_vote) {
  votes_[from] = granted;
  std::size_t yes = 0;
  std::size_t no = 0;
  for (const auto& [id, g] : votes_) (g ? yes : no)++;
  if (yes >= quorum()) {
    if (pre_vote) {
      campaign(campaign_type::election);
    } else {
      become_leader();
    }
  } else if (no >= quorum()) {
    become_follower(term_, 0);
  }
}

// ---- time --------------------------------------------------------------------------------

void node::tick() {
  if (role_ == role::leader) {
    if (++heartbeat_elapsed_ >= cfg_.heartbeat_ticks) {
      heartbeat_elapsed_ = 0;
      // While reads wait, every heartbeat carries the newest round: a lost acknowledgement is
      // made up for by the next heartbeat, not only by the next read.
      const std::uint64_t round = pending_reads_.empty() ? 0 : read_round_;
      for (auto& [peer, pr] : progress_) send_append(peer, /*heartbeat=*/true, round);
    }
    if (transferee_ != 0 && ++transfer_elapsed_ >= cfg_.election_ticks) {
      transferee_ = 0;  // the target did not take over in time: lead on
    }
    if (++election_elapsed_ >= cfg_.election_ticks) {
      election_elapsed_ = 0;
      if (cfg_.check_quorum && !quorum_active()) {
        become_follower(term_, 0);  // cut off from a majority: stop acting as leader
      }
    }
    return;
  }
  if (++election_elapsed_ >= randomized_timeout_) {
    if (!may_lead_ && cfg_.voters.size() > 1) {
      reset_election_timer();  // leave the election to a member that can lead
      return;
    }
    campaign(cfg_.pre_vote ? campaign_type::pre_vote : campaign_type::election);
  }
}

bool node::quorum_active() {
  std::size_t active = 1;  // this node
  for (auto& [peer, pr] : progress_) {
    if (pr.recent_active) ++active;
    pr.recent_active = false;
  }
  return active >= quorum();
}

// ---- messages ------------------------------------------------------------------------------

void node::send(message m, bool after_persist) {
  m.from = cfg_.id;
  if (m.term == 0) m.term = term_;
  (after_persist ? after_persist_ : messages_).push_back(std::move(m));
}

void node::step(const message& m) {
  if (!is_voter(m.from)) return;  // not a member: ignore
  const bool vote_request = m.type == message_type::vote || m.type == message_type::pre_vote;

  if (m.term > term_) {
    // Within a leader's lease a vote request is ignored, so a node cut off for a while cannot
    // depose a healthy leader (thesis §4.2.3) -- unless the leader itself asked for the election.
    if (vote_request && cfg_.check_quorum && leader_ != 0 && election_elapsed_ < cfg_.election_ticks &&
        !m.leader_transfer) {
      return;
    }
    if (m.type == message_type::pre_vote) {
      // A pre-vote carries the term the sender would campaign in: no term change for us.
    } else if (m.type == message_type::pre_vote_response && !m.reject) {
      // A grant for a term we have not started yet.
    } else {
      const bool from_leader = m.type == message_type::append || m.type == message_type::snapshot;
      become_follower(m.term, from_leader ? m.from : 0);
    }
  } else if (m.term < term_) {
    if (m.type == message_type::append || m.type == message_type::snapshot) {
      // A stale leader: tell it about the newer term so that it steps down.
      message r;
      r.type = message_type::append_response;
      r.to = m.from;
      r.reject = true;
      send(std::move(r), true);
    } else if (m.type == message_type::pre_vote) {
      message r;
      r.type = message_type::pre_vote_response;
      r.to = m.from;
      r.reject = true;
      send(std::move(r), true);
    } else if (m.type == message_type::read_index) {
      finish_read(m.context, m.from, 0, false);  // the asker's term is stale: let it retry at once
    }
    return;
  }

  switch (m.type) {
    case message_type::pre_vote:
    case message_type::vote:
      return handle_vote_request(m);
    case message_type::pre_vote_response:
      if (role_ == role::pre_candidate) tally(m.from, !m.reject, true);
      return;
    case message_type::vote_response:
      if (role_ == role::candidate) tally(m.from, !m.reject, false);
      return;
    case message_type::append:
    case message_type::snapshot:
      if (role_ != role::follower) become_follower(m.term, m.from);
      leader_ = m.from;
      election_elapsed_ = 0;
      return m.type == message_type::append ? handle_append(m) : handle_snapshot(m);
    case message_type::append_response:
      if (role_ == role::leader) handle_append_response(m);
      return;
    case message_type::timeout_now:
      // The leader hands over: campaign now, without a pre-vote (thesis §3.10).
      // A node that may not lead lets the transfer time out; the leader then leads on.
      if (role_ != role::leader && may_lead_) campaign(campaign_type::transfer);
      return;
    case message_type::read_index:
      if (role_ == role::leader) {
        start_read(m.context, m.from);
      } else {
        finish_read(m.context, m.from, 0, false);
      }
      return;
    case message_type::read_index_response:
      reads_.push_back(read_state{m.context, m.commit, !m.reject});
      return;
  }
}

void node::handle_vote_request(const message& m) {
  const bool pre = m.type == message_type::pre_vote;
  // We may vote for the sender if we already did this term, or have voted for nobody and know
  // no leader; a pre-vote for a later term is answered as that term would be.
  bool can_vote = vote_ == m.from || (vote_ == 0 && leader_ == 0) || (pre && m.term > term_);
  bool grant = can_vote && log_.up_to_date(m.last_index, m.last_term);
  message r;
  r.type = pre ? message_type::pre_vote_response : message_type::vote_response;
  r.to = m.from;
  r.reject = !grant;
  // A granted pre-vote answers in the term asked about; anything else in our own term.
  r.term = grant && pre ? m.term : term_;
  if (grant && !pre) {
    vote_ = m.from;
    reset_election_timer();
  }
  send(std::move(r), /*after_persist=*/true);
}

void node::handle_append(const message& m) {
  message r;
  r.type = message_type::append_response;
  r.to = m.from;
  r.context = m.context;
  r.prev_index = m.prev_index;  // which append this answers
  if (m.prev_index < log_.committed()) {
    // Everything up to our commit index already matches the leader.
    r.match = log_.committed();
    return send(std::move(r), true);
  }
  if (auto matched = log_.try_append(m.prev_index, m.prev_term, m.entries)) {
    log_.commit_to(std::min(m.commit, *matched));
    r.match = *matched;
  } else {
    r.reject = true;
    r.hint_index = log_.last_index_with_term_at_most(std::min(m.prev_index, log_.last_index()), m.prev_term);
    r.hint_term = log_.term(r.hint_index).value_or(0);
  }
  send(std::move(r), /*after_persist=*/true);  // only once the appended entries are durable
}

void node::handle_append_response(const message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  auto& pr = it->second;
  pr.recent_active = true;
  if (m.context != 0) {
    // Any answer in our term, accepted or not, confirms we still led when it was sent.
    auto& acked = round_acked_[m.from];
    if (m.context > acked) {
      acked = m.context;
      release_reads();
    }
  }
  if (m.reject) {
    if (pr.state == mode::snapshot) return;  // of course: it lacks what the snapshot brings
    if (m.prev_index < pr.match) return;     // stale: we know more already
    if (pr.state == mode::probe && m.prev_index != pr.next - 1) return;  // not our outstanding probe
    index_t probe = m.hint_term > 0 ? log_.last_index_with_term_at_most(m.hint_index, m.hint_term) : m.hint_index;
    pr.next = std::max(pr.match + 1, std::min(probe + 1, pr.next - 1 > 0 ? pr.next - 1 : 1));
    pr.next = std::max<index_t>(pr.next, 1);
    pr.state = mode::probe;
    pr.probe_sent = false;
    return send_append(m.from, false);
  }
  if (m.match > pr.match) {
    pr.match = m.match;
    pr.next = std::max(pr.next, m.match + 1);
    if (pr.state != mode::snapshot) pr.state = mode::replicate;
    maybe_commit();
  }
  if (pr.state == mode::snapshot) {
    if (pr.match < pr.pending_snapshot) return;  // an answer from before the snapshot
    // It has the snapshot (or got that far otherwise): stream from just after what it holds.
    pr.state = mode::replicate;
    pr.next = pr.match + 1;
    pr.pending_snapshot = 0;
  }
  pr.probe_sent = false;
  if (m.from == transferee_ && pr.match == log_.last_index()) send_timeout_now(m.from);
  if (pr.next <= log_.last_index()) send_append(m.from, false);
}

void node::broadcast_append() {
  for (auto& [peer, pr] : progress_) send_append(peer, false);
}

void node::send_append(node_id peer, bool heartbeat, std::uint64_t read_round) {
  auto& pr = progress_.at(peer);
  const bool has_new = pr.next <= log_.last_index();
  if (!heartbeat) {
    if (!has_new) return;
    if (pr.state == mode::probe && pr.probe_sent) return;
    if (pr.state == mode::replicate && pr.next - 1 - pr.match >= cfg_.max_entries_in_flight) return;
  }
  message m;
  m.type = message_type::append;
  m.to = peer;
  m.commit = log_.committed();
  m.context = read_round;
  if (pr.state == mode::snapshot) {
    // Only heartbeats while the snapshot travels, anchored at the start of our log: they keep
    // the follower's election timer and read rounds going, and one it accepts ends the wait.
    if (!heartbeat) return;
    m.prev_index = log_.snapshot_index();
    m.prev_term = log_.snapshot_term();
    return send(std::move(m), false);
  }
  m.prev_index = pr.next - 1;
  auto prev_term = log_.term(m.prev_index);
  if (!prev_term) return send_snapshot(peer);  // it needs entries we compacted away
  m.prev_term = *prev_term;
  if (pr.state == mode::replicate || !heartbeat || !pr.probe_sent) {
    m.entries = log_.slice(pr.next, log_.last_index(), cfg_.max_append_bytes);
  }
  if (pr.state == mode::replicate && !m.entries.empty()) pr.next = m.entries.back().index + 1;
  if (pr.state == mode::probe) pr.probe_sent = true;
  send(std::move(m), false);
}

// ---- leadership transfer ---------------------------------------------------------------

errc node::transfer_leadership(node_id to) {
  if (role_ != role::leader) return errc::not_leader;
  if (to == cfg_.id || !is_voter(to)) return errc::bad_request;
  if (to == transferee_) return errc::ok;  // already on its way
  transferee_ = to;
  transfer_elapsed_ = 0;
  if (progress_.at(to).match == log_.last_index()) {
    send_timeout_now(to);
  } else {
    send_append(to, false);  // timeout_now follows once it has caught up
  }
  return errc::ok;
}

void node::send_timeout_now(node_id to) {
  message m;
  m.type = message_type::timeout_now;
  m.to = to;
  send(std::move(m), false);
}

void node::report_unreachable(node_id peer) {
  auto it = progress_.find(peer);
  if (role_ != role::leader || it == progress_.end()) return;
  auto& pr = it->second;
  if (pr.state != mode::replicate) return;
  // Whatever was streamed may be lost: probe again from what the follower acknowledged.
  pr.state = mode::probe;
  pr.next = pr.match + 1;
  pr.probe_sent = false;
}

// ---- snapshots ---------------------------------------------------------------------------

void node::send_snapshot(node_id peer) {
  auto& pr = progress_.at(peer);
  pr.state = mode::snapshot;
  pr.pending_snapshot = log_.snapshot_index();
  pr.probe_sent = false;
  message m;
  m.type = message_type::snapshot;
  m.to = peer;
  m.snapshot_index = log_.snapshot_index();
  m.snapshot_term = log_.snapshot_term();
  m.commit = log_.committed();
  send(std::move(m), false);
}

void node::report_snapshot(node_id peer, bool ok) {
  auto it = progress_.find(peer);
  if (role_ != role::leader || it == progress_.end() || it->second.state != mode::snapshot) return;
  auto& pr = it->second;
  pr.state = mode::probe;
  pr.probe_sent = false;
  if (ok) {
    pr.next = std::max(pr.match, pr.pending_snapshot) + 1;
    pr.pending_snapshot = 0;
    send_append(peer, false);  // a probe right after the snapshot; the heartbeat does it if nothing is new
  } else {
    // From what it acknowledged: the next heartbeat finds it still needs a snapshot and asks again.
    pr.next = pr.match + 1;
    pr.pending_snapshot = 0;
  }
}

void node::compact(index_t index) {
  if (index > log_.applied()) {
    throw std::invalid_argument(
        fmt::format("raft: compacting to {}, beyond the applied index {}", index, log_.applied()));
  }
  log_.compact(index);
}

void node::handle_snapshot(const message& m) {
  message r;
  r.type = message_type::append_response;
  r.to = m.from;
  r.prev_index = m.snapshot_index;
  if (m.snapshot_index <= log_.committed()) {
    r.match = log_.committed();  // nothing new in it for us
  } else if (log_.matches(m.snapshot_index, m.snapshot_term)) {
    // Our log holds its last entry: what follows may be good, keep it (Raft paper §7, figure 13).
    log_.commit_to(m.snapshot_index);
    r.match = m.snapshot_index;
  } else {
    log_.restore(m.snapshot_index, m.snapshot_term);
    installed_ = snapshot_meta{m.snapshot_index, m.snapshot_term};
    r.match = m.snapshot_index;
  }
  send(std::move(r), /*after_persist=*/true);  // only once the snapshot is installed
}

// ---- reads -------------------------------------------------------------------------------

void node::read_index(std::uint64_t context) {
  if (role_ == role::leader) return start_read(context, cfg_.id);
  if (leader_ == 0) return finish_read(context, cfg_.id, 0, false);
  message m;
  m.type = message_type::read_index;
  m.to = leader_;
  m.context = context;
  send(std::move(m), false);
}

void node::start_read(std::uint64_t context, node_id from) {
  pending_read r{context, from, log_.committed(), 0};
  if (log_.term(log_.committed()) != term_) {
    waiting_for_commit_.push_back(r);  // the commit index is not known until our no-op commits
    return;
  }
  r.round = ++read_round_;
  pending_reads_.push_back(r);
  if (progress_.empty()) return release_reads();  // a single node leads alone
  for (auto& [peer, pr] : progress_) send_append(peer, /*heartbeat=*/true, read_round_);
}

void node::release_reads() {
  // The highest round a majority (this node included) has acknowledged.
  std::vector<std::uint64_t> rounds{read_round_};
  for (const auto& [peer, pr] : progress_) {
    auto it = round_acked_.find(peer);
    rounds.push_back(it == round_acked_.end() ? 0 : it->second);
  }
  std::sort(rounds.begin(), rounds.end(), std::greater<>());
  auto confirmed = rounds[quorum() - 1];
  auto done = std::partition(pending_reads_.begin(), pending_reads_.end(),
                             [&](const pending_read& r) { return r.round > confirmed; });
  for (auto it = done; it != pending_reads_.end(); ++it) finish_read(it->context, it->from, it->index, true);
  pending_reads_.erase(done, pending_reads_.end());
}

void node::finish_read(std::uint64_t context, node_id from, index_t index, bool ok) {
  if (from == cfg_.id) {
    reads_.push_back(read_state{context, index, ok});
    return;
  }
  message m;
  m.type = message_type::read_index_response;
  m.to = from;
  m.context = context;
  m.commit = index;
  m.reject = !ok;
  send(std::move(m), false);
}

void node::fail_pending_reads() {
  for (auto& r : pending_reads_) finish_read(r.context, r.from, 0, false);
  for (auto& r : waiting_for_commit_) finish_read(r.context, r.from, 0, false);
  pending_reads_.clear();
  waiting_for_commit_.clear();
}

void node::maybe_commit() {
  if (role_ != role::leader) return;
  std::vector<index_t> matches{log_.persisted()};  // the leader counts only what its disk holds
  for (const auto& [peer, pr] : progress_) matches.push_back(pr.match);
  std::sort(matches.begin(), matches.end(), std::greater<>());
  index_t majority = matches[quorum() - 1];
  // Only an entry of the current term is committed by counting (§5.4.2, figure 8).
#ifdef KV_RAFT_BROKEN_COMMIT_RULE
  // Deliberately wrong, for the test that proves the simulation catches it: any term counts.
  if (majority > log_.committed()) {
#else
  if (majority > log_.committed() && log_.term(majority) == term_) {
#endif
    log_.commit_to(majority);
    broadcast_append();
    // Reads that waited for the first commit of this term can start now.
    auto waiting = std::move(waiting_for_commit_);
    waiting_for_commit_.clear();
    for (auto& r : waiting) start_read(r.context, r.from);
  }
}

// ---- driver interface ---------------------------------------------------------------------

result<index_t> node::propose(std::string data) {
  if (role_ != role::leader) return errc::not_leader;
  if (transferee_ != 0) return errc::unavailable;  // the log must stop growing for the target to catch up
  log_.append(entry{term_, log_.last_index() + 1, std::move(data)});
  broadcast_append();
  maybe_commit();  // a single-node cluster still waits for its own disk (persisted())
  return log_.last_index();
}

void node::persisted(index_t index, term_t term) {
  log_.mark_persisted(index, term);
  maybe_commit();
}

bool node::has_ready() const {
  hard_state now{term_, vote_, log_.committed()};
  return installed_ || now != reported_ || !messages_.empty() || !after_persist_.empty() || !reads_.empty() ||
         log_.has_unsent() || std::min(log_.committed(), log_.persisted()) > log_.applied();
}

ready node::take_ready() {
  ready r;
  r.snapshot = std::exchange(installed_, std::nullopt);
  hard_state now{term_, vote_, log_.committed()};
  if (now != reported_) {
    r.state = now;
    reported_ = now;
  }
  r.entries = log_.take_unsent();
  r.messages = std::move(messages_);
  r.after_persist = std::move(after_persist_);
  messages_.clear();
  after_persist_.clear();
  r.committed = log_.take_committed(64u << 20);
  r.reads = std::move(reads_);
  reads_.clear();
  return r;
}

void node::check() const {
  log_.check();
  if (role_ == role::leader && leader_ != cfg_.id) throw std::logic_error("raft: a leader that names another leader");
  if (role_ == role::candidate && vote_ != cfg_.id) throw std::logic_error("raft: a candidate that did not vote for itself");
  if (transferee_ != 0 && role_ != role::leader) throw std::logic_error("raft: a transfer by a non-leader");
  for (const auto& [peer, pr] : progress_) {
    if (pr.match > log_.last_index()) throw std::logic_error("raft: a follower matches beyond the leader's log");
    if ((pr.state == mode::snapshot) != (pr.pending_snapshot != 0)) {
      throw std::logic_error("raft: a pending snapshot outside snapshot mode, or none in it");
    }
  }
}

}  // namespace kv::raft

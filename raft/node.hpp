#pragma once
// The Raft consensus core for one node: a deterministic state machine with no I/O (in the
// spirit of etcd's raft). It reads time as ticks, consumes messages with step(), and hands out
// everything it wants done through take_ready(): a snapshot to install, state and entries to
// make durable, messages to send, committed entries to apply, read indexes. Tests drive it with
// a simulated network, disk and clock.
//
// Rules followed (Raft paper §5 and §7, Ongaro's thesis):
//  - randomized election timeouts; pre-vote (§9.6): a node asks whether it could win before it
//    bumps its term, so a partitioned node cannot disrupt a healthy cluster on its return; the
//    only voter of a cluster of one wins at construction;
//  - check-quorum (§6.2): a leader that has not heard from a majority for an election timeout
//    steps down, and a node that heard from a leader within that time ignores vote requests;
//  - term and vote are persisted before any vote or append is answered (`after_persist`);
//  - the leader appends its own entries in parallel with replicating them and counts itself
//    towards a majority only for what its disk has made durable (persisted());
//  - a leader commits by counting only entries of its own term (§5.4.2); it appends a no-op when
//    elected so that earlier entries get committed;
//  - replication is pipelined with a bound on entries in flight per follower; a rejected append
//    carries a hint so the leader skips a whole conflicting term per round trip;
//  - linearizable reads by ReadIndex (thesis §6.4): the leader waits for its no-op to commit,
//    notes its commit index, confirms it still leads with a heartbeat round acknowledged by a
//    majority, and only then releases the read; a follower asks the leader for that index. The
//    caller serves the read once it has applied that far;
//  - leadership transfer (thesis §3.10): the leader stops taking proposals, brings the target
//    up to date and sends it timeout_now; the target campaigns at once, past the leader lease;
//  - log compaction and InstallSnapshot (paper §7): the driver snapshots its state machine and
//    calls compact(); a follower that needs compacted entries gets a snapshot message, which the
//    driver turns into a file transfer and steps into the follower once it has the whole file.
//
// Not yet here: membership change.
//
// Threading: none; the owner serializes every call.

#include "core/base/error.hpp"
#include "raft/log.hpp"
#include "raft/message.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <vector>

namespace kv::raft {

enum class role : std::uint8_t { follower, pre_candidate, candidate, leader };
const char* to_string(role r) noexcept;

struct config {
  node_id id = 0;
  std::vector<node_id> voters;  // every voter, this node included
  int election_ticks = 10;      // without a leader for [e, 2e) ticks, a follower campaigns
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  index_t max_entries_in_flight = 4096;     // per follower, sent but not acknowledged
  std::size_t max_append_bytes = 1u << 20;  // entry data per append message
  std::uint64_t seed = 1;                   // election-timeout randomness, for replayable tests
};

// The answer to read_index(): serve the read once the state machine has applied `index`.
// !ok: this node could not get a read index (no leader, or leadership changed); retry.
struct read_state {
  std::uint64_t context = 0;
  index_t index = 0;
  bool ok = false;
};

// A snapshot's position: the last entry it covers.
struct snapshot_meta {
  index_t index = 0;
  term_t term = 0;
  friend bool operator==(const snapshot_meta&, const snapshot_meta&) = default;
};

// What the core asks of its driver. Order matters: first install `snapshot` if set, then make
// `state` and `entries` durable, then send `after_persist`; `messages` may go at once; apply
// `committed` in order (after the snapshot).
struct ready {
  // The snapshot file last stepped in (as a message_type::snapshot) is to replace the state
  // machine, and the durable log becomes empty after it. Its entries are never in `committed`.
  std::optional<snapshot_meta> snapshot;
  std::optional<hard_state> state;
  std::vector<entry> entries;  // append to the durable log; an index at or below its end replaces that suffix
  std::vector<message> messages;
  std::vector<message> after_persist;
  std::vector<entry> committed;
  std::vector<read_state> reads;
  bool empty() const noexcept {
    return !snapshot && !state && entries.empty() && messages.empty() && after_persist.empty() && committed.empty() &&
           reads.empty();
  }
};

// A follower as the leader sees it.
struct progress {
  enum class mode : std::uint8_t {
    probe,      // one append at a time until the follower's log position is found
    replicate,  // stream appends optimistically
    snapshot,   // it needs entries compacted away: a snapshot is on its way, no appends until
                // it answers or the driver reports on the transfer (report_snapshot)
  };
  index_t match = 0;
  index_t next = 1;
  mode state = mode::probe;
  bool probe_sent = false;
  bool recent_active = false;    // heard from since the last check-quorum round
  index_t pending_snapshot = 0;  // snapshot mode: the index of the snapshot sent
};

class node {
 public:
  // `state` and `log` as recovered from durable storage. A node that is the only voter becomes
  // leader (of the next term) at once.
  node(config cfg, hard_state state, raft::log l);

  void tick();
  void step(const message& m);

  // Appends a command to the log if this node is the leader (errc::not_leader otherwise) and
  // returns its index. Committed, it will come out of take_ready().committed. While leadership
  // is being transferred the leader refuses proposals with errc::unavailable.
  result<index_t> propose(std::string data);

  // Hands leadership to voter `to` (thesis §3.10): the leader stops taking proposals, brings
  // `to` up to date, then tells it to campaign at once (timeout_now); its vote requests pass
  // the other nodes' leader lease. Abandoned, and proposals taken again, if `to` has not taken
  // over within an election timeout. Returns errc::ok once started (or if already transferring
  // to `to`; a transfer to another node replaces it), errc::not_leader on a non-leader,
  // errc::bad_request if `to` is this node or not a voter.
  [[nodiscard]] errc transfer_leadership(node_id to);
  // The node leadership is being transferred to; 0 if none.
  node_id transfer_target() const noexcept { return transferee_; }

  // Whether this node may become leader (default: yes). A node that may not (its disk is full:
  // it could not make its own entries durable, so it could not commit) does not start elections
  // when its timer runs out and ignores timeout_now, so a healthy member is elected instead; it
  // still votes, replicates and serves reads. A leader told it may not lead keeps leading until
  // its owner hands leadership over (transfer_leadership). The only voter of a cluster of one
  // campaigns regardless: there is no other member to lead.
  void set_may_lead(bool may) noexcept { may_lead_ = may; }
  bool may_lead() const noexcept { return may_lead_; }

  // Asks for a linearizable read point; the answer comes out in take_ready().reads with the
  // same `context`.
  void read_index(std::uint64_t context);

  // The driver holds a durable snapshot of the state machine through `index` (at most
  // log().applied()): the log drops the entries up to it. Throws std::invalid_argument beyond
  // applied; an index at or below the current snapshot changes nothing.
  void compact(index_t index);

  // The driver's transfer of the snapshot asked for by a message_type::snapshot to `peer`
  // finished: `ok` if the peer received the whole file (the leader then probes it just after the
  // snapshot), else the leader probes it again and sends another snapshot request on its next
  // heartbeat. Ignored unless this node leads and `peer` waits for a snapshot.
  void report_snapshot(node_id peer, bool ok);

  // The transport lost its connection to `peer`: appends streamed to it may be lost, so the
  // leader stops streaming and probes again (from replicate back to probe). Ignored unless
  // this node leads and `peer` is in replicate mode.
  void report_unreachable(node_id peer);

  bool has_ready() const;
  ready take_ready();
  // The driver made entries up to `index` (of term `term`) durable, and any hard state handed
  // out before them.
  void persisted(index_t index, term_t term);

  node_id id() const noexcept { return cfg_.id; }
  role current_role() const noexcept { return role_; }
  term_t term() const noexcept { return term_; }
  node_id vote() const noexcept { return vote_; }
  node_id leader() const noexcept { return leader_; }
  const raft::log& log() const noexcept { return log_; }
  const progress* progress_of(node_id peer) const;

  // Throws std::logic_error if an internal invariant is broken (used by simulations).
  void check() const;

 private:
  using mode = progress::mode;

  bool is_voter(node_id n) const;
  std::size_t quorum() const noexcept { return cfg_.voters.size() / 2 + 1; }
  void reset_election_timer();
  void become_follower(term_t term, node_id leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  enum class campaign_type : std::uint8_t { pre_vote, election, transfer };
  void campaign(campaign_type type);
  void tally(node_id from, bool granted, bool pre_vote);

  void handle_vote_request(const message& m);
  void handle_append(const message& m);
  void handle_append_response(const message& m);
  void handle_snapshot(const message& m);

  void send(message m, bool after_persist);
  void broadcast_append();
  void send_append(node_id peer, bool heartbeat, std::uint64_t read_round = 0);
  void send_timeout_now(node_id to);
  void send_snapshot(node_id peer);
  void maybe_commit();
  bool quorum_active();
  void start_read(std::uint64_t context, node_id from);
  void release_reads();
  void finish_read(std::uint64_t context, node_id from, index_t index, bool ok);
  void fail_pending_reads();

  config cfg_;
  raft::log log_;
  role role_ = role::follower;
  term_t term_ = 0;
  node_id vote_ = 0;
  node_id leader_ = 0;
  hard_state reported_{};  // the last hard state handed out

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_timeout_ = 0;
  bool may_lead_ = true;
  node_id transferee_ = 0;  // leader: the node leadership is being handed to
  int transfer_elapsed_ = 0;
  std::mt19937_64 rng_;

  std::map<node_id, bool> votes_;         // this campaign's answers
  std::map<node_id, progress> progress_;  // leader: every other voter

  std::vector<message> messages_;
  std::vector<message> after_persist_;
  std::optional<snapshot_meta> installed_;  // follower: a snapshot restored, for the next ready

  // ReadIndex, on the leader. A read waits for a heartbeat round started after it to be
  // acknowledged by a majority; until the leader has committed an entry of its own term it
  // does not know the commit index, so reads wait for that too.
  struct pending_read {
    std::uint64_t context;
    node_id from;  // this node, or the follower that asked
    index_t index;
    std::uint64_t round;
  };
  std::vector<pending_read> waiting_for_commit_;
  std::vector<pending_read> pending_reads_;
  std::uint64_t read_round_ = 0;
  std::map<node_id, std::uint64_t> round_acked_;
  std::vector<read_state> reads_;
};

}  // namespace kv::raft

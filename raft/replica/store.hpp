#pragma once
// A node's replicated storage engine: the Raft core (raft/node.hpp), the WAL that is its durable
// log, the state machine that committed entries feed, and the snapshots that bound the log. A
// single node is a cluster of one: the same path, with a majority of one.
//
// The path of a write: propose to the Raft core (leader only) -> the raft coroutine hands new
// entries to the WAL's group commit and, in parallel, messages to the peers' replicators ->
// the entry commits once a majority (the leader counting itself only after its own fsync) has
// it -> the apply coroutine applies it to the state machine -> the writer is answered.
// Reads: read_barrier() runs ReadIndex (thesis §6.4) and answers once this node has applied
// far enough that its state reflects every write acknowledged before the read began.
//
// Guarantees:
//  - set/del/bulk_set complete only after their entry is committed (on a majority's disks) and
//    applied here; a read issued after that sees the write, on any node.
//  - bulk_set is one log entry: after any crash all of its pairs are present or none.
//  - While a snapshot is written, writes continue (see state_machine's point-in-time capture).
//
// Threading: every member runs on the executor passed to the constructor (one thread).

#include "core/state/apply_observer.hpp"
#include "core/state/change_listener.hpp"
#include "core/base/callback.hpp"
#include "core/model/command.hpp"
#include "core/model/txn.hpp"
#include "core/snapshot/writer.hpp"
#include "core/base/error.hpp"
#include "core/state/sessions.hpp"
#include "core/state/state_machine.hpp"
#include "core/wal/wal.hpp"
#include "core/watch/watch_hub.hpp"
#include "io/sys/completion.hpp"
#include "io/sys/event.hpp"
#include "io/sys/file.hpp"
#include "io/sys/trash.hpp"
#include "io/sys/uring.hpp"
#include "raft/node.hpp"
#include "raft/replica/lessor.hpp"
#include "raft/replica/read_queue.hpp"
#include "raft/replica/settings.hpp"
#include "raft/transport.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
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
    std::chrono::microseconds index_duration{0};     // handing the snapshot to the search index
    std::chrono::microseconds open_duration{0};      // opening the WAL for appending, starting Raft
  };

  struct stats {
    std::uint64_t snapshots = 0;
    std::uint64_t last_snapshot_index = 0;
    std::uint64_t last_snapshot_bytes = 0;
    std::chrono::microseconds last_snapshot_duration{0};
  };

  // Opens `dir` (creating it if needed): takes its lock, loads the newest snapshot, replays the
  // WAL and applies it. Throws corruption_error for damaged data, std::runtime_error if another
  // process holds the directory, std::system_error for I/O errors. `observer`, if given, sees
  // the recovered state and every entry applied after it; it must outlive the store.
  store(asio::any_io_executor executor, std::filesystem::path dir, storage_config cfg,
        replication_options repl = {}, apply_observer* observer = nullptr);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Where messages to peers go (a cluster of one needs none). Set before run().
  void attach(raft::transport& t) { transport_ = &t; }
  // A message from a peer.
  void receive(const raft::message& m);
  // The transport lost its connection to `peer`.
  void peer_unreachable(raft::node_id peer);
  // The transport finished streaming a snapshot to `peer` (ok), or gave up.
  void snapshot_sent(raft::node_id peer, bool ok);
  // Where the transport writes a snapshot streamed from `from`, fdatasynced, before it hands the
  // snapshot's message to receive().
  std::filesystem::path incoming_snapshot_path(raft::node_id from) const;

  // Runs the Raft clock, the raft coroutine, the WAL writer and the apply coroutine; returns
  // after stop() once every accepted write is durable and any snapshot in progress is finished.
  asio::awaitable<void> run();
  // Stops accepting writes (they fail with errc::unavailable) and lets run() drain and return.
  // Writes not yet committed fail with errc::unavailable.
  void stop();
  // Advances the Raft clock by one tick now: what run() does every replication_options::tick
  // (the core's election and heartbeat timers, expiry of read rounds, the NOSPACE watch). For
  // an owner that keeps time itself (a test driving replicas tick by tick): it sets that
  // interval longer than it runs, so that only its own calls move the clock.
  void tick();
  // For a graceful shutdown, before stop(): if this node leads a cluster of several, hands
  // leadership to the most up-to-date follower (thesis §3.10) and waits until it has taken
  // over, or an election timeout has passed. Returns whether another node now leads.
  asio::awaitable<bool> hand_over_leadership();

  // Writes. Each yields the log index of the write once it is committed and applied, or
  // errc::bad_request / errc::too_large for invalid input, errc::not_leader (with the leader's
  // client address when known) on a follower, errc::unavailable when stopping, when no leader is
  // known, or when leadership was lost before the write committed (it may or may not apply).
  // del yields errc::not_found (once the delete is committed) if the key did not exist.

  // Callback form: `done` runs on the store's executor once the write is applied, or before
  // submit_* returns if the write is refused. It must not call back into the store.
  using write_done = callback<void(result<std::uint64_t>)>;
  // `session`: the write's place in its client's session (exactly-once); session 0: none. A
  // write applied before in its session yields the outcome it had then, without applying again;
  // an unknown session yields errc::session_expired.
  void submit_set(std::string_view key, std::string_view value, write_done done, const session_ref& session = {});
  void submit_del(std::string_view key, write_done done, const session_ref& session = {});
  // `pairs`: `count` pairs in the append_pair() encoding (as the wire protocol carries them).
  void submit_bulk_set(std::string_view pairs, std::uint32_t count, write_done done, const session_ref& session = {});
  // Adds `delta` to the decimal 64-bit integer stored at `key` (absent: 0), keeping its TTL: a
  // transaction of one incr op, proposed as the log's plain incr command. Once applied, `done`
  // yields its index and, during the call, reply() holds u64 revision | i64 value; or
  // errc::bad_request with the transaction's message (not an integer, an overflow).
  void submit_incr(std::string_view key, std::int64_t delta, write_done done, const session_ref& session = {});
  // Opens a client session; yields its id.
  void submit_open_session(write_done done);
  // A transaction (core/model/txn.hpp) that writes; errc::bad_request / too_large if check_txn()
  // refuses it. Once applied, `done` yields its index and, during the call, reply() holds its
  // answer; or the error the state machine refused it with (nothing applied).
  void submit_txn(std::string_view txn, write_done done, const session_ref& session = {});
  // The same for a transaction the caller decoded already (`decoded` views `txn`).
  void submit_txn(std::string_view txn, const txn_view& decoded, write_done done, const session_ref& session = {});
  // Compacts the history below `revision` on every member (through the log).
  void submit_compact(std::uint64_t revision, write_done done);
  // Leases (etcd v3's; core/state/leases.hpp, raft/replica/lessor.hpp). A grant yields its
  // index, with reply() holding u64 id | i64 ttl_seconds during the callback; a revoke its
  // index (errc::not_found for no such lease), the lease's keys deleted at one revision.
  void submit_lease_grant(std::int64_t ttl_seconds, std::uint64_t id, write_done done, const session_ref& session = {});
  void submit_lease_revoke(std::uint64_t id, write_done done, const session_ref& session = {});
  // A keepalive (leader only): once a read barrier confirmed leadership, the lease expires a full
  // TTL from when the call was made; yields the TTL in seconds. errc::not_found if the lease does
  // not exist or already expired (its revoke is due), not_leader on a follower.
  using renew_done = callback<void(result<std::int64_t>)>;
  void renew_lease(std::uint64_t id, renew_done done);
  // What a lease has left (leader only: the deadlines are the leader's).
  struct lease_status {
    std::int64_t ttl_seconds = 0;     // as granted
    std::int64_t remaining_ms = 0;    // until it expires, on the leader's clock
    std::vector<std::string> keys;    // in key order
  };
  result<lease_status> lease_time_to_live(std::uint64_t id) const;
  // The cluster clock (core/state/state_machine.hpp) now, in milliseconds: on a leader that has
  // applied its term's first entry, the reading it stamps writes with; elsewhere an estimate
  // from the last stamp applied here, for answering ttl reads.
  std::uint64_t cluster_time() const noexcept;
  // Answers a read-only transaction from this node's applied state (its ttl ops against
  // cluster_time()); see state_machine::read.
  errc read(const txn_view& t, std::string& reply) const { return sm_.read(t, reply, cluster_time()); }
  // During a write_done callback of submit_txn or submit_incr: the write's answer.
  std::string_view reply() const noexcept { return reply_; }
  // A log index at which this node's state had reached `revision` (which must be at most the
  // current revision): exact for recent revisions, a later applied index for older ones (or
  // after a restart), so waiting for it never misses the revision. 0 for revision 0.
  std::uint64_t index_of_revision(std::uint64_t revision) const noexcept;
  // The revision this node's state had once it had applied log index `index`: exact, or nullopt
  // if the node no longer knows it (before the entries it remembers, or before a snapshot it
  // installed). The current revision for `index` at or past applied_index().
  std::optional<std::uint64_t> revision_at_index(std::uint64_t index) const noexcept;
  // The limits check_txn() applies, from the storage configuration.
  txn_limits limits() const noexcept;

  // Coroutine form.
  asio::awaitable<result<std::uint64_t>> set(std::string key, std::string value);
  asio::awaitable<result<std::uint64_t>> del(std::string key);
  asio::awaitable<result<std::uint64_t>> bulk_set(std::vector<kv_pair> pairs);

  // Linearizable reads: `done` runs once this node's applied state includes every write
  // acknowledged (by any node) before the call, with the read index; or with errc::not_leader /
  // errc::unavailable if no leader confirmed one within an election timeout.
  using read_done = read_queue::read_done;
  void read_barrier(read_done done);
  asio::awaitable<result<std::uint64_t>> read_barrier();
  // Whether reads of the applied state are linearizable right now without a barrier: this node
  // is the leader of a cluster of one.
  bool reads_are_local() const noexcept;

  // The value of `key` in the applied state, or errc::not_found.
  result<std::string> get(std::string_view key) const;
  // The same without a copy: valid until the next write is applied.
  std::optional<std::string_view> find(std::string_view key) const { return sm_.get(key); }
  // errc::ok if `key` is acceptable for a read or a write (non-empty, within max-key-size).
  errc check_key_for_read(std::string_view key) const { return check_key(key); }
  bool stopping() const noexcept { return stopping_; }
  // The NOSPACE alarm: the disk is full and the log cannot grow; writes fail with errc::no_space.
  bool out_of_space() const noexcept { return wal_->out_of_space(); }
  // Why the log could not prepare space the last time it tried; empty if it could.
  const std::string& space_problem() const noexcept { return wal_->space_problem(); }

  // Takes a snapshot now unless one is running, and waits for the one in progress to finish.
  asio::awaitable<void> snapshot_now();

  const state_machine& state() const noexcept { return sm_; }
  // The watchers of this member's keyspace (core/watch/watch_hub.hpp): fed each write as it is
  // applied here (so only committed ones), replayed from history after a snapshot is installed,
  // and stepped through their catch-up as entries apply and on each tick.
  watch_hub& watches() noexcept { return watches_; }
  const watch_hub& watches() const noexcept { return watches_; }
  // Tells `l` of every key the writes applied from now on change, until called with nullptr
  // (core/state/change_listener.hpp). While none listens, applying costs nothing more.
  void listen_to_changes(change_listener* l) noexcept { change_listener_ = l; }
  const session_table& sessions() const noexcept { return sessions_; }
  const recovery_info& recovery() const noexcept { return recovery_; }
  const stats& statistics() const noexcept { return stats_; }
  const wal::log& log() const noexcept { return *wal_; }
  // The newest hard state (term, vote, commit) the WAL has made durable. The Ready loop's rule:
  // a vote, a vote request or an append response leaves only once the term and vote it speaks
  // for are here (and an accepted append response only once log().durable_index() reaches its
  // match). Updated before the messages waiting for it are sent.
  const raft::hard_state& durable_state() const noexcept { return durable_state_; }
  std::uint64_t applied_index() const noexcept { return sm_.applied_index(); }
  std::uint64_t commit_index() const noexcept { return node_->log().committed(); }
  std::uint64_t last_index() const noexcept { return node_->log().last_index(); }
  std::uint64_t term() const noexcept { return node_->term(); }
  raft::role role() const noexcept { return node_->current_role(); }
  raft::node_id leader() const noexcept { return node_->leader(); }
  const raft::node& consensus() const noexcept { return *node_; }
  const replication_options& replication() const noexcept { return repl_; }
  const storage_config& storage() const noexcept { return cfg_; }
  std::uint64_t snapshot_index() const noexcept { return snapshot_index_; }
  bool snapshot_running() const noexcept { return snapshot_running_; }

 private:
  // Each group below is one job of the store, with the file that does it. Every job runs on the
  // store's executor; the members of the first group are shared by all of them.

  // --- Shared: the directory, the settings, the Raft core, the WAL and the applied state.
  asio::any_io_executor executor_;
  std::filesystem::path dir_;
  storage_config cfg_;
  replication_options repl_;
  apply_observer* observer_;
  io::directory_lock lock_;
  io::trash trash_{dir_};  // obsolete WAL segments and snapshots, deleted a slice at a time
  io::uring ring_;
  state_machine sm_;
  watch_hub watches_{sm_.keys()};  // reads sm_'s keyspace, which keeps its address
  session_table sessions_;
  std::unique_ptr<wal::log> wal_;
  io::unique_fd dir_fd_;
  std::unique_ptr<raft::node> node_;
  raft::transport* transport_ = nullptr;
  bool stopping_ = false;

  // --- Recovery (recovery.cpp): run once, by the constructor.
  void remove_stale_files();
  void recover();

  recovery_info recovery_;

  // --- Write admission (admission.cpp): limits, refusals, proposing to the core.
  errc check_key(std::string_view key) const;
  errc check_pair(std::string_view key, std::string_view value) const;
  void propose(std::string command, write_done done, const session_ref& session = {});
  error_info not_leader_error() const;

  // --- The Ready loop (ready_loop.cpp): ticks, readies, durability, role changes, NOSPACE.
  // Messages that may leave only once the WAL holds everything queued before them.
  struct after_sync {
    std::uint64_t records;  // wal queued_records() when they were produced
    std::vector<raft::message> messages;
  };
  // The last entry of a ready's entries, durable once the WAL's durable_records() reaches `records`.
  struct persist_mark {
    std::uint64_t records;
    raft::index_t index;
    raft::term_t term;
  };
  // A hard state queued to the WAL, durable once durable_records() reaches `records`.
  struct state_mark {
    std::uint64_t records;
    raft::hard_state state;
  };
  asio::awaitable<void> tick_loop();
  asio::awaitable<void> raft_loop();
  void handle_ready(raft::ready rd);
  void on_durable();
  void save_hard_state(const raft::hard_state& hs);
  void send_all(std::vector<raft::message>& messages);
  void note_role_change();
  // On every tick: follows the WAL's out-of-space state (the NOSPACE alarm): refuses to lead
  // while it lasts, and hands leadership over if it leads a cluster of several.
  void watch_space();

  io::event raft_wake_;
  io::event role_changed_;  // notified whenever role, leader or term change
  std::deque<after_sync> after_sync_;
  std::deque<persist_mark> persist_marks_;
  std::deque<state_mark> state_marks_;  // queued, not yet durable, in queue order
  raft::hard_state durable_state_;      // see durable_state()
  raft::hard_state saved_state_;        // the newest hard state queued to the WAL
  raft::hard_state current_state_;      // the core's, which may be ahead in its commit index only
  asio::steady_timer tick_timer_;       // cancelled by stop(), so a long tick does not delay it
  std::uint64_t ticks_ = 0;
  raft::role last_role_ = raft::role::follower;
  raft::node_id last_leader_ = 0;
  raft::term_t last_term_ = 0;
  bool raft_stopped_ = false;
  bool no_space_ = false;                 // the alarm as watch_space() last saw it
  std::uint64_t next_handover_tick_ = 0;  // out of space, leading: when to try the next follower
  std::size_t handover_cursor_ = 0;

  // --- The leader's leases (leases.cpp): deadlines, expiry and checkpoints on every tick.
  void tick_leases();
  // Promotes or demotes the lessor as this member's role changed (on each role change and tick).
  void follow_leadership_for_leases();
  // A lease command was applied with `code` (reply_ holds its answer); keeps the lessor in step.
  void lease_applied(const command_view& cmd, errc code);
  // Renewal once leadership is confirmed by a read barrier that began at `from`.
  void finish_renewal(std::uint64_t id, std::chrono::steady_clock::time_point from, renew_done done);

  lessor lessor_;
  std::chrono::steady_clock::time_point next_lease_checkpoint_{};

  // --- Per-key expiry (expiry.cpp): the leader's cluster clock, and deletes of due keys.
  // The leader's clock reading, once it has applied its term's first entry; nullopt before.
  std::optional<std::uint64_t> leader_clock() const noexcept;
  // Follows role changes and applied stamps (after each applied entry and role change).
  void follow_clock();
  // Submits again the TTL writes that waited for this leader's clock (or fails them, through
  // submit_txn, if this node no longer leads).
  void release_clock_waiters();
  // Proposes the next batch of due keys, or a clock checkpoint, if one is due and none in flight.
  void expire_due();
  asio::awaitable<void> expiry_loop();
  // After entries were applied: follows the clock, and wakes the loop for an earlier expiry.
  void expiry_applied();

  raft::term_t clock_term_ = 0;  // the term whose clock base is set; 0: none
  std::uint64_t clock_base_ = 0;
  std::chrono::steady_clock::time_point clock_base_at_{};
  std::uint64_t seen_clock_ = 0;  // sm_.clock() as last seen, and when it moved
  std::chrono::steady_clock::time_point seen_clock_at_{};
  std::vector<callback<void()>> clock_waiters_;  // TTL writes waiting for this leader's clock
  bool expiry_in_flight_ = false;
  std::chrono::steady_clock::time_point expiry_retry_at_{};  // after a failed batch
  std::uint64_t expiry_wake_at_ = 0;
  std::chrono::steady_clock::time_point next_expiry_log_{};  // the backlog's log line, rate-limited  // the clock reading the loop sleeps until; 0: not planned
  std::chrono::steady_clock::time_point next_clock_checkpoint_{};
  io::event expiry_wake_;

  // --- Automatic compaction (compaction.cpp), on every tick.
  void auto_compact();

  bool compaction_in_flight_ = false;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> revision_samples_;  // periodic

  // --- ReadIndex reads (reads.cpp), kept in a read_queue.
  // Starts a round for the reads waiting for one, if any (from the Ready loop).
  void start_read_round();
  void handle_reads(std::vector<raft::read_state>& reads);
  void release_reads();
  void expire_reads();

  read_queue reads_;

  // --- Apply and sessions (apply.cpp): committed entries to the state machine, writers answered.
  struct waiter {
    std::uint64_t index;
    std::uint64_t term;
    write_done done;
  };
  struct pending_entry {
    std::uint64_t index;
    std::uint64_t term;
    std::string command;
  };
  asio::awaitable<void> apply_loop();
  void apply_committed();
  // Prefetches the keys of point writes a few entries ahead (apply.cpp).
  void prefetch_ahead();
  void apply_one(const pending_entry& e, write_done* done);
  // Hands the watch hub the write `command` that just took the keyspace's newest revision.
  void notify_watches(std::string_view command);
  // Applies one committed entry (a no-op, or a command) and answers its writer, if any. Throws
  // corruption_error for an entry that does not decode.
  void apply_entry(std::uint64_t index, std::uint64_t term, std::string_view data, write_done* done = nullptr);
  void fail_waiters(const error_info& why);
  // Tells change_listener_ the keys applied command `cmd` changed (changes_ holds a txn's, an
  // expire's and a revoke's).
  void tell_change_listener(const command_view& cmd);

  change_listener* change_listener_ = nullptr;
  std::uint64_t applied_term_ = 0;
  std::uint64_t applied_term_at_snapshot_ = 0;  // term of the snapshot recovery started from
  std::uint64_t commit_index_ = 0;              // highest index handed to the apply coroutine
  // Entries appended but not yet applied, in index order, for the apply loop.
  std::deque<pending_entry> unapplied_;
  // prefetch_ahead()'s key hashes between its two stages, by entry index (modulo the size).
  struct prefetched_key {
    std::uint64_t index = 0;  // the entry's; 0: none
    std::size_t hash = 0;
  };
  std::array<prefetched_key, 16> prefetched_{};
  std::deque<waiter> waiters_;  // in index order
  io::event apply_wake_;
  std::string reply_;      // see reply()
  // (revision, log index) of the latest entries that took a revision, oldest first, bounded;
  // first, until dropped, the state's at recovery or at the snapshot last installed.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> revision_marks_;
  change_list changes_;    // what the entry being applied changed, for the observer
  std::vector<key_range> watch_ranges_;  // notify_watches()'s scratch

  // --- Snapshots (snapshots.cpp): taking, sending and installing them.
  void maybe_start_snapshot();
  // The log written since the newest snapshot after which the next one is due (besides
  // snapshot_entries): snapshot_log_bytes, or snapshot_log_percent of that snapshot's size.
  std::uint64_t snapshot_log_bound() const noexcept;
  // The entries applied since the newest snapshot after which the next one is due (besides the
  // byte bound): snapshot_entries, or snapshot_log_percent of the keys that snapshot holds.
  std::uint64_t snapshot_entry_bound() const noexcept;
  // Takes a snapshot at the applied index: captures the state (on a thread of its own, in a child
  // process, or on the event loop), writes it to a .tmp file, renames it into place, then
  // compacts the log.
  asio::awaitable<void> take_snapshot();
  // Captures the state on the event loop, in slices between other work, into `fd`.
  asio::awaitable<snapshot::write_outcome> capture_on_event_loop(int fd, snapshot::file_parts parts,
                                                                 const std::string& path);
  // Captures the state on a thread of its own (snapshot::thread_writer) into `fd`, while the
  // event loop pins and releases the batches of keys that thread encodes. nullopt, having done
  // nothing, if the thread cannot be started.
  asio::awaitable<std::optional<snapshot::write_outcome>> capture_on_thread(int fd, const snapshot::file_parts& parts);
  // Forks a child process that writes the snapshot into `fd` from its copy-on-write image of the
  // state as it is now, and waits for it without blocking the event loop.
  struct child_capture {
    enum class ended { no_child, wrote, died };
    ended kind = ended::no_child;  // no_child: fork (or its pipe) failed; nothing was done
    snapshot::write_outcome outcome;  // wrote: how the writing went
    std::string death;                // died: how the child ended, for the log
    pid_t pid = 0;
    std::chrono::microseconds fork_duration{0};  // the event loop's pause for fork()
  };
  asio::awaitable<child_capture> capture_in_child(int fd, const snapshot::file_parts& parts, std::uint64_t index);
  // Streams the newest snapshot to the follower `m` is for (a message of type snapshot).
  void send_snapshot(raft::message m);
  // A snapshot streamed from the leader has arrived: load and check it before the core hears of
  // it. False: unusable (or not now); the leader will send it again.
  bool accept_snapshot(const raft::message& m);
  void install_snapshot(const raft::snapshot_meta& meta);

  stats stats_;
  std::unique_ptr<state_machine> incoming_;  // a leader's snapshot, loaded, not yet installed
  std::filesystem::path incoming_path_;
  session_table incoming_sessions_;
  bool snapshot_running_ = false;
  std::chrono::steady_clock::time_point snapshot_retry_at_{};  // no snapshot before it (no space)
  io::event snapshot_done_;
  // The snapshot thread of a capture under way (capture_on_thread). A member, after sm_, so that
  // whatever ends the store stops that thread before the state it reads goes.
  std::unique_ptr<snapshot::thread_writer> snapshot_writer_;
  std::uint64_t snapshot_index_ = 0;         // index of the newest snapshot on disk
  std::uint64_t log_bytes_ = 0;              // bytes of entry records appended (or replayed) since start
  std::uint64_t log_bytes_at_snapshot_ = 0;  // log_bytes_ when the newest snapshot was taken
  std::uint64_t snapshot_bytes_ = 0;         // the size of the newest snapshot's file
  std::uint64_t snapshot_keys_ = 0;          // its key records (tombstones too)
};

}  // namespace kv

#pragma once
// The replica's settings: how it stores its log and snapshots (storage_config) and how it takes
// part in its cluster (replication_options). Durations and sizes carry their unit in the type or
// the name; the defaults here are kvnode's defaults.

#include "raft/message.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kv {

enum class fsync_policy : std::uint8_t {
  always,  // every acknowledged write is on disk (fdatasync); the only durable mode
  never,   // writes are acknowledged once handed to the kernel; loses data on power failure
};

// How the WAL writes its batches with fsync_policy::always (wal::io_mode, docs/storage.md).
enum class wal_io : std::uint8_t {
  direct,    // one O_DIRECT|O_DSYNC write per batch, issued inline by io_uring
  buffered,  // a write and an fdatasync, run on io_uring's worker threads
  automatic, // direct while direct writes complete in the disk's time, else buffered for a while
};

// Where a snapshot's capture runs (docs/storage.md, "Snapshots").
enum class snapshot_capture : std::uint8_t {
  event_loop,  // the event loop, a slice at a time between requests
  fork,        // a child process writes the file from its copy-on-write image of the state
  thread,      // a thread of its own encodes and writes batches of keys the event loop pins
};

// Automatic compaction of the keyspace's history (etcd's --auto-compaction-mode): the leader
// proposes a compaction that keeps the last `retention_revisions` revisions readable, or every
// revision of the last `retention_period`.
enum class compaction_mode : std::uint8_t { off, revision, periodic };
struct compaction_options {
  compaction_mode mode = compaction_mode::revision;
  std::uint64_t retention_revisions = 10'000;
  std::chrono::milliseconds retention_period{std::chrono::hours(1)};
};

struct storage_config {
  fsync_policy fsync = fsync_policy::always;
  wal_io wal_io_mode = wal_io::automatic;  // direct only with fsync = always (docs/storage.md)
  // Size each WAL segment file is preallocated to; a new segment starts when it is full.
  std::uint64_t segment_bytes = 64ull << 20;
  // A group-commit batch stops growing at this size; the next batch takes the rest.
  std::uint64_t max_batch_bytes = 8ull << 20;
  // Batches written and being fdatasynced at once (1: each sync waits for the previous one).
  std::uint64_t syncs_in_flight = 1;
  // When the disk is free but fewer writes are queued than recent batches held, wait up to this
  // long for the rest before syncing (0: sync at once).
  std::chrono::microseconds group_commit_delay{300};
  // A snapshot is taken once the log written since the last one exceeds either bound. Both grow
  // with the state: the byte bound is the larger of snapshot_log_bytes and snapshot_log_percent
  // of the last snapshot's size, the entry bound the larger of snapshot_entries and
  // snapshot_log_percent of that snapshot's keys (0: the fixed bounds alone). So the snapshots of
  // a growing store write O(n) bytes in all rather than O(n^2), a large store is not captured
  // whole every snapshot_entries writes, and a replay at recovery stays within a fixed multiple
  // of the snapshot's load (Redis's auto-aof-rewrite-percentage, in effect).
  std::uint64_t snapshot_log_bytes = 64ull << 20;
  std::uint64_t snapshot_log_percent = 100;
  std::uint64_t snapshot_entries = 500'000;
  // The snapshot thread by default: it leaves the loop only the walk of the key order; the
  // child's copy-on-write faults and fork() pause cost the loop more than the event-loop capture
  // itself on this project's machine (docs/benchmarks.md). A node whose fork() fails, or that
  // cannot start the thread, captures that snapshot on the event loop.
  snapshot_capture snapshot_capture_mode = snapshot_capture::thread;
  // Largest key and value the store accepts.
  std::uint64_t max_key_bytes = 4ull << 10;
  std::uint64_t max_value_bytes = 1ull << 20;
  // Compares, and ops in each branch, of one transaction (etcd's --max-txn-ops).
  std::uint64_t max_txn_ops = 128;
  compaction_options compaction;
};

// How this node takes part in its cluster.
struct replication_options {
  raft::node_id id = 1;
  std::vector<raft::node_id> voters;  // every voter, this node included; empty: this node alone
  std::chrono::milliseconds tick{50};  // the Raft clock; the leader heartbeats every tick
  int election_ticks = 6;
  std::size_t max_append_bytes = 1u << 20;
  std::uint64_t max_entries_in_flight = 4096;
  std::uint64_t snapshot_catch_up_entries = 10'000;  // kept in the Raft log behind a snapshot
  std::size_t max_sessions = 100'000;  // client sessions kept (the same on every node)
  // How often the leader records, through the log, what each lease with a longer TTL has left,
  // so that a new leader does not grant it a full TTL again (etcd's lease checkpointing).
  std::chrono::milliseconds lease_checkpoint_interval{std::chrono::minutes(5)};
  // Expired leases the leader revokes per tick at most (each a log entry).
  std::size_t lease_revokes_per_tick = 64;
  // Per-key TTLs (raft/replica/expiry.cpp): keys the leader deletes per log entry at most, and
  // how often, while keys with a TTL exist, it records the cluster clock through the log (what a
  // failover can add to a TTL is bounded by this plus the election).
  std::size_t expiry_batch = 1000;
  std::chrono::milliseconds clock_checkpoint_interval{std::chrono::seconds(1)};
  std::map<raft::node_id, std::string> client_addresses;  // where not-leader answers send clients
  std::uint64_t seed = 0;  // election-timeout randomness; 0: from the clock
};

}  // namespace kv

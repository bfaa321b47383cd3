#pragma once
// The key-value state machine: what committed log entries are applied to. The keys live in a
// multi-version keyspace (core/state/keyspace.hpp): every write that changes something takes the
// next revision, etcd v3's data model.
//
// History: every version stays readable until a compact command (a log entry, so that every
// member compacts at the same point) drops the revisions below it.
//
// Transactions (core/model/txn.hpp) run in two steps: everything that could refuse one (a
// revision compacted or in the future, an incr of a non-integer or past int64) is checked
// first, and only then does the keyspace change, so a refused transaction changes nothing.
//
// Leases (core/state/leases.hpp) are part of the state: lease_grant, lease_revoke and
// lease_checkpoint commands change them, a put with a lease attaches its key, and a revoke
// deletes the lease's keys in one write (one revision), as a transaction's delete would.
//
// The cluster clock and per-key expiry: apply never reads a clock. The leader stamps each
// transaction that gives a key a TTL (a txn_at command) with its reading of the cluster clock, a
// count of milliseconds that every member holds as the largest stamp applied, and which a leader
// advances only by its own monotonic clock from the value it applied last. A key with a TTL
// expires at stamp + TTL on that clock; the leader deletes due keys by proposing expire commands
// (raft/replica/expiry.cpp). Because the clock never runs faster than real time and a new leader
// resumes it from the last applied stamp (the time a failover takes is not counted), a key never
// expires before its TTL has passed since its write; the leader's periodic checkpoints (an
// expire command with no keys) bound how much a failover adds (docs/storage.md).
//
// Point-in-time capture (for snapshots while writes continue): begin_capture() fixes the image
// at the current applied index and revision, and capture_step() serializes the next keys, in key
// order, with their versions (the encoding of append_key_record()). The keyspace keeps what the
// capture needs however writes and compactions interleave with it.
//
// Threading: not thread-safe; owned by the node's event-loop thread, but for encode() (a batch
// pinned for another thread, see keyspace.hpp).

#include "core/base/error.hpp"
#include "core/model/command.hpp"
#include "core/model/txn.hpp"
#include "core/state/keyspace.hpp"
#include "core/state/leases.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kv {

// A key and its versions, as snapshot chunks store them:
//   u32 key_len | u32 versions | key | versions x (u64 create | u64 mod | u64 version |
//   u64 expires | u32 value_len | value)
// oldest version first; version 0 is a tombstone. Records `without_expiry` (snapshot files
// before version 4) lack the expires field.
void append_key_record(std::string& out, const captured_key& k);
// True if `bytes` holds exactly `count` well-formed key records.
bool valid_key_records(std::string_view bytes, std::uint32_t count, bool without_expiry = false) noexcept;
// Calls f(captured_key) for each of the `count` records in `bytes`, which must be valid.
void for_each_key_record(std::string_view bytes, std::uint32_t count, const std::function<void(const captured_key&)>& f,
                         bool without_expiry = false);

// An incr's outcome: the value it stores and the expiry it keeps (0: none).
struct counter {
  std::int64_t sum = 0;
  std::uint64_t expires = 0;
};

class state_machine {
 public:
  state_machine() = default;
  state_machine(const state_machine&) = delete;
  state_machine& operator=(const state_machine&) = delete;
  state_machine(state_machine&&) = default;
  state_machine& operator=(state_machine&&) = default;

  // Applies `cmd`, the command of log entry `index` (which must be applied_index() + 1).
  // Returns errc::ok, errc::not_found for a del of a missing key or a lease that does not exist
  // (a revoke, a put attached to it), or why a txn, incr, compact or lease_grant was refused
  // (bad_request, compacted, future_revision), having changed nothing. `reply`, if given,
  // receives a txn's answer (core/model/txn.hpp), an incr's (u64 revision | i64 value), a
  // lease_grant's (u64 id | i64 ttl_seconds), a lease_revoke's (u64 revision), or a refusal's
  // message; `changes`, if given, what a txn, an incr or a lease_revoke changed, for apply
  // observers and watches.
  //
  // An incr command is a transaction of one incr op, applied without a transaction's
  // machinery: the same refusals with the same messages, the same TTL kept, one revision.
  errc apply(std::uint64_t index, const command_view& cmd, std::string* reply = nullptr,
             change_list* changes = nullptr);

  // Answers a transaction that does not write (read_only()) from the current state: its reply
  // in `reply`, or the refusal's message with the error (compacted, future_revision). Its ttl
  // ops count from `now` on the cluster clock (0: clock()).
  errc read(const txn_view& t, std::string& reply, std::uint64_t now = 0) const;

  // The cluster clock: the largest stamp applied, in milliseconds; 0 before any.
  std::uint64_t clock() const noexcept { return clock_; }

  // The value of `key`, valid until the next mutation.
  std::optional<std::string_view> get(std::string_view key) const;
  const keyspace& keys() const noexcept { return ks_; }
  const lease_table& leases() const noexcept { return leases_; }

  std::uint64_t applied_index() const noexcept { return applied_index_; }
  std::uint64_t revision() const noexcept { return ks_.revision(); }
  std::uint64_t compacted_revision() const noexcept { return ks_.compacted(); }
  std::uint64_t key_count() const noexcept { return ks_.key_count(); }
  // Sum of the sizes of all live keys and values.
  std::uint64_t data_bytes() const noexcept { return ks_.data_bytes(); }

  // Sizes the point index for about `keys` keys in all, so that loading them does not rehash.
  void reserve(std::uint64_t keys) { ks_.reserve(keys); }

  // Restoring from a snapshot: the keys (restore_key, or restore_pair for snapshots written
  // before revisions: each pair becomes a key created at revision 1), then the revisions (with
  // none given, 1 and 1), then the index the image was taken at. Throws corruption_error.
  void restore_key(const captured_key& k) { ks_.restore_key(k); }
  void restore_pair(std::string_view key, std::string_view value);
  void restore_revisions(std::uint64_t revision, std::uint64_t compacted) { ks_.restore_revisions(revision, compacted); }
  void restore_index(std::uint64_t index) noexcept { applied_index_ = index; }
  void restore_clock(std::uint64_t clock) noexcept { clock_ = clock; }
  // The lease table (lease_table::encode()); false if malformed.
  bool restore_leases(std::string_view bytes) { return leases_.decode(bytes); }

  // A serialized batch of keys: `count` key records in the encoding of append_key_record().
  struct chunk {
    std::uint32_t count = 0;
    std::string keys;
  };
  using chunk_sink = std::function<void(chunk)>;

  // Starts a capture at applied_index() and revision(); `sink` receives every non-empty chunk.
  void begin_capture(chunk_sink sink);
  // Captures the next keys. Returns false once every key is captured, which also ends the
  // capture.
  bool capture_step();
  bool capturing() const noexcept { return ks_.capturing(); }

  // The same capture with the encoding on another thread (keyspace::capture_batch): on this
  // object's thread begin_batched_capture(), then pin_batch() and release_batch() in turn, then
  // end_batched_capture(); encode() of a pinned batch on any thread. The chunks of the batches,
  // in order, are the chunks capture_step() would produce, keys_per_batch at a time.
  static constexpr std::size_t keys_per_batch = 1024;
  void begin_batched_capture();
  bool pin_batch(keyspace::capture_batch& out) { return ks_.pin_batch(out, keys_per_batch); }
  static chunk encode(const keyspace::capture_batch& b);
  void release_batch() { ks_.release_batch(); }
  std::size_t pinned_batches() const noexcept { return ks_.pinned_batches(); }
  void end_batched_capture() { ks_.end_batched_capture(); }
  // Compacted history waiting to be freed, a bounded step at a time (keyspace::trim_step).
  bool trim_pending() const noexcept { return ks_.trim_pending(); }
  void trim_step(std::size_t max) { ks_.trim_step(max); }
  std::size_t history_queued() const noexcept { return ks_.history_queued(); }
  // The revision and compacted revision of the capture under way.
  std::uint64_t capture_revision() const noexcept { return ks_.capture_revision(); }
  std::uint64_t capture_compacted() const noexcept { return ks_.capture_compacted(); }
  std::uint64_t capture_clock() const noexcept { return capture_clock_; }

 private:
  errc apply_txn(std::string_view bytes, std::uint64_t now, std::string* reply, change_list* changes);
  errc apply_incr(std::string_view key, std::int64_t delta, std::string* reply, change_list* changes);
  // Stores `c.sum` as the value of `key` inside a write, with `c.expires` (the key's, read by the
  // same incr) and without a lease: an incr's change, checked already.
  void put_counter(std::string_view key, const counter& c, change_list* changes);
  errc apply_expire(const command_view& cmd, std::string* reply, change_list* changes);
  // Moves the clock to `now` if that is later.
  void advance_clock(std::uint64_t now) noexcept { clock_ = std::max(clock_, now); }
  errc apply_compact(std::uint64_t revision, std::string* reply);
  errc apply_lease_grant(const command_view& cmd, std::string* reply);
  errc apply_lease_revoke(std::uint64_t id, std::string* reply, change_list* changes);
  bool holds(const compare_view& c) const;
  // Checks what could refuse `ops` against the current state; the message goes to `reply`.
  errc check_ops(const std::vector<txn_op_view>& ops, std::uint64_t now, std::string* reply) const;
  void append_range(std::string& out, const txn_op_view& op) const;
  // A ttl op's answer at `now`.
  void append_ttl(std::string& out, std::string_view key, std::uint64_t now) const;

  keyspace ks_;
  lease_table leases_;
  std::uint64_t applied_index_ = 0;
  std::uint64_t clock_ = 0;
  std::uint64_t capture_clock_ = 0;
  chunk_sink capture_sink_;               // while capturing: the caller's sink
  std::shared_ptr<chunk> capture_chunk_;  // while capturing: the chunk being encoded
};

}  // namespace kv

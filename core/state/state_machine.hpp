#pragma once
// The key-value state machine: what committed log entries are applied to. The keys live in a
// multi-version keyspace (core/state/keyspace.hpp): every write that changes something takes the
// next revision, etcd v3's data model.
//
// History: until reads at past revisions and compaction requests exist on the wire, the state
// machine keeps `history_revisions` revisions of history (0 by default: none) and compacts as it
// applies, which every member does at the same entries.
//
// Point-in-time capture (for snapshots while writes continue): begin_capture() fixes the image
// at the current applied index and revision, and capture_step() serializes the next keys, in key
// order, with their versions (the encoding of append_key_record()). The keyspace keeps what the
// capture needs however writes and compactions interleave with it.
//
// Threading: not thread-safe; owned by the node's event-loop thread.

#include "core/base/error.hpp"
#include "core/model/command.hpp"
#include "core/state/keyspace.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kv {

// A key and its versions, as snapshot chunks store them:
//   u32 key_len | u32 versions | key | versions x (u64 create | u64 mod | u64 version | u32 value_len | value)
// oldest version first; version 0 is a tombstone.
void append_key_record(std::string& out, const captured_key& k);
// True if `bytes` holds exactly `count` well-formed key records.
bool valid_key_records(std::string_view bytes, std::uint32_t count) noexcept;
// Calls f(captured_key) for each of the `count` records in `bytes`, which must be valid.
void for_each_key_record(std::string_view bytes, std::uint32_t count, const std::function<void(const captured_key&)>& f);

class state_machine {
 public:
  state_machine() = default;
  state_machine(const state_machine&) = delete;
  state_machine& operator=(const state_machine&) = delete;
  state_machine(state_machine&&) = default;
  state_machine& operator=(state_machine&&) = default;

  // Applies `cmd`, the command of log entry `index` (which must be applied_index() + 1).
  // Returns errc::ok, or errc::not_found for a delete of a missing key.
  errc apply(std::uint64_t index, const command_view& cmd);

  // The value of `key`, valid until the next mutation.
  std::optional<std::string_view> get(std::string_view key) const;
  const keyspace& keys() const noexcept { return ks_; }

  std::uint64_t applied_index() const noexcept { return applied_index_; }
  std::uint64_t revision() const noexcept { return ks_.revision(); }
  std::uint64_t compacted_revision() const noexcept { return ks_.compacted(); }
  std::uint64_t key_count() const noexcept { return ks_.key_count(); }
  // Sum of the sizes of all live keys and values.
  std::uint64_t data_bytes() const noexcept { return ks_.data_bytes(); }

  // Revisions of history kept (see the top of this file); the same on every member.
  void set_history_revisions(std::uint64_t n) noexcept { history_revisions_ = n; }

  // Sizes the point index for about `keys` keys in all, so that loading them does not rehash.
  void reserve(std::uint64_t keys) { ks_.reserve(keys); }

  // Restoring from a snapshot: the keys (restore_key, or restore_pair for snapshots written
  // before revisions: each pair becomes a key created at revision 1), then the revisions (with
  // none given, 1 and 1), then the index the image was taken at. Throws corruption_error.
  void restore_key(const captured_key& k) { ks_.restore_key(k); }
  void restore_pair(std::string_view key, std::string_view value);
  void restore_revisions(std::uint64_t revision, std::uint64_t compacted) { ks_.restore_revisions(revision, compacted); }
  void restore_index(std::uint64_t index) noexcept { applied_index_ = index; }

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
  // The revision and compacted revision of the capture under way.
  std::uint64_t capture_revision() const noexcept { return ks_.capture_revision(); }
  std::uint64_t capture_compacted() const noexcept { return ks_.capture_compacted(); }

 private:
  void compact_history();

  keyspace ks_;
  std::uint64_t applied_index_ = 0;
  std::uint64_t history_revisions_ = 0;
};

}  // namespace kv

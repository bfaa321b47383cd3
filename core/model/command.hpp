#pragma once
// The commands a log entry carries and their binary encoding. Encoding is deterministic, and
// decoding validates every length, so a command that passes its record's CRC but is malformed
// (a bug, not a disk error) is reported, never applied half-way.
//
// Layout (little-endian):
//   noop:      u8 type
//   set:       u8 type | u32 key_len | key | value (the rest)
//   del:       u8 type | key (the rest)
//   bulk_set:  u8 type | u32 count | count x (u32 key_len | u32 value_len | key | value)
//   open_session: u8 type (the session id is the entry's log index)
//   in_session:   u8 type | u64 session | u64 seq | u64 first_unacked | a set, del, bulk_set, incr,
//                 txn, lease_grant or lease_revoke
//   txn:       u8 type | a transaction (core/model/txn.hpp)
//   txn_at:    u8 type | u64 now | a transaction: a txn the leader stamped with the cluster clock
//              (core/state/state_machine.hpp), for its TTLs; decoded as a txn with `now` set
//   expire:    u8 type | u64 now | u32 count | count x (u32 key_len | key): the leader's clock
//              reading, and keys whose expiry it found due; each is deleted if it still expires
//              at or before `now` (a later write may have moved it). Count 0: a clock checkpoint.
//   compact:   u8 type | u64 revision
//   incr:      u8 type | i64 delta | key (the rest, not empty): a transaction of one incr op
//              (core/model/txn.hpp) in a form that costs less to encode and apply; same meaning
//   lease_grant:      u8 type | u64 id (0: the next free one) | i64 ttl_seconds
//   lease_revoke:     u8 type | u64 id
//   lease_checkpoint: u8 type | u32 count | count x (u64 id | i64 remaining_ms)
//   changes:   u8 type | u32 count | count x (u8 deleted | u32 key_len | u32 value_len | key | value)
//              never in the log: what a transaction changed, as the store hands it to apply
//              observers (core/state/apply_observer.hpp), in the order it changed them

#include "core/base/error.hpp"

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace kv {

enum class command_type : std::uint8_t {
  noop = 0,
  set = 1,
  del = 2,
  bulk_set = 3,
  open_session = 4,
  in_session = 5,
  txn = 6,
  compact = 7,
  changes = 8,
  lease_grant = 9,
  lease_revoke = 10,
  lease_checkpoint = 11,
  txn_at = 12,
  expire = 13,
  incr = 14,
};

// A write's place in its client's session (core/state/sessions.hpp); session 0: none.
struct session_ref {
  std::uint64_t session = 0;
  std::uint64_t seq = 0;
  std::uint64_t first_unacked = 0;  // the lowest seq the client still waits for
};

struct kv_pair {
  std::string key;
  std::string value;
};

// A list of key/value pairs, as bulk_set and snapshot chunks store them:
//   count x (u32 key_len | u32 value_len | key | value)
void append_pair(std::string& out, std::string_view key, std::string_view value);
// True if `bytes` holds exactly `count` well-formed pairs.
bool valid_pairs(std::string_view bytes, std::uint32_t count) noexcept;
// Calls f(key, value) for each of the `count` pairs in `bytes`, which must be valid_pairs().
template <typename F>
void for_each_pair(std::string_view bytes, std::uint32_t count, F&& f);

std::string encode_noop();
std::string encode_set(std::string_view key, std::string_view value);
std::string encode_del(std::string_view key);
// `key` must not be empty.
std::string encode_incr(std::string_view key, std::int64_t delta);
std::string encode_bulk_set(std::span<const kv_pair> pairs);
std::string encode_open_session();
// `txn`: an encoded transaction (core/model/txn.hpp), checked by the caller.
// `now`: the cluster clock reading the leader stamps it with; 0: none (a txn without TTLs).
std::string encode_txn_command(std::string_view txn, std::uint64_t now = 0);
// `keys` may be empty (a clock checkpoint).
std::string encode_expire(std::uint64_t now, std::span<const std::string_view> keys);
std::string encode_compact(std::uint64_t revision);
std::string encode_lease_grant(std::uint64_t id, std::int64_t ttl_seconds);
std::string encode_lease_revoke(std::uint64_t id);
struct lease_remaining {
  std::uint64_t id = 0;
  std::int64_t remaining_ms = 0;
};
std::string encode_lease_checkpoint(std::span<const lease_remaining> checkpoints);

// A list of changes (see `changes` above), built one change at a time.
class change_list {
 public:
  void put(std::string_view key, std::string_view value);
  void erase(std::string_view key);
  void clear();
  bool empty() const noexcept { return count_ == 0; }
  // The encoded `changes` command.
  std::string_view command() const noexcept { return bytes_; }

 private:
  void add(bool deleted, std::string_view key, std::string_view value);
  std::string bytes_;
  std::uint32_t count_ = 0;
};

// Wraps an encoded set, del, bulk_set, incr, txn (or txn_at), lease_grant or lease_revoke in its
// session.
std::string encode_in_session(const session_ref& ref, std::string_view command);

// A decoded command; views point into the encoded bytes, which must outlive it.
struct command_view {
  command_type type = command_type::noop;  // never in_session: that is `session` below
  session_ref session;      // in_session: where the write belongs
  std::string_view key;    // set, del, incr
  std::string_view value;  // set
  std::uint32_t count = 0;  // bulk_set, changes: number of pairs or changes
  std::string_view pairs;   // bulk_set: the encoded pairs; changes: the encoded changes
  std::string_view txn;     // txn: the encoded transaction (not yet checked)
  std::uint64_t now = 0;    // txn (from a txn_at), expire: the cluster clock reading; 0: none
  std::uint64_t revision = 0;  // compact
  std::uint64_t lease = 0;     // lease_grant, lease_revoke: the lease's id
  std::int64_t ttl = 0;        // lease_grant: seconds
  std::int64_t delta = 0;      // incr: what it adds
  // lease_checkpoint: `count` x (u64 id | i64 remaining_ms) in `pairs`

  // Calls f(id, remaining_ms) for each checkpoint of a lease_checkpoint, in order.
  template <typename F>
  void for_each_checkpoint(F&& f) const;

  // Calls f(key) for each key of an expire, in order.
  template <typename F>
  void for_each_key(F&& f) const;

  // Calls f(key, value) for each pair of a bulk_set, in order.
  template <typename F>
  void for_each_pair(F&& f) const;
  // Calls f(deleted, key, value) for each change of a `changes`, in order.
  template <typename F>
  void for_each_change(F&& f) const;
};

// Returns the command or errc::corruption if the bytes are not a well-formed command.
result<command_view> decode_command(std::string_view bytes);

template <typename F>
void for_each_pair(std::string_view bytes, std::uint32_t count, F&& f) {
  const char* p = bytes.data();
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t klen;
    std::uint32_t vlen;
    std::memcpy(&klen, p, 4);
    std::memcpy(&vlen, p + 4, 4);
    f(std::string_view(p + 8, klen), std::string_view(p + 8 + klen, vlen));
    p += 8 + static_cast<std::size_t>(klen) + vlen;
  }
}

template <typename F>
void command_view::for_each_pair(F&& f) const {
  kv::for_each_pair(pairs, count, std::forward<F>(f));
}

template <typename F>
void command_view::for_each_checkpoint(F&& f) const {
  const char* p = pairs.data();
  for (std::uint32_t i = 0; i < count; ++i, p += 16) {
    std::uint64_t id;
    std::int64_t remaining;
    std::memcpy(&id, p, 8);
    std::memcpy(&remaining, p + 8, 8);
    f(id, remaining);
  }
}

template <typename F>
void command_view::for_each_key(F&& f) const {
  const char* p = pairs.data();
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t klen;
    std::memcpy(&klen, p, 4);
    f(std::string_view(p + 4, klen));
    p += 4 + static_cast<std::size_t>(klen);
  }
}

template <typename F>
void command_view::for_each_change(F&& f) const {
  const char* p = pairs.data();
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t klen;
    std::uint32_t vlen;
    std::memcpy(&klen, p + 1, 4);
    std::memcpy(&vlen, p + 5, 4);
    f(p[0] != 0, std::string_view(p + 9, klen), std::string_view(p + 9 + klen, vlen));
    p += 9 + static_cast<std::size_t>(klen) + vlen;
  }
}

}  // namespace kv

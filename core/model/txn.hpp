#pragma once
// Transactions, etcd v3's shape: `if (compares) then (ops) else (ops)`, atomic, one log entry.
// A range read, a delete-range, an increment and a multi-key read are transactions of one kind
// or another, so one encoding carries them all, on the wire and in the log.
//
// - A compare tests one key, or every key of a range ([key, end) in etcd's conventions, see
//   core/model/key_range.hpp), on its value, version, create_revision or mod_revision with
//   = != < >. As in etcd, a key that does not exist has version and revisions 0, and a compare
//   on the value of a key (or range) with no live key fails.
// - Ops: put (optionally answering the version it replaced), range, delete-range (optionally
//   answering the deleted versions) and incr (the value read as a decimal 64-bit integer, absent
//   = 0, plus `delta`; Redis's INCRBY). An op sees the ops before it in the same transaction.
// - Per-key expiry (Redis's TTLs): a put may give its key a TTL (op_ttl) or keep the one it has
//   (op_keep_ttl); otherwise a put clears it, as Redis's SET does. An incr keeps it. expire sets
//   a live key's TTL (ttl_ms > 0) or removes it (0, Redis's PERSIST) by writing the key again
//   with its value: a new version, seen by watches as a put. ttl reads what a key has left.
//   TTLs count from the moment the leader stamped the transaction on the cluster clock
//   (core/state/state_machine.hpp).
// - A branch may not write a key twice: two puts (or incrs) of one key, or a put inside a range
//   a delete-range of the same branch deletes, are refused, as etcd refuses them.
//
// Encoding (little-endian), shared by the protocol's txn request and the log's txn command:
//   txn:     u16 compares | compares x compare | u16 then_ops | ops | u16 else_ops | ops
//   compare: u8 target | u8 op | u32 key_len | key | u32 end_len | end | operand
//            operand: value: u32 len | bytes; otherwise u64
//   op:      u8 type | u8 flags | u32 key_len | key | u32 end_len | end | arguments
//            put: u32 value_len | value [| u64 lease, with op_lease] [| i64 ttl_ms, with op_ttl];
//            range: u64 revision | u64 limit; delete_range: none; incr: i64 delta;
//            expire: i64 ttl_ms; ttl: none
// and the answer to a transaction:
//   reply:   u64 revision | u8 succeeded | u16 results | results x (u8 type | result)
//            put: u8 has_prev | [kv];  range: u64 count | u8 more | u32 n | n x kv;
//            delete_range: u64 deleted | u32 n | n x kv (the previous versions, if asked);
//            incr, expire, ttl: i64 value (expire: 1 if it changed the key, else 0; ttl: the
//            milliseconds left, -1 for a key without a TTL, -2 for no such key, as Redis's PTTL)
//   kv:      u32 key_len | key | u32 value_len | value | u64 create | u64 mod | u64 version

#include "core/base/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kv {

enum class compare_target : std::uint8_t { value = 0, version = 1, create_revision = 2, mod_revision = 3 };
enum class compare_op : std::uint8_t { equal = 0, not_equal = 1, less = 2, greater = 3 };
enum class txn_op_type : std::uint8_t { put = 1, range = 2, delete_range = 3, incr = 4, expire = 5, ttl = 6 };

// Op flags.
inline constexpr std::uint8_t op_prev_kv = 1;     // put, delete_range: answer the replaced versions
inline constexpr std::uint8_t op_keys_only = 2;   // range
inline constexpr std::uint8_t op_count_only = 4;  // range
inline constexpr std::uint8_t op_descending = 8;  // range
inline constexpr std::uint8_t op_lease = 16;      // put: attaches the key to `lease` (set by make_put)
inline constexpr std::uint8_t op_ttl = 32;        // put: the key expires `ttl_ms` from the stamp
inline constexpr std::uint8_t op_keep_ttl = 64;   // put: the key keeps the expiry it has (Redis's KEEPTTL)
inline constexpr std::uint8_t op_known_flags = 127;

// TTL bounds, in milliseconds: etcd's longest lease TTL is the longest TTL.
inline constexpr std::int64_t max_ttl_ms = 9'000'000'000'000;

// `S` is std::string for a transaction a client builds, std::string_view for one decoded from
// bytes (which must outlive it).
template <typename S>
struct basic_compare {
  S key;
  S end;  // empty: the one key
  compare_target target = compare_target::version;
  compare_op op = compare_op::equal;
  S value;                  // target value
  std::uint64_t number = 0;  // the other targets
};

template <typename S>
struct basic_txn_op {
  txn_op_type type = txn_op_type::range;
  std::uint8_t flags = 0;
  S key;
  S end;  // range, delete_range: empty is the one key
  S value;                     // put
  std::uint64_t revision = 0;  // range: 0 is the current revision
  std::uint64_t limit = 0;     // range: 0 is no limit
  std::int64_t delta = 0;      // incr
  std::uint64_t lease = 0;     // put with op_lease: the lease the key is attached to
  std::int64_t ttl_ms = 0;     // put with op_ttl, expire: the TTL (expire: 0 removes it)
};

template <typename S>
struct basic_txn {
  std::vector<basic_compare<S>> compares;
  std::vector<basic_txn_op<S>> then_ops;
  std::vector<basic_txn_op<S>> else_ops;
};

using compare = basic_compare<std::string>;
using txn_op = basic_txn_op<std::string>;
using txn = basic_txn<std::string>;
using compare_view = basic_compare<std::string_view>;
using txn_op_view = basic_txn_op<std::string_view>;
using txn_view = basic_txn<std::string_view>;

// Builders for the ops clients use most.
// A put attached to `lease` (0: none, which also detaches the key from any lease, as in etcd).
txn_op make_put(std::string key, std::string value, bool prev_kv = false, std::uint64_t lease = 0);
txn_op make_range(std::string key, std::string end = {}, std::uint64_t limit = 0, std::uint64_t revision = 0);
txn_op make_delete_range(std::string key, std::string end = {}, bool prev_kv = false);
txn_op make_incr(std::string key, std::int64_t delta);
// A put whose key expires `ttl_ms` after the write (0: keeps the TTL the key has).
txn_op make_put_ttl(std::string key, std::string value, std::int64_t ttl_ms, bool prev_kv = false);
// Sets `key`'s TTL (ttl_ms > 0) or removes it (0).
txn_op make_expire(std::string key, std::int64_t ttl_ms);
txn_op make_ttl(std::string key);

void append_txn(std::string& out, const txn& t);
void append_txn(std::string& out, const txn_view& t);
std::string encode_txn(const txn& t);
// Decodes a whole transaction; nullopt if the bytes are malformed (a length past the end, an
// unknown target, op or type, unknown flags, bytes left over).
std::optional<txn_view> decode_txn(std::string_view bytes);

// Limits a node puts on transactions, from its configuration.
struct txn_limits {
  std::size_t max_ops = 128;  // compares, and ops of each branch (etcd's --max-txn-ops)
  std::size_t max_key_bytes = 4096;
  std::size_t max_value_bytes = 1u << 20;
};

// errc::ok, or why the node refuses `t` before it reaches the log (bad_request or too_large,
// with a message that names the compare or op): a key empty or too long, a value too large, an
// end before its key, too many ops, a key written twice in a branch. Checks only what does not
// depend on the stored data; the state machine refuses the rest (a revision that is compacted
// or in the future, an incr of a value that is not an integer or would overflow).
error_info check_txn(const txn_view& t, const txn_limits& limits);

// True if a branch gives a key a TTL or reads one: the transaction needs the cluster clock.
bool uses_clock(const txn_view& t) noexcept;

// True if neither branch writes: the transaction may be served as a read.
bool read_only(const txn_view& t) noexcept;
bool read_only(const txn& t) noexcept;

// ---- answers -----------------------------------------------------------------------------

// One version of a key as an answer carries it (owning).
struct kv_version {
  std::string key;
  std::string value;
  std::uint64_t create_revision = 0;
  std::uint64_t mod_revision = 0;
  std::uint64_t version = 0;
  friend bool operator==(const kv_version&, const kv_version&) = default;
};

struct op_result {
  txn_op_type type = txn_op_type::range;
  std::vector<kv_version> kvs;  // range: the keys; put: the previous version (0 or 1); delete_range: previous
  std::uint64_t count = 0;      // range: keys in the range; delete_range: keys deleted
  bool more = false;            // range
  std::int64_t value = 0;       // incr: the new value; expire, ttl: see the reply's encoding
};

struct txn_reply {
  std::uint64_t revision = 0;  // the revision the answer reflects (the transaction's, for a write)
  bool succeeded = true;       // the compares held: the then branch ran
  std::vector<op_result> results;
};

// Incremental encoding of a reply, for the state machine (no intermediate objects).
void append_reply_header(std::string& out, std::uint64_t revision, bool succeeded, std::uint16_t results);
void append_kv(std::string& out, std::string_view key, std::string_view value, std::uint64_t create,
               std::uint64_t mod, std::uint64_t version);
std::optional<txn_reply> decode_reply(std::string_view bytes);

// Parses `text` as Redis does a 64-bit integer: optional '-', decimal digits, no leading zeros
// (except "0"), no spaces, within int64. nullopt otherwise.
std::optional<std::int64_t> parse_int64(std::string_view text) noexcept;

const char* to_string(compare_target t) noexcept;
const char* to_string(compare_op o) noexcept;
const char* to_string(txn_op_type t) noexcept;

}  // namespace kv

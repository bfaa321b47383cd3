#pragma once
// kvnode's wire protocol: length-prefixed binary frames over TCP (see docs/protocol.md).
//
//   frame:  u32 length (of what follows) | u8 version | u8 code | u16 flags | u64 id | body
//
// In a request `code` is the operation; in a response it is the status, and `id` echoes the
// request's id so that a client may pipeline many requests on one connection. All integers are
// little-endian.
//
// Everything here is pure: it parses and builds bytes, and never touches a socket.

#include "core/model/command.hpp"
#include "core/base/error.hpp"
#include "core/model/query.hpp"
#include "core/model/txn.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kv::protocol {

inline constexpr std::uint8_t version = 1;
inline constexpr std::size_t length_bytes = 4;
inline constexpr std::size_t header_bytes = 12;  // version, code, flags, id
inline constexpr std::size_t min_frame_length = header_bytes;
// Where each header field starts, counted from the end of the length prefix.
inline constexpr std::size_t version_at = 0;
inline constexpr std::size_t code_at = 1;
inline constexpr std::size_t flags_at = 2;
inline constexpr std::size_t id_at = 4;

enum class op : std::uint8_t {
  ping = 1,
  get = 2,
  set = 3,
  del = 4,
  bulk_set = 5,
  status = 6,
  open_session = 7,  // starts a client session for exactly-once writes; answers its id
  txn = 8,           // a transaction (core/model/txn.hpp): range reads, writes, compare-and-set
  compact = 9,       // drops the history below a revision; answers the log index
  watch = 10,           // starts a watch: a stream of events frames carrying this request's id
  watch_cancel = 11,    // ends a watch of this connection
  watch_progress = 12,  // every watch of this connection reports the revision it is caught up to
  search = 16,       // full-text query over values (core/model/query.hpp)
  similar = 17,      // n-gram similarity query over values
  lease_grant = 64,        // creates a lease (core/state/leases.hpp)
  lease_revoke = 65,       // ends a lease and deletes its keys
  lease_keepalive = 66,    // renews a lease for a full TTL (leader only)
  lease_time_to_live = 67,  // what a lease has left, and its keys (leader only)
  lease_list = 68,          // the ids of every lease
  // 16..31 are reserved for search, 32..63 for cluster operations, 64..79 for leases.
};

enum class status : std::uint8_t {
  ok = 0,
  not_found = 1,
  bad_request = 2,
  too_large = 3,
  not_leader = 4,
  unavailable = 5,
  internal = 6,
  timed_out = 7,
  session_expired = 8,
  no_space = 9,  // the node's disk is full: the write was refused and not applied
  compacted = 10,        // the revision asked for was compacted; the message names the oldest readable one
  future_revision = 11,  // the revision asked for is beyond the current one
  events = 12,           // a watch's events, or its progress (no events): see watch below
};

// Request flags.
inline constexpr std::uint16_t flag_stale_read = 1;  // reads: serve from local state, maybe stale
// Writes: the body starts with u64 session | u64 seq | u64 first_unacked (see session_prefix).
inline constexpr std::uint16_t flag_session = 2;
// search, similar: their min_index field is a revision (as transactions answer), not a log index.
inline constexpr std::uint16_t flag_min_revision = 4;
inline constexpr std::size_t session_prefix_bytes = 24;
// Response flag of an events frame: the next events frame of the same watch continues this one's
// last revision (a revision too large for one frame); a client joins them.
inline constexpr std::uint16_t flag_continued = 1;

const char* to_string(op o) noexcept;
bool is_known(op o) noexcept;
status to_status(std::error_code ec) noexcept;
errc to_errc(status s) noexcept;
// The status's name as the docs spell it ("not_leader"), or "status_N" for one this build does not know.
std::string status_name(status s);

struct frame {
  std::uint8_t version = 0;
  std::uint8_t code = 0;
  std::uint16_t flags = 0;
  std::uint64_t id = 0;
  std::string_view body;
  std::size_t size = 0;  // bytes of the whole frame, length prefix included
};

enum class parse_status : std::uint8_t {
  ok,          // a whole frame is at the front of the buffer
  incomplete,  // more bytes are needed (`needed` says how many the frame has in all, once known)
  too_large,   // the length prefix exceeds the limit: refuse before buffering the body
  malformed,   // the length prefix is below the header size
};

struct parse_result {
  parse_status status = parse_status::incomplete;
  frame f;
  std::uint64_t declared = 0;  // the length prefix, once 4 bytes are there
};

// Parses the frame at the front of `buf`. `max_frame` bounds the length prefix.
parse_result parse_frame(std::string_view buf, std::uint32_t max_frame) noexcept;

// The id of the frame at the front of `buf` once its header is there, whatever its length prefix
// says (to answer a frame refused before its body is read); nullopt before that.
std::optional<std::uint64_t> peek_id(std::string_view buf) noexcept;

// ---- building frames --------------------------------------------------------------------

// Appends a frame header to `out` and returns where the frame starts; append the body, then
// call finish_frame() with that position to fill in the length.
std::size_t begin_frame(std::string& out, std::uint8_t code, std::uint16_t flags, std::uint64_t id);
void finish_frame(std::string& out, std::size_t start);

void append_u32(std::string& out, std::uint32_t v);
void append_u64(std::string& out, std::uint64_t v);
void append_str16(std::string& out, std::string_view s);  // u16 length + bytes (truncated at 65535)

// Requests.
void request_ping(std::string& out, std::uint64_t id);
void request_get(std::string& out, std::uint64_t id, std::string_view key, std::uint16_t flags = 0);
// Writes carry `session` (exactly-once) when it is given.
void request_set(std::string& out, std::uint64_t id, std::string_view key, std::string_view value,
                 const session_ref* session = nullptr);
void request_del(std::string& out, std::uint64_t id, std::string_view key, const session_ref* session = nullptr);
void request_bulk_set(std::string& out, std::uint64_t id, std::span<const std::pair<std::string, std::string>> pairs,
                      const session_ref* session = nullptr);
void request_open_session(std::string& out, std::uint64_t id);
void request_status(std::string& out, std::uint64_t id);
// `txn`: an encoded transaction. One that writes may carry a session; one that only reads may
// carry flag_stale_read.
void request_txn(std::string& out, std::uint64_t id, std::string_view txn, const session_ref* session = nullptr,
                 std::uint16_t flags = 0);
void request_compact(std::string& out, std::uint64_t id, std::uint64_t revision);
// Search and similar take flag_stale_read like get; `min_index` 0: no wait.
void request_search(std::string& out, std::uint64_t id, const search::text_query& q, std::uint64_t min_index,
                    std::uint16_t flags = 0);
void request_similar(std::string& out, std::uint64_t id, const search::similar_query& q, std::uint64_t min_index,
                     std::uint16_t flags = 0);

// A watch of the keys in [key, end) (etcd's range conventions, core/model/key_range.hpp) from
// `start_revision` (0: the next write's). Its id is the request's frame id, unique among the
// connection's watches.
struct watch_request {
  std::string_view key;
  std::string_view end;
  std::uint64_t start_revision = 0;
  bool no_put = false;     // filters: report no puts / no deletes
  bool no_delete = false;
  bool prev_kv = false;          // each event carries the version it replaced
  bool progress_notify = false;  // an idle watch is told its revision periodically
};
void request_watch(std::string& out, std::uint64_t id, const watch_request& w);
void request_watch_cancel(std::string& out, std::uint64_t id, std::uint64_t watch_id);
void request_watch_progress(std::string& out, std::uint64_t id);

// Leases. A grant or revoke may carry a session like any write.
void request_lease_grant(std::string& out, std::uint64_t id, std::int64_t ttl_seconds, std::uint64_t lease,
                         const session_ref* session = nullptr);
void request_lease_revoke(std::string& out, std::uint64_t id, std::uint64_t lease, const session_ref* session = nullptr);
void request_lease_keepalive(std::string& out, std::uint64_t id, std::uint64_t lease);
void request_lease_time_to_live(std::string& out, std::uint64_t id, std::uint64_t lease, bool keys);
void request_lease_list(std::string& out, std::uint64_t id);

// Responses.
void respond_ok(std::string& out, std::uint64_t id);
// compact (its log index), open_session (the session's id): one u64.
void respond_index(std::string& out, std::uint64_t id, std::uint64_t index);
// What set, del and bulk_set answer: u64 index | u64 revision.
struct write_reply {
  std::uint64_t index = 0;     // the log index the write was applied at
  std::uint64_t revision = 0;  // the keyspace's revision when the node answered (see docs/protocol.md)
};
void respond_write(std::string& out, std::uint64_t id, const write_reply& r);
void respond_value(std::string& out, std::uint64_t id, std::string_view value);
// search, similar: u64 applied_index | u64 total | u32 count | count x (f64 score | u32 key_len | key).
void respond_search(std::string& out, std::uint64_t id, const search::search_answer& a);
// Any status but ok: u16 message | u16 leader address.
void respond_error(std::string& out, std::uint64_t id, status s, std::string_view message,
                   std::string_view leader = {});

// A watch's events frame: begin_events(), then append_event() for each event, then
// finish_events(). `revision`: the watch has been sent every change of its range up to it (the
// last event's revision; with no events, a progress notification).
struct kv_fields {
  std::string_view key;
  std::string_view value;
  std::uint64_t create_revision = 0;
  std::uint64_t mod_revision = 0;
  std::uint64_t version = 0;
};
std::size_t begin_events(std::string& out, std::uint64_t watch_id);
void append_event(std::string& out, bool deleted, const kv_fields& kv, const kv_fields* prev);
void finish_events(std::string& out, std::size_t start, std::uint64_t revision, std::uint32_t count, bool continued);
// The last frame of a watch the node ended: an error (compacted: `compact_revision` is the oldest
// revision the watch could restart from; 0 for other errors).
void respond_watch_end(std::string& out, std::uint64_t watch_id, status s, std::string_view message,
                       std::uint64_t compact_revision);

// ---- request bodies ---------------------------------------------------------------------

// A write with flag_session: takes the session prefix off the front of `body`. nullopt if the
// prefix is missing or names session or seq 0.
std::optional<session_ref> take_session_prefix(std::string_view& body) noexcept;

struct set_request {
  std::string_view key;
  std::string_view value;
};
// set: u32 key_len | key | value.
std::optional<set_request> parse_set(std::string_view body) noexcept;

// bulk_set: u32 count | count x (u32 key_len | u32 value_len | key | value). nullopt unless the
// body is well formed.
struct bulk_set_request {
  std::uint32_t count = 0;
  std::string_view pairs;  // the body after the count
};
std::optional<bulk_set_request> parse_bulk_set(std::string_view body) noexcept;

// search: u8 mode | u32 limit | u32 offset | u64 min_index | u16 prefix_len | key prefix |
//         u16 term_count | term_count x (u16 len | term).
// similar: u32 k | f64 threshold | u64 min_index | text (the rest).
// nullopt if the body is malformed (including an unknown mode); values are checked by the index.
struct search_request {
  search::text_query query;
  std::uint64_t min_index = 0;
};
std::optional<search_request> parse_search(std::string_view body);
struct similar_request {
  search::similar_query query;
  std::uint64_t min_index = 0;
};
std::optional<similar_request> parse_similar(std::string_view body);

// compact: u64 revision. nullopt unless the body is exactly that.
std::optional<std::uint64_t> parse_compact(std::string_view body) noexcept;

// watch: u8 filters (1 no_put, 2 no_delete, 4 prev_kv, 8 progress_notify) | u64 start_revision |
// u32 key_len | key | end (the rest). nullopt if malformed or an unknown filter bit is set.
std::optional<watch_request> parse_watch(std::string_view body) noexcept;
// watch_cancel: u64 watch_id. nullopt unless the body is exactly that.
std::optional<std::uint64_t> parse_watch_cancel(std::string_view body) noexcept;

// lease_grant: i64 ttl_seconds | u64 lease (0: the node picks). nullopt unless exactly that.
struct lease_grant_request {
  std::int64_t ttl_seconds = 0;
  std::uint64_t lease = 0;
};
std::optional<lease_grant_request> parse_lease_grant(std::string_view body) noexcept;
// lease_time_to_live: u64 lease | u8 keys (0 or 1).
struct lease_time_to_live_request {
  std::uint64_t lease = 0;
  bool keys = false;
};
std::optional<lease_time_to_live_request> parse_lease_time_to_live(std::string_view body) noexcept;
// lease_revoke, lease_keepalive: u64 lease — parse_compact() reads it.

// ---- response bodies --------------------------------------------------------------------

// The leading u64 of a one-u64 answer (compact, open_session) or of a write_reply (its index);
// nullopt for any other size.
std::optional<std::uint64_t> parse_index(std::string_view body) noexcept;
// set, del, bulk_set: nullopt unless the body is exactly a write_reply.
std::optional<write_reply> parse_write_reply(std::string_view body) noexcept;
struct error_body {
  std::string message;
  std::string leader;
  std::uint64_t compact_revision = 0;  // a watch's end frame (respond_watch_end)
};
error_body parse_error(std::string_view body);
std::optional<search::search_answer> parse_search_answer(std::string_view body);

// An events frame's body: u64 revision | u32 count | count x (u8 type (0 put, 1 delete) |
// u8 has_prev | kv | prev kv if has_prev), each kv as a transaction's reply encodes it.
struct watch_event {
  bool deleted = false;
  kv_version kv;  // a delete: the key, empty value, mod_revision = the delete's revision
  std::optional<kv_version> prev;
  friend bool operator==(const watch_event&, const watch_event&) = default;
};
struct events_body {
  std::uint64_t revision = 0;
  std::vector<watch_event> events;
};
std::optional<events_body> parse_events(std::string_view body);

// Lease answers. grant: u64 lease | i64 ttl_seconds. keepalive: i64 ttl_seconds.
// time_to_live: i64 ttl_seconds | i64 remaining_ms | u32 n | n x (u32 len | key).
// list: u32 n | n x u64 lease.
struct lease_granted {
  std::uint64_t lease = 0;
  std::int64_t ttl_seconds = 0;
};
std::optional<lease_granted> parse_lease_granted(std::string_view body) noexcept;
struct lease_time_left {
  std::int64_t ttl_seconds = 0;
  std::int64_t remaining_ms = 0;
  std::vector<std::string> keys;
};
void respond_lease_time_to_live(std::string& out, std::uint64_t id, const lease_time_left& t);
std::optional<lease_time_left> parse_lease_time_left(std::string_view body);
void respond_lease_list(std::string& out, std::uint64_t id, const std::vector<std::uint64_t>& leases);
std::optional<std::vector<std::uint64_t>> parse_lease_list(std::string_view body);

// Status: u16 field count | fields, each u8 name_len | name | u8 type | value, where type 0 is a
// u64 and type 1 a string (u16 length | bytes). New fields may appear in any version.
struct status_field {
  std::string name;
  std::variant<std::uint64_t, std::string> value;
};
void append_status_fields(std::string& out, const std::vector<status_field>& fields);
void respond_status(std::string& out, std::uint64_t id, const std::vector<status_field>& fields);
std::optional<std::vector<status_field>> parse_status_fields(std::string_view body);

}  // namespace kv::protocol

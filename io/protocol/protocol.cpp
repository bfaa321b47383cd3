#include "io/protocol/protocol.hpp"

#include "core/base/bytes.hpp"
#include "core/model/command.hpp"

#include <algorithm>

namespace kv::protocol {

const char* to_string(op o) noexcept {
  switch (o) {
    case op::ping: return "ping";
    case op::get: return "get";
    case op::set: return "set";
    case op::del: return "del";
    case op::bulk_set: return "bulk_set";
    case op::status: return "status";
    case op::open_session: return "open_session";
    case op::txn: return "txn";
    case op::compact: return "compact";
    case op::watch: return "watch";
    case op::watch_cancel: return "watch_cancel";
    case op::watch_progress: return "watch_progress";
    case op::search: return "search";
    case op::similar: return "similar";
    case op::lease_grant: return "lease_grant";
    case op::lease_revoke: return "lease_revoke";
    case op::lease_keepalive: return "lease_keepalive";
    case op::lease_time_to_live: return "lease_time_to_live";
    case op::lease_list: return "lease_list";
  }
  return "unknown";
}

bool is_known(op o) noexcept {
  return (o >= op::ping && o <= op::watch_progress) || o == op::search || o == op::similar ||
         (o >= op::lease_grant && o <= op::lease_list);
}

status to_status(std::error_code ec) noexcept {
  if (!ec) return status::ok;
  if (ec.category() != error_category()) return status::internal;
  switch (static_cast<errc>(ec.value())) {
    case errc::ok: return status::ok;
    case errc::not_found: return status::not_found;
    case errc::bad_request: return status::bad_request;
    case errc::too_large: return status::too_large;
    case errc::not_leader: return status::not_leader;
    case errc::unavailable: return status::unavailable;
    case errc::timed_out: return status::timed_out;
    case errc::session_expired: return status::session_expired;
    case errc::no_space: return status::no_space;
    case errc::compacted: return status::compacted;
    case errc::future_revision: return status::future_revision;
    case errc::internal:
    case errc::corruption: return status::internal;
  }
  return status::internal;
}

errc to_errc(status s) noexcept {
  switch (s) {
    case status::ok: return errc::ok;
    case status::not_found: return errc::not_found;
    case status::bad_request: return errc::bad_request;
    case status::too_large: return errc::too_large;
    case status::not_leader: return errc::not_leader;
    case status::unavailable: return errc::unavailable;
    case status::internal: return errc::internal;
    case status::timed_out: return errc::timed_out;
    case status::session_expired: return errc::session_expired;
    case status::no_space: return errc::no_space;
    case status::compacted: return errc::compacted;
    case status::future_revision: return errc::future_revision;
    case status::events: return errc::internal;  // not an error: never asked
  }
  return errc::internal;
}

std::string status_name(status s) {
  switch (s) {
    case status::ok: return "ok";
    case status::not_found: return "not_found";
    case status::bad_request: return "bad_request";
    case status::too_large: return "too_large";
    case status::not_leader: return "not_leader";
    case status::unavailable: return "unavailable";
    case status::internal: return "internal";
    case status::timed_out: return "timed_out";
    case status::session_expired: return "session_expired";
    case status::no_space: return "no_space";
    case status::compacted: return "compacted";
    case status::future_revision: return "future_revision";
    case status::events: return "events";
  }
  return "status_" + std::to_string(static_cast<int>(s));
}

parse_result parse_frame(std::string_view buf, std::uint32_t max_frame) noexcept {
  parse_result r;
  if (buf.size() < length_bytes) return r;
  r.declared = get_fixed<std::uint32_t>(buf.data());
  if (r.declared > max_frame) {
    r.status = parse_status::too_large;
    return r;
  }
  if (r.declared < min_frame_length) {
    r.status = parse_status::malformed;
    return r;
  }
  if (buf.size() < length_bytes + r.declared) return r;
  const char* h = buf.data() + length_bytes;
  r.f.version = static_cast<std::uint8_t>(h[version_at]);
  r.f.code = static_cast<std::uint8_t>(h[code_at]);
  r.f.flags = get_fixed<std::uint16_t>(h + flags_at);
  r.f.id = get_fixed<std::uint64_t>(h + id_at);
  r.f.body = buf.substr(length_bytes + header_bytes, r.declared - header_bytes);
  r.f.size = length_bytes + r.declared;
  r.status = parse_status::ok;
  return r;
}

std::optional<std::uint64_t> peek_id(std::string_view buf) noexcept {
  if (buf.size() < length_bytes + header_bytes) return std::nullopt;
  return get_fixed<std::uint64_t>(buf.data() + length_bytes + id_at);
}

std::size_t begin_frame(std::string& out, std::uint8_t code, std::uint16_t flags, std::uint64_t id) {
  auto start = out.size();
  out.resize(start + length_bytes + header_bytes);
  char* h = out.data() + start + length_bytes;
  h[version_at] = static_cast<char>(version);
  h[code_at] = static_cast<char>(code);
  put_fixed<std::uint16_t>(h + flags_at, flags);
  put_fixed<std::uint64_t>(h + id_at, id);
  return start;
}

void finish_frame(std::string& out, std::size_t start) {
  put_fixed<std::uint32_t>(out.data() + start, static_cast<std::uint32_t>(out.size() - start - length_bytes));
}

void append_u32(std::string& out, std::uint32_t v) { append_fixed<std::uint32_t>(out, v); }
void append_u64(std::string& out, std::uint64_t v) { append_fixed<std::uint64_t>(out, v); }

void append_str16(std::string& out, std::string_view s) {
  s = s.substr(0, 0xFFFF);
  append_fixed<std::uint16_t>(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

namespace {
void request_with_key(std::string& out, op o, std::uint64_t id, std::string_view key, std::uint16_t flags = 0) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(o), flags, id);
  out.append(key);
  finish_frame(out, start);
}
}  // namespace

void request_ping(std::string& out, std::uint64_t id) {
  finish_frame(out, begin_frame(out, static_cast<std::uint8_t>(op::ping), 0, id));
}

void request_get(std::string& out, std::uint64_t id, std::string_view key, std::uint16_t flags) {
  request_with_key(out, op::get, id, key, flags);
}

namespace {
// Starts a write request's frame, with its session prefix if it has one.
std::size_t begin_write(std::string& out, op o, std::uint64_t id, const session_ref* session,
                        std::uint16_t flags = 0) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(o), flags | (session ? flag_session : 0), id);
  if (session) {
    append_u64(out, session->session);
    append_u64(out, session->seq);
    append_u64(out, session->first_unacked);
  }
  return start;
}
}  // namespace

std::optional<session_ref> take_session_prefix(std::string_view& body) noexcept {
  if (body.size() < session_prefix_bytes) return std::nullopt;
  byte_reader in(body.substr(0, session_prefix_bytes));
  session_ref r;
  r.session = in.fixed<std::uint64_t>();
  r.seq = in.fixed<std::uint64_t>();
  r.first_unacked = in.fixed<std::uint64_t>();
  if (r.session == 0 || r.seq == 0) return std::nullopt;
  body.remove_prefix(session_prefix_bytes);
  return r;
}

void request_open_session(std::string& out, std::uint64_t id) {
  finish_frame(out, begin_frame(out, static_cast<std::uint8_t>(op::open_session), 0, id));
}

void request_set(std::string& out, std::uint64_t id, std::string_view key, std::string_view value,
                 const session_ref* session) {
  auto start = begin_write(out, op::set, id, session);
  append_u32(out, static_cast<std::uint32_t>(key.size()));
  out.append(key);
  out.append(value);
  finish_frame(out, start);
}

void request_del(std::string& out, std::uint64_t id, std::string_view key, const session_ref* session) {
  auto start = begin_write(out, op::del, id, session);
  out.append(key);
  finish_frame(out, start);
}

void request_bulk_set(std::string& out, std::uint64_t id, std::span<const std::pair<std::string, std::string>> pairs,
                      const session_ref* session) {
  auto start = begin_write(out, op::bulk_set, id, session);
  append_u32(out, static_cast<std::uint32_t>(pairs.size()));
  for (const auto& [k, v] : pairs) append_pair(out, k, v);
  finish_frame(out, start);
}

void request_txn(std::string& out, std::uint64_t id, std::string_view txn, const session_ref* session,
                 std::uint16_t flags) {
  auto start = begin_write(out, op::txn, id, session, flags);
  out.append(txn);
  finish_frame(out, start);
}

void request_compact(std::string& out, std::uint64_t id, std::uint64_t revision) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(op::compact), 0, id);
  append_u64(out, revision);
  finish_frame(out, start);
}

std::optional<std::uint64_t> parse_compact(std::string_view body) noexcept {
  if (body.size() != 8) return std::nullopt;
  return get_fixed<std::uint64_t>(body.data());
}

namespace {
constexpr std::uint8_t filter_no_put = 1;
constexpr std::uint8_t filter_no_delete = 2;
constexpr std::uint8_t filter_prev_kv = 4;
constexpr std::uint8_t filter_progress = 8;
constexpr std::uint8_t known_filters = 15;
}  // namespace

void request_watch(std::string& out, std::uint64_t id, const watch_request& w) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(op::watch), 0, id);
  std::uint8_t filters = (w.no_put ? filter_no_put : 0) | (w.no_delete ? filter_no_delete : 0) |
                         (w.prev_kv ? filter_prev_kv : 0) | (w.progress_notify ? filter_progress : 0);
  out.push_back(static_cast<char>(filters));
  append_u64(out, w.start_revision);
  append_u32(out, static_cast<std::uint32_t>(w.key.size()));
  out.append(w.key);
  out.append(w.end);
  finish_frame(out, start);
}

std::optional<watch_request> parse_watch(std::string_view body) noexcept {
  byte_reader in(body);
  auto filters = in.fixed<std::uint8_t>();
  watch_request w;
  w.start_revision = in.fixed<std::uint64_t>();
  w.key = in.bytes(in.fixed<std::uint32_t>());
  if (!in.ok() || (filters & ~known_filters) != 0) return std::nullopt;
  w.end = in.rest();
  w.no_put = (filters & filter_no_put) != 0;
  w.no_delete = (filters & filter_no_delete) != 0;
  w.prev_kv = (filters & filter_prev_kv) != 0;
  w.progress_notify = (filters & filter_progress) != 0;
  return w;
}

void request_watch_cancel(std::string& out, std::uint64_t id, std::uint64_t watch_id) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(op::watch_cancel), 0, id);
  append_u64(out, watch_id);
  finish_frame(out, start);
}

std::optional<std::uint64_t> parse_watch_cancel(std::string_view body) noexcept { return parse_compact(body); }

void request_watch_progress(std::string& out, std::uint64_t id) {
  finish_frame(out, begin_frame(out, static_cast<std::uint8_t>(op::watch_progress), 0, id));
}

std::size_t begin_events(std::string& out, std::uint64_t watch_id) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(status::events), 0, watch_id);
  out.resize(out.size() + 12);  // revision and count, filled in by finish_events
  return start;
}

void append_event(std::string& out, bool deleted, const kv_fields& kv, const kv_fields* prev) {
  out.push_back(deleted ? 1 : 0);
  out.push_back(prev != nullptr ? 1 : 0);
  append_kv(out, kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version);
  if (prev) append_kv(out, prev->key, prev->value, prev->create_revision, prev->mod_revision, prev->version);
}

void finish_events(std::string& out, std::size_t start, std::uint64_t revision, std::uint32_t count, bool continued) {
  char* h = out.data() + start + length_bytes;
  put_fixed<std::uint16_t>(h + flags_at, continued ? flag_continued : 0);
  put_fixed<std::uint64_t>(h + header_bytes, revision);
  put_fixed<std::uint32_t>(h + header_bytes + 8, count);
  finish_frame(out, start);
}

void respond_watch_end(std::string& out, std::uint64_t watch_id, status s, std::string_view message,
                       std::uint64_t compact_revision) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(s), 0, watch_id);
  append_str16(out, message);
  append_str16(out, {});
  append_u64(out, compact_revision);
  finish_frame(out, start);
}

namespace {
bool read_event_kv(byte_reader& in, kv_version& v) {
  v.key = std::string(in.bytes(in.fixed<std::uint32_t>()));
  v.value = std::string(in.bytes(in.fixed<std::uint32_t>()));
  v.create_revision = in.fixed<std::uint64_t>();
  v.mod_revision = in.fixed<std::uint64_t>();
  v.version = in.fixed<std::uint64_t>();
  return in.ok();
}
}  // namespace

std::optional<events_body> parse_events(std::string_view body) {
  byte_reader in(body);
  events_body b;
  b.revision = in.fixed<std::uint64_t>();
  auto count = in.fixed<std::uint32_t>();
  if (!in.ok() || count > in.remaining() / 34) return std::nullopt;  // an event takes 34 bytes at least
  b.events.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    watch_event e;
    auto type = in.fixed<std::uint8_t>();
    auto has_prev = in.fixed<std::uint8_t>();
    if (!in.ok() || type > 1 || has_prev > 1 || !read_event_kv(in, e.kv)) return std::nullopt;
    e.deleted = type == 1;
    if (has_prev) {
      e.prev.emplace();
      if (!read_event_kv(in, *e.prev)) return std::nullopt;
    }
    b.events.push_back(std::move(e));
  }
  if (in.remaining() != 0) return std::nullopt;
  return b;
}

void request_lease_grant(std::string& out, std::uint64_t id, std::int64_t ttl_seconds, std::uint64_t lease,
                         const session_ref* session) {
  auto start = begin_write(out, op::lease_grant, id, session);
  append_fixed<std::int64_t>(out, ttl_seconds);
  append_u64(out, lease);
  finish_frame(out, start);
}

void request_lease_revoke(std::string& out, std::uint64_t id, std::uint64_t lease, const session_ref* session) {
  auto start = begin_write(out, op::lease_revoke, id, session);
  append_u64(out, lease);
  finish_frame(out, start);
}

void request_lease_keepalive(std::string& out, std::uint64_t id, std::uint64_t lease) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(op::lease_keepalive), 0, id);
  append_u64(out, lease);
  finish_frame(out, start);
}

void request_lease_time_to_live(std::string& out, std::uint64_t id, std::uint64_t lease, bool keys) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(op::lease_time_to_live), 0, id);
  append_u64(out, lease);
  out.push_back(keys ? 1 : 0);
  finish_frame(out, start);
}

void request_lease_list(std::string& out, std::uint64_t id) {
  finish_frame(out, begin_frame(out, static_cast<std::uint8_t>(op::lease_list), 0, id));
}

std::optional<lease_grant_request> parse_lease_grant(std::string_view body) noexcept {
  if (body.size() != 16) return std::nullopt;
  lease_grant_request r;
  r.ttl_seconds = get_fixed<std::int64_t>(body.data());
  r.lease = get_fixed<std::uint64_t>(body.data() + 8);
  return r;
}

std::optional<lease_time_to_live_request> parse_lease_time_to_live(std::string_view body) noexcept {
  if (body.size() != 9 || static_cast<std::uint8_t>(body[8]) > 1) return std::nullopt;
  lease_time_to_live_request r;
  r.lease = get_fixed<std::uint64_t>(body.data());
  r.keys = body[8] != 0;
  return r;
}

std::optional<lease_granted> parse_lease_granted(std::string_view body) noexcept {
  if (body.size() != 16) return std::nullopt;
  lease_granted g;
  g.lease = get_fixed<std::uint64_t>(body.data());
  g.ttl_seconds = get_fixed<std::int64_t>(body.data() + 8);
  return g;
}

void respond_lease_time_to_live(std::string& out, std::uint64_t id, const lease_time_left& t) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(status::ok), 0, id);
  append_fixed<std::int64_t>(out, t.ttl_seconds);
  append_fixed<std::int64_t>(out, t.remaining_ms);
  append_u32(out, static_cast<std::uint32_t>(t.keys.size()));
  for (const auto& k : t.keys) {
    append_u32(out, static_cast<std::uint32_t>(k.size()));
    out.append(k);
  }
  finish_frame(out, start);
}

std::optional<lease_time_left> parse_lease_time_left(std::string_view body) {
  byte_reader in(body);
  lease_time_left t;
  t.ttl_seconds = in.fixed<std::int64_t>();
  t.remaining_ms = in.fixed<std::int64_t>();
  auto n = in.fixed<std::uint32_t>();
  if (!in.ok() || n > in.remaining() / 4) return std::nullopt;
  for (std::uint32_t i = 0; i < n; ++i) {
    auto k = in.bytes(in.fixed<std::uint32_t>());
    if (!in.ok()) return std::nullopt;
    t.keys.emplace_back(k);
  }
  if (in.remaining() != 0) return std::nullopt;
  return t;
}

void respond_lease_list(std::string& out, std::uint64_t id, const std::vector<std::uint64_t>& leases) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(status::ok), 0, id);
  append_u32(out, static_cast<std::uint32_t>(leases.size()));
  for (auto l : leases) append_u64(out, l);
  finish_frame(out, start);
}

std::optional<std::vector<std::uint64_t>> parse_lease_list(std::string_view body) {
  byte_reader in(body);
  auto n = in.fixed<std::uint32_t>();
  if (!in.ok() || in.remaining() != static_cast<std::size_t>(n) * 8) return std::nullopt;
  std::vector<std::uint64_t> out(n);
  for (auto& l : out) l = in.fixed<std::uint64_t>();
  return out;
}

void request_status(std::string& out, std::uint64_t id) {
  finish_frame(out, begin_frame(out, static_cast<std::uint8_t>(op::status), 0, id));
}

void respond_ok(std::string& out, std::uint64_t id) {
  finish_frame(out, begin_frame(out, static_cast<std::uint8_t>(status::ok), 0, id));
}

void respond_status(std::string& out, std::uint64_t id, const std::vector<status_field>& fields) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(status::ok), 0, id);
  append_status_fields(out, fields);
  finish_frame(out, start);
}

void respond_index(std::string& out, std::uint64_t id, std::uint64_t index) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(status::ok), 0, id);
  append_u64(out, index);
  finish_frame(out, start);
}

void respond_write(std::string& out, std::uint64_t id, const write_reply& r) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(status::ok), 0, id);
  append_u64(out, r.index);
  append_u64(out, r.revision);
  finish_frame(out, start);
}

void respond_value(std::string& out, std::uint64_t id, std::string_view value) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(status::ok), 0, id);
  out.append(value);
  finish_frame(out, start);
}

void respond_error(std::string& out, std::uint64_t id, status s, std::string_view message, std::string_view leader) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(s), 0, id);
  append_str16(out, message);
  append_str16(out, leader);
  finish_frame(out, start);
}

std::optional<set_request> parse_set(std::string_view body) noexcept {
  byte_reader in(body);
  auto klen = in.fixed<std::uint32_t>();
  auto key = in.bytes(klen);
  if (!in.ok()) return std::nullopt;
  return set_request{key, in.rest()};
}

std::optional<bulk_set_request> parse_bulk_set(std::string_view body) noexcept {
  byte_reader in(body);
  auto count = in.fixed<std::uint32_t>();
  auto pairs = in.rest();
  if (!in.ok() || !valid_pairs(pairs, count)) return std::nullopt;
  return bulk_set_request{count, pairs};
}

void request_search(std::string& out, std::uint64_t id, const search::text_query& q, std::uint64_t min_index,
                    std::uint16_t flags) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(op::search), flags, id);
  out.push_back(static_cast<char>(q.mode));
  append_u32(out, q.limit);
  append_u32(out, q.offset);
  append_u64(out, min_index);
  append_str16(out, q.key_prefix);
  append_fixed<std::uint16_t>(out, static_cast<std::uint16_t>(std::min<std::size_t>(q.terms.size(), 0xffff)));
  for (std::size_t i = 0; i < q.terms.size() && i < 0xffff; ++i) append_str16(out, q.terms[i]);
  finish_frame(out, start);
}

void request_similar(std::string& out, std::uint64_t id, const search::similar_query& q, std::uint64_t min_index,
                     std::uint16_t flags) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(op::similar), flags, id);
  append_u32(out, q.k);
  append_fixed(out, q.threshold);
  append_u64(out, min_index);
  out.append(q.text);
  finish_frame(out, start);
}

void respond_search(std::string& out, std::uint64_t id, const search::search_answer& a) {
  auto start = begin_frame(out, static_cast<std::uint8_t>(status::ok), 0, id);
  append_u64(out, a.applied_index);
  append_u64(out, a.total);
  append_u32(out, static_cast<std::uint32_t>(a.hits.size()));
  for (const auto& h : a.hits) {
    append_fixed(out, h.score);
    append_u32(out, static_cast<std::uint32_t>(h.key.size()));
    out.append(h.key);
  }
  finish_frame(out, start);
}

std::optional<search_request> parse_search(std::string_view body) {
  byte_reader in(body);
  search_request r;
  auto mode = in.fixed<std::uint8_t>();
  r.query.limit = in.fixed<std::uint32_t>();
  r.query.offset = in.fixed<std::uint32_t>();
  r.min_index = in.fixed<std::uint64_t>();
  r.query.key_prefix = std::string(in.bytes(in.fixed<std::uint16_t>()));
  auto count = in.fixed<std::uint16_t>();
  if (!in.ok() || mode > static_cast<std::uint8_t>(search::match_mode::phrase)) return std::nullopt;
  r.query.mode = static_cast<search::match_mode>(mode);
  r.query.terms.reserve(std::min<std::size_t>(count, in.remaining() / 2));
  for (std::uint16_t i = 0; i < count; ++i) {
    auto term = in.bytes(in.fixed<std::uint16_t>());
    if (!in.ok()) return std::nullopt;
    r.query.terms.emplace_back(term);
  }
  if (in.remaining() != 0) return std::nullopt;
  return r;
}

std::optional<similar_request> parse_similar(std::string_view body) {
  byte_reader in(body);
  similar_request r;
  r.query.k = in.fixed<std::uint32_t>();
  r.query.threshold = in.fixed<double>();
  r.min_index = in.fixed<std::uint64_t>();
  if (!in.ok()) return std::nullopt;
  r.query.text = std::string(in.rest());
  return r;
}

std::optional<search::search_answer> parse_search_answer(std::string_view body) {
  byte_reader in(body);
  search::search_answer a;
  a.applied_index = in.fixed<std::uint64_t>();
  a.total = in.fixed<std::uint64_t>();
  auto count = in.fixed<std::uint32_t>();
  if (!in.ok()) return std::nullopt;
  a.hits.reserve(std::min<std::size_t>(count, in.remaining() / 12));
  for (std::uint32_t i = 0; i < count; ++i) {
    search::hit h;
    h.score = in.fixed<double>();
    h.key = std::string(in.bytes(in.fixed<std::uint32_t>()));
    if (!in.ok()) return std::nullopt;
    a.hits.push_back(std::move(h));
  }
  if (in.remaining() != 0) return std::nullopt;
  return a;
}

std::optional<std::uint64_t> parse_index(std::string_view body) noexcept {
  if (body.size() != 8 && body.size() != 16) return std::nullopt;
  return get_fixed<std::uint64_t>(body.data());
}

std::optional<write_reply> parse_write_reply(std::string_view body) noexcept {
  if (body.size() != 16) return std::nullopt;
  return write_reply{get_fixed<std::uint64_t>(body.data()), get_fixed<std::uint64_t>(body.data() + 8)};
}

error_body parse_error(std::string_view body) {
  byte_reader in(body);
  error_body e;
  e.message = std::string(in.bytes(in.fixed<std::uint16_t>()));
  if (in.remaining() > 0) e.leader = std::string(in.bytes(in.fixed<std::uint16_t>()));
  if (in.remaining() >= 8) e.compact_revision = in.fixed<std::uint64_t>();
  return e;
}

void append_status_fields(std::string& out, const std::vector<status_field>& fields) {
  append_fixed<std::uint16_t>(out, static_cast<std::uint16_t>(fields.size()));
  for (const auto& f : fields) {
    auto name = std::string_view(f.name).substr(0, 255);
    out.push_back(static_cast<char>(name.size()));
    out.append(name);
    if (const auto* n = std::get_if<std::uint64_t>(&f.value)) {
      out.push_back(0);
      append_u64(out, *n);
    } else {
      out.push_back(1);
      append_str16(out, std::get<std::string>(f.value));
    }
  }
}

std::optional<std::vector<status_field>> parse_status_fields(std::string_view body) {
  byte_reader in(body);
  auto count = in.fixed<std::uint16_t>();
  std::vector<status_field> fields;
  for (std::uint16_t i = 0; i < count && in.ok(); ++i) {
    status_field f;
    f.name = std::string(in.bytes(in.fixed<std::uint8_t>()));
    auto type = in.fixed<std::uint8_t>();
    if (type == 0) {
      f.value = in.fixed<std::uint64_t>();
    } else if (type == 1) {
      f.value = std::string(in.bytes(in.fixed<std::uint16_t>()));
    } else {
      return std::nullopt;
    }
    fields.push_back(std::move(f));
  }
  if (!in.ok()) return std::nullopt;
  return fields;
}

}  // namespace kv::protocol

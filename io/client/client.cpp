#include "io/client/client.hpp"

#include "io/client/client_connection.hpp"
#include "io/sys/event.hpp"

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace kv {

namespace {
constexpr std::chrono::milliseconds min_backoff{20};

// The request flags of a read in `mode`.
std::uint16_t read_flags(read_mode mode) { return mode == read_mode::stale ? protocol::flag_stale_read : 0; }
// Capped near the default heartbeat interval: a new leader is found within about this long of
// its election (an election after a crash takes an election timeout or two anyway).
constexpr std::chrono::milliseconds max_backoff{50};

}  // namespace

std::uint64_t node_status::number(std::string_view name) const {
  for (const auto& f : fields)
    if (f.name == name)
      if (const auto* n = std::get_if<std::uint64_t>(&f.value)) return *n;
  return 0;
}

std::string node_status::text(std::string_view name) const {
  for (const auto& f : fields)
    if (f.name == name)
      if (const auto* s = std::get_if<std::string>(&f.value)) return *s;
  return {};
}

client::client(asio::any_io_executor executor, options opts)
    : executor_(executor), opts_(std::move(opts)), connect_done_(std::make_unique<io::event>(executor)) {
  if (opts_.endpoints.empty()) opts_.endpoints.push_back("127.0.0.1:7379");
}

client::~client() { close(); }

const std::string& client::endpoint() const { return opts_.endpoints[current_]; }

void client::close() {
  if (conn_) conn_->close(errc::unavailable, "the client was closed");
  conn_.reset();
}

asio::awaitable<result<std::shared_ptr<client::connection>>> client::connected() {
  if (conn_ && conn_->open()) co_return conn_;
  while (connecting_) {  // another request is connecting: use its connection
    co_await connect_done_->wait();
    if (conn_ && conn_->open()) co_return conn_;
  }
  connecting_ = true;
  auto result = co_await connect_any();
  connecting_ = false;
  connect_done_->notify();
  co_return result;
}

asio::awaitable<result<std::shared_ptr<client::connection>>> client::connect_any() {
  std::string errors;
  for (std::size_t i = 0; i < opts_.endpoints.size(); ++i) {
    auto index = (current_ + i) % opts_.endpoints.size();
    auto c = std::make_shared<connection>(executor_, opts_, opts_.endpoints[index]);
    auto error = co_await c->connect();
    if (error.empty()) {
      current_ = index;
      conn_ = c;
      co_return conn_;
    }
    errors += (errors.empty() ? "" : "; ") + error;
  }
  co_return error_info{make_error_code(errc::unavailable), errors, {}};
}

error_info client::failure(const response& r) {
  auto e = protocol::parse_error(r.body);
  return error_info{make_error_code(protocol::to_errc(r.status)), std::move(e.message), std::move(e.leader)};
}

template <typename Encode>
asio::awaitable<result<client::response>> client::call(Encode encode, resend policy) {
  bool reconnected = false;
  const auto deadline = std::chrono::steady_clock::now() + opts_.leader_wait;
  auto backoff = min_backoff;
  std::string last_error;
  // Waits before the next attempt; false once leader_wait is used up.
  auto pause = [&]() -> asio::awaitable<bool> {
    auto now = std::chrono::steady_clock::now();
    if (now + backoff > deadline) co_return false;
    asio::steady_timer t(executor_, backoff);
    co_await t.async_wait(asio::use_awaitable);
    backoff = std::min(backoff * 2, max_backoff);
    co_return true;
  };
  for (int redirects = 0;;) {
    auto c = co_await connected();
    if (!c) {
      if (co_await pause()) continue;
      co_return c.failure();
    }
    auto r = co_await (*c)->request(encode);
    if (!r) {
      // The outcome is unknown: send again only what is safe to send twice. The first lost
      // connection is tried again at once (the node may have closed an idle connection).
      bool again = (policy != resend::never && r.is(errc::unavailable)) ||
                   (policy == resend::until_answered && r.is(errc::timed_out));
      if (again) {
        close();
        if (r.is(errc::unavailable) && !reconnected) {
          reconnected = true;
          continue;
        }
        if (co_await pause()) continue;
      }
      co_return r;
    }
    if (r->status == protocol::status::unavailable && policy != resend::never) {
      // A read that found no leader to confirm it, or a write that "may or may not be applied"
      // (its session makes sending it again safe): try the next node.
      last_error = protocol::parse_error(r->body).message;
      close();
      current_ = (current_ + 1) % opts_.endpoints.size();
      if (co_await pause()) continue;
      co_return r;
    }
    if (r->status != protocol::status::not_leader) co_return r;
    // Refused, so not applied: safe to send again, to the leader if the node named one.
    auto refusal = protocol::parse_error(r->body);
    last_error = refusal.message;
    bool follow = !refusal.leader.empty() && refusal.leader != (*c)->endpoint();
    if (follow) {
      auto known = std::find(opts_.endpoints.begin(), opts_.endpoints.end(), refusal.leader);
      if (known == opts_.endpoints.end()) known = opts_.endpoints.insert(opts_.endpoints.end(), refusal.leader);
      current_ = static_cast<std::size_t>(known - opts_.endpoints.begin());
    } else {
      current_ = (current_ + 1) % opts_.endpoints.size();
    }
    close();
    if ((!follow || ++redirects > opts_.max_redirects) && !co_await pause()) {
      co_return error_info{make_error_code(errc::unavailable),
                           fmt::format("no leader found within {} ms: {}", opts_.leader_wait.count(), last_error),
                           {}};
    }
  }
}

asio::awaitable<result<std::uint64_t>> client::session() {
  while (opening_session_) co_await connect_done_->wait();  // another write is opening it
  if (session_ != 0) co_return session_;
  opening_session_ = true;
  auto r = co_await call([](std::string& out, std::uint64_t id) { protocol::request_open_session(out, id); },
                         resend::never);
  opening_session_ = false;
  connect_done_->notify();
  if (!r) co_return r.failure();
  if (r->status != protocol::status::ok) co_return failure(*r);
  auto id = protocol::parse_index(r->body);
  if (!id) co_return errc::internal;
  session_ = *id;
  next_seq_ = 0;
  unanswered_.clear();
  co_return session_;
}

template <typename Encode>
asio::awaitable<result<client::response>> client::send_write(Encode encode) {
  result<response> r = errc::internal;
  if (!opts_.exactly_once) {
    r = co_await call([&](std::string& out, std::uint64_t id) { encode(out, id, nullptr); }, resend::never);
  } else {
    auto s = co_await session();
    if (!s) co_return s.failure();
    session_ref ref;
    ref.session = *s;
    ref.seq = ++next_seq_;
    unanswered_.insert(ref.seq);
    ref.first_unacked = *unanswered_.begin();
    r = co_await call([&](std::string& out, std::uint64_t id) { encode(out, id, &ref); }, resend::until_answered);
    unanswered_.erase(ref.seq);
    if (r && r->status == protocol::status::session_expired && session_ == ref.session) session_ = 0;
  }
  if (!r) co_return r.failure();
  if (r->status != protocol::status::ok) co_return failure(*r);
  co_return std::move(*r);
}

template <typename Encode>
asio::awaitable<result<write_ack>> client::write(Encode encode) {
  auto r = co_await send_write(std::move(encode));
  if (!r) co_return r.failure();
  auto reply = protocol::parse_write_reply(r->body);
  if (!reply) co_return error_info{make_error_code(errc::internal), "malformed write response", {}};
  co_return *reply;
}

asio::awaitable<result<write_ack>> client::set(std::string key, std::string value) {
  co_return co_await write([&](std::string& out, std::uint64_t id, const session_ref* s) {
    protocol::request_set(out, id, key, value, s);
  });
}

asio::awaitable<result<std::string>> client::get(std::string key, read_mode mode) {
  const std::uint16_t flags = read_flags(mode);
  auto r = co_await call([&](std::string& out, std::uint64_t id) { protocol::request_get(out, id, key, flags); },
                         resend::read);
  if (!r) co_return r.failure();
  if (r->status != protocol::status::ok) co_return failure(*r);
  co_return std::move(r->body);
}

asio::awaitable<result<write_ack>> client::del(std::string key) {
  co_return co_await write(
      [&](std::string& out, std::uint64_t id, const session_ref* s) { protocol::request_del(out, id, key, s); });
}

asio::awaitable<result<write_ack>> client::bulk_set(std::vector<std::pair<std::string, std::string>> pairs) {
  co_return co_await write([&](std::string& out, std::uint64_t id, const session_ref* s) {
    protocol::request_bulk_set(out, id, pairs, s);
  });
}

namespace {

result<txn_reply> reply_of(const std::string& body) {
  auto reply = decode_reply(body);
  if (!reply) return error_info{make_error_code(errc::internal), "malformed txn response", {}};
  return std::move(*reply);
}

}  // namespace

asio::awaitable<result<txn_reply>> client::txn(kv::txn t, read_mode mode) {
  auto encoded = encode_txn(t);
  if (read_only(t)) {
    const std::uint16_t flags = read_flags(mode);
    auto r = co_await call(
        [&](std::string& out, std::uint64_t id) { protocol::request_txn(out, id, encoded, nullptr, flags); },
        resend::read);
    if (!r) co_return r.failure();
    if (r->status != protocol::status::ok) co_return failure(*r);
    co_return reply_of(r->body);
  }
  auto r = co_await send_write([&](std::string& out, std::uint64_t id, const session_ref* s) {
    protocol::request_txn(out, id, encoded, s);
  });
  if (!r) co_return r.failure();
  co_return reply_of(r->body);
}

asio::awaitable<result<client::range_reply>> client::range(txn_op op, read_mode mode) {
  kv::txn t;
  t.then_ops.push_back(std::move(op));
  auto r = co_await txn(std::move(t), mode);
  if (!r) co_return r.failure();
  if (r->results.size() != 1 || r->results[0].type != txn_op_type::range) {
    co_return error_info{make_error_code(errc::bad_request), "range needs a range op", {}};
  }
  range_reply out;
  out.revision = r->revision;
  out.kvs = std::move(r->results[0].kvs);
  out.count = r->results[0].count;
  out.more = r->results[0].more;
  co_return out;
}

asio::awaitable<result<client::delete_reply>> client::delete_range(std::string key, std::string end, bool prev_kv) {
  kv::txn t;
  t.then_ops.push_back(make_delete_range(std::move(key), std::move(end), prev_kv));
  auto r = co_await txn(std::move(t));
  if (!r) co_return r.failure();
  delete_reply out;
  out.revision = r->revision;
  out.deleted = r->results.at(0).count;
  out.prev = std::move(r->results.at(0).kvs);
  co_return out;
}

asio::awaitable<result<client::delete_reply>> client::delete_keys(std::vector<std::string> keys) {
  kv::txn t;
  for (auto& k : keys) t.then_ops.push_back(make_delete_range(std::move(k)));
  auto r = co_await txn(std::move(t));
  if (!r) co_return r.failure();
  delete_reply d;
  d.revision = r->revision;
  for (const auto& o : r->results) d.deleted += o.count;
  co_return d;
}

asio::awaitable<result<std::int64_t>> client::incr(std::string key, std::int64_t delta) {
  kv::txn t;
  t.then_ops.push_back(make_incr(std::move(key), delta));
  auto r = co_await txn(std::move(t));
  if (!r) co_return r.failure();
  co_return r->results.at(0).value;
}

asio::awaitable<result<std::uint64_t>> client::put_with_ttl(std::string key, std::string value,
                                                           std::chrono::milliseconds ttl) {
  if (ttl.count() < 1) co_return error_info{make_error_code(errc::bad_request), "a TTL is at least 1 ms", {}};
  kv::txn t;
  t.then_ops.push_back(make_put_ttl(std::move(key), std::move(value), ttl.count()));
  auto r = co_await txn(std::move(t));
  if (!r) co_return r.failure();
  co_return r->revision;
}

asio::awaitable<result<bool>> client::expire(std::string key, std::chrono::milliseconds ttl) {
  if (ttl.count() < 1) co_return error_info{make_error_code(errc::bad_request), "a TTL is at least 1 ms", {}};
  kv::txn t;
  t.then_ops.push_back(make_expire(std::move(key), ttl.count()));
  auto r = co_await txn(std::move(t));
  if (!r) co_return r.failure();
  co_return r->results.at(0).value != 0;
}

asio::awaitable<result<bool>> client::persist(std::string key) {
  kv::txn t;
  t.then_ops.push_back(make_expire(std::move(key), 0));
  auto r = co_await txn(std::move(t));
  if (!r) co_return r.failure();
  co_return r->results.at(0).value != 0;
}

asio::awaitable<result<std::int64_t>> client::ttl(std::string key, read_mode mode) {
  kv::txn t;
  t.then_ops.push_back(make_ttl(std::move(key)));
  auto r = co_await txn(std::move(t), mode);
  if (!r) co_return r.failure();
  co_return r->results.at(0).value;
}

asio::awaitable<result<txn_reply>> client::mget(std::vector<std::string> keys, read_mode mode) {
  kv::txn t;
  for (auto& k : keys) t.then_ops.push_back(make_range(std::move(k)));
  co_return co_await txn(std::move(t), mode);
}

asio::awaitable<result<std::uint64_t>> client::compact(std::uint64_t revision) {
  // Compaction is idempotent in effect (a repeat is refused as compacted), so it needs no session.
  auto r = co_await call([&](std::string& out, std::uint64_t id) { protocol::request_compact(out, id, revision); },
                         resend::never);
  if (!r) co_return r.failure();
  if (r->status != protocol::status::ok) co_return failure(*r);
  if (auto index = protocol::parse_index(r->body)) co_return *index;
  co_return error_info{make_error_code(errc::internal), "malformed compact response", {}};
}

asio::awaitable<result<protocol::lease_granted>> client::grant_lease(std::int64_t ttl_seconds, std::uint64_t id) {
  auto r = co_await send_write([&](std::string& out, std::uint64_t rid, const session_ref* s) {
    protocol::request_lease_grant(out, rid, ttl_seconds, id, s);
  });
  if (!r) co_return r.failure();
  if (auto g = protocol::parse_lease_granted(r->body)) co_return *g;
  co_return error_info{make_error_code(errc::internal), "malformed lease grant response", {}};
}

asio::awaitable<result<write_ack>> client::revoke_lease(std::uint64_t id) {
  co_return co_await write([&](std::string& out, std::uint64_t rid, const session_ref* s) {
    protocol::request_lease_revoke(out, rid, id, s);
  });
}

asio::awaitable<result<std::int64_t>> client::keep_alive(std::uint64_t id) {
  // Idempotent: renewing twice promises no more than renewing once.
  auto r = co_await call([&](std::string& out, std::uint64_t rid) { protocol::request_lease_keepalive(out, rid, id); },
                         resend::read);
  if (!r) co_return r.failure();
  if (r->status != protocol::status::ok) co_return failure(*r);
  if (r->body.size() != 8) co_return error_info{make_error_code(errc::internal), "malformed keepalive response", {}};
  std::int64_t ttl = 0;
  std::memcpy(&ttl, r->body.data(), 8);
  co_return ttl;
}

asio::awaitable<result<protocol::lease_time_left>> client::time_to_live(std::uint64_t id, bool keys) {
  auto r = co_await call(
      [&](std::string& out, std::uint64_t rid) { protocol::request_lease_time_to_live(out, rid, id, keys); },
      resend::read);
  if (!r) co_return r.failure();
  if (r->status != protocol::status::ok) co_return failure(*r);
  if (auto t = protocol::parse_lease_time_left(r->body)) co_return std::move(*t);
  co_return error_info{make_error_code(errc::internal), "malformed time-to-live response", {}};
}

asio::awaitable<result<std::vector<std::uint64_t>>> client::leases() {
  auto r = co_await call([](std::string& out, std::uint64_t rid) { protocol::request_lease_list(out, rid); },
                         resend::read);
  if (!r) co_return r.failure();
  if (r->status != protocol::status::ok) co_return failure(*r);
  if (auto l = protocol::parse_lease_list(r->body)) co_return std::move(*l);
  co_return error_info{make_error_code(errc::internal), "malformed lease list response", {}};
}

asio::awaitable<result<std::chrono::microseconds>> client::ping() {
  auto start = std::chrono::steady_clock::now();
  auto r = co_await call([](std::string& out, std::uint64_t id) { protocol::request_ping(out, id); }, resend::read);
  if (!r) co_return r.failure();
  if (r->status != protocol::status::ok) co_return failure(*r);
  co_return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
}

asio::awaitable<result<node_status>> client::status() {
  auto r = co_await call([](std::string& out, std::uint64_t id) { protocol::request_status(out, id); },
                         resend::read);
  if (!r) co_return r.failure();
  if (r->status != protocol::status::ok) co_return failure(*r);
  auto fields = protocol::parse_status_fields(r->body);
  if (!fields) co_return error_info{make_error_code(errc::internal), "malformed status response", {}};
  co_return node_status{std::move(*fields)};
}

template <typename Encode>
asio::awaitable<result<search::search_answer>> client::query(Encode encode) {
  auto r = co_await call(std::move(encode), resend::read);
  if (!r) co_return r.failure();
  if (r->status != protocol::status::ok) co_return failure(*r);
  auto answer = protocol::parse_search_answer(r->body);
  if (!answer) co_return error_info{make_error_code(errc::internal), "malformed search response", {}};
  co_return std::move(*answer);
}

asio::awaitable<result<search::search_answer>> client::search(search::text_query q, std::uint64_t min_index,
                                                              read_mode mode, min_point point) {
  const std::uint16_t flags = read_flags(mode) | (point == min_point::revision ? protocol::flag_min_revision : 0);
  co_return co_await query(
      [&](std::string& out, std::uint64_t id) { protocol::request_search(out, id, q, min_index, flags); });
}

asio::awaitable<result<search::search_answer>> client::similar(search::similar_query q, std::uint64_t min_index,
                                                               read_mode mode, min_point point) {
  const std::uint16_t flags = read_flags(mode) | (point == min_point::revision ? protocol::flag_min_revision : 0);
  co_return co_await query(
      [&](std::string& out, std::uint64_t id) { protocol::request_similar(out, id, q, min_index, flags); });
}

}  // namespace kv

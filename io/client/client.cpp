#include "io/client/client.hpp"

#include "core/base/address.hpp"

#include "io/sys/completion.hpp"
#include "io/sys/event.hpp"
#include "io/sys/socket_read.hpp"

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <fmt/format.h>

#include <algorithm>

#include <cstring>
#include <deque>
#include <unordered_map>

namespace kv {

namespace {
constexpr std::chrono::milliseconds timeout_granularity{20};
constexpr std::size_t read_chunk = 64u << 10;
constexpr std::chrono::milliseconds min_backoff{20};

// The request flags of a read in `mode`.
std::uint16_t read_flags(read_mode mode) { return mode == read_mode::stale ? protocol::flag_stale_read : 0; }
// Capped near the default heartbeat interval: a new leader is found within about this long of
// its election (an election after a crash takes an election timeout or two anyway).
constexpr std::chrono::milliseconds max_backoff{50};

// Why the parsed front of a response stream is not a kvnode frame, or "" if it is one (or is
// still incomplete).
std::string not_a_response(const protocol::parse_result& r, std::uint32_t max_frame) {
  switch (r.status) {
    case protocol::parse_status::ok:
      if (r.f.version == protocol::version) return {};
      return fmt::format("protocol version {}, expected {}", r.f.version, protocol::version);
    case protocol::parse_status::incomplete:
      return {};
    case protocol::parse_status::too_large:
      return fmt::format("a frame length of {} bytes, over the {} accepted", r.declared, max_frame);
    case protocol::parse_status::malformed:
      return fmt::format("a frame length of {} bytes, under the {}-byte header", r.declared,
                         protocol::min_frame_length);
  }
  return "unknown parse status";
}

// The first bytes of `bytes` for an error message: printable ASCII as is, others as \xNN.
std::string printable_start(std::string_view bytes) {
  constexpr std::size_t shown = 24;
  std::string out;
  for (unsigned char ch : bytes.substr(0, shown)) {
    if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
      out += static_cast<char>(ch);
    } else {
      out += fmt::format("\\x{:02x}", ch);
    }
  }
  if (bytes.size() > shown) out += "...";
  return out;
}
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

// One TCP connection to one node, with the requests in flight on it.
class client::connection : public std::enable_shared_from_this<connection> {
 public:
  connection(asio::any_io_executor ex, const options& opts, std::string endpoint)
      : executor_(ex), opts_(opts), endpoint_(std::move(endpoint)), socket_(ex), deadline_timer_(ex) {}

  const std::string& endpoint() const { return endpoint_; }
  bool open() const { return open_; }

  // Connects within connect_timeout; returns an error message on failure.
  asio::awaitable<std::string> connect() {
    using namespace asio::experimental::awaitable_operators;
    auto hp = parse_host_port(endpoint_);
    if (!hp) co_return "invalid endpoint \"" + endpoint_ + "\" (expected host:port)";
    asio::ip::tcp::resolver resolver(executor_);
    std::error_code ec;
    auto addresses = co_await resolver.async_resolve(hp->host, std::to_string(hp->port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return fmt::format("cannot resolve {}: {}", hp->host, ec.message());
    asio::steady_timer timer(executor_, opts_.connect_timeout);
    auto outcome = co_await (asio::async_connect(socket_, addresses, asio::redirect_error(asio::use_awaitable, ec)) ||
                             timer.async_wait(asio::use_awaitable));
    if (outcome.index() == 1) co_return fmt::format("connecting to {} timed out", endpoint_);
    if (ec) co_return fmt::format("cannot connect to {}: {}", endpoint_, ec.message());
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    socket_.non_blocking(true, ec);
    open_ = true;
    asio::co_spawn(executor_, [self = shared_from_this()] { return self->read_loop(); }, asio::detached);
    co_return "";
  }

  template <typename Encode>
  asio::awaitable<result<response>> request(Encode& encode) {
    if (!open_) co_return error_info{make_error_code(errc::unavailable), "not connected to " + endpoint_, {}};
    auto id = next_id_++;
    encode(out_, id);
    queue_flush();
    deadlines_.emplace_back(std::chrono::steady_clock::now() + opts_.request_timeout, id);
    if (!watching_deadlines_) {
      watching_deadlines_ = true;
      asio::co_spawn(executor_, [self = shared_from_this()] { return self->deadline_loop(); }, asio::detached);
    }
    co_return co_await io::async_park<result<response>>(
        [this, id](io::completion<void(result<response>)> c) { pending_.emplace(id, std::move(c)); },
        asio::use_awaitable);
  }

  // Fails every request in flight with `why` and closes the socket.
  void close(std::error_code code, const std::string& why) {
    open_ = false;
    std::error_code ignored;
    socket_.close(ignored);
    deadline_timer_.cancel();
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, done] : pending) done(error_info{code, why, {}});
  }

 private:
  void queue_flush() {
    if (flush_queued_ || sending_now_) return;
    flush_queued_ = true;
    asio::post(executor_, [self = shared_from_this()] {
      self->flush_queued_ = false;
      self->flush();
    });
  }

  void flush() {
    if (sending_now_ || out_.empty() || !open_) return;
    sending_.swap(out_);
    out_.clear();
    sending_now_ = true;
    asio::async_write(socket_, asio::buffer(sending_), [self = shared_from_this()](std::error_code ec, std::size_t) {
      self->sending_now_ = false;
      self->sending_.clear();
      if (ec) {
        if (self->open_) self->close(errc::unavailable, fmt::format("connection to {} lost: {}", self->endpoint_, ec.message()));
        return;
      }
      self->flush();
    });
  }

  asio::awaitable<void> read_loop() {
    std::vector<char> buf(read_chunk);
    std::size_t begin = 0;
    std::size_t end = 0;
    std::error_code ec;
    bool drained = false;  // see io::read_some
    while (open_) {
      if (begin == end) begin = end = 0;
      if (buf.size() - end < read_chunk / 4) {
        std::memmove(buf.data(), buf.data() + begin, end - begin);
        end -= begin;
        begin = 0;
        if (buf.size() - end < read_chunk / 4) buf.resize(buf.size() * 2);
      }
      auto room = buf.size() - end;
      auto n = co_await io::read_some(socket_, asio::buffer(buf.data() + end, room), drained, ec);
      if (ec) break;
      drained = n < room;
      end += n;
      while (begin < end) {
        auto r = protocol::parse_frame(std::string_view(buf.data() + begin, end - begin), opts_.max_frame_bytes);
        if (r.status == protocol::parse_status::incomplete) {
          if (r.declared && protocol::length_bytes + r.declared > buf.size() - begin) {
            std::memmove(buf.data(), buf.data() + begin, end - begin);
            end -= begin;
            begin = 0;
            buf.resize(protocol::length_bytes + r.declared);
          }
          break;
        }
        if (auto why = not_a_response(r, opts_.max_frame_bytes); !why.empty()) {
          close(std::make_error_code(std::errc::protocol_error),
                fmt::format("{} did not answer as a kvnode node (malformed response: {}; it began \"{}\")", endpoint_,
                            why, printable_start(std::string_view(buf.data() + begin, end - begin))));
          co_return;
        }
        deliver(r.f);
        begin += r.f.size;
        if (!open_) co_return;
      }
    }
    if (open_) {
      close(errc::unavailable, ec == asio::error::eof
                                   ? fmt::format("{} closed the connection", endpoint_)
                                   : fmt::format("connection to {} lost: {}", endpoint_, ec.message()));
    }
  }

  void deliver(const protocol::frame& f) {
    auto status = static_cast<protocol::status>(f.code);
    if (f.id == 0 && status != protocol::status::ok) {  // about the connection itself
      auto e = protocol::parse_error(f.body);
      close(protocol::to_errc(status), e.message.empty() ? "the server closed the connection" : e.message);
      return;
    }
    auto it = pending_.find(f.id);
    if (it == pending_.end()) return;  // timed out already
    auto done = std::move(it->second);
    pending_.erase(it);
    done(response{status, std::string(f.body)});
  }

  asio::awaitable<void> deadline_loop() {
    std::error_code ec;
    while (open_ && !deadlines_.empty()) {
      deadline_timer_.expires_after(timeout_granularity);
      co_await deadline_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      auto now = std::chrono::steady_clock::now();
      while (!deadlines_.empty() && (deadlines_.front().first <= now || !pending_.contains(deadlines_.front().second))) {
        auto id = deadlines_.front().second;
        deadlines_.pop_front();
        auto it = pending_.find(id);
        if (it == pending_.end()) continue;
        auto done = std::move(it->second);
        pending_.erase(it);
        done(error_info{make_error_code(errc::timed_out),
                        fmt::format("no response from {} within {} ms", endpoint_, opts_.request_timeout.count()),
                        {}});
      }
    }
    watching_deadlines_ = false;
  }

  asio::any_io_executor executor_;
  const options& opts_;
  std::string endpoint_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer deadline_timer_;
  bool open_ = false;
  std::string out_;
  std::string sending_;
  bool sending_now_ = false;
  bool flush_queued_ = false;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, io::completion<void(result<response>)>> pending_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> deadlines_;
  bool watching_deadlines_ = false;
};

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

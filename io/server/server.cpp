#include "io/server/server.hpp"

#include "core/base/address.hpp"
#include "core/base/spawn.hpp"
#include "core/base/version.hpp"
#include "io/sys/accept.hpp"
#include "io/sys/event.hpp"
#include "io/protocol/protocol.hpp"
#include "io/sys/socket_read.hpp"
#include "index/node/node_index.hpp"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstring>
#include <deque>
#include <vector>

namespace kv {

namespace {

constexpr std::size_t read_chunk = 64u << 10;     // a read asks for at least this much
constexpr std::size_t output_limit = 4u << 20;    // unsent responses above this pause reading
constexpr std::size_t idle_buffer = 1u << 20;     // larger idle buffers are given back

std::string endpoint_text(const asio::ip::tcp::socket& s) {
  std::error_code ec;
  auto ep = s.remote_endpoint(ec);
  return ec ? std::string("?") : fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

}  // namespace

// One client connection. Owned by shared_ptrs: its read loop, its pending writes' callbacks and
// its in-progress socket write each hold one, so it lives until the last of them is done.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(server& srv, asio::ip::tcp::socket socket)
      : srv_(srv), socket_(std::move(socket)), peer_(endpoint_text(socket_)), wake_reader_(srv.executor_) {
    srv_.connections_.insert(this);
    last_activity_ = std::chrono::steady_clock::now();
  }

  ~connection() { srv_.connections_.erase(this); }

  void start() {
    asio::co_spawn(srv_.executor_, [self = shared_from_this()] { return self->read_loop(); },
                   log_failure("connection " + peer_));
  }

  // Stops reading; closes once every request already read is answered.
  void drain() {
    reading_ = false;
    std::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ignored);
    wake_reader_.notify();
    maybe_finish();
  }

  void close() {
    reading_ = false;
    std::error_code ignored;
    socket_.close(ignored);
    wake_reader_.notify();
  }

  bool idle_since(std::chrono::steady_clock::time_point t) const {
    return inflight_ == 0 && deferred_.empty() && last_activity_ < t;
  }

 private:
  struct deferred_read {
    std::uint64_t id;
    std::string key;
  };

  asio::awaitable<void> read_loop() {
    std::error_code ec;
    bool drained = false;  // see io::read_some
    while (reading_) {
      if (over_limits()) {
        co_await wake_reader_.wait();  // backpressure: let responses drain first
        drained = false;
        continue;
      }
      if (frames_waiting_) {  // requests buffered while over the limits go before new reads
        handle_frames();
        queue_flush();
        continue;
      }
      make_room();
      auto room = in_.size() - in_end_;
      auto n = co_await io::read_some(socket_, asio::buffer(in_.data() + in_end_, room), drained, ec);
      if (ec) break;
      drained = n < room;
      last_activity_ = std::chrono::steady_clock::now();
      in_end_ += n;
      handle_frames();
      queue_flush();
    }
    if (ec && ec != asio::error::eof && ec != asio::error::operation_aborted) {
      spdlog::debug("connection {}: read failed: {}", peer_, ec.message());
    }
    reading_ = false;
    maybe_finish();
  }

  // Keeps the unread bytes at the front of the buffer with room after them for the next read,
  // and for the whole of a frame whose length is already known.
  void make_room() {
    if (in_begin_ == in_end_) {
      in_begin_ = in_end_ = 0;
      if (in_.size() > idle_buffer) std::vector<char>(read_chunk).swap(in_);
    }
    if (in_begin_ > 0) {
      std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    }
    std::size_t want = std::max(in_end_ + read_chunk / 4, frame_needed_);
    if (in_.size() < want) in_.resize(std::max(want, in_.size() == 0 ? read_chunk : in_.size() * 2));
  }

  // Too much in flight or unsent: take no new requests until some drain.
  bool over_limits() const {
    return inflight_ >= srv_.cfg_.max_pipeline || out_.size() + sending_.size() >= output_limit;
  }

  void handle_frames() {
    const auto max_frame = static_cast<std::uint32_t>(srv_.cfg_.max_frame_bytes);
    frame_needed_ = 0;
    frames_waiting_ = false;
    while (reading_ && in_begin_ < in_end_) {
      if (over_limits()) {
        frames_waiting_ = true;
        return;
      }
      auto r = protocol::parse_frame(std::string_view(in_.data() + in_begin_, in_end_ - in_begin_), max_frame);
      if (r.status == protocol::parse_status::incomplete) {
        if (r.declared) frame_needed_ = protocol::length_bytes + r.declared;
        return;
      }
      if (r.status == protocol::parse_status::too_large) {
        return reject(r.declared < protocol::header_bytes ? 0 : peek_id(), protocol::status::too_large,
                      fmt::format("frame of {} bytes exceeds max-frame-size ({} bytes)", r.declared, max_frame));
      }
      if (r.status == protocol::parse_status::malformed) {
        return reject(0, protocol::status::bad_request,
                      fmt::format("malformed frame: length {} is shorter than the {}-byte header", r.declared,
                                  protocol::header_bytes));
      }
      handle(r.f);
      in_begin_ += r.f.size;
    }
  }

  // The id of the frame at the front of the buffer, if its header is there.
  std::uint64_t peek_id() const {
    if (in_end_ - in_begin_ < protocol::length_bytes + protocol::header_bytes) return 0;
    std::uint64_t id;
    std::memcpy(&id, in_.data() + in_begin_ + 8, sizeof id);
    return id;
  }

  // Answers with an error and closes this connection once the answer is sent.
  void reject(std::uint64_t id, protocol::status s, const std::string& message) {
    ++srv_.stats_.bad_frames;
    spdlog::debug("connection {}: {}; closing it", peer_, message);
    protocol::respond_error(out_, id, s, message);
    close_after_flush_ = true;
    reading_ = false;
    in_begin_ = in_end_ = 0;
    queue_flush();
  }

  void handle(const protocol::frame& f) {
    ++srv_.stats_.requests;
    if (f.version != protocol::version) {
      return reject(f.id, protocol::status::bad_request,
                    fmt::format("unsupported protocol version {} (this node speaks version {})", f.version,
                                protocol::version));
    }
    auto& st = srv_.store_;
    // A write in a client session (exactly-once) carries its place in the session first.
    std::string_view body = f.body;
    session_ref session;
    if ((f.flags & protocol::flag_session) != 0) {
      auto ref = protocol::take_session_prefix(body);
      if (!ref) return bad_body(f.id, "session prefix of a");
      session = *ref;
    }
    switch (static_cast<protocol::op>(f.code)) {
      case protocol::op::ping:
        return protocol::respond_ok(out_, f.id);
      case protocol::op::get:
        if (auto e = st.check_key_for_read(f.body); e != errc::ok) return refuse_key(f.id, e, f.body.size());
        if ((f.flags & protocol::flag_stale_read) == 0 && !st.reads_are_local()) {
          return read_after_barrier(f.id, f.body);
        }
        if (st.applied_index() < last_write_index_) {
          deferred_.push_back({f.id, std::string(f.body)});  // after this connection's earlier writes
          return;
        }
        return serve_get(f.id, f.body);
      case protocol::op::set: {
        auto req = protocol::parse_set(body);
        if (!req) return bad_body(f.id, "set");
        return submit(f.id, protocol::op::set,
                      [&](store::write_done done) { st.submit_set(req->key, req->value, std::move(done), session); },
                      req->key.size(), req->value.size());
      }
      case protocol::op::del:
        return submit(
            f.id, protocol::op::del, [&](store::write_done done) { st.submit_del(body, std::move(done), session); },
            body.size(), 0);
      case protocol::op::bulk_set: {
        auto count = protocol::parse_bulk_set(body);
        if (!count) return bad_body(f.id, "bulk_set");
        return submit(
            f.id, protocol::op::bulk_set,
            [&](store::write_done done) { st.submit_bulk_set(body.substr(4), *count, std::move(done), session); }, 0,
            body.size());
      }
      case protocol::op::open_session:
        return submit(
            f.id, protocol::op::open_session, [&](store::write_done done) { st.submit_open_session(std::move(done)); },
            0, 0);
      case protocol::op::status:
        return respond_status(f.id);
      case protocol::op::search: {
        auto req = protocol::parse_search(body);
        if (!req) return bad_body(f.id, "search");
        return start_query(f.id, f.flags, req->min_index, [q = std::move(req->query)](search::node_index& index,
                                                                                  std::uint64_t min_index) {
          return index.search(q, min_index);
        });
      }
      case protocol::op::similar: {
        auto req = protocol::parse_similar(body);
        if (!req) return bad_body(f.id, "similar");
        return start_query(f.id, f.flags, req->min_index, [q = std::move(req->query)](search::node_index& index,
                                                                                  std::uint64_t min_index) {
          return index.similar(q, min_index);
        });
      }
    }
    protocol::respond_error(out_, f.id, protocol::status::bad_request,
                            fmt::format("unknown operation {}", static_cast<unsigned>(f.code)));
  }

  // A search or similar query: answered by the index once it reflects `min_index`, this
  // connection's earlier writes and, unless the request asks for a stale read, every write
  // acknowledged before it arrived (the read index, as for get).
  void start_query(std::uint64_t id, std::uint16_t flags, std::uint64_t min_index, auto query) {
    if (srv_.index_ == nullptr) {
      return protocol::respond_error(out_, id, protocol::status::bad_request,
                                     "search is disabled on this node ([index] enabled = false)");
    }
    ++inflight_;
    const bool stale = (flags & protocol::flag_stale_read) != 0;
    asio::co_spawn(srv_.executor_, run_query(shared_from_this(), id, stale, std::max(min_index, last_write_index_),
                                             std::move(query)),
                   log_failure("a search on connection " + peer_));
  }

  static asio::awaitable<void> run_query(std::shared_ptr<connection> self, std::uint64_t id, bool stale,
                                         std::uint64_t min_index, auto query) {
    auto& st = self->srv_.store_;
    result<search::search_answer> answer = errc::internal;
    if (stale) {
      answer = co_await query(*self->srv_.index_, min_index);
    } else if (st.reads_are_local()) {
      answer = co_await query(*self->srv_.index_, std::max(min_index, st.applied_index()));
    } else {
      auto read_index = co_await st.read_barrier();
      if (read_index) {
        answer = co_await query(*self->srv_.index_, std::max(min_index, *read_index));
      } else {
        answer = read_index.failure();
      }
    }
    --self->inflight_;
    if (answer) {
      protocol::respond_search(self->out_, id, *answer);
    } else {
      protocol::respond_error(self->out_, id, protocol::to_status(answer.error()), answer.message(),
                              answer.failure().leader);
    }
    self->queue_flush();
    self->wake_reader_.notify();
  }

  void serve_get(std::uint64_t id, std::string_view key) {
    if (auto v = srv_.store_.find(key)) {
      protocol::respond_value(out_, id, *v);
    } else {
      protocol::respond_error(out_, id, protocol::status::not_found, {});
    }
  }

  // A linearizable read on a cluster: served once ReadIndex confirms this node's state is current.
  void read_after_barrier(std::uint64_t id, std::string_view key) {
    ++inflight_;
    srv_.store_.read_barrier([self = shared_from_this(), id, key = std::string(key)](result<std::uint64_t> r) mutable {
      self->on_read_ready(id, std::move(key), std::move(r));
    });
  }

  void on_read_ready(std::uint64_t id, std::string key, result<std::uint64_t> r) {
    --inflight_;
    if (!r) {
      protocol::respond_error(out_, id, protocol::to_status(r.error()), r.message(), r.failure().leader);
    } else if (srv_.store_.applied_index() < last_write_index_) {
      deferred_.push_back({id, std::move(key)});
    } else {
      serve_get(id, key);
    }
    queue_flush();
    wake_reader_.notify();
  }

  void bad_body(std::uint64_t id, const char* what) {
    protocol::respond_error(out_, id, protocol::status::bad_request, fmt::format("malformed {} request body", what));
  }

  void refuse_key(std::uint64_t id, errc e, std::size_t key_size) {
    const auto& s = srv_.store_.storage();
    auto message = e == errc::bad_request ? std::string("the key is empty")
                                          : fmt::format("key of {} bytes exceeds max-key-size ({} bytes)", key_size,
                                                        s.max_key_bytes);
    protocol::respond_error(out_, id, protocol::to_status(e), message);
  }

  // Hands a write to the store. `o`, `key_size` and `value_size` only shape error messages.
  void submit(std::uint64_t id, protocol::op o, auto&& submit_to_store, std::size_t key_size, std::size_t value_size) {
    ++inflight_;
    auto before = srv_.store_.last_index();
    submit_to_store([self = shared_from_this(), id, o, key_size, value_size](result<std::uint64_t> r) {
      self->on_write_done(id, o, std::move(r), key_size, value_size);
    });
    if (srv_.store_.last_index() != before) last_write_index_ = srv_.store_.last_index();
  }

  void on_write_done(std::uint64_t id, protocol::op o, result<std::uint64_t> r, std::size_t key_size,
                     std::size_t value_size) {
    --inflight_;
    if (r) {
      protocol::respond_index(out_, id, *r);
    } else {
      protocol::respond_error(out_, id, protocol::to_status(r.error()), error_message(r, o, key_size, value_size),
                              r.failure().leader);
    }
    while (!deferred_.empty() && srv_.store_.applied_index() >= last_write_index_) {
      serve_get(deferred_.front().id, deferred_.front().key);
      deferred_.pop_front();
    }
    queue_flush();
    wake_reader_.notify();
  }

  std::string error_message(const result<std::uint64_t>& r, protocol::op o, std::size_t key_size,
                            std::size_t value_size) const {
    const bool bulk = o == protocol::op::bulk_set;
    const auto& s = srv_.store_.storage();
    if (r.is(errc::not_found)) return {};
    if (r.is(errc::too_large)) {
      if (key_size > s.max_key_bytes) {
        return fmt::format("key of {} bytes exceeds max-key-size ({} bytes)", key_size, s.max_key_bytes);
      }
      if (value_size > s.max_value_bytes && !bulk) {
        return fmt::format("value of {} bytes exceeds max-value-size ({} bytes)", value_size, s.max_value_bytes);
      }
      return fmt::format("a key or value exceeds its limit (max-key-size {} bytes, max-value-size {} bytes), or "
                         "the write exceeds max-batch-size ({} bytes)",
                         s.max_key_bytes, s.max_value_bytes, s.max_batch_bytes);
    }
    if (r.is(errc::bad_request)) {
      return bulk ? "bulk_set needs at least one pair, and no key may be empty" : "the key is empty";
    }
    if (r.is(errc::unavailable) && r.failure().message.empty()) return "the node is shutting down";
    if (r.is(errc::session_expired)) {
      return "the client session is unknown or expired (the cluster keeps a bounded number): open a new one";
    }
    return r.message();
  }

  void respond_status(std::uint64_t id) {
    const auto& st = srv_.store_;
    auto uptime = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                        srv_.started_);
    const auto& addresses = st.replication().client_addresses;
    auto leader_address = addresses.find(st.leader());
    std::vector<protocol::status_field> fields{
        {"node_id", st.replication().id},
        {"role", std::string(raft::to_string(st.role()))},
        {"term", st.term()},
        {"leader_id", st.leader()},
        {"leader_address", leader_address == addresses.end() ? std::string() : leader_address->second},
        {"voters", static_cast<std::uint64_t>(st.replication().voters.size())},
        {"commit_index", st.commit_index()},
        {"applied_index", st.applied_index()},
        {"last_index", st.log().last_index()},
        {"snapshot_index", st.snapshot_index()},
        {"wal_batches", st.log().written().batches},
        {"wal_records", st.log().written().records},
        {"keys", st.state().key_count()},
        {"data_bytes", st.state().data_bytes()},
        {"uptime_ms", static_cast<std::uint64_t>(uptime.count())},
        {"connections", static_cast<std::uint64_t>(srv_.connections_.size())},
        {"version", std::string(kv::version)},
        {"pid", static_cast<std::uint64_t>(::getpid())},
        {"max_key_size", static_cast<std::uint64_t>(st.storage().max_key_bytes)},
        {"max_value_size", static_cast<std::uint64_t>(st.storage().max_value_bytes)},
        {"max_batch_size", static_cast<std::uint64_t>(st.storage().max_batch_bytes)},
        {"max_frame_size", static_cast<std::uint64_t>(srv_.cfg_.max_frame_bytes)},
        {"alarm", std::string(st.out_of_space() ? "no_space" : "none")},
    };
    if (!st.space_problem().empty()) fields.push_back({"space_problem", st.space_problem()});
    if (srv_.index_ != nullptr) {
      // The search index: how far it has applied the log, and how far behind the store it is.
      auto p = srv_.index_->progress();
      fields.push_back({"index_applied", p.applied_index});
      fields.push_back({"index_lag", st.applied_index() - std::min(p.applied_index, st.applied_index())});
      fields.push_back({"index_documents", p.documents});
      fields.push_back({"index_skipped_non_utf8", p.skipped_non_utf8});
      fields.push_back({"index_digest", p.digest});
      fields.push_back({"index_rebuilds", p.rebuilds});
      fields.push_back({"index_loads", p.loads});
      fields.push_back({"index_saves", p.saves});
    }
    // The leader's view of each follower: how far its log matches, and how far behind it is.
    for (auto peer : st.replication().voters) {
      const auto* pr = st.consensus().progress_of(peer);
      if (pr == nullptr) continue;
      fields.push_back({fmt::format("peer_{}_match", peer), pr->match});
      fields.push_back({fmt::format("peer_{}_lag", peer), st.last_index() - std::min(pr->match, st.last_index())});
    }
    auto start = protocol::begin_frame(out_, static_cast<std::uint8_t>(protocol::status::ok), 0, id);
    protocol::append_status_fields(out_, fields);
    protocol::finish_frame(out_, start);
  }

  // Sends what is queued once the current round of work is done, so that every response it
  // produces goes out in one write.
  void queue_flush() {
    if (flush_queued_ || sending_now_ || out_.empty()) return maybe_finish();
    flush_queued_ = true;
    asio::post(srv_.executor_, [self = shared_from_this()] {
      self->flush_queued_ = false;
      self->flush();
    });
  }

  void flush() {
    if (sending_now_ || out_.empty()) return maybe_finish();
    sending_.swap(out_);
    out_.clear();
    sending_now_ = true;
    asio::async_write(socket_, asio::buffer(sending_), [self = shared_from_this()](std::error_code ec, std::size_t) {
      self->sending_now_ = false;
      self->sending_.clear();
      if (self->sending_.capacity() > idle_buffer) std::string().swap(self->sending_);
      if (ec) {
        spdlog::debug("connection {}: write failed: {}", self->peer_, ec.message());
        return self->close();
      }
      self->wake_reader_.notify();
      self->flush();
    });
  }

  // Closes the socket once reading has stopped and every request read has been answered.
  void maybe_finish() {
    if (reading_ || inflight_ > 0 || !deferred_.empty() || !out_.empty() || sending_now_ || flush_queued_) return;
    std::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  server& srv_;
  asio::ip::tcp::socket socket_;
  std::string peer_;
  std::vector<char> in_;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  std::size_t frame_needed_ = 0;  // bytes the frame at in_begin_ has in all, once known
  bool frames_waiting_ = false;   // buffered requests left unhandled because of the limits
  std::string out_;               // responses not yet handed to the socket
  std::string sending_;           // responses being written
  bool sending_now_ = false;
  bool flush_queued_ = false;
  bool reading_ = true;
  bool close_after_flush_ = false;
  std::size_t inflight_ = 0;          // writes handed to the store and not yet answered
  std::uint64_t last_write_index_ = 0;  // log index of this connection's latest write
  std::deque<deferred_read> deferred_;  // reads waiting for this connection's earlier writes
  io::event wake_reader_;
  std::chrono::steady_clock::time_point last_activity_;
};

server::server(asio::any_io_executor executor, store& st, server_config cfg, search::node_index* index)
    : executor_(executor),
      store_(st),
      cfg_(std::move(cfg)),
      index_(index),
      acceptor_(executor),
      sweep_timer_(executor),
      started_(std::chrono::steady_clock::now()) {}

server::~server() = default;

void server::start() {
  auto hp = parse_host_port(cfg_.listen);
  if (!hp) throw std::runtime_error("invalid listen address " + cfg_.listen);
  asio::ip::tcp::resolver resolver(executor_);
  auto results = resolver.resolve(hp->host, std::to_string(hp->port));
  asio::ip::tcp::endpoint ep = *results.begin();
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(executor_, accept_loop(), stop_on_failure("the acceptor"));
  asio::co_spawn(executor_, idle_sweep(), log_failure("the idle-connection sweep"));
}

asio::awaitable<void> server::accept_loop() {
  while (!stopping_) {
    auto socket = co_await io::accept_next(acceptor_, "client listener");
    if (!socket || stopping_) co_return;
    if (connections_.size() >= cfg_.max_connections) {
      refuse(std::move(*socket));
      continue;
    }
    ++stats_.accepted;
    std::error_code ec;
    socket->set_option(asio::ip::tcp::no_delay(true), ec);
    socket->non_blocking(true, ec);
    std::make_shared<connection>(*this, std::move(*socket))->start();
  }
}

void server::refuse(asio::ip::tcp::socket socket) {
  ++stats_.refused;
  spdlog::warn("refusing a connection from {}: max-connections ({}) reached", endpoint_text(socket),
               cfg_.max_connections);
  auto s = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
  auto frame = std::make_shared<std::string>();
  protocol::respond_error(*frame, 0, protocol::status::unavailable,
                          fmt::format("too many connections (max-connections is {})", cfg_.max_connections));
  asio::async_write(*s, asio::buffer(*frame), [s, frame](std::error_code, std::size_t) {
    std::error_code ignored;
    s->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    s->close(ignored);
  });
}

asio::awaitable<void> server::idle_sweep() {
  const auto timeout = cfg_.idle_timeout;
  const auto every = std::max<std::chrono::milliseconds>(timeout / 4, std::chrono::milliseconds(50));
  while (!stopping_) {
    std::error_code ec;
    sweep_timer_.expires_after(every);
    co_await sweep_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) co_return;
    auto cutoff = std::chrono::steady_clock::now() - timeout;
    std::vector<connection*> idle;
    for (auto* c : connections_)
      if (c->idle_since(cutoff)) idle.push_back(c);
    for (auto* c : idle) {
      ++stats_.idle_closed;
      c->close();
    }
    if (!idle.empty()) spdlog::debug("closed {} idle connection(s)", idle.size());
  }
}

asio::awaitable<void> server::stop() {
  stopping_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  sweep_timer_.cancel();
  std::vector<connection*> all(connections_.begin(), connections_.end());
  for (auto* c : all) c->drain();
  auto deadline = std::chrono::steady_clock::now() + cfg_.shutdown_timeout;
  asio::steady_timer tick(executor_);
  while (!connections_.empty()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      spdlog::warn("shutdown: closing {} connection(s) with requests still in flight after {}",
                   connections_.size(), format_duration(cfg_.shutdown_timeout));
      std::vector<connection*> rest(connections_.begin(), connections_.end());
      for (auto* c : rest) c->close();
      deadline = std::chrono::steady_clock::time_point::max();
    }
    tick.expires_after(std::chrono::milliseconds(5));
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

}  // namespace kv

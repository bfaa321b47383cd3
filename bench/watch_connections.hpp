#pragma once
// The connections of bench/watch_load: the raw protocol (docs/protocol.md) driven by callbacks on
// one thread, so that the load generator costs little beside the nodes it loads. A watch_set
// holds many watches over several connections; a put_connection sends puts and times their
// answers; paced_puts() drives one the way etcd's benchmark tool drives its clients.
//
// Threading: everything here runs on the thread of load_state::ctx.

#include "bench/latency.hpp"
#include "io/protocol/protocol.hpp"
#include "io/sys/event.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kv::bench {

using std::chrono::steady_clock;

// The errors of a run, counted by kind; the first one's message is kept.
struct error_counts {
  std::uint64_t count = 0;
  std::string first_error;
  std::map<std::string, std::uint64_t> by_kind;  // a status name, "connection", "missing_event", ...

  void error(const std::string& kind, const std::string& message, std::uint64_t n = 1) {
    if (count == 0) first_error = message;
    count += n;
    by_kind[kind] += n;
  }
  std::string describe() const {
    std::string out;
    for (const auto& [kind, k] : by_kind) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", kind, k);
    return out;
  }
};

// What the connections of a run share: its thread's io_context, the errors they count, and the
// wakeup of the coroutine driving the run, notified on every answer, when the last awaited
// event or watch arrives, and when a connection is lost. The coroutine checks its condition
// before and after each wait.
struct load_state {
  explicit load_state(asio::io_context& c) : ctx(c), wake(c.get_executor()) {}
  asio::io_context& ctx;
  error_counts errors;
  kv::io::event wake;
};

inline std::uint64_t load_u64(std::string_view b, std::size_t at) {
  std::uint64_t v = 0;
  std::memcpy(&v, b.data() + at, sizeof v);  // little-endian, as the host
  return v;
}
inline std::uint32_t load_u32(std::string_view b, std::size_t at) {
  std::uint32_t v = 0;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

// One connection on the raw protocol, driven by callbacks on the run's thread: requests
// appended to out() leave together on flush(); every frame read is handed to the handler with
// the time it was read. A connection lost before close() is counted as an error.
class raw_connection : public std::enable_shared_from_this<raw_connection> {
 public:
  using frame_handler = std::function<void(const protocol::frame&, steady_clock::time_point)>;

  explicit raw_connection(load_state& state) : state_(state), socket_(state.ctx) {}

  // Connects (blocking) and starts reading. Throws if the node cannot be reached.
  void open(const asio::ip::tcp::endpoint& ep, frame_handler on_frame) {
    on_frame_ = std::move(on_frame);
    socket_.connect(ep);
    socket_.set_option(asio::ip::tcp::no_delay(true));
    read();
  }
  std::string& out() { return out_; }
  void flush() {
    if (writing_ || out_.empty() || closed_) return;
    writing_ = true;
    sending_.swap(out_);
    out_.clear();
    asio::async_write(socket_, asio::buffer(sending_), [self = shared_from_this()](std::error_code ec, std::size_t) {
      self->writing_ = false;
      self->sending_.clear();
      if (ec) return self->fail(ec.message());
      self->flush();
    });
  }
  // Stops reading; no frame is handed on after this.
  void close() {
    closed_ = true;
    std::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void read() {
    if (in_.size() - end_ < read_room) {
      std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      if (in_.size() - end_ < read_room) in_.resize(std::max(in_.size() * 2, end_ + read_room));
    }
    socket_.async_read_some(asio::buffer(in_.data() + end_, in_.size() - end_),
                            [self = shared_from_this()](std::error_code ec, std::size_t n) {
                              if (self->closed_) return;
                              if (ec) return self->fail(ec.message());
                              self->end_ += n;
                              self->on_data();
                            });
  }

  void on_data() {
    auto now = steady_clock::now();
    for (;;) {
      auto r = protocol::parse_frame(std::string_view(in_.data() + begin_, end_ - begin_), 1u << 30);
      if (r.status != protocol::parse_status::ok) break;
      begin_ += r.f.size;
      on_frame_(r.f, now);
      if (closed_) return;
    }
    if (begin_ == end_) begin_ = end_ = 0;
    read();
  }

  void fail(const std::string& why) {
    if (closed_) return;
    state_.errors.error("connection", "connection lost: " + why);
    close();
    state_.wake.notify();
  }

  static constexpr std::size_t read_room = 64u << 10;

  load_state& state_;
  asio::ip::tcp::socket socket_;
  frame_handler on_frame_;
  std::string out_;
  std::string sending_;
  bool writing_ = false;
  bool closed_ = false;
  std::vector<char> in_ = std::vector<char>(256u << 10);
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// Watches spread over connections, watcher w of key watcher_keys[w] with the frame id w + 1.
// Counts the created answers, hands every events frame (the watch's revision and its count of
// events) to the handler, and counts any other answer as an error: a refused or ended watch.
class watch_set {
 public:
  using events_handler =
      std::function<void(std::size_t watcher, std::uint64_t revision, std::uint32_t count, steady_clock::time_point)>;

  watch_set(load_state& state, events_handler on_events) : state_(state), on_events_(std::move(on_events)) {}
  ~watch_set() { close(); }

  // Opens `connections` connections, connection c to targets[c mod targets], and sends every
  // watch: watcher w on connection (w / group) mod connections (group: watches of one stream).
  void open(std::size_t connections, const std::vector<asio::ip::tcp::endpoint>& targets) {
    for (std::size_t c = 0; c < connections; ++c) {
      auto conn = std::make_shared<raw_connection>(state_);
      conn->open(targets[c % targets.size()],
                 [this](const protocol::frame& f, steady_clock::time_point now) { on_frame(f, now); });
      conns_.push_back(conn);
    }
  }
  void send(const std::vector<std::string>& watcher_keys, std::size_t group) {
    watchers_ = watcher_keys.size();
    for (std::size_t w = 0; w < watcher_keys.size(); ++w) {
      protocol::watch_request req;
      req.key = watcher_keys[w];
      protocol::request_watch(conns_[(w / group) % conns_.size()]->out(), w + 1, req);
    }
    for (auto& c : conns_) c->flush();
  }
  std::size_t created() const { return created_; }
  bool all_created() const { return created_ == watchers_; }
  void close() {
    for (auto& c : conns_) c->close();
  }

 private:
  void on_frame(const protocol::frame& f, steady_clock::time_point now) {
    const auto w = static_cast<std::size_t>(f.id - 1);
    const auto st = static_cast<protocol::status>(f.code);
    if (f.id == 0 || w >= watchers_) {
      state_.errors.error("bad_answer", fmt::format("a frame for watch {}, which was never sent", f.id));
    } else if (st == protocol::status::events && f.body.size() >= 12) {
      on_events_(w, load_u64(f.body, 0), load_u32(f.body, 8), now);
    } else if (st == protocol::status::ok) {
      if (++created_ == watchers_) state_.wake.notify();
    } else {
      state_.errors.error(protocol::status_name(st),
                          fmt::format("watch {} ended: {}", f.id, protocol::parse_error(f.body).message));
      state_.wake.notify();
    }
  }

  load_state& state_;
  events_handler on_events_;
  std::vector<std::shared_ptr<raw_connection>> conns_;
  std::size_t watchers_ = 0;
  std::size_t created_ = 0;
};

// etcd's rate limiter (golang.org/x/time/rate): `rate` tokens a second flow into a bucket of
// `burst`, full at the start, and each put takes one. Rate 0: no limit.
class token_bucket {
 public:
  token_bucket(double rate, double burst) : rate_(rate), burst_(std::max(1.0, burst)), tokens_(burst_) {}
  // When the next token is there: `now` if it is.
  steady_clock::time_point next_at(steady_clock::time_point now) {
    if (rate_ <= 0) return now;
    refill(now);
    if (tokens_ >= 1) return now;
    return now +
           std::chrono::duration_cast<steady_clock::duration>(std::chrono::duration<double>((1 - tokens_) / rate_));
  }
  void take(steady_clock::time_point now) {
    if (rate_ <= 0) return;
    refill(now);
    tokens_ -= 1;
  }

 private:
  void refill(steady_clock::time_point now) {
    if (last_ != steady_clock::time_point()) {
      tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
    }
    last_ = now;
  }
  double rate_;
  double burst_;
  double tokens_;
  steady_clock::time_point last_;
};

// Puts on a connection of their own; put i has the frame id i + 1. Each answer is timed and
// handed to `on_ack` with the revision the put took.
class put_connection {
 public:
  using ack_handler = std::function<void(std::uint64_t i, std::uint64_t revision, steady_clock::time_point sent,
                                         steady_clock::time_point now)>;

  explicit put_connection(load_state& state) : state_(state), conn_(std::make_shared<raw_connection>(state)) {}
  ~put_connection() { conn_->close(); }

  void open(const asio::ip::tcp::endpoint& ep, ack_handler on_ack) {
    on_ack_ = std::move(on_ack);
    conn_->open(ep, [this](const protocol::frame& f, steady_clock::time_point now) { on_frame(f, now); });
  }
  void put(std::uint64_t i, std::string_view key, std::string_view value) {
    if (sent_at_.size() <= i) sent_at_.resize(std::max<std::size_t>(i + 1, sent_at_.size() * 2));
    auto now = steady_clock::now();
    if (first_sent == steady_clock::time_point()) first_sent = now;
    sent_at_[i] = now;
    protocol::request_set(conn_->out(), i + 1, key, value);
    conn_->flush();
    ++in_flight_;
  }
  std::size_t in_flight() const { return in_flight_; }

  latency_recorder latency;  // from send to answer
  std::uint64_t acked = 0;
  steady_clock::time_point first_sent;
  steady_clock::time_point last_acked;

 private:
  void on_frame(const protocol::frame& f, steady_clock::time_point now) {
    const auto i = f.id - 1;
    --in_flight_;
    last_acked = now;
    const auto st = static_cast<protocol::status>(f.code);
    auto reply = st == protocol::status::ok ? protocol::parse_write_reply(f.body) : std::nullopt;
    if (!reply) {
      state_.errors.error(protocol::status_name(st), fmt::format("put {} failed: {} {}", i, protocol::status_name(st),
                                                                 protocol::parse_error(f.body).message));
    } else {
      ++acked;
      latency.add(now - sent_at_[i]);
      if (on_ack_) on_ack_(i, reply->revision, sent_at_[i], now);
    }
    state_.wake.notify();
  }

  load_state& state_;
  std::shared_ptr<raw_connection> conn_;
  ack_handler on_ack_;
  std::vector<steady_clock::time_point> sent_at_;
  std::size_t in_flight_ = 0;
};

inline asio::awaitable<void> sleep_until(steady_clock::time_point t) {
  asio::steady_timer timer(co_await asio::this_coro::executor, t);
  co_await timer.async_wait(asio::use_awaitable);
}

// Sends puts 0 .. total-1 (put i of key_of(i)), at most `in_flight` unanswered, as `bucket`
// allows; returns once every one is answered, or the run failed. `state` and `puts` must outlive
// the call (their owner awaits it).
inline asio::awaitable<void> paced_puts(load_state& state, put_connection& puts, std::uint64_t total,
                                        std::size_t in_flight, token_bucket bucket,
                                        std::function<std::string_view(std::uint64_t)> key_of, std::string value) {
  for (std::uint64_t i = 0; i < total && state.errors.count == 0;) {
    if (puts.in_flight() >= in_flight) {
      co_await state.wake.wait();
      continue;
    }
    auto now = steady_clock::now();
    auto at = bucket.next_at(now);
    if (at > now) {
      co_await sleep_until(at);
      continue;
    }
    bucket.take(now);
    puts.put(i, key_of(i), value);
    ++i;
  }
  while (puts.in_flight() > 0 && state.errors.count == 0) co_await state.wake.wait();
}

// Waits until `done()` or the run failed, `limit` at the longest; whether done() holds. `state`
// must outlive the call.
inline asio::awaitable<bool> wait_for(load_state& state, steady_clock::duration limit, std::function<bool()> done) {
  auto until = steady_clock::now() + limit;
  while (!done() && state.errors.count == 0 && steady_clock::now() < until) co_await state.wake.wait_until(until);
  co_return done();
}

}  // namespace kv::bench

#pragma once
// The client's connection to one node (private to io/client): a reader coroutine that matches
// response frames to the requests in flight by id, batched writes, request deadlines, and
// streams (requests answered by many frames: watches).
//
// Threading: the client's executor, like the client.

#include "io/client/client.hpp"
#include "core/base/address.hpp"
#include "io/sys/completion.hpp"
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

#include <cstring>
#include <deque>
#include <functional>
#include <unordered_map>

namespace kv {

namespace client_detail {
inline constexpr std::chrono::milliseconds timeout_granularity{20};
inline constexpr std::size_t read_chunk = 64u << 10;

// Why the parsed front of a response stream is not a kvnode frame, or "" if it is one (or is
// still incomplete).
inline std::string not_a_response(const protocol::parse_result& r, std::uint32_t max_frame) {
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
inline std::string printable_start(std::string_view bytes) {
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
}  // namespace client_detail

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

  // A stream: a request answered by any number of frames (a watch), which go to `on_frame` as
  // they arrive (views valid during the call) until close_stream(); `on_lost` is called instead
  // if the connection closes first. No deadline: the stream's owner checks liveness. Returns
  // the request's id, 0 if the connection is closed.
  struct stream_handlers {
    std::function<void(const protocol::frame&)> on_frame;
    std::function<void(const error_info&)> on_lost;
  };
  template <typename Encode>
  std::uint64_t open_stream(Encode& encode, stream_handlers h) {
    if (!open_) return 0;
    auto id = next_id_++;
    encode(out_, id);
    queue_flush();
    streams_.emplace(id, std::make_shared<stream_handlers>(std::move(h)));
    return id;
  }
  void close_stream(std::uint64_t id) { streams_.erase(id); }

  // Sends a request whose answer nobody waits for (a watch's cancel).
  template <typename Encode>
  void send_only(Encode& encode) {
    if (!open_) return;
    encode(out_, next_id_++);
    queue_flush();
  }

  // Fails every request in flight and every stream with `why` and closes the socket.
  void close(std::error_code code, const std::string& why) {
    open_ = false;
    std::error_code ignored;
    socket_.close(ignored);
    deadline_timer_.cancel();
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, done] : pending) done(error_info{code, why, {}});
    auto streams = std::move(streams_);
    streams_.clear();
    for (auto& [id, h] : streams) h->on_lost(error_info{code, why, {}});
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
    std::vector<char> buf(client_detail::read_chunk);
    std::size_t begin = 0;
    std::size_t end = 0;
    std::error_code ec;
    while (open_) {
      if (begin == end) begin = end = 0;
      if (buf.size() - end < client_detail::read_chunk / 4) {
        std::memmove(buf.data(), buf.data() + begin, end - begin);
        end -= begin;
        begin = 0;
        if (buf.size() - end < client_detail::read_chunk / 4) buf.resize(buf.size() * 2);
      }
      auto room = buf.size() - end;
      auto n = co_await io::read_some(socket_, asio::buffer(buf.data() + end, room), ec);
      if (ec) break;
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
        if (auto why = client_detail::not_a_response(r, opts_.max_frame_bytes); !why.empty()) {
          close(std::make_error_code(std::errc::protocol_error),
                fmt::format("{} did not answer as a kvnode node (malformed response: {}; it began \"{}\")", endpoint_,
                            why, client_detail::printable_start(std::string_view(buf.data() + begin, end - begin))));
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
    if (auto s = streams_.find(f.id); s != streams_.end()) {
      auto handlers = s->second;  // on_frame may close the stream
      handlers->on_frame(f);
      return;
    }
    auto it = pending_.find(f.id);
    if (it == pending_.end()) return;  // timed out already, or a stream's late frame
    auto done = std::move(it->second);
    pending_.erase(it);
    done(response{status, std::string(f.body)});
  }

  asio::awaitable<void> deadline_loop() {
    std::error_code ec;
    while (open_ && !deadlines_.empty()) {
      deadline_timer_.expires_after(client_detail::timeout_granularity);
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
  std::unordered_map<std::uint64_t, std::shared_ptr<stream_handlers>> streams_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> deadlines_;
  bool watching_deadlines_ = false;
};

}  // namespace kv

#include "io/server/connection.hpp"

#include "core/base/spawn.hpp"
#include "io/server/error_text.hpp"
#include "io/server/server.hpp"
#include "io/sys/socket_read.hpp"

#include <asio/co_spawn.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace kv {

namespace {
constexpr std::size_t read_chunk = 64u << 10;  // a read asks for at least this much
constexpr std::size_t idle_buffer = 1u << 20;  // larger idle buffers are given back
}  // namespace

std::string peer_text(const asio::ip::tcp::socket& socket) {
  std::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("?") : fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

connection::connection(server& srv, asio::ip::tcp::socket socket)
    : srv_(srv),
      socket_(std::move(socket)),
      peer_(peer_text(socket_)),
      wake_reader_(srv.executor_),
      last_activity_(std::chrono::steady_clock::now()),
      wake_writer_(srv.executor_) {
  srv_.connections_.insert(this);
}

connection::~connection() {
  cancel_watches();
  srv_.forget(this);
}

void connection::start() {
  // Half the limit, as resume_watches() waits for.
  outbox_ = io::outbox::make(socket_, srv_.send_pool_.next(), connection_output_limit / 2, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->output_sent();
  });
  // If either side fails, the other must not wait for it: the connection closes.
  auto close_on_failure = [this](std::string what) {
    return [self = shared_from_this(), log = log_failure(std::move(what))](std::exception_ptr e) {
      log(e);
      if (e) self->close();
    };
  };
  asio::co_spawn(srv_.executor_, [self = shared_from_this()] { return self->read_loop(); },
                 close_on_failure("connection " + peer_));
  asio::co_spawn(srv_.executor_, [self = shared_from_this()] { return self->write_loop(); },
                 close_on_failure("connection " + peer_ + " (writer)"));
}

void connection::drain() {
  reading_ = false;
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ignored);
  wake_reader_.notify();
  wake_writer();
}

void connection::close() {
  reading_ = false;
  cancel_watches();
  if (outbox_) outbox_->abort();
  std::error_code ignored;
  socket_.close(ignored);
  wake_reader_.notify();
  wake_writer();
}

bool connection::idle_since(std::chrono::steady_clock::time_point t) const {
  return inflight_ == 0 && deferred_.empty() && watches_.empty() && last_activity_ < t;
}

// ---- reader and backpressure ------------------------------------------------------------

asio::awaitable<void> connection::read_loop() {
  std::error_code ec;
  while (reading_) {
    if (over_limits()) {
      co_await wake_reader_.wait();  // backpressure: let responses drain first
      continue;
    }
    if (frames_waiting_) {  // requests buffered while over the limits go before new reads
      handle_frames();
      wake_writer();
      continue;
    }
    make_room();
    auto room = in_.size() - in_end_;
    auto n = co_await io::read_some(socket_, asio::buffer(in_.data() + in_end_, room), ec);
    if (ec) break;
    last_activity_ = std::chrono::steady_clock::now();
    in_end_ += n;
    handle_frames();
    wake_writer();
  }
  if (ec && ec != asio::error::eof && ec != asio::error::operation_aborted) {
    spdlog::debug("connection {}: read failed: {}", peer_, ec.message());
  }
  reading_ = false;
  cancel_watches();
  wake_writer();
}

// Keeps the unread bytes at the front of the buffer with room after them for the next read,
// and for the whole of a frame whose length is already known.
void connection::make_room() {
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
bool connection::over_limits() const {
  return inflight_ >= srv_.cfg_.max_pipeline || unsent() >= connection_output_limit;
}

void connection::handle_frames() {
  const auto max_frame = static_cast<std::uint32_t>(srv_.cfg_.max_frame_bytes);
  frame_needed_ = 0;
  frames_waiting_ = false;
  while (reading_ && in_begin_ < in_end_) {
    if (over_limits()) {
      frames_waiting_ = true;
      return;
    }
    auto unread = std::string_view(in_.data() + in_begin_, in_end_ - in_begin_);
    auto r = protocol::parse_frame(unread, max_frame);
    switch (r.status) {
      case protocol::parse_status::incomplete:
        if (r.declared) frame_needed_ = protocol::length_bytes + r.declared;
        return;
      case protocol::parse_status::too_large:
        return reject(r.declared < protocol::header_bytes ? 0 : protocol::peek_id(unread).value_or(0),
                      protocol::status::too_large, error_text::frame_too_large(r.declared, max_frame));
      case protocol::parse_status::malformed:
        return reject(0, protocol::status::bad_request, error_text::frame_too_short(r.declared));
      case protocol::parse_status::ok:
        handle(r.f);
        in_begin_ += r.f.size;
        break;
    }
  }
}

void connection::reject(std::uint64_t id, protocol::status s, std::string_view message) {
  ++srv_.stats_.bad_frames;
  spdlog::debug("connection {}: {}; closing it", peer_, message);
  protocol::respond_error(out_, id, s, message);
  reading_ = false;
  in_begin_ = in_end_ = 0;
  wake_writer();
}

// ---- writer -----------------------------------------------------------------------------

asio::awaitable<void> connection::write_loop() {
  std::error_code ec;
  while (!finished()) {
    if (out_.empty()) {
      writer_waiting_ = true;
      co_await wake_writer_.wait();
      writer_waiting_ = false;
      continue;
    }
    srv_.note_send();
    co_await outbox_->send(out_, srv_.send_route(), ec);
    if (ec) {
      spdlog::debug("connection {}: write failed: {}", peer_, ec.message());
      close();
    }
    resume_watches();
    wake_reader_.notify();
  }
  outbox_->finish();
  std::error_code ignored;
  socket_.close(ignored);
}

std::size_t connection::unsent() const noexcept { return out_.size() + (outbox_ ? outbox_->unsent() : 0); }

void connection::output_sent() {
  if (auto ec = outbox_->failure()) {
    spdlog::debug("connection {}: write failed: {}", peer_, ec.message());
    return close();
  }
  resume_watches();
  wake_reader_.notify();
}

void connection::wake_writer() {
  // The writer resumes once the current handler returns, so the responses this round of work
  // produces leave in one write.
  if (!writer_waiting_) return;
  writer_waiting_ = false;
  wake_writer_.notify();
}

bool connection::finished() const { return !reading_ && inflight_ == 0 && deferred_.empty() && out_.empty(); }

void connection::answered() {
  wake_writer();
  wake_reader_.notify();
}

}  // namespace kv

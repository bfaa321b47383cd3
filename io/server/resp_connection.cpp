#include "io/server/resp_connection.hpp"

#include "core/base/spawn.hpp"
#include "io/server/connection.hpp"
#include "io/server/resp_commands.hpp"
#include "io/server/server.hpp"
#include "io/sys/socket_read.hpp"

#include <asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <cstring>

namespace kv {

namespace {
constexpr std::size_t read_chunk = 64u << 10;  // a read asks for at least this much
constexpr std::size_t idle_buffer = 1u << 20;  // larger idle buffers are given back

std::string local_text(const asio::ip::tcp::socket& socket) {
  std::error_code ec;
  auto e = socket.local_endpoint(ec);
  return ec ? std::string("?:0") : fmt::format("{}:{}", e.address().to_string(), e.port());
}

resp::parser_limits limits_of(const server_config& cfg) {
  resp::parser_limits l;
  l.max_bulk_bytes = cfg.max_frame_bytes;
  return l;
}
}  // namespace

resp_connection::resp_connection(server& srv, asio::ip::tcp::socket socket)
    : srv_(srv),
      socket_(std::move(socket)),
      peer_(peer_text(socket_)),
      local_(local_text(socket_)),
      id_(srv.next_resp_client_id_++),
      parser_(limits_of(srv.cfg_)),
      wake_reader_(srv.executor_),
      wake_writer_(srv.executor_) {
  srv_.resp_connections_.insert(this);
}

resp_connection::~resp_connection() { srv_.forget(this); }

void resp_connection::start() {
  outbox_ = io::outbox::make(socket_, srv_.send_pool_.next(), connection_output_limit, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->output_sent();
  });
  auto close_on_failure = [this](std::string what) {
    return [self = shared_from_this(), log = log_failure(std::move(what))](std::exception_ptr e) {
      log(e);
      if (e) self->close();
    };
  };
  asio::co_spawn(srv_.executor_, [self = shared_from_this()] { return self->read_loop(); },
                 close_on_failure("redis connection " + peer_));
  asio::co_spawn(srv_.executor_, [self = shared_from_this()] { return self->write_loop(); },
                 close_on_failure("redis connection " + peer_ + " (writer)"));
}

void resp_connection::drain() {
  reading_ = false;
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ignored);
  wake_reader_.notify();
  wake_writer();
}

void resp_connection::close() {
  closed_ = true;
  reading_ = false;
  if (outbox_) outbox_->abort();
  std::error_code ignored;
  socket_.close(ignored);
  wake_reader_.notify();
  wake_writer();
}

// ---- replies, in command order ----------------------------------------------------------

resp::reply resp_connection::reply_now() {
  ++next_seq_;
  if (replies_.empty()) {
    head_seq_ = next_seq_;
    return resp::reply(out_, version_);
  }
  auto& r = replies_.emplace_back();
  r.done = true;
  return resp::reply(r.bytes, version_);
}

resp_connection::ticket resp_connection::later(kind k) {
  if (replies_.empty()) head_seq_ = next_seq_;
  replies_.emplace_back();
  // An exclusive ticket holds back reads and writes alike until it is finished.
  if (k == kind::read || k == kind::exclusive) ++reads_in_flight_;
  if (k == kind::write || k == kind::exclusive) ++writes_in_flight_;
  return ticket{next_seq_++, k};
}

void resp_connection::finish(ticket t, std::string bytes) {
  auto& r = replies_.at(t.seq - head_seq_);
  r.bytes = std::move(bytes);
  r.done = true;
  if (t.k == kind::read || t.k == kind::exclusive) --reads_in_flight_;
  if (t.k == kind::write || t.k == kind::exclusive) --writes_in_flight_;
  flush_replies();
  wake_writer();
  if (!handling_) handle_input();  // commands held back by the order rules may run now
  wake_reader_.notify();
}

void resp_connection::flush_replies() {
  while (!replies_.empty() && replies_.front().done) {
    held_push_bytes_ -= replies_.front().push_bytes;
    out_.append(replies_.front().bytes);
    replies_.pop_front();
    ++head_seq_;
  }
}

void resp_connection::quit() { closing_ = true; }

// ---- pub/sub ------------------------------------------------------------------------------

bool resp_connection::subscribed() const noexcept { return srv_.pubsub().subscriptions(id_) != 0; }

void resp_connection::push_message(const std::string* pattern, std::string_view channel, std::string_view message) {
  if (closed_) return;
  // Checked before the message is added, so one message larger than the limit (up to
  // max-frame-size) reaches a subscriber that keeps up; unsent output stays below the limit
  // plus one message.
  if (unsent() + held_push_bytes_ >= connection_output_limit) {
    spdlog::warn("closing redis connection {} (id {}): its unsent pub/sub messages passed the output limit ({} bytes)",
                 peer_, id_, connection_output_limit);
    return close();
  }
  // RESP2: behind the replies of the commands already read. RESP3: between whole replies.
  const bool behind = version_ == resp::version::resp2 && !replies_.empty();
  std::string* out = &out_;
  if (behind) {
    ++next_seq_;  // as reply_now(): the message takes a place in the reply order
    auto& r = replies_.emplace_back();
    r.done = true;
    out = &r.bytes;
  }
  const auto before = out->size();
  resp::reply r(*out, version_);
  if (pattern != nullptr) {
    r.push(4);
    r.bulk("pmessage");
    r.bulk(*pattern);
  } else {
    r.push(3);
    r.bulk("message");
  }
  r.bulk(channel);
  r.bulk(message);
  if (behind) {
    replies_.back().push_bytes = out->size() - before;
    held_push_bytes_ += out->size() - before;
  }
  wake_writer();
}

bool resp_connection::idle_since(std::chrono::steady_clock::time_point t) const {
  return last_command_at < t && connected_at_ < t && replies_.empty() && unsent() == 0 &&
         !subscribed();
}

resp_connection::buffer_use resp_connection::buffers() const noexcept {
  std::size_t pending = 0;
  for (const auto& r : replies_) pending += r.bytes.size();
  return {in_end_ - in_begin_, in_.size() - in_end_, out_.size(), replies_.size(),
          unsent() + pending};
}

// ---- reader -----------------------------------------------------------------------------

bool resp_connection::over_output_limits() const {
  return replies_.size() >= srv_.cfg_.max_pipeline || unsent() >= connection_output_limit;
}

bool resp_connection::over_limits() const {
  // Unparsed input is bounded too: commands held back by the order rules wait in it, and the
  // largest command is one bulk string of at most max-frame-size.
  return over_output_limits() || in_end_ - in_begin_ >= srv_.cfg_.max_frame_bytes + read_chunk;
}

asio::awaitable<void> resp_connection::read_loop() {
  std::error_code ec;
  while (reading_ && !closing_) {
    if (over_limits()) {
      co_await wake_reader_.wait();
      // Commands left in the input when the output limit stopped them run before a new read,
      // which might never come: the client may be waiting for their replies.
      handle_input();
      wake_writer();
      continue;
    }
    // The bytes received and not yet consumed are in_[in_begin_, in_end_); the rest of in_ is
    // room for the next read, never parsed (commands may run while this read waits).
    if (in_begin_ == in_end_) {
      in_begin_ = in_end_ = 0;
      if (in_.size() > idle_buffer) std::string(read_chunk, '\0').swap(in_);
    } else if (in_begin_ > read_chunk) {
      std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    }
    const auto want = std::max(read_chunk, parser_.missing());
    if (in_.size() < in_end_ + want) in_.resize(in_end_ + want);
    auto n = co_await io::read_some(socket_, asio::buffer(in_.data() + in_end_, want), ec);
    if (ec) break;
    in_end_ += n;
    handle_input();
    wake_writer();
  }
  if (ec && ec != asio::error::eof && ec != asio::error::operation_aborted) {
    spdlog::debug("redis connection {}: read failed: {}", peer_, ec.message());
  }
  reading_ = false;
  wake_writer();
}

void resp_connection::handle_input() {
  // A command answered within its own run (a refusal) calls finish() from in here.
  handling_ = true;
  struct done_handling {
    bool& flag;
    ~done_handling() { flag = false; }
  } guard{handling_};
  while (!closing_ && in_begin_ < in_end_ && !over_output_limits()) {
    auto unread = std::string_view(in_.data() + in_begin_, in_end_ - in_begin_);
    auto s = parser_.next(unread);
    if (s == resp::parser::status::need_more) return;
    if (s == resp::parser::status::error) {
      spdlog::debug("redis connection {}: {}; closing it", peer_, parser_.error());
      reply_now().error("ERR " + parser_.error());
      closing_ = true;
      in_begin_ = in_end_ = 0;
      break;
    }
    const auto& args = parser_.args();
    const auto command = look_up_resp_command(args);
    const auto k = command.k;
    // Held back, its bytes left in the input, until the commands it must follow are answered.
    if ((k == kind::read && writes_in_flight_ > 0) || (k == kind::write && reads_in_flight_ > 0) ||
        (k == kind::exclusive && reads_in_flight_ + writes_in_flight_ > 0)) {
      return;
    }
    ++srv_.stats_.requests;
    run_resp_command(*this, command, args);
    in_begin_ += parser_.consumed();
  }
  flush_replies();
  wake_writer();
}

// ---- writer -----------------------------------------------------------------------------

asio::awaitable<void> resp_connection::write_loop() {
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
      spdlog::debug("redis connection {}: write failed: {}", peer_, ec.message());
      close();
    }
    wake_reader_.notify();
  }
  outbox_->finish();
  std::error_code ignored;
  socket_.close(ignored);
}

void resp_connection::output_sent() {
  if (auto ec = outbox_->failure()) {
    spdlog::debug("redis connection {}: write failed: {}", peer_, ec.message());
    return close();
  }
  wake_reader_.notify();
}

void resp_connection::wake_writer() {
  if (!writer_waiting_) return;
  writer_waiting_ = false;
  wake_writer_.notify();
}

bool resp_connection::finished() const {
  return (!reading_ || closing_) && replies_.empty() && out_.empty();
}

}  // namespace kv

#include "io/client/watch_stream.hpp"

#include "io/client/client_connection.hpp"

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace kv {

namespace {
constexpr std::chrono::milliseconds min_backoff{20};
constexpr std::chrono::milliseconds max_backoff{200};

}  // namespace

asio::awaitable<result<std::unique_ptr<watch_stream>>> client::watch(watch_spec spec) {
  auto s = std::make_unique<watch_stream>(*this, std::move(spec));
  if (auto failed = co_await s->resume()) co_return *failed;
  // A compacted start is the stream's to report; any other refusal is final.
  if (s->ended_ && s->ended_->code != make_error_code(errc::compacted)) co_return *s->ended_;
  co_return std::move(s);
}

watch_stream::watch_stream(client& c, watch_spec spec)
    : client_(c), spec_(std::move(spec)), resume_from_(spec_.start_revision), wake_(c.executor_) {}

watch_stream::~watch_stream() { detach(); }

asio::awaitable<result<watch_batch>> watch_stream::next() {
  for (;;) {
    if (!ready_.empty()) {
      auto b = std::move(ready_.front());
      ready_.pop_front();
      co_return b;
    }
    if (state_ == state::ended) co_return *ended_;
    if (state_ == state::idle) {
      if (auto failed = co_await resume()) co_return *failed;
      continue;
    }
    const auto deadline = std::chrono::steady_clock::now() + client_.opts_.request_timeout;
    co_await wake_.wait_until(deadline);
    if (ready_.empty() && state_ == state::running && std::chrono::steady_clock::now() >= deadline) {
      co_await check_alive();
    }
  }
}

void watch_stream::request_progress() {
  if (state_ != state::running) return;
  progress_wanted_ = true;
  auto encode = [](std::string& out, std::uint64_t id) { protocol::request_watch_progress(out, id); };
  conn_->send_only(encode);
}

void watch_stream::cancel() {
  if (state_ == state::ended) return;
  detach();
  end(error_info{std::make_error_code(std::errc::operation_canceled), "the watch was cancelled", {}});
}

asio::awaitable<std::optional<error_info>> watch_stream::resume() {
  const auto deadline = std::chrono::steady_clock::now() + client_.opts_.leader_wait;
  auto backoff = min_backoff;
  for (;;) {
    auto failed = co_await start();
    if (!failed || state_ == state::ended) co_return std::nullopt;
    // The node is gone, paused or refusing watches for now: try the next one.
    client_.close();
    client_.current_ = (client_.current_ + 1) % client_.opts_.endpoints.size();
    if (std::chrono::steady_clock::now() + backoff > deadline) {
      co_return error_info{make_error_code(errc::unavailable),
                           fmt::format("no node took the watch within {} ms: {}", client_.opts_.leader_wait.count(),
                                       failed->message.empty() ? failed->code.message() : failed->message),
                           {}};
    }
    asio::steady_timer t(client_.executor_, backoff);
    co_await t.async_wait(asio::use_awaitable);
    backoff = std::min(backoff * 2, max_backoff);
  }
}

asio::awaitable<std::optional<error_info>> watch_stream::start() {
  auto c = co_await client_.connected();
  // cancel() came while connecting or between attempts (resume()'s backoff): the watch stays
  // ended rather than open again on this connection.
  if (state_ == state::ended) co_return std::nullopt;
  if (!c) co_return c.failure();
  protocol::watch_request w;
  w.key = spec_.key;
  w.end = spec_.end;
  w.start_revision = resume_from_;
  w.no_put = spec_.no_put;
  w.no_delete = spec_.no_delete;
  w.prev_kv = spec_.prev_kv;
  w.progress_notify = spec_.progress_notify;
  auto encode = [&](std::string& out, std::uint64_t id) { protocol::request_watch(out, id, w); };
  client::connection::stream_handlers h;
  h.on_frame = [this](const protocol::frame& f) { on_frame(f); };
  h.on_lost = [this](const error_info& why) { on_lost(why); };
  conn_ = *c;
  id_ = conn_->open_stream(encode, std::move(h));
  if (id_ == 0) {
    conn_.reset();
    co_return error_info{make_error_code(errc::unavailable), "the connection closed", {}};
  }
  state_ = state::starting;
  start_failure_.reset();
  const auto deadline = std::chrono::steady_clock::now() + client_.opts_.request_timeout;
  while (state_ == state::starting && std::chrono::steady_clock::now() < deadline) {
    co_await wake_.wait_until(deadline);
  }
  if (state_ == state::running || state_ == state::ended) co_return std::nullopt;
  if (state_ == state::starting) {
    const auto endpoint = conn_->endpoint();
    detach();
    state_ = state::idle;
    co_return error_info{make_error_code(errc::timed_out),
                         fmt::format("{} did not take the watch within {} ms", endpoint,
                                     client_.opts_.request_timeout.count()),
                         {}};
  }
  co_return *start_failure_;
}

asio::awaitable<void> watch_stream::check_alive() {
  auto c = conn_;
  auto encode = [](std::string& out, std::uint64_t id) { protocol::request_watch_progress(out, id); };
  auto r = co_await c->request(encode);
  if ((!r || r->status != protocol::status::ok) && c == conn_ && c->open()) {
    c->close(make_error_code(errc::unavailable),
             fmt::format("{} did not answer a progress request: {}", c->endpoint(),
                         r ? protocol::status_name(r->status) : r.message()));
  }
}

void watch_stream::on_frame(const protocol::frame& f) {
  const auto status = static_cast<protocol::status>(f.code);
  if (status == protocol::status::ok && state_ == state::starting) {
    auto from = protocol::parse_index(f.body);
    if (!from) return end(error_info{make_error_code(errc::internal), "malformed watch answer", {}});
    if (!created_) created_ = *from;
    resume_from_ = std::max(resume_from_, *from + 1);
    state_ = state::running;
    wake_.notify();
    return;
  }
  if (status == protocol::status::events && state_ == state::running) {
    auto body = protocol::parse_events(f.body);
    if (!body) return end(error_info{make_error_code(errc::internal), "malformed watch events", {}});
    std::move(body->events.begin(), body->events.end(), std::back_inserter(partial_.events));
    if ((f.flags & protocol::flag_continued) != 0) return;
    auto batch = std::move(partial_);
    partial_ = {};
    if (batch.events.empty()) {  // progress: say so only if it was asked for
      resume_from_ = std::max(resume_from_, body->revision + 1);
      if (!spec_.progress_notify && !std::exchange(progress_wanted_, false)) return;
    } else {
      resume_from_ = body->revision + 1;
    }
    batch.revision = resume_from_ - 1;
    ready_.push_back(std::move(batch));
    wake_.notify();
    return;
  }
  if (status == protocol::status::ok || status == protocol::status::events) return;  // not expected now
  // An error ends the watch: the node refused it (a bad request, max-watches) or its next
  // revision was compacted. None is worth sending again elsewhere.
  auto e = protocol::parse_error(f.body);
  error_info why{make_error_code(protocol::to_errc(status)), std::move(e.message), {}};
  if (conn_) conn_->close_stream(id_);
  conn_.reset();
  id_ = 0;
  partial_ = {};
  if (status == protocol::status::compacted) compact_revision_ = e.compact_revision;
  end(std::move(why));
}

void watch_stream::on_lost(const error_info& why) {
  conn_.reset();
  id_ = 0;
  partial_ = {};
  if (state_ == state::ended) return;
  state_ = state::idle;
  start_failure_ = why;
  wake_.notify();
}

void watch_stream::end(error_info why) {
  detach();
  state_ = state::ended;
  ended_ = std::move(why);
  wake_.notify();
}

void watch_stream::detach() {
  if (conn_ && id_ != 0) {
    conn_->close_stream(id_);
    auto encode = [this](std::string& out, std::uint64_t id) { protocol::request_watch_cancel(out, id, id_); };
    conn_->send_only(encode);
  }
  conn_.reset();
  id_ = 0;
}

}  // namespace kv

// The watch side of a connection: watch, watch_cancel and watch_progress requests, and the sinks
// that turn the watch hub's events into frames. See connection.hpp and docs/protocol.md.

#include "core/base/bytes.hpp"
#include "core/watch/watch_hub.hpp"
#include "io/server/connection.hpp"
#include "io/server/error_text.hpp"
#include "io/server/server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace kv {

namespace {
protocol::kv_fields fields_of(const key_value& kv) {
  protocol::kv_fields f;
  f.key = kv.key;
  f.value = kv.value;
  f.create_revision = kv.create_revision;
  f.mod_revision = kv.mod_revision;
  f.version = kv.version;
  return f;
}

// Appends `e` to the events frame under way in `out`.
void append_change(std::string& out, const key_event& e) {
  const auto now = fields_of(e.kv);
  if (e.prev) {
    const auto prev = fields_of(*e.prev);
    protocol::append_event(out, e.deleted, now, &prev);
  } else {
    protocol::append_event(out, e.deleted, now, nullptr);
  }
}
}  // namespace

void connection::start_watch(std::uint64_t id, std::string_view body) {
  auto& st = srv_.store_;
  auto& hub = st.watches();
  auto req = protocol::parse_watch(body);
  if (!req) return respond_bad_body(id, "watch");
  if (watches_.contains(id)) {
    return protocol::respond_error(out_, id, protocol::status::bad_request,
                                   error_text::watch_id_in_use(id));
  }
  for (auto key : {req->key, req->end}) {
    if (key.size() > st.storage().max_key_bytes) {
      return protocol::respond_error(out_, id, protocol::status::too_large,
                                     error_text::key_refused(errc::too_large, key.size(), st.storage()));
    }
  }
  if (hub.watchers() >= srv_.cfg_.max_watches) {
    spdlog::warn("refusing a watch from {}: max-watches ({}) reached", peer_, srv_.cfg_.max_watches);
    return protocol::respond_error(out_, id, protocol::status::unavailable,
                                   error_text::too_many_watches(srv_.cfg_.max_watches));
  }
  watch_options o;
  o.key = std::string(req->key);
  o.end = std::string(req->end);
  o.start_revision = req->start_revision;
  o.no_put = req->no_put;
  o.no_delete = req->no_delete;
  o.prev_kv = req->prev_kv;
  watch_sink sink;
  sink.events = [this, id](std::span<const key_event> events) { return send_events(id, events); };
  sink.ended = [this, id](const error_info& why) { on_watch_ended(id, why); };
  auto hub_id = hub.watch(std::move(o), std::move(sink));
  if (!hub_id) {
    return protocol::respond_watch_end(out_, id, protocol::to_status(hub_id.error()), hub_id.message(),
                                       hub_id.is(errc::compacted) ? st.state().compacted_revision() : 0);
  }
  watch_stream w;
  w.hub_id = *hub_id;
  w.progress_notify = req->progress_notify;
  w.last_sent = std::chrono::steady_clock::now();
  watches_.emplace(id, w);
  ++srv_.stats_.watches_started;
  // Every change after this revision will be reported (a start in the past replays from there).
  protocol::respond_index(out_, id, req->start_revision != 0 ? req->start_revision - 1 : st.state().revision());
  const bool replays = req->start_revision != 0 && req->start_revision <= st.state().revision();
  // Only a watch from the past has history to replay now; the store steps any other watcher
  // catching up after each apply round and tick.
  if (replays) hub.step();
}

void connection::cancel_watch(std::uint64_t id, std::string_view body) {
  auto watch_id = protocol::parse_watch_cancel(body);
  if (!watch_id) return respond_bad_body(id, "watch_cancel");
  auto it = watches_.find(*watch_id);
  if (it == watches_.end()) {
    return protocol::respond_error(out_, id, protocol::status::not_found, error_text::no_such_watch(*watch_id));
  }
  srv_.store_.watches().cancel(it->second.hub_id);
  if (it->second.paused) --paused_watches_;
  watches_.erase(it);
  protocol::respond_ok(out_, id);  // after every frame of the watch: none follows
}

void connection::report_progress(std::uint64_t id) {
  for (auto& [watch_id, w] : watches_) send_progress(watch_id, w);
  protocol::respond_index(out_, id, srv_.store_.state().revision());
}

void connection::send_progress(std::uint64_t watch_id, watch_stream& w) {
  auto start = protocol::begin_events(out_, watch_id);
  protocol::finish_events(out_, start, srv_.store_.watches().caught_up(w.hub_id), 0, false);
  w.last_sent = std::chrono::steady_clock::now();
  wake_writer();
}

void connection::notify_idle_watches(std::chrono::steady_clock::time_point t) {
  for (auto& [watch_id, w] : watches_) {
    if (w.progress_notify && !w.paused && w.last_sent <= t) send_progress(watch_id, w);
  }
}

bool connection::append_single_event(std::uint64_t watch_id, const key_event& e) {
  auto& cached = srv_.last_event_frame_;
  const bool with_prev = e.prev.has_value();
  if (cached.revision == e.kv.mod_revision && cached.deleted == e.deleted && cached.with_prev == with_prev &&
      cached.key == e.kv.key && !cached.frame.empty()) {
    const auto start = out_.size();
    out_.append(cached.frame);
    put_fixed<std::uint64_t>(out_.data() + start + protocol::length_bytes + protocol::id_at, watch_id);
    return true;
  }
  const auto start = protocol::begin_events(out_, watch_id);
  append_change(out_, e);
  protocol::finish_events(out_, start, e.kv.mod_revision, 1, false);
  // A change is named by its key and revision; its bytes are the same for every watch but the id.
  cached.key.assign(e.kv.key);
  cached.revision = e.kv.mod_revision;
  cached.deleted = e.deleted;
  cached.with_prev = with_prev;
  cached.frame.assign(out_, start, out_.size() - start);
  return false;
}

bool connection::send_events(std::uint64_t watch_id, std::span<const key_event> events) {
  auto it = watches_.find(watch_id);
  if (it == watches_.end() || events.empty()) return true;
  if (events.size() == 1) {
    append_single_event(watch_id, events.front());
    return sent_events(it->second, 1);
  }
  // Frames of about events_frame_budget; a frame split inside a revision says it continues.
  auto start = protocol::begin_events(out_, watch_id);
  std::uint32_t count = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (count > 0 && out_.size() - start >= events_frame_budget) {
      const auto last = events[i - 1].kv.mod_revision;
      protocol::finish_events(out_, start, last, count, e.kv.mod_revision == last);
      start = protocol::begin_events(out_, watch_id);
      count = 0;
    }
    append_change(out_, e);
    ++count;
  }
  protocol::finish_events(out_, start, events.back().kv.mod_revision, count, false);
  return sent_events(it->second, events.size());
}

bool connection::sent_events(watch_stream& w, std::size_t events) {
  srv_.stats_.watch_events += events;
  // Only a watch with progress notifications reads last_sent, and a clock read for every frame
  // is a large share of what fanning one write out to many watches costs.
  if (w.progress_notify) w.last_sent = std::chrono::steady_clock::now();
  wake_writer();
  if (unsent() < connection_output_limit) return true;
  w.paused = true;
  ++paused_watches_;
  return false;
}

void connection::on_watch_ended(std::uint64_t watch_id, const error_info& why) {
  auto it = watches_.find(watch_id);
  if (it == watches_.end()) return;
  if (it->second.paused) --paused_watches_;
  watches_.erase(it);
  spdlog::debug("connection {}: watch {} ended: {}", peer_, watch_id, why.message);
  protocol::respond_watch_end(out_, watch_id, protocol::to_status(why.code), why.message,
                              why.code == errc::compacted ? srv_.store_.state().compacted_revision() : 0);
  wake_writer();
}

void connection::resume_watches() {
  // Half the limit: resuming at the edge would pause again after one batch.
  if (paused_watches_ == 0 || unsent() >= connection_output_limit / 2) return;
  auto& hub = srv_.store_.watches();
  for (auto& [watch_id, w] : watches_) {
    if (!w.paused) continue;
    w.paused = false;
    hub.resume(w.hub_id);
  }
  paused_watches_ = 0;
  hub.step();
}

void connection::cancel_watches() {
  auto& hub = srv_.store_.watches();
  for (const auto& [watch_id, w] : watches_) hub.cancel(w.hub_id);
  watches_.clear();
  paused_watches_ = 0;
}

}  // namespace kv

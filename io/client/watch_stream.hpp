#pragma once
// A watch from the client's side (client::watch): the changes of a key range, in revision order,
// each exactly once, across lost connections, node restarts and failovers.
//
//   auto w = co_await c.watch({.key = "config/", .end = kv::prefix_end("config/")});
//   while (auto batch = co_await (*w)->next()) {
//     for (const auto& e : batch->events) ...;  // e.deleted, e.kv.key, e.kv.mod_revision
//   }
//
// Resuming: the stream remembers the revision through which it has delivered everything. When
// its connection is lost, or the node stops answering (checked by a progress request once the
// stream has heard nothing for request_timeout), next() watches again from the revision after
// it, on the same endpoint or the next, within leader_wait per attempt; a node that has not
// reached that revision yet (a lagging follower, a restarted node) holds the watch until it has.
// So the events next() yields never repeat and never skip, whichever nodes served them.
//
// Buffering: frames are read as they arrive and queued until next() takes them; a caller that
// stops calling next() grows this queue (the node bounds what it sends only by the socket).
//
// Threading: the client's executor. Not copyable; destroying the stream cancels the watch.

#include "core/base/error.hpp"
#include "io/client/client.hpp"
#include "io/sys/event.hpp"

#include <asio/awaitable.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

namespace kv {

class watch_stream {
 public:
  watch_stream(client& c, watch_spec spec);
  ~watch_stream();
  watch_stream(const watch_stream&) = delete;
  watch_stream& operator=(const watch_stream&) = delete;

  // The next batch of events, or a progress notification (no events). Errors: errc::compacted
  // (the next revision to deliver was compacted: list the range at compact_revision() and watch
  // again from the revision after it); errc::unavailable (no node answered within leader_wait:
  // calling next() again tries again, from the same revision); std::errc::operation_canceled
  // after cancel(); errc::bad_request and others as the node refused the watch (final).
  asio::awaitable<result<watch_batch>> next();

  // Asks the node for a progress notification: next() yields a batch with no events whose
  // revision is where the watch has caught up to.
  void request_progress();

  // Ends the watch: the node stops sending, and next() fails with operation_canceled.
  void cancel();

  // The revision through which every change has been delivered (or queued for next()).
  std::uint64_t revision() const noexcept { return resume_from_ == 0 ? 0 : resume_from_ - 1; }
  // The revision the watch reports every change after, as the node that first took it said: the
  // start revision - 1, or for a watch from now that node's revision then. Unlike revision(), it
  // does not count the events that came with that answer, so a cache listed at it and fed from
  // next() sees each change once. 0 until a node has taken the watch.
  std::uint64_t created_revision() const noexcept { return created_.value_or(0); }
  // After errc::compacted: the oldest revision the range can be listed at.
  std::uint64_t compact_revision() const noexcept { return compact_revision_; }

 private:
  friend class client;
  // Sends the watch from resume_from_ and waits for the node to take it or refuse it; why it
  // failed, if it did (a final refusal, or cancel() meanwhile, ends the stream and counts as done).
  asio::awaitable<std::optional<error_info>> start();
  // start(), tried on each endpoint in turn within leader_wait.
  asio::awaitable<std::optional<error_info>> resume();
  // Heard nothing for a while: a progress request shows whether the node still answers.
  asio::awaitable<void> check_alive();
  void on_frame(const protocol::frame& f);
  void on_lost(const error_info& why);
  void end(error_info why);
  void detach();

  enum class state : std::uint8_t { idle, starting, running, ended };

  client& client_;
  watch_spec spec_;
  std::uint64_t resume_from_ = 0;  // the next revision to deliver; 0: the watch has not started
  std::uint64_t compact_revision_ = 0;
  std::optional<std::uint64_t> created_;  // the first answer's revision
  state state_ = state::idle;
  std::shared_ptr<client::connection> conn_;
  std::uint64_t id_ = 0;  // the watch's id on conn_
  std::deque<watch_batch> ready_;
  watch_batch partial_;  // events of a revision whose frames continue
  std::optional<error_info> ended_;
  std::optional<error_info> start_failure_;  // why the last start() attempt failed
  bool progress_wanted_ = false;             // request_progress() awaits its notification
  io::event wake_;
};

}  // namespace kv

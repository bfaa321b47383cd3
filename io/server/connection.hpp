#pragma once
// One client connection: a reader coroutine and a writer coroutine over one socket, and the
// requests in flight between them.
//
// - Reader (connection.cpp): reads as much as the socket has and hands every complete frame to
//   handle(). It stops reading while max_pipeline requests are in flight or the unsent responses
//   exceed connection_output_limit (backpressure), and goes on when an answer or a finished write wakes it.
// - Requests (dispatch.cpp): handle() decodes a frame and calls the store or the index. Reads
//   are answered at once; writes and linearizable reads through store callbacks, queries through
//   a coroutine each. Every answer is appended to out_ and wakes the writer.
// - Writer (connection.cpp): sends all of out_ in one write, so that every response produced in
//   one round of the event loop leaves together. Once reading has stopped and every request read
//   has been answered and sent, it closes the socket.
//
// - Watches (watches.cpp): each watch is a watcher of the store's watch hub whose sink appends
//   events frames to out_, tagged with the watch request's id. A sink finding out_ over the
//   output limit pauses its watcher; once the writer has sent enough, the watchers resume and
//   catch up from the keyspace's history, so a client that does not read costs the node about
//   one output buffer, however many events it misses.
//
// Ordering: responses may overtake each other (clients match them by id), but a read waits until
// the writes this connection sent before it are applied (deferred_). A watch's frames leave in
// the order they were made: its created answer, its events in revision order, then its end or
// the answer to its cancel.
//
// Ownership: shared_ptrs. The reader, the writer, each pending store callback and each running
// query hold one, so the connection lives until the last of them is done; the server keeps a raw
// pointer that the destructor removes. The watch hub's sinks hold a raw pointer: the connection
// cancels its watches when it stops reading, and at the latest in its destructor.
//
// Threading: every member runs on the server's executor.

#include "core/base/error.hpp"
#include "core/state/keyspace.hpp"
#include "io/protocol/protocol.hpp"
#include "io/sys/event.hpp"
#include "io/sys/outbox.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kv {

class server;

// Unsent responses above this pause reading from the connection, and its watches.
inline constexpr std::size_t connection_output_limit = 4u << 20;
// A watch's events frame is closed once it holds this much (a larger single event still fits).
inline constexpr std::size_t events_frame_budget = 1u << 20;

// The peer's address as host:port, or "?" once the socket no longer knows it.
std::string peer_text(const asio::ip::tcp::socket& socket);

class connection : public std::enable_shared_from_this<connection> {
 public:
  // Registers itself with `srv`, which must outlive it.
  connection(server& srv, asio::ip::tcp::socket socket);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Starts the reader and the writer.
  void start();

  // Stops reading; closes once every request already read is answered and sent.
  void drain();

  // Closes now; answers still to come are dropped.
  void close();

  // Nothing in flight, no watch, and nothing received since `t`.
  bool idle_since(std::chrono::steady_clock::time_point t) const;

  // Sends a progress notification to each watch that asked for them and has been sent nothing
  // since `t`.
  void notify_idle_watches(std::chrono::steady_clock::time_point t);

 private:
  // A read waiting for this connection's earlier writes: a get (body: the key) or a read-only
  // txn (body: the transaction).
  struct deferred_read {
    std::uint64_t id;
    protocol::op op;
    std::string body;
  };

  // ---- reader and backpressure (connection.cpp) ----
  asio::awaitable<void> read_loop();
  void make_room();
  bool over_limits() const;
  void handle_frames();
  // Answers with an error and stops reading: the connection closes once the answer is sent.
  void reject(std::uint64_t id, protocol::status s, std::string_view message);

  // ---- writer (connection.cpp) ----
  asio::awaitable<void> write_loop();
  // Lets the writer send what out_ holds once the current round of work is done, or close.
  void wake_writer();
  // Reading has stopped and every request read has been answered and handed to the writer.
  bool finished() const;
  // A request in flight has its answer in out_.
  void answered();

  // ---- watches (watches.cpp) ----
  struct watch_stream {
    std::uint64_t hub_id = 0;
    bool progress_notify = false;
    bool paused = false;  // its sink refused events: the output buffer was full
    std::chrono::steady_clock::time_point last_sent;  // kept for progress_notify watches only
  };
  void start_watch(std::uint64_t id, std::string_view body);
  void cancel_watch(std::uint64_t id, std::string_view body);
  void report_progress(std::uint64_t id);
  void send_progress(std::uint64_t watch_id, watch_stream& w);
  // The hub's sink: appends `events` as frames; false once the output buffer is full.
  bool send_events(std::uint64_t watch_id, std::span<const key_event> events);
  // One event as one frame, from the server's last one-event frame when it is the same change;
  // true if it was.
  bool append_single_event(std::uint64_t watch_id, const key_event& e);
  // After a watch's frames were appended: counts them, wakes the writer; false (and pauses the
  // watch) once the output buffer is full.
  bool sent_events(watch_stream& w, std::size_t events);
  void on_watch_ended(std::uint64_t watch_id, const error_info& why);
  // Resumes paused watches once the output buffer has room again.
  void resume_watches();
  void cancel_watches();

  // ---- requests (dispatch.cpp) ----
  void handle(const protocol::frame& f);
  void submit(std::uint64_t id, protocol::op o, auto&& submit_to_store, std::size_t key_size, std::size_t value_size);
  void on_write_done(std::uint64_t id, protocol::op o, result<std::uint64_t> r, std::size_t key_size,
                     std::size_t value_size);
  void txn(std::uint64_t id, std::string_view body, std::uint16_t flags, const session_ref& session);
  void keep_lease_alive(std::uint64_t id, std::uint64_t lease);
  // A get or a read-only txn, checked already: served now, after a read barrier, or once this
  // connection's earlier writes are applied.
  void read(std::uint64_t id, protocol::op o, std::string_view body, std::uint16_t flags);
  void read_after_barrier(std::uint64_t id, protocol::op o, std::string_view body);
  void on_read_ready(std::uint64_t id, protocol::op o, std::string body, result<std::uint64_t> r);
  void serve_deferred_reads();
  void serve_read(std::uint64_t id, protocol::op o, std::string_view body);
  void serve_get(std::uint64_t id, std::string_view key);
  void serve_txn(std::uint64_t id, std::string_view body);
  void start_query(std::uint64_t id, std::uint16_t flags, std::uint64_t min, auto query);
  static asio::awaitable<void> run_query(std::shared_ptr<connection> self, std::uint64_t id, bool stale,
                                         std::uint64_t min_index, std::uint64_t min_revision, auto query);
  void respond_status(std::uint64_t id);
  void respond_bad_body(std::uint64_t id, std::string_view what);

  server& srv_;
  asio::ip::tcp::socket socket_;
  std::string peer_;

  std::vector<char> in_;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  std::size_t frame_needed_ = 0;  // bytes the frame at in_begin_ has in all, once known
  bool frames_waiting_ = false;   // buffered requests left unhandled because of the limits
  bool reading_ = true;
  io::event wake_reader_;
  std::chrono::steady_clock::time_point last_activity_;

  std::string out_;                     // responses not yet handed to the outbox
  std::shared_ptr<io::outbox> outbox_;  // made by start()
  // What is unsent, in out_ and in the outbox.
  std::size_t unsent() const noexcept;
  // The send thread wrote enough to go below half the output limit, or failed.
  void output_sent();
  bool writer_waiting_ = false;
  io::event wake_writer_;

  std::size_t inflight_ = 0;            // requests handed to the store or index and not yet answered
  std::uint64_t last_write_index_ = 0;  // log index of this connection's latest write
  std::deque<deferred_read> deferred_;  // reads waiting for this connection's earlier writes
  std::string reply_;                   // a read-only txn's answer, reused

  std::unordered_map<std::uint64_t, watch_stream> watches_;  // by the watch request's id
  std::size_t paused_watches_ = 0;
};

}  // namespace kv

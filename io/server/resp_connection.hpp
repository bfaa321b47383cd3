#pragma once
// One connection of the Redis protocol (RESP2, RESP3 after HELLO 3): a reader coroutine and a
// writer coroutine over one socket, like connection.hpp's, with Redis's ordering rules.
//
// - Reader: reads what the socket has, parses commands (io/resp/parser.hpp) and runs each
//   (resp_commands.cpp). A protocol error is answered with Redis's text and closes the
//   connection once the answer is sent.
// - Order: Redis answers a pipeline in order, and every command sees the ones before it. Replies
//   therefore leave in command order: one made at once goes straight to the output while nothing
//   is pending before it, otherwise it waits in replies_ behind the pending ones. And a read waits
//   while this connection has writes in flight, a write while it has reads in flight (a read
//   finished after a later write applied would see that write): the reader stops taking
//   commands, leaving their bytes in the input, until the blocking ones are answered. Pipelines
//   of reads only, or of writes only, run in parallel (their writes join one group commit).
// - Limits: the server's max-pipeline commands in flight and the output limit stop the reader,
//   as for the binary protocol; a bulk string above the largest frame is refused as it arrives.
// - Pub/sub messages (push_message) are written as they are published: in RESP3 straight to the
//   output, between whole replies (a push may come before the replies of commands still in
//   flight, as RESP3 allows); in RESP2 after the replies of the commands already read, as any
//   reply. A subscriber whose unsent output reached the output limit is closed at its next
//   message (so it holds at most the limit plus one message), as Redis closes
//   one over its client-output-buffer-limit for pubsub: a slow subscriber costs the node at most
//   its own bounded buffer.
//
// Ownership and threading as connection.hpp: shared_ptrs held by the coroutines and pending
// store callbacks; every member runs on the server's executor.

#include "io/resp/parser.hpp"
#include "io/resp/reply.hpp"
#include "io/sys/event.hpp"
#include "io/sys/outbox.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kv {

class server;

class resp_connection : public std::enable_shared_from_this<resp_connection> {
 public:
  // Registers itself with `srv`, which must outlive it.
  resp_connection(server& srv, asio::ip::tcp::socket socket);
  ~resp_connection();
  resp_connection(const resp_connection&) = delete;
  resp_connection& operator=(const resp_connection&) = delete;

  void start();
  // Stops reading; closes once every command read is answered and sent.
  void drain();
  // Closes now.
  void close();
  // Whether it has been idle since `t`: no command since, nothing of it in flight or unsent, and
  // no subscriptions (a subscriber waits for messages, as Redis's timeout spares it too).
  bool idle_since(std::chrono::steady_clock::time_point t) const;

  // ---- for the commands (resp_commands.cpp) ----
  // What a command needs of this connection's traffic order.
  // exclusive: waits until nothing of the connection is in flight (EXEC, which may read or write);
  // a ticket of that kind also holds back every later command until it is finished (a command
  // that reads, then writes what it read: RENAME, APPEND).
  enum class kind : std::uint8_t { other, read, write, exclusive };
  // A reply the command gives at once.
  resp::reply reply_now();
  // A reply the command gives later: a ticket for finish(), which takes the reply's bytes (made
  // with a resp::reply over a string of the caller's).
  struct ticket {
    std::uint64_t seq;
    kind k;
  };
  ticket later(kind k);
  void finish(ticket t, std::string bytes);
  resp::version protocol() const noexcept { return version_; }
  void set_protocol(resp::version v) noexcept { version_ = v; }
  // QUIT: close once this command's reply is sent.
  void quit();
  server& srv() noexcept { return srv_; }
  std::uint64_t id() const noexcept { return id_; }
  const std::string& peer() const noexcept { return peer_; }
  const std::string& local() const noexcept { return local_; }
  int fd() noexcept { return socket_.native_handle(); }
  std::chrono::steady_clock::time_point connected_at() const noexcept { return connected_at_; }
  // What CLIENT LIST reports of the buffers, in bytes (output_list: replies not yet sent).
  struct buffer_use {
    std::size_t query, query_free, output, output_list, output_memory;
  };
  buffer_use buffers() const noexcept;
  std::string name;  // CLIENT SETNAME
  // CLIENT LIST's cmd and idle: the last command run ("client|list" for a subcommand) and when.
  std::string last_command = "NULL";
  std::chrono::steady_clock::time_point last_command_at = std::chrono::steady_clock::now();
  bool no_evict = false;  // CLIENT NO-EVICT (kvnode evicts no client; reported only)
  std::string lib_name;   // CLIENT SETINFO LIB-NAME, LIB-VER
  std::string lib_version;
  // MULTI ... EXEC (resp_multi.cpp): the commands queued, whether one was refused while queued
  // (EXEC then discards them all), and the keys WATCH noted with their mod_revision (0: absent).
  struct multi_state {
    bool active = false;
    bool failed = false;
    std::vector<std::vector<std::string>> queued;
    std::vector<std::pair<std::string, std::uint64_t>> watched;
  } multi;
  bool read_only = false;  // READONLY: reads from this node's state, as a replica's

  // ---- pub/sub (resp_pubsub.cpp) ----
  // Appends a `message` (pattern null) or `pmessage` push; or, if its unsent output is at the
  // output limit already, closes the connection with a log line. Nothing once it is closed.
  void push_message(const std::string* pattern, std::string_view channel, std::string_view message);
  // Whether it has any subscription (Redis's subscribed context, which in RESP2 refuses most
  // commands).
  bool subscribed() const noexcept;

 private:
  struct pending_reply {
    std::string bytes;
    bool done = false;
    std::size_t push_bytes = 0;  // of pub/sub messages appended to it, counted in held_push_bytes_
  };

  asio::awaitable<void> read_loop();
  asio::awaitable<void> write_loop();
  // Parses and runs the buffered commands while the order rules and limits let it.
  void handle_input();
  // Too many replies pending or unsent: run no more commands for now.
  bool over_output_limits() const;
  // That, or too much unparsed input: read no more for now.
  bool over_limits() const;
  // Moves the finished replies at the head of replies_ to the output.
  void flush_replies();
  void wake_writer();
  bool finished() const;
  // The send thread wrote enough to go below the output limit, or failed.
  void output_sent();
  // What is unsent, in out_ and in the outbox (made by start(), before any caller of this).
  std::size_t unsent() const noexcept { return out_.size() + outbox_->unsent(); }

  server& srv_;
  asio::ip::tcp::socket socket_;
  std::string peer_;
  std::string local_;
  std::chrono::steady_clock::time_point connected_at_ = std::chrono::steady_clock::now();
  std::uint64_t id_;
  resp::parser parser_;
  resp::version version_ = resp::version::resp2;

  std::string in_;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  bool reading_ = true;
  bool closing_ = false;  // QUIT or a protocol error: no command after this one runs
  bool handling_ = false;  // inside handle_input()
  bool closed_ = false;    // close() was called
  io::event wake_reader_;

  std::deque<pending_reply> replies_;  // from seq head_seq_ on
  std::uint64_t head_seq_ = 0;
  std::uint64_t next_seq_ = 0;
  std::size_t reads_in_flight_ = 0;
  std::size_t writes_in_flight_ = 0;
  std::size_t held_push_bytes_ = 0;  // pub/sub messages waiting in replies_ behind pending replies

  std::string out_;
  std::shared_ptr<io::outbox> outbox_;  // made by start()
  bool writer_waiting_ = false;
  io::event wake_writer_;
};

}  // namespace kv

#pragma once
// The client-facing TCP server: an acceptor coroutine, an idle-connection sweep, and a reader
// and a writer coroutine per connection (connection.hpp), all on the node's event-loop thread.
//
// A connection reads as much as the socket has, handles every complete frame in it, and sends
// all responses that are ready in one write. Reads are answered at once; writes go to the store
// and are answered when they are durable and applied, so the writes of a pipelining client join
// the same group commits as everyone else's. Responses may overtake each other (match them by id),
// but a read waits until the writes sent before it on the same connection are applied.
//
// Limits: a length prefix above max_frame_bytes is refused before its body is read; a
// connection stops being read while max_pipeline of its requests are in flight or its unsent
// responses exceed the output limit; idle connections are closed. A malformed frame gets an
// error response and closes only its own connection.
//
// Threading: every member runs on the executor given to the constructor.

#include "core/base/units.hpp"
#include "core/state/change_listener.hpp"
#include "io/server/pubsub.hpp"
#include "io/server/send_route_policy.hpp"
#include "io/server/settings.hpp"
#include "io/sys/event.hpp"
#include "io/sys/outbox.hpp"
#include "io/sys/send_pool.hpp"
#include "raft/replica/store.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

namespace kv {

class connection;
class resp_connection;
class write_forwarder;
namespace search {
class node_index;
}

// The server is also the store's change listener while keyspace notifications are on and some
// Redis client subscribes to anything: it publishes them to its own Redis clients.
class server : private change_listener {
 public:
  struct stats {
    std::uint64_t accepted = 0;
    std::uint64_t refused = 0;       // over max-connections
    std::uint64_t bad_frames = 0;    // connections closed for a malformed frame
    std::uint64_t idle_closed = 0;
    std::uint64_t requests = 0;
    std::uint64_t watches_started = 0;
    std::uint64_t watch_events = 0;  // events sent to watches
  };

  // `index`: the node's search index, or nullptr when search is disabled. Both it and `st` must
  // outlive the server. The status report names the node and its limits as `st` has them
  // (store::replication(), store::storage()).
  server(asio::any_io_executor executor, store& st, server_config cfg, search::node_index* index = nullptr);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds and listens on the configured address, and on the Redis protocol's if one is set.
  // Throws std::system_error (address in use...).
  void start();
  asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  // The Redis protocol's listener (server_config::resp_listen); unspecified if there is none.
  asio::ip::tcp::endpoint resp_endpoint() const { return resp_acceptor_.local_endpoint(); }

  // Graceful stop: no new connections, no new requests; waits up to shutdown-timeout for
  // in-flight requests to be answered, then closes every connection.
  asio::awaitable<void> stop();

  kv::store& replica() noexcept { return store_; }
  const asio::any_io_executor& executor() const noexcept { return executor_; }
  // Where a Redis-protocol write taken by a follower goes.
  write_forwarder& forwarder() noexcept { return *forwarder_; }
  // The node's search index; nullptr when search is disabled.
  search::node_index* search_index() noexcept { return index_; }
  const server_config& config() const noexcept { return cfg_; }
  std::chrono::steady_clock::time_point started() const noexcept { return started_; }
  // The Redis-protocol connections open (CLIENT LIST).
  const std::unordered_set<resp_connection*>& resp_connections() const noexcept { return resp_connections_; }
  std::size_t connection_count() const noexcept { return connections_.size() + resp_connections_.size(); }
  const stats& statistics() const noexcept { return stats_; }
  // Where connections send their replies (io/sys/outbox.hpp): with send_offload_mode::when_busy,
  // as send_route_policy decides each load_period from the event loop's load and the requests
  // served; with ::always, by way of the send threads.
  io::outbox::route send_route() const noexcept { return send_route_; }
  static constexpr std::chrono::milliseconds load_period{10};
  // A connection's writer hands its output to its outbox (the policy's replies per send).
  void note_send() noexcept { ++sends_; }

  // ---- Redis pub/sub (io/server/pubsub.hpp), on this node only ----
  const pubsub_registry& pubsub() const noexcept { return pubsub_; }
  // Delivers `message` to this node's subscribers of `channel` and of the patterns matching it;
  // returns how many deliveries were made (PUBLISH's answer).
  std::size_t publish(std::string_view channel, std::string_view message);
  // What a Redis client's (P)(UN)SUBSCRIBE changes; each returns whether it changed anything.
  bool subscribe(resp_connection& c, std::string_view channel);
  bool unsubscribe(resp_connection& c, std::string_view channel);
  bool psubscribe(resp_connection& c, std::string_view pattern);
  bool punsubscribe(resp_connection& c, std::string_view pattern);
  keyspace_events notify_keyspace_events() const noexcept { return notify_events_; }
  void set_notify_keyspace_events(keyspace_events e);

 private:
  friend class connection;
  friend class resp_connection;
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> resp_accept_loop();
  void listen(asio::ip::tcp::acceptor& acceptor, const std::string& address);
  asio::awaitable<void> idle_sweep();
  // Samples the event loop's load every load_period and sets send_route_ (send_route_policy);
  // runs while there are send threads and send-offload is "when-busy".
  asio::awaitable<void> watch_load();
  // Progress notifications for idle watches that asked for them.
  asio::awaitable<void> progress_notify();
  void refuse(asio::ip::tcp::socket socket);
  // Called by a connection's destructor.
  void forget(connection* c);
  void forget(resp_connection* c);
  // Listens to the store's changes exactly while a keyspace notification could reach someone.
  void follow_subscriptions();
  void key_changed(change_cause cause, bool deleted, std::string_view key) override;

  asio::any_io_executor executor_;
  store& store_;
  server_config cfg_;
  search::node_index* index_;
  // Destroyed after every connection (which cannot outlive the server), so after their outboxes
  // stopped handing it output.
  io::send_pool send_pool_;
  io::outbox::route send_route_ = io::outbox::route::owner;
  std::uint64_t sends_ = 0;
  asio::steady_timer load_timer_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer progress_timer_;
  std::unordered_set<connection*> connections_;
  asio::ip::tcp::acceptor resp_acceptor_;
  std::unordered_set<resp_connection*> resp_connections_;
  std::uint64_t next_resp_client_id_ = 1;  // CLIENT ID
  std::unique_ptr<write_forwarder> forwarder_;
  pubsub_registry pubsub_;
  absl::flat_hash_map<std::uint64_t, resp_connection*> subscribers_;  // by client id: who has subscriptions
  keyspace_events notify_events_;
  std::string notify_channel_;  // key_changed()'s scratch
  io::event last_connection_gone_;  // notified when connections_ becomes empty
  std::chrono::steady_clock::time_point started_;
  bool stopping_ = false;
  stats stats_;
  // The last one-event frame a watch was sent (connection::send_events): a write to a key many
  // watch fans out to all of them as the same bytes but the watch id, so they are encoded once.
  struct event_frame {
    std::string key;
    std::uint64_t revision = 0;  // the event's mod_revision: with the key, it names the change
    bool deleted = false;
    bool with_prev = false;
    std::string frame;  // the whole frame, its id to be replaced
  };
  event_frame last_event_frame_;
};

}  // namespace kv

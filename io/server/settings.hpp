#pragma once
// The client-facing server's settings. Durations and sizes carry their unit in the type or the
// name; the defaults here are kvnode's defaults.

#include <chrono>
#include <cstdint>
#include <string>

namespace kv {

enum class send_offload_mode : std::uint8_t { when_busy, always };

struct server_config {
  std::string listen = "127.0.0.1:7379";
  // The Redis protocol's listener (docs/redis.md), on the same limits; empty: none.
  std::string resp_listen = "127.0.0.1:6380";
  // Redis's notify-keyspace-events flags (io/server/pubsub.hpp): which keyspace notifications
  // this node publishes to its own Redis clients. Empty, Redis's default: none.
  std::string notify_keyspace_events;
  std::uint64_t max_connections = 4096;
  // Threads that send connections' replies (io/sys/send_pool.hpp); 0: the event loop sends them.
  unsigned send_threads = 0;
  // When replies go to the send threads (server::send_route): while the event loop is busy, or
  // always.
  send_offload_mode send_offload = send_offload_mode::when_busy;
  // Largest request frame; a larger length prefix is refused before the body is read.
  std::uint64_t max_frame_bytes = 16ull << 20;
  // Requests one connection may have in flight before the node stops reading from it.
  std::uint64_t max_pipeline = 1024;
  // A connection with nothing in flight that sends nothing for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  // Watches this node serves at most, over all connections; a watch past it is refused.
  std::uint64_t max_watches = 1'000'000;
  // A watch that asked for progress notifications and has been sent nothing for this long is
  // told the revision it is caught up to (etcd's progress notify; its default interval too).
  std::chrono::milliseconds watch_progress_interval{std::chrono::minutes(10)};
  // How long a graceful shutdown waits for in-flight requests before closing connections.
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(10)};
};

}  // namespace kv

#pragma once
// The TCP transport between the members of a cluster (see docs/cluster.md, "Peer protocol").
//
// For every other member there is one outbound connection and one replicator coroutine that
// owns it: it connects (retrying with backoff), says who it is, and streams the Raft messages
// queued for that peer, many per write, merging consecutive appends into one. Messages travel
// one way per connection: a peer's answers come back on the connection it opened to us, read by
// an inbound session coroutine that decodes frames and hands each message to `on_message`.
//
// Flow control: the Raft core bounds entries in flight per follower; here, a peer's queue above
// max-peer-queue-size drops further messages (Raft retries them), and a peer that cannot be
// reached drops its queue and is reported through `on_unreachable`.
//
// Snapshots (InstallSnapshot) go over the same connection in 1 MiB chunks, one chunk per write
// between the queued messages, so heartbeats keep flowing during a long transfer. The receiver
// writes them to the file `incoming_snapshot_path` names, fdatasyncs it, and only then hands the
// snapshot message to `on_message`. The sender reports how the transfer ended through
// `on_snapshot_sent`.
//
// Threading: every member runs on the executor given to the constructor (the node's one thread).

#include "raft/net/settings.hpp"
#include "raft/transport.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <string>

namespace kv {

struct incoming_snapshot;

class peer_transport final : public raft::transport {
 public:
  struct peer_stats {
    bool connected = false;
    std::uint64_t messages_sent = 0;
    std::uint64_t messages_dropped = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t connects = 0;
    std::uint64_t snapshots_sent = 0;
  };

  using message_handler = std::function<void(raft::message)>;
  using unreachable_handler = std::function<void(raft::node_id)>;
  using snapshot_handler = std::function<void(raft::node_id, bool ok)>;
  // Where a snapshot streamed from `from` is written (the store's to name).
  using snapshot_path_of = std::function<std::filesystem::path(raft::node_id from)>;

  // One replicator per member of `cfg.peers`; start() listens on `cfg.listen`.
  peer_transport(asio::any_io_executor executor, peer_config cfg, message_handler on_message,
                 unreachable_handler on_unreachable, snapshot_handler on_snapshot_sent,
                 snapshot_path_of incoming_snapshot_path);
  ~peer_transport() override;
  peer_transport(const peer_transport&) = delete;
  peer_transport& operator=(const peer_transport&) = delete;

  // Listens on this node's peer address and starts a replicator per peer. Throws
  // std::system_error if the address cannot be bound.
  void start();
  // Closes every connection and stops the coroutines.
  void stop();

  void send(raft::message m) override;
  void send_snapshot(raft::message m, std::filesystem::path file) override;

  const peer_stats* stats_of(raft::node_id peer) const;

 private:
  struct link;
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> inbound(asio::ip::tcp::socket socket);
  asio::awaitable<void> replicate(std::shared_ptr<link> l);
  // Handles a snapshot_begin (`first`) or snapshot_chunk frame; false: close the connection.
  bool receive_snapshot_frame(raft::node_id from, bool first, std::string_view body,
                              std::optional<incoming_snapshot>& in);

  asio::any_io_executor executor_;
  peer_config cfg_;
  message_handler on_message_;
  unreachable_handler on_unreachable_;
  snapshot_handler on_snapshot_sent_;
  snapshot_path_of incoming_snapshot_path_;
  asio::ip::tcp::acceptor acceptor_;
  std::optional<asio::ip::address> local_address_;  // outbound connections start from here
  std::map<raft::node_id, std::shared_ptr<link>> links_;
  std::map<asio::ip::tcp::socket*, bool> inbound_;  // open inbound sockets, closed by stop()
  bool stopping_ = false;
};

}  // namespace kv

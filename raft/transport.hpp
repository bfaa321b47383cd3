#pragma once
// What the node's Raft driver needs from the network: a way to hand a message to a peer.
// Delivery is best effort (Raft tolerates loss, delay and reordering); a send never blocks.

#include "raft/message.hpp"

#include <filesystem>

namespace kv::raft {

class transport {
 public:
  virtual ~transport() = default;
  // Queues `m` for m.to. May drop it (peer unreachable, queue full).
  virtual void send(message m) = 0;
  // Streams the snapshot file `file` to m.to in chunks, alongside other messages, and hands the
  // peer `m` (a message_type::snapshot describing that file) once it has all of it. How the
  // transfer ended is reported to the node by the transport's owner.
  virtual void send_snapshot(message m, std::filesystem::path file) = 0;
};

}  // namespace kv::raft

#pragma once
// What the node's Raft driver needs from the network: a way to hand a message to a peer.
// Delivery is best effort (Raft tolerates loss, delay and reordering); a send never blocks.

#include "raft/message.hpp"

namespace kv::raft {

class transport {
 public:
  virtual ~transport() = default;
  // Queues `m` for m.to. May drop it (peer unreachable, queue full).
  virtual void send(message m) = 0;
};

}  // namespace kv::raft

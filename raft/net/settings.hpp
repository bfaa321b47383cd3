#pragma once
// The peer transport's settings: who this node is, where the other members listen, and the
// limits of the connections between them.

#include "raft/message.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace kv {

struct peer_config {
  raft::node_id id = 0;  // this node
  std::string listen;    // host:port where this node takes Raft traffic from the other members
  // Every other member and the host:port where it takes Raft traffic; this node is not listed.
  std::map<raft::node_id, std::string> peers;
  // The cluster's election timeout: an outbound connection whose sent data stays unacknowledged
  // for twice this long (at least a second) is dropped and made again.
  std::chrono::milliseconds election_timeout{300};
  // Largest total size of entries in one AppendEntries message the leader sends; bounds the
  // frames an inbound connection accepts.
  std::uint64_t max_append_bytes = 1ull << 20;
  // Messages queued for a peer beyond this size are dropped (Raft retries them).
  std::uint64_t max_queue_bytes = 64ull << 20;
};

}  // namespace kv

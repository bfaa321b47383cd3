#pragma once
// The answer to a status request: the node's place in the cluster and its progress, its limits,
// its search index (when enabled) and, on the leader, each follower's progress. Reads the store
// and the index; touches no socket. Fields may be added in any version (io/protocol).

#include "io/protocol/protocol.hpp"

#include <chrono>
#include <cstdint>
#include <vector>

namespace kv {

class store;
namespace search {
class node_index;
}

// What only the server knows.
struct server_facts {
  std::chrono::milliseconds uptime{0};
  std::uint64_t connections = 0;
  std::uint64_t max_frame_bytes = 0;
  std::uint64_t watch_events = 0;  // events sent to watches since the node started
};

// `index` is nullptr when search is disabled. Call on the store's thread.
std::vector<protocol::status_field> status_report(const store& st, const search::node_index* index,
                                                  const server_facts& server);

}  // namespace kv

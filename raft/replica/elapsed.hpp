#pragma once
// Private to raft/replica: the time since a start, as the store's statistics record it.

#include <chrono>

namespace kv::replica_detail {

inline std::chrono::microseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
}

}  // namespace kv::replica_detail

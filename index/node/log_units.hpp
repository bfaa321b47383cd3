#pragma once
// Private to index/node: durations and sizes as node_index's log lines write them ("1.234 s",
// "12.3 MiB").

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace kv::search::detail {

inline std::string seconds_since(std::chrono::steady_clock::time_point start) {
  return fmt::format("{:.3f} s", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

inline std::string mib(std::uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1u << 20));
}

}  // namespace kv::search::detail

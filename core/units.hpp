#pragma once
// Durations and sizes as people write them in configuration: "250ms", "1.5s", "64MiB".

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kv {

// Accepts a non-negative number followed by one of: ns, us, ms, s, m, h ("100ms", "1.5s").
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

// Accepts a non-negative number followed by one of: B, KiB, MiB, GiB, TiB (powers of 1024) or
// KB, MB, GB, TB (powers of 1000). "64MiB", "1.5GiB", "512B".
std::optional<std::uint64_t> parse_size(std::string_view text);

// The shortest exact unit form: 67108864 -> "64MiB", 1000 -> "1000B".
std::string format_size(std::uint64_t bytes);
// 1500ms -> "1500ms", 2s -> "2s".
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace kv

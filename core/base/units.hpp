#pragma once
// Durations and sizes as people write them in configuration: "250ms", "1.5s", "64MiB".

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kv {

// A unit a size may be written in, and how many bytes it stands for.
struct size_unit {
  std::string_view name;
  std::uint64_t bytes;
};

// A unit a duration may be written in, and how many nanoseconds it stands for.
struct duration_unit {
  std::string_view name;
  std::int64_t nanoseconds;
};

// Every unit parse_size accepts, and no other: the one list that error messages and the
// documentation (docs/configuration.md, kv.toml; a test compares them) repeat.
inline constexpr std::array<size_unit, 9> size_units{{
    {"B", 1},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"TiB", 1ull << 40},
    {"KB", 1000ull},
    {"MB", 1000ull * 1000},
    {"GB", 1000ull * 1000 * 1000},
    {"TB", 1000ull * 1000 * 1000 * 1000},
}};

// Every unit parse_duration accepts, and no other.
inline constexpr std::array<duration_unit, 6> duration_units{{
    {"ns", 1},
    {"us", 1000},
    {"ms", 1000 * 1000},
    {"s", 1000 * 1000 * 1000},
    {"m", 60ll * 1000 * 1000 * 1000},
    {"h", 3600ll * 1000 * 1000 * 1000},
}};

// The names of size_units / duration_units as an English list, for messages:
// "B, KiB, MiB, GiB, TiB, KB, MB, GB or TB" and "ns, us, ms, s, m or h".
std::string size_unit_list();
std::string duration_unit_list();

// Accepts a non-negative number followed by a name from duration_units ("100ms", "1.5s").
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

// Accepts a non-negative number followed by a name from size_units: B, KiB, MiB, GiB, TiB
// (powers of 1024) or KB, MB, GB, TB (powers of 1000). "64MiB", "1.5GiB", "512B".
std::optional<std::uint64_t> parse_size(std::string_view text);

// The shortest exact unit form: 67108864 -> "64MiB", 1000 -> "1000B".
std::string format_size(std::uint64_t bytes);
// 1500ms -> "1500ms", 2s -> "2s".
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace kv

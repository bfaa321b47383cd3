#include "core/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <utility>

namespace kv {

namespace {

// Splits "12.5MiB" into 12.5 and "MiB". Rejects signs, exponents and empty parts.
std::optional<std::pair<double, std::string_view>> split_number(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0 || i == text.size()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + i, value, std::chars_format::fixed);
  if (ec != std::errc{} || end != text.data() + i || !std::isfinite(value)) return std::nullopt;
  return std::pair{value, text.substr(i)};
}

template <typename Unit, std::size_t N>
std::optional<double> scale(std::string_view text, const std::array<std::pair<std::string_view, Unit>, N>& units) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  for (const auto& [name, factor] : units) {
    if (parts->second == name) return parts->first * static_cast<double>(factor);
  }
  return std::nullopt;
}

constexpr std::array<std::pair<std::string_view, std::uint64_t>, 9> size_units{{
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

constexpr std::array<std::pair<std::string_view, std::int64_t>, 6> duration_units{{
    {"ns", 1},
    {"us", 1000},
    {"ms", 1000 * 1000},
    {"s", 1000 * 1000 * 1000},
    {"m", 60ll * 1000 * 1000 * 1000},
    {"h", 3600ll * 1000 * 1000 * 1000},
}};

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  auto ns = scale(text, duration_units);
  if (!ns || *ns > 9.0e18 || *ns != std::floor(*ns)) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(*ns));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto bytes = scale(text, size_units);
  if (!bytes || *bytes > 1.8e19 || *bytes != std::floor(*bytes)) return std::nullopt;
  return static_cast<std::uint64_t>(*bytes);
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::pair<const char*, int>, 4> units{{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}}};
  for (const auto& [name, shift] : units) {
    std::uint64_t unit = 1ull << shift;
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + name;
  }
  return std::to_string(bytes) + "B";
}

std::string format_duration(std::chrono::nanoseconds d) {
  auto ns = d.count();
  if (ns != 0 && ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  if (ns != 0 && ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  if (ns != 0 && ns % 1'000 == 0) return std::to_string(ns / 1'000) + "us";
  return std::to_string(ns) + "ns";
}

}  // namespace kv

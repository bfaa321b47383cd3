#include "core/base/units.hpp"

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

std::uint64_t unit_value(const size_unit& u) { return u.bytes; }
std::int64_t unit_value(const duration_unit& u) { return u.nanoseconds; }

template <typename Unit, std::size_t N>
std::optional<double> scale(std::string_view text, const std::array<Unit, N>& units) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  for (const auto& unit : units) {
    if (parts->second == unit.name) return parts->first * static_cast<double>(unit_value(unit));
  }
  return std::nullopt;
}

template <typename Unit, std::size_t N>
std::string english_list(const std::array<Unit, N>& units) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? " or " : ", ";
    out += units[i].name;
  }
  return out;
}

}  // namespace

std::string size_unit_list() { return english_list(size_units); }
std::string duration_unit_list() { return english_list(duration_units); }

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

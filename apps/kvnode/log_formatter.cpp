#include "apps/kvnode/log_formatter.hpp"

#include <fmt/format.h>
#include <spdlog/common.h>

#include <iterator>

namespace kv::logging {

namespace {

static_assert(spdlog::level::trace == 0 && spdlog::level::warn == 3 && spdlog::level::critical == 5 &&
                  spdlog::level::off == 6,
              "log_level_names follows spdlog's level order");

std::string_view level_name(spdlog::level::level_enum level) {
  auto i = static_cast<std::size_t>(level);
  return i < log_level_names.size() ? log_level_names[i] : std::string_view("unknown");
}

void append(spdlog::memory_buf_t& dest, std::string_view text) { dest.append(text.data(), text.data() + text.size()); }

// The length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF), or 0 if there is none.
std::size_t utf8_sequence_length(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto continuation = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  unsigned char b = byte(0);
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return continuation(1) ? 2 : 0;
  if (b >= 0xE0 && b <= 0xEF) {
    unsigned char lo = b == 0xE0 ? 0xA0 : 0x80;  // E0 80..9F would be overlong
    unsigned char hi = b == 0xED ? 0x9F : 0xBF;  // ED A0..BF would be a surrogate
    return continuation(1, lo, hi) && continuation(2) ? 3 : 0;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    unsigned char lo = b == 0xF0 ? 0x90 : 0x80;  // F0 80..8F would be overlong
    unsigned char hi = b == 0xF4 ? 0x8F : 0xBF;  // F4 90.. would be above U+10FFFF
    return continuation(1, lo, hi) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

void append_json_escaped(std::string_view text, spdlog::memory_buf_t& dest) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': append(dest, "\\\""); break;
      case '\\': append(dest, "\\\\"); break;
      case '\n': append(dest, "\\n"); break;
      case '\r': append(dest, "\\r"); break;
      case '\t': append(dest, "\\t"); break;
      case '\b': append(dest, "\\b"); break;
      case '\f': append(dest, "\\f"); break;
      default:
        if (c < 0x20 || c == 0x7F) {
          fmt::format_to(std::back_inserter(dest), "\\u{:04x}", c);
        } else if (auto n = utf8_sequence_length(text.substr(i)); n > 0) {
          append(dest, text.substr(i, n));
          i += n;
          continue;
        } else {
          append(dest, replacement);
        }
    }
    ++i;
  }
}

void log_formatter::append_time(std::chrono::system_clock::time_point t, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  auto since_epoch = t.time_since_epoch();
  auto second = floor<seconds>(since_epoch);
  auto millis = duration_cast<milliseconds>(since_epoch - second).count();
  std::time_t s = static_cast<std::time_t>(second.count());
  if (s != cached_second_) {
    std::tm tm{};
    ::gmtime_r(&s, &tm);
    fmt::format_to_n(cached_text_, sizeof cached_text_, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second_ = s;
  }
  dest.append(cached_text_, cached_text_ + 19);
  fmt::format_to(std::back_inserter(dest), ".{:03}Z", millis);
}

void log_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  std::string_view payload(msg.payload.data(), msg.payload.size());
  if (format_ == log_format::json) {
    append(dest, "{\"ts\":\"");
    append_time(msg.time, dest);
    fmt::format_to(std::back_inserter(dest), "\",\"level\":\"{}\",\"node\":{},\"msg\":\"", level_name(msg.level),
                   node_id_);
    append_json_escaped(payload, dest);
    append(dest, "\"}\n");
    return;
  }
  append_time(msg.time, dest);
  append(dest, " ");
  msg.color_range_start = dest.size();
  append(dest, level_name(msg.level));
  msg.color_range_end = dest.size();
  for (auto n = level_name(msg.level).size(); n < 5; ++n) append(dest, " ");
  append(dest, " ");
  append(dest, payload);
  append(dest, "\n");
}

std::unique_ptr<spdlog::formatter> log_formatter::clone() const {
  return std::make_unique<log_formatter>(format_, node_id_);
}

}  // namespace kv::logging

#pragma once
// How kvnode writes one log message: the text or JSON line of [log] format.

#include "apps/kvnode/config.hpp"

#include <spdlog/formatter.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string_view>

namespace kv::logging {

// Formats a message as one line ending in '\n':
//   text: 2026-12-02T20:15:01.123Z warn  the message
//   json: {"ts":"2026-12-02T20:15:01.123Z","level":"warn","node":1,"msg":"the message"}
// The time is UTC (RFC 3339, milliseconds, 'Z'); the level is spelled as [log] level takes it
// (log_level_names: "warn", not spdlog's "warning"). In text, the level is the colour range a
// colour sink paints. Not thread-safe: spdlog calls a sink's formatter under the sink's lock.
class log_formatter final : public spdlog::formatter {
 public:
  log_formatter(log_format format, std::uint64_t node_id) : format_(format), node_id_(node_id) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  void append_time(std::chrono::system_clock::time_point t, spdlog::memory_buf_t& dest);

  log_format format_;
  std::uint64_t node_id_;
  // "YYYY-MM-DDTHH:MM:SS" of the second cached_second_ (seconds since the epoch), reused for
  // the messages logged within that second.
  std::time_t cached_second_ = -1;
  char cached_text_[20] = {};
};

// Appends `text` to `dest` as the inside of a JSON string: '"' and '\' escaped, control
// characters (below U+0020, and DEL) as \n, \r, \t, \b, \f or \u00XX, and each byte that is not
// part of a well-formed UTF-8 sequence as U+FFFD, so the result is always valid JSON in UTF-8.
void append_json_escaped(std::string_view text, spdlog::memory_buf_t& dest);

}  // namespace kv::logging

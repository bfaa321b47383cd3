#pragma once
// kvnode's log: where it goes and in which format.

#include "core/config.hpp"

#include <cstdint>

namespace kv::logging {

// Installs spdlog's default logger as [log] says: messages at `level` and above, to standard
// error or to `file`, as text or JSON lines (log_formatter), info and above flushed at once and
// the rest within a second. Call it once, before anything logs. Throws spdlog::spdlog_ex if the
// log file cannot be opened.
void install_log(const log_config& cfg, std::uint64_t node_id);

}  // namespace kv::logging

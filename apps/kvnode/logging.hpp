#pragma once
// kvnode's log: where it goes, in which format, and its reopening on SIGHUP.

#include "apps/kvnode/log_file_sink.hpp"
#include "apps/kvnode/config.hpp"

#include <cstdint>
#include <memory>

namespace kv::logging {

// Installs spdlog's default logger as [log] says: messages at `level` and above, to standard
// error or to `file`, as text or JSON lines (log_formatter), info and above flushed at once and
// the rest within a second. Construct it once, before anything logs; it lives as long as main.
class node_log {
 public:
  // Throws std::system_error if the log file cannot be opened.
  node_log(const log_config& cfg, std::uint64_t node_id);

  // For log rotation (SIGHUP): writes to a newly opened file at the configured path from now on
  // and logs that it did, or why it could not (then it keeps writing to the file it had), or
  // that there is no file to reopen when the log goes to standard error.
  void reopen();

 private:
  std::shared_ptr<log_file_sink> file_;  // null when logging to standard error
};

}  // namespace kv::logging

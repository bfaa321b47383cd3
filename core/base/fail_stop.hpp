#pragma once
// Fail-stop: the node's answer to storage errors it must not survive.

#include <string>

namespace kv {

// The exit status of a node stopped by fail_stop(): EX_IOERR from <sysexits.h>.
inline constexpr int fail_stop_exit_code = 74;

// Fail-stop: logs `what` as critical, flushes every log and ends the process at once with
// fail_stop_exit_code. For errors after which carrying on could lose acknowledged data, such as
// a failed write or fsync of the WAL: never retried, never ignored.
[[noreturn]] void fail_stop(const std::string& what);

}  // namespace kv

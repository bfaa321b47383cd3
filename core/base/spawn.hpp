#pragma once
// Completion handlers for coroutines started with asio::co_spawn and not awaited: an exception
// that escapes one must not vanish.

#include "core/base/fail_stop.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <string>

namespace kv {

namespace detail {
inline std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}
}  // namespace detail

// Logs an escaping exception as an error, naming `what`; the node keeps running.
inline auto log_failure(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (e) spdlog::error("{} failed: {}", what, detail::describe(e));
  };
}

// For coroutines the node cannot run without (the WAL writer): an escaping exception stops it.
inline auto stop_on_failure(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (e) fail_stop(what + " failed: " + detail::describe(e));
  };
}

}  // namespace kv

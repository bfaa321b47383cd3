#pragma once
// Private to index/node: the loop of each thread node_index starts (the index thread and the
// query threads).

#include <asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include <exception>

namespace kv::search::detail {

// Runs `ctx` until it has no more work. An exception escaping a handler is a bug; the node stops.
inline void run_or_terminate(asio::io_context& ctx, const char* what) {
  try {
    ctx.run();
  } catch (const std::exception& e) {
    spdlog::critical("{} failed: {}", what, e.what());
    std::terminate();
  }
}

}  // namespace kv::search::detail

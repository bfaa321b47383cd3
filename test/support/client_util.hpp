#pragma once
// Running test bodies against a node through the C++ client library.

#include "io/client/client.hpp"
#include "support/async.hpp"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace kv::test {

inline client::options client_options(const std::string& endpoint) {
  client::options o;
  o.endpoints = {endpoint};
  o.request_timeout = std::chrono::seconds(20);
  return o;
}

// A client of a cluster under faults: `request_timeout` short enough to leave a paused node,
// 500 ms to connect, `leader_wait` to find the next leader.
inline client::options fault_client_options(std::vector<std::string> endpoints,
                                            std::chrono::milliseconds request_timeout,
                                            std::chrono::milliseconds leader_wait) {
  client::options o;
  o.endpoints = std::move(endpoints);
  o.request_timeout = request_timeout;
  o.connect_timeout = std::chrono::milliseconds(500);
  o.leader_wait = leader_wait;
  return o;
}

// Runs `body` with a client connected to `endpoint`.
inline void with_client(const std::string& endpoint, std::function<asio::awaitable<void>(client&)> body) {
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    client c(ctx.get_executor(), client_options(endpoint));
    std::exception_ptr failure;
    try {
      co_await body(c);
    } catch (...) {
      failure = std::current_exception();
    }
    c.close();
    if (failure) std::rethrow_exception(failure);
  });
}

// g++ 12 cannot keep a braced initializer list in a coroutine frame: build pair lists out of line.
template <typename... S>
std::vector<std::pair<std::string, std::string>> pairs_of(S... kv) {
  std::vector<std::string> flat{std::string(kv)...};
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) out.emplace_back(flat[i], flat[i + 1]);
  return out;
}

}  // namespace kv::test

#pragma once
// What the Redis-protocol tests share: a node with its Redis listener on the free port the
// harness gives it, and the byte-for-byte check of a reply.

#include "harness/node_process.hpp"
#include "harness/resp_client.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace kv::test {

struct resp_node {
  harness::node_process node;
  unsigned short port = node.resp_port();
  // `toml`: more configuration for the node.
  explicit resp_node(std::string toml = {}) : node(std::move(toml)) {}
};

// Sends `request` and checks that exactly `reply` comes back.
inline void expect(harness::raw_client& c, std::string_view request, std::string_view reply) {
  auto got = c.ask(request, reply);
  BOOST_TEST(got == reply, "request " << request << " got " << got);
}

// Reads `n` bytes, or what came within `limit` (less if the node closed the connection).
inline std::string read_all(harness::raw_client& c, std::size_t n, std::chrono::seconds limit) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto more = c.read(n - got.size());
    if (more.empty() && c.closed()) break;
    got += more;
  }
  return got;
}

}  // namespace kv::test

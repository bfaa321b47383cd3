// Nodes assembled in process (apps/kvnode/node.hpp): one alone and three as a cluster, each on an
// io_context and thread of its own, driven through the real client library over loopback.

#include "apps/kvnode/node.hpp"
#include "harness/process.hpp"
#include "harness/temp_dir.hpp"
#include "raft/replica/store.hpp"
#include "support/client_util.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using kv::harness::free_port;
using kv::harness::temp_dir;

// A node running on a thread of its own, from construction to shutdown().
class running_node {
 public:
  explicit running_node(const kv::config& cfg) : node_(std::make_unique<kv::node>(ctx_, cfg)) {
    node_->start([this](std::exception_ptr e) { failure_ = e; });
    thread_ = std::thread([this] { ctx_.run(); });
  }
  ~running_node() { shutdown(); }

  // Graceful stop; returns once the node's thread has ended. Rethrows what stopped the store if
  // that was not the shutdown.
  void shutdown() {
    if (!thread_.joinable()) return;
    asio::co_spawn(ctx_, node_->shutdown(), asio::detached);
    thread_.join();
    if (failure_) std::rethrow_exception(failure_);
  }
  std::string endpoint() const {
    auto ep = node_->client_endpoint();
    return fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }

 private:
  asio::io_context ctx_{1};
  std::unique_ptr<kv::node> node_;
  std::exception_ptr failure_;
  std::thread thread_;
};

kv::config single_node_config(const temp_dir& dir, const std::string& extra = {}) {
  // Both listeners on ports the system picks: tests run side by side.
  return kv::parse_config(fmt::format("[node]\ndata-dir = \"{}\"\n[server]\nlisten = \"127.0.0.1:0\"\n[resp]\n"
                                      "listen = \"127.0.0.1:0\"\n{}",
                                      (dir / "data").string(), extra),
                          "node_test.toml");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(in_process_node)

BOOST_AUTO_TEST_CASE(serves_and_keeps_writes_across_a_restart) {
  temp_dir dir;
  const auto cfg = single_node_config(dir);
  {
    running_node n(cfg);
    kv::test::with_client(n.endpoint(), [](kv::client& c) -> asio::awaitable<void> {
      std::uint64_t last = 0;
      for (int i = 0; i < 50; ++i) {
        auto done = co_await c.set(fmt::format("k{}", i), fmt::format("v{}", i));
        BOOST_REQUIRE(done.ok());
        last = done->index;
      }
      auto got = co_await c.get("k7");
      BOOST_REQUIRE(got.ok());
      BOOST_TEST(*got == "v7");
      // The node's own index follows the writes.
      kv::search::text_query q;
      q.terms.push_back("v9");
      auto found = co_await c.search(q, last);
      BOOST_REQUIRE(found.ok());
      BOOST_REQUIRE(found->hits.size() == 1u);
      BOOST_TEST(found->hits[0].key == "k9");
    });
    n.shutdown();
  }
  running_node again(cfg);
  kv::test::with_client(again.endpoint(), [](kv::client& c) -> asio::awaitable<void> {
    for (int i = 0; i < 50; ++i) {
      auto got = co_await c.get(fmt::format("k{}", i));
      BOOST_REQUIRE(got.ok());
      BOOST_TEST(*got == fmt::format("v{}", i));
    }
  });
}

BOOST_AUTO_TEST_CASE(three_nodes_in_one_process_replicate) {
  temp_dir dir;
  std::vector<unsigned short> peer(3), client(3);
  std::string members;
  for (int i = 0; i < 3; ++i) {
    peer[i] = free_port();
    client[i] = free_port();
    members += fmt::format("  {{ id = {}, peer = \"127.0.0.1:{}\", client = \"127.0.0.1:{}\" }},\n", i + 1, peer[i],
                           client[i]);
  }
  std::vector<std::unique_ptr<running_node>> nodes;
  for (int i = 0; i < 3; ++i) {
    auto cfg = kv::parse_config(
        fmt::format("[node]\nid = {}\ndata-dir = \"{}\"\n[server]\nlisten = \"127.0.0.1:{}\"\n[resp]\nlisten = "
                    "\"127.0.0.1:0\"\n[cluster]\nmembers = [\n{}]\n[index]\nenabled = false\n",
                    i + 1, (dir / fmt::format("n{}", i + 1)).string(), client[i], members),
        "node_test.toml");
    nodes.push_back(std::make_unique<running_node>(cfg));
  }
  // The client finds the leader through redirects from whichever member it reaches first.
  std::vector<std::string> all;
  for (auto& n : nodes) all.push_back(n->endpoint());
  kv::test::run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    kv::client::options o;
    o.endpoints = all;
    o.request_timeout = std::chrono::seconds(20);
    o.leader_wait = std::chrono::seconds(20);
    kv::client c(ctx.get_executor(), o);
    for (int i = 0; i < 100; ++i) BOOST_REQUIRE((co_await c.set(fmt::format("k{}", i), "v")).ok());
    c.close();
  });
  // Every member answers a linearizable read with every acknowledged write.
  for (const auto& ep : all) {
    kv::test::with_client(ep, [](kv::client& c) -> asio::awaitable<void> {
      auto got = co_await c.get("k99");
      BOOST_REQUIRE(got.ok());
      BOOST_TEST(*got == "v");
    });
  }
  for (auto& n : nodes) n->shutdown();
}

BOOST_AUTO_TEST_CASE(start_errors_say_what_failed) {
  temp_dir dir;
  // A stemmer that does not exist is found only when the index is made: a configuration error.
  try {
    asio::io_context ctx;
    kv::node n(ctx, single_node_config(dir, "[index]\nstemming = \"klingon\"\n"));
    BOOST_FAIL("an index stemming Klingon was made");
  } catch (const kv::node_start_error& e) {
    BOOST_TEST((e.why() == kv::node_start_error::kind::bad_configuration));
    BOOST_TEST(std::string(e.what()).find("[index] stemming") != std::string::npos, e.what());
  }
  // A data directory that is a file cannot be opened.
  {
    temp_dir blocked;
    std::ofstream(blocked / "data") << "not a directory";
    try {
      asio::io_context ctx;
      kv::node n(ctx, single_node_config(blocked));
      BOOST_FAIL("a node opened a data directory that is a file");
    } catch (const kv::node_start_error& e) {
      BOOST_TEST((e.why() == kv::node_start_error::kind::cannot_start));
      BOOST_TEST(std::string(e.what()).find("cannot open data directory") != std::string::npos, e.what());
    }
  }
  // A taken address is a start failure naming the address.
  running_node first(single_node_config(dir));
  temp_dir other;
  auto cfg = single_node_config(other);
  cfg.server.listen = first.endpoint();
  try {
    asio::io_context ctx;
    kv::node n(ctx, cfg);
    BOOST_FAIL("a second node bound the same address");
  } catch (const kv::node_start_error& e) {
    BOOST_TEST((e.why() == kv::node_start_error::kind::cannot_start));
    BOOST_TEST(std::string(e.what()).find(first.endpoint()) != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()

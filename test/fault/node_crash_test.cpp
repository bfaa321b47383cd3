// kill -9 of a kvnode process while many clients write: after a restart every acknowledged
// write is there, and no BulkSet is half applied.

#include "harness/node_process.hpp"
#include "support/client_util.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <random>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;

BOOST_AUTO_TEST_SUITE(node_crash)

BOOST_AUTO_TEST_CASE(kill9_during_concurrent_client_writes) {
  const int iterations = 6;
  const int writers = 16;
  node_process node("[storage]\nsnapshot-entries = 5000\nsegment-size = \"1MiB\"\nmax-batch-size = \"256KiB\"\n");
  std::map<std::string, std::string> acked;
  std::map<std::string, bool> bulks;  // tag -> acknowledged
  std::mt19937 rng(2024);
  for (int it = 0; it < iterations; ++it) {
    auto kill_after = std::chrono::milliseconds(150 + rng() % 400);
    run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
      std::vector<std::unique_ptr<client>> clients;
      for (int w = 0; w < writers; ++w) clients.push_back(std::make_unique<client>(ctx.get_executor(), client_options(node.endpoint())));
      int running = writers;
      io::event done(ctx.get_executor());
      for (int w = 0; w < writers; ++w) {
        asio::co_spawn(
            ctx,
            [&, w]() -> asio::awaitable<void> {
              auto& c = *clients[static_cast<std::size_t>(w)];
              for (int n = 0;; ++n) {
                auto id = std::to_string(it) + "-" + std::to_string(w) + "-" + std::to_string(n);
                if (n % 5 == 0) {
                  bulks.emplace(id, false);
                  auto r = co_await c.bulk_set(pairs_of("b" + id + "-0", id, "b" + id + "-1", id, "b" + id + "-2", id));
                  if (!r) break;
                  bulks[id] = true;
                } else {
                  auto r = co_await c.set("s" + id, "v" + id);
                  if (!r) break;
                  acked["s" + id] = "v" + id;
                }
              }
              if (--running == 0) done.notify();
            },
            asio::detached);
      }
      asio::steady_timer t(ctx, kill_after);
      co_await t.async_wait(asio::use_awaitable);
      node.kill9();
      while (running > 0) co_await done.wait();
      for (auto& c : clients) c->close();
    });
    node.start();
    with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
      for (const auto& [k, v] : acked) {
        auto got = co_await c.get(k);
        BOOST_REQUIRE_MESSAGE(got.ok() && *got == v, "iteration " << it << ": acknowledged " << k << " lost");
      }
      for (const auto& [tag, was_acked] : bulks) {
        int present = 0;
        for (int j = 0; j < 3; ++j) present += (co_await c.get("b" + tag + "-" + std::to_string(j))).ok();
        BOOST_REQUIRE_MESSAGE(present == 0 || present == 3, "bulk " << tag << " half applied");
        BOOST_REQUIRE_MESSAGE(!was_acked || present == 3, "acknowledged bulk " << tag << " lost");
      }
    });
  }
  BOOST_TEST_MESSAGE("verified " << acked.size() << " acknowledged sets and " << bulks.size() << " bulk sets");
  BOOST_TEST(acked.size() > 1000u);
}

BOOST_AUTO_TEST_SUITE_END()

// A real kvnode process, driven through the C++ client library.

#include "harness/node_process.hpp"
#include "support/client_util.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <map>
#include <string_view>
#include <thread>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;

namespace {

// Starts `count` coroutines running `body(i)` and waits for all of them.
asio::awaitable<void> in_parallel(int count, std::function<asio::awaitable<void>(int)> body) {
  auto ex = co_await asio::this_coro::executor;
  int running = count;
  io::event done(ex);
  std::exception_ptr failure;
  for (int i = 0; i < count; ++i) {
    asio::co_spawn(ex, body(i), [&](std::exception_ptr e) {
      if (e && !failure) failure = e;
      if (--running == 0) done.notify();
    });
  }
  while (running > 0) co_await done.wait();
  if (failure) std::rethrow_exception(failure);
}

// "1" while the process's page faults may get transparent huge pages, "0" once it turned them
// off; "" if the kernel does not report it.
std::string thp_enabled(pid_t pid) { return proc_status_field(pid, "THP_enabled"); }

}  // namespace

BOOST_AUTO_TEST_SUITE(server_process)

// [node] huge-pages: by default the heap gets huge pages only while the node recovers (once it
// serves, they are off, after every start); "always" leaves them on, "never" turns them off.
BOOST_AUTO_TEST_CASE(huge_pages_follow_the_setting) {
  BOOST_REQUIRE_MESSAGE(!thp_enabled(::getpid()).empty(), "/proc/<pid>/status has no THP_enabled (Linux >= 5.0)");
  node_process recovered;
  BOOST_TEST(thp_enabled(recovered.pid()) == "0");
  with_client(recovered.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_TEST((co_await c.set("k", "v")).ok());
  });
  recovered.restart();
  BOOST_TEST(thp_enabled(recovered.pid()) == "0");
  with_client(recovered.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_TEST(*(co_await c.get("k")) == "v");
  });
  for (auto [mode, expected] : {std::pair{"always", "1"}, std::pair{"never", "0"}}) {
    node_options o;
    o.node_keys = fmt::format("huge-pages = \"{}\"\n", mode);
    node_process node(o);
    BOOST_TEST(thp_enabled(node.pid()) == expected, mode);
  }
}

BOOST_AUTO_TEST_CASE(every_operation) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_TEST((co_await c.ping()).ok());
    auto i1 = co_await c.set("k", "v1");
    BOOST_REQUIRE(i1.ok());
    BOOST_TEST(*(co_await c.get("k")) == "v1");
    auto i2 = co_await c.set("k", "v2");  // overwrite
    BOOST_TEST(i2->index > i1->index);
    BOOST_TEST(i2->revision == i1->revision + 1);
    BOOST_TEST(*(co_await c.get("k")) == "v2");
    BOOST_TEST((co_await c.get("missing")).is(errc::not_found));
    BOOST_TEST((co_await c.del("k")).ok());
    BOOST_TEST((co_await c.get("k")).is(errc::not_found));
    BOOST_TEST((co_await c.del("k")).is(errc::not_found));
    auto b = co_await c.bulk_set(pairs_of("a", "1", "b", "2", "c", "3"));
    BOOST_REQUIRE(b.ok());
    BOOST_TEST(*(co_await c.get("b")) == "2");
    std::string binary_value("\0\xff\n\x01", 4);
    BOOST_REQUIRE((co_await c.set(std::string("bin\0key", 7), binary_value)).ok());
    BOOST_TEST(*(co_await c.get(std::string("bin\0key", 7))) == binary_value);
    auto st = co_await c.status();
    BOOST_REQUIRE(st.ok());
    BOOST_TEST(st->number("node_id") == 1u);
    BOOST_TEST(st->text("role") == "leader");
    BOOST_TEST(st->number("keys") == 4u);
    BOOST_TEST(st->number("applied_index") == b->index + 1);
    BOOST_TEST(st->number("revision") == b->revision + 1);
    BOOST_TEST(st->number("connections") >= 1u);
    // The writes above went to the WAL in some group commits (direct ones only where the file
    // system has O_DIRECT); too few for the automatic path to judge, so it never fell back.
    BOOST_TEST(st->number("wal_batches") >= 1u);
    BOOST_TEST(st->number("wal_records") >= st->number("wal_batches"));
    BOOST_TEST(st->number("wal_direct_batches") <= st->number("wal_batches"));
    BOOST_TEST(st->number("wal_io_fallbacks") == 0u);
  });
}

BOOST_AUTO_TEST_CASE(limits_give_clear_errors_and_the_connection_stays_usable) {
  node_process node("[storage]\nmax-key-size = \"16B\"\nmax-value-size = \"1KiB\"\n");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    auto r = co_await c.set(std::string(17, 'k'), "v");
    BOOST_TEST(r.is(errc::too_large));
    BOOST_TEST(r.message().find("max-key-size") != std::string::npos, r.message());
    r = co_await c.set("k", std::string(1025, 'v'));
    BOOST_TEST(r.is(errc::too_large));
    BOOST_TEST(r.message().find("max-value-size") != std::string::npos, r.message());
    r = co_await c.set("", "v");
    BOOST_TEST(r.is(errc::bad_request));
    BOOST_TEST(r.message() == "the key is empty");
    auto g = co_await c.get(std::string(17, 'k'));
    BOOST_TEST(g.is(errc::too_large));
    auto b = co_await c.bulk_set(pairs_of("ok", "1", std::string(17, 'x'), "2"));
    BOOST_TEST(b.is(errc::too_large));
    BOOST_TEST((co_await c.get("ok")).is(errc::not_found));  // all or nothing
    BOOST_TEST((co_await c.set("fine", "v")).ok());         // same connection still works
  });
}

BOOST_AUTO_TEST_CASE(restart_keeps_data) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    for (int i = 0; i < 200; ++i) BOOST_REQUIRE((co_await c.set("k" + std::to_string(i), "v" + std::to_string(i))).ok());
    BOOST_REQUIRE((co_await c.del("k5")).ok());
  });
  BOOST_TEST(node.stop() == 0);
  node.start();
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_TEST(*(co_await c.get("k199")) == "v199");
    BOOST_TEST((co_await c.get("k5")).is(errc::not_found));
    BOOST_TEST((co_await c.status())->number("keys") == 199u);
  });
}

// One client object across a node restart: the request in flight fails, later ones reconnect.
BOOST_AUTO_TEST_CASE(client_reconnects_after_the_node_restarts) {
  node_process node;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    client c(ctx.get_executor(), client_options(node.endpoint()));
    BOOST_REQUIRE((co_await c.set("before", "1")).ok());
    node.restart();
    auto first = co_await c.get("before");  // the old connection is gone: retried on a new one
    BOOST_TEST(first.ok(), first.message());
    BOOST_TEST((co_await c.set("after", "2")).ok());
    c.close();
  });
}

BOOST_AUTO_TEST_CASE(client_example_runs) {
  node_process node;
  auto r = run_command({binary("client_example").string(), node.endpoint()});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find("greeting = hello") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("after delete: not found") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(many_concurrent_clients) {
  node_process node;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 64; ++i) clients.push_back(std::make_unique<client>(ctx.get_executor(), client_options(node.endpoint())));
    co_await in_parallel(64, [&](int w) -> asio::awaitable<void> {
      auto& c = *clients[static_cast<std::size_t>(w)];
      for (int i = 0; i < 30; ++i) {
        auto key = "c" + std::to_string(w) + ":" + std::to_string(i % 7);
        auto value = std::to_string(w * 1000 + i);
        BOOST_REQUIRE((co_await c.set(key, value)).ok());
        BOOST_REQUIRE(*(co_await c.get(key)) == value);  // nobody else writes this key
      }
    });
    for (auto& c : clients) c->close();
  });
}

// One connection, a thousand requests in flight; responses are matched by id, and a read sent
// after a write on the same connection sees it.
BOOST_AUTO_TEST_CASE(pipelining_on_one_connection) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    std::map<std::uint64_t, std::uint64_t> revision_at;  // log index -> revision
    co_await in_parallel(1000, [&](int i) -> asio::awaitable<void> {
      auto r = co_await c.set("p" + std::to_string(i), "value" + std::to_string(i));
      BOOST_REQUIRE(r.ok());
      revision_at[r->index] = r->revision;
    });
    BOOST_TEST(revision_at.size() == 1000u);
    // Each write is answered with its own revision, though many apply in one round: in log order,
    // one more each.
    std::uint64_t previous = revision_at.begin()->second - 1;
    for (const auto& [index, revision] : revision_at) {
      BOOST_TEST(revision == previous + 1, "index " << index);
      previous = revision;
    }
    co_await in_parallel(1000, [&](int i) -> asio::awaitable<void> {
      auto v = co_await c.get("p" + std::to_string(i));
      BOOST_REQUIRE(v.ok());
      BOOST_TEST(*v == "value" + std::to_string(i));
    });
    // Write then read without waiting for the write: the read is answered after it.
    int checked = 0;
    co_await in_parallel(200, [&](int i) -> asio::awaitable<void> {
      auto key = "rw" + std::to_string(i / 2 % 20);  // a set and a get share each key
      if (i % 2 == 0) {
        co_await c.set(key, "x" + std::to_string(i));
      } else {
        auto v = co_await c.get(key);
        if (v.ok()) ++checked;
      }
    });
    BOOST_TEST(checked > 0);
  });
}

BOOST_AUTO_TEST_CASE(read_follows_earlier_write_on_the_same_connection) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    // The client's first write opens its session (a round trip of its own); after that, a set
    // goes out as soon as it is called.
    BOOST_REQUIRE((co_await c.set("warm-up", "x")).ok());
    for (int round = 0; round < 50; ++round) {
      auto key = "order" + std::to_string(round);
      auto ex = co_await asio::this_coro::executor;
      // Send the set, then immediately (before its answer) the get, on one connection.
      bool set_done = false;
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            BOOST_REQUIRE((co_await c.set(key, "written")).ok());
            set_done = true;
          },
          asio::detached);
      co_await asio::post(ex, asio::use_awaitable);  // the set is now queued on the connection
      auto v = co_await c.get(key);
      BOOST_REQUIRE_MESSAGE(v.ok(), "round " << round << ": " << v.message());
      BOOST_TEST(*v == "written");
      while (!set_done) co_await asio::post(ex, asio::use_awaitable);
    }
  });
}

// A SIGTERM while the node is still starting (its configuration read, recovery under way) is
// held until the node runs, then shuts it down cleanly: it never kills a starting node.
BOOST_AUTO_TEST_CASE(sigterm_during_start_shuts_down_cleanly) {
  node_process node;
  BOOST_REQUIRE(node.stop() == 0);
  auto count = [&](std::string_view what) {
    const auto log = node.log();
    std::size_t n = 0;
    for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  for (int round = 0; round < 5; ++round) {
    const auto starts = count("config [storage]");
    node.launch();
    // SIGTERM as soon as the new process has logged its configuration, long before it serves.
    while (count("config [storage]") == starts) std::this_thread::sleep_for(std::chrono::microseconds(200));
    BOOST_TEST(node.stop() == 0, "round " << round);
  }
  BOOST_TEST(count("stopped cleanly") == 6u);
}

// SIGTERM: stop accepting, finish what is in flight, sync, exit 0.
BOOST_AUTO_TEST_CASE(graceful_shutdown_finishes_in_flight_writes) {
  node_process node;
  std::map<std::string, std::string> acked;
  int refused = 0;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    client c(ctx.get_executor(), client_options(node.endpoint()));
    BOOST_REQUIRE((co_await c.ping()).ok());
    co_await in_parallel(300, [&](int i) -> asio::awaitable<void> {
      for (int j = 0; j < 200; ++j) {
        auto key = "g" + std::to_string(i) + ":" + std::to_string(j);
        if (i == 0 && j == 20) ::kill(node.pid(), SIGTERM);
        auto r = co_await c.set(key, "v");
        if (!r) {
          ++refused;
          co_return;
        }
        acked[key] = "v";
      }
    });
    c.close();
  });
  BOOST_TEST(node.reap() == 0);
  BOOST_TEST(refused > 0);
  BOOST_TEST(node.log().find("stopped cleanly") != std::string::npos);
  // The process is gone; a fresh one on the same directory has every acknowledged write.
  node.start();
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    for (const auto& [k, v] : acked) BOOST_REQUIRE_MESSAGE((co_await c.get(k)).ok(), "lost " << k);
  });
}

BOOST_AUTO_TEST_SUITE_END()

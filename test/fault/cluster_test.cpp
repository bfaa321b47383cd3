// A 3-node cluster of real kvnode processes on loopback, under kill -9, SIGSTOP and restarts:
// acknowledged writes survive on every node, a paused leader never serves a stale read, and a
// cluster without a majority fails requests promptly instead of hanging.

#include "core/base/bytes.hpp"
#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "support/client_util.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <set>

#include <sys/socket.h>
#include <sys/time.h>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

client::options options_for(std::vector<std::string> endpoints) {
  client::options o;
  o.endpoints = std::move(endpoints);
  o.request_timeout = 5s;
  o.connect_timeout = 500ms;
  return o;
}

// One endpoint only (g++ 12 cannot keep a braced list in a coroutine frame).
client::options options_for(std::string endpoint) {
  client::options o;
  o.endpoints.assign(1, std::move(endpoint));
  o.request_timeout = 5s;
  o.connect_timeout = 500ms;
  return o;
}

// Every key of `expected` holds its value in the local state of every running member.
asio::awaitable<void> check_everywhere(cluster& cl, const std::map<std::string, std::string>& expected) {
  for (std::uint64_t id = 1; id <= cl.size(); ++id) {
    if (!cl.member(id).running()) continue;
    client c(co_await asio::this_coro::executor, options_for(cl.member(id).endpoint()));
    std::size_t missing = 0;
    std::string example;
    for (const auto& [k, v] : expected) {
      auto got = co_await c.get(k, read_mode::stale);
      if (!got || *got != v) {
        if (missing++ == 0) example = k;
      }
    }
    c.close();
    BOOST_TEST(missing == 0u, "node " << id << " misses " << missing << " of " << expected.size()
                                      << " acknowledged writes, e.g. " << example);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_faults)

BOOST_AUTO_TEST_CASE(a_write_to_a_follower_is_redirected_and_reads_work_on_every_node) {
  cluster cl;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    auto leader = co_await wait_for_leader(cl);
    auto follower = leader % 3 + 1;
    client c(ctx.get_executor(), options_for(cl.member(follower).endpoint()));
    auto r = co_await c.set("greeting", "hello");
    BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
    BOOST_TEST(c.endpoint() == cl.member(leader).endpoint());  // the client followed the redirect
    c.close();
    // kvctl status over every endpoint: a line per node, one leader, all caught up.
    auto table = run_command({binary("kvctl").string(), "--endpoints",
                              fmt::format("{},{},{}", cl.member(1).endpoint(), cl.member(2).endpoint(),
                                          cl.member(3).endpoint()),
                              "status"});
    BOOST_TEST(table.exit_code == 0, table.err);
    auto count = [&](const std::string& word) {
      std::size_t n = 0;
      for (auto at = table.out.find(word); at != std::string::npos; at = table.out.find(word, at + 1)) ++n;
      return n;
    };
    BOOST_TEST(count(" leader ") == 1u, table.out);
    BOOST_TEST(count(" follower ") == 2u, table.out);
    // A linearizable read on each node, asked directly, sees the write at once.
    for (std::uint64_t id = 1; id <= 3; ++id) {
      client direct(ctx.get_executor(), options_for(cl.member(id).endpoint()));
      auto v = co_await direct.get("greeting");
      BOOST_TEST((v.ok() && *v == "hello"), "node " << id << ": " << (v.ok() ? *v : v.message()));
      direct.close();
    }
  });
}

BOOST_AUTO_TEST_CASE(kill9_of_the_leader_under_load_loses_no_acknowledged_write) {
  cluster cl;
  std::map<std::string, std::string> acked;
  std::vector<std::chrono::milliseconds> failovers;
  for (int round = 0; round < 3; ++round) {
    run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
      auto leader = co_await wait_for_leader(cl);
      const int writers = 8;
      bool stop = false;
      int running = writers;
      std::chrono::steady_clock::time_point killed_at{};
      std::chrono::steady_clock::time_point first_ack_after{};
      io::event done(ctx.get_executor());
      std::vector<std::unique_ptr<client>> clients;
      for (int w = 0; w < writers; ++w) {
        clients.push_back(std::make_unique<client>(ctx.get_executor(), options_for(cl.endpoints())));
        asio::co_spawn(
            ctx,
            [&, w]() -> asio::awaitable<void> {
              auto& c = *clients[static_cast<std::size_t>(w)];
              for (int n = 0; !stop; ++n) {
                auto key = fmt::format("r{}-w{}-{}", round, w, n);
                auto r = co_await c.set(key, key);
                if (r) {
                  acked[key] = key;
                  if (killed_at != std::chrono::steady_clock::time_point{} &&
                      first_ack_after == std::chrono::steady_clock::time_point{}) {
                    first_ack_after = std::chrono::steady_clock::now();
                  }
                }
              }
              if (--running == 0) done.notify();
            },
            asio::detached);
      }
      co_await sleep_for(400ms);
      cl.member(leader).kill9();
      killed_at = std::chrono::steady_clock::now();
      co_await sleep_for(1500ms);
      stop = true;
      while (running > 0) co_await done.wait();
      for (auto& c : clients) c->close();
      BOOST_REQUIRE_MESSAGE(first_ack_after != std::chrono::steady_clock::time_point{},
                            "no write was acknowledged after the leader was killed:\n" << cl.logs());
      failovers.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(first_ack_after - killed_at));
      cl.member(leader).start();
      co_await wait_converged(cl, 15s);
      co_await check_everywhere(cl, acked);
    });
  }
  BOOST_TEST_MESSAGE("acknowledged writes: " << acked.size() << "; kill -> first acknowledged write on the new leader: "
                                             << failovers[0].count() << ", " << failovers[1].count() << ", "
                                             << failovers[2].count() << " ms");
  BOOST_TEST(acked.size() > 100u);
}

BOOST_AUTO_TEST_CASE(a_paused_leader_steps_down_and_serves_no_stale_read) {
  cluster cl;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    auto old_leader = co_await wait_for_leader(cl);
    client writer(ctx.get_executor(), options_for(cl.endpoints()));
    BOOST_REQUIRE((co_await writer.set("k", "before")).ok());
    cl.member(old_leader).pause();
    // The other two elect a new leader and take a write the paused node has not seen.
    std::uint64_t new_leader = 0;
    for (int i = 0; i < 200 && new_leader == 0; ++i) {
      co_await sleep_for(20ms);
      for (std::uint64_t id = 1; id <= 3; ++id) {
        if (id == old_leader) continue;
        auto s = co_await member_status(cl.member(id));
        if (s && s->text("role") == "leader") new_leader = id;
      }
    }
    BOOST_REQUIRE_MESSAGE(new_leader != 0, "no new leader while the old one was paused:\n" << cl.logs());
    client to_new(ctx.get_executor(), options_for(cl.member(new_leader).endpoint()));
    auto w = co_await to_new.set("k", "after");
    BOOST_REQUIRE_MESSAGE(w.ok(), w.message());
    to_new.close();
    cl.member(old_leader).resume();
    // Right after it wakes, the old leader still believes it leads: a linearizable read there
    // must not return the old value.
    client to_old(ctx.get_executor(), options_for(cl.member(old_leader).endpoint()));
    int answered = 0;
    for (int i = 0; i < 20; ++i) {
      auto v = co_await to_old.get("k");
      if (v) {
        ++answered;
        BOOST_TEST(*v == "after", "read " << i << " on the resumed old leader returned a stale value");
      }
    }
    BOOST_TEST(answered > 0);
    to_old.close();
    auto s = co_await member_status(cl.member(old_leader));
    BOOST_REQUIRE(s.ok());
    BOOST_TEST(s->text("role") == "follower");
    BOOST_TEST(s->number("leader_id") == new_leader);
    writer.close();
  });
}

BOOST_AUTO_TEST_CASE(a_gracefully_stopped_leader_hands_over_without_an_election_timeout) {
  cluster cl;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    auto leader = co_await wait_for_leader(cl);
    client c(ctx.get_executor(), options_for(cl.endpoints()));
    BOOST_REQUIRE((co_await c.set("k", "1")).ok());
    auto start = std::chrono::steady_clock::now();
    BOOST_TEST(cl.member(leader).stop() == 0);
    // stop() blocked this thread; let the client see its connection to the old leader close.
    co_await sleep_for(5ms);
    auto w = co_await c.set("k", "2");  // served by the new leader
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    BOOST_TEST(w.ok(), w.message());
    auto log = cl.member(leader).log();
    BOOST_TEST((log.find("took over leadership") != std::string::npos ||
                log.find("is taking over leadership") != std::string::npos),
               log);
    // An election would wait out a timeout of 300-600 ms after the last heartbeat; a transfer
    // needs a round trip or two.
    BOOST_TEST(took < std::chrono::milliseconds(300), "the first write after the stop took " << took.count() << " ms");
    BOOST_TEST_MESSAGE("graceful leader stop -> next write acknowledged after " << took.count() << " ms");
    c.close();
  });
}

BOOST_AUTO_TEST_CASE(a_follower_down_while_the_log_is_compacted_catches_up_by_snapshot) {
  cluster cl(3, "[storage]\nsnapshot-entries = 500\nsegment-size = \"256KiB\"\nmax-batch-size = \"64KiB\"\n",
             "snapshot-catch-up-entries = 100");
  std::map<std::string, std::string> written;
  std::uint64_t down = 0;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    auto leader = co_await wait_for_leader(cl);
    down = leader % 3 + 1;
    client c(ctx.get_executor(), options_for(cl.endpoints()));
    BOOST_REQUIRE((co_await c.set("early", "1")).ok());
    written["early"] = "1";
    cl.member(down).kill9();
    // Enough writes for several snapshots, each compacting the logs past what `down` holds.
    for (int i = 0; i < 2000; ++i) {
      auto k = fmt::format("key{}", i % 700);
      auto v = fmt::format("v{}", i);
      auto r = co_await c.set(k, v);
      BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
      written[k] = v;
    }
    c.close();
    cl.member(down).start();
    co_await wait_converged(cl, 15s);
    co_await check_everywhere(cl, written);
  });
  auto log = cl.member(down).log();
  BOOST_TEST(log.find("installed the leader's snapshot") != std::string::npos, log);
  // And the snapshot it installed is its own after a restart.
  cl.member(down).stop();
  cl.member(down).start();
  run_async([&](asio::io_context&) -> asio::awaitable<void> {
    co_await wait_converged(cl, 15s);
    co_await check_everywhere(cl, written);
  });
}

BOOST_AUTO_TEST_CASE(restarting_the_whole_cluster_keeps_every_write) {
  cluster cl;
  std::map<std::string, std::string> written;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    co_await wait_for_leader(cl);
    client c(ctx.get_executor(), options_for(cl.endpoints()));
    for (int i = 0; i < 300; ++i) {
      auto k = fmt::format("key{}", i);
      BOOST_REQUIRE((co_await c.set(k, "v" + k)).ok());
      written[k] = "v" + k;
    }
    BOOST_REQUIRE((co_await c.bulk_set(pairs_of("bulk-a", "1", "bulk-b", "2"))).ok());
    written["bulk-a"] = "1";
    written["bulk-b"] = "2";
    c.close();
  });
  for (std::uint64_t id = 1; id <= 3; ++id) BOOST_TEST(cl.member(id).stop() == 0);
  for (std::uint64_t id = 1; id <= 3; ++id) cl.member(id).start();
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    co_await wait_for_leader(cl);
    client c(ctx.get_executor(), options_for(cl.endpoints()));
    for (const auto& [k, v] : written) {
      auto got = co_await c.get(k);
      BOOST_TEST((got.ok() && *got == v), k << ": " << (got.ok() ? *got : got.message()));
    }
    c.close();
    co_await wait_converged(cl, 15s);
    co_await check_everywhere(cl, written);
  });
}

BOOST_AUTO_TEST_CASE(without_a_majority_requests_fail_promptly_and_recover) {
  cluster cl;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    auto leader = co_await wait_for_leader(cl);
    std::vector<std::uint64_t> followers;
    for (std::uint64_t id = 1; id <= 3; ++id)
      if (id != leader) followers.push_back(id);
    cl.member(followers[0]).kill9();
    cl.member(followers[1]).kill9();
    auto o = options_for(cl.endpoints());
    o.leader_wait = 1s;
    client c(ctx.get_executor(), o);
    auto start = std::chrono::steady_clock::now();
    auto w = co_await c.set("k", "v");
    auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST(w.is(errc::unavailable), w.message());
    BOOST_TEST(took < 5s, "a write without a majority took "
                              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    auto r = co_await c.get("k");
    BOOST_TEST(!r.ok());
    BOOST_TEST_MESSAGE("without a majority: write answered in "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms: "
                       << w.message() << "; read: " << r.message());
    cl.member(followers[0]).start();
    co_await wait_for_leader(cl);
    auto again = co_await c.set("k", "v2");
    BOOST_TEST(again.ok(), again.message());
    auto v = co_await c.get("k");
    BOOST_TEST((v.ok() && *v == "v2"));
    c.close();
  });
}

// Strangers on a member's peer port: bytes that are not kvnode frames, a hello naming the wrong
// node, and a member's hello followed by a malformed message. Each connection is closed with a
// log line saying why; the member keeps replicating and the cluster keeps serving.
BOOST_AUTO_TEST_CASE(garbage_on_a_peer_port_is_refused_and_the_cluster_serves_on) {
  cluster cl;
  std::uint64_t leader = 0;
  run_async([&](asio::io_context&) -> asio::awaitable<void> { leader = co_await wait_for_leader(cl); });
  const auto victim = leader == 1 ? 2u : 1u;
  auto& m = cl.member(victim);
  auto frame = [](std::uint8_t kind, const std::string& body) {
    std::string out;
    append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(body.size() + 1));
    out.push_back(static_cast<char>(kind));
    return out + body;
  };
  auto hello = [&](std::uint64_t from, std::uint64_t to) {
    std::string body;
    append_fixed<std::uint32_t>(body, 0x5052564b);  // "KVRP"
    append_fixed<std::uint16_t>(body, 1);
    append_fixed<std::uint64_t>(body, from);
    append_fixed<std::uint64_t>(body, to);
    return frame(1, body);
  };
  // Sends `bytes` to the member's peer port; true if the member then closed the connection.
  auto closed_after = [&](const std::string& bytes) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address(m.host()), m.peer_port()));
    asio::write(s, asio::buffer(bytes));
    s.non_blocking(false);
    char c;
    std::error_code ec;
    ::timeval tv{5, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    s.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  };
  BOOST_TEST(closed_after("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  BOOST_TEST(closed_after(hello(leader, 99)));
  BOOST_TEST(closed_after(hello(leader, victim) + frame(2, "not a raft message")));
  BOOST_TEST(closed_after(frame(1, "short")));
  const auto log = m.log();
  BOOST_TEST(log.find("bad frame length") != std::string::npos);
  BOOST_TEST(log.find("calling node 99") != std::string::npos);
  BOOST_TEST(log.find("malformed message frame") != std::string::npos);
  BOOST_TEST(log.find("not a kvnode peer (bad hello)") != std::string::npos);
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    client c(ctx.get_executor(), options_for(cl.endpoints()));
    for (int i = 0; i < 20; ++i) {
      auto w = co_await c.set(fmt::format("after-garbage-{}", i), "v");
      BOOST_REQUIRE_MESSAGE(w.ok(), w.message());
    }
    c.close();
    co_await wait_converged(cl, 10s);
    client direct(ctx.get_executor(), options_for(m.endpoint()));
    auto v = co_await direct.get("after-garbage-19", read_mode::stale);
    BOOST_TEST((v.ok() && *v == "v"), v.message());
    direct.close();
  });
}

BOOST_AUTO_TEST_SUITE_END()

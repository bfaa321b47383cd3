// Leases through a real kvnode process and the C++ client: grant, attach keys, keepalive,
// time-to-live, list, revoke, expiry (the keys go at one revision, and a watch sees the deletes),
// a lease kept past its TTL by keepalives, a lease surviving a restart with a full TTL again, and
// the errors bad lease requests get.

#include "harness/node_process.hpp"
#include "integration/search_util.hpp"
#include "io/client/lease_keeper.hpp"
#include "io/client/watch_stream.hpp"
#include "support/client_util.hpp"

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

asio::awaitable<void> sleep_ms(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

txn puts_with_lease(std::uint64_t lease, std::vector<std::string> keys) {
  txn t;
  for (auto& k : keys) t.then_ops.push_back(make_put(k, "v", false, lease));
  return t;
}

std::vector<std::string> two_keys() { return {"l/a", "l/b"}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(lease_process)

BOOST_AUTO_TEST_CASE(grant_attach_keepalive_expire_and_revoke) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    auto g = co_await c.grant_lease(2);
    BOOST_REQUIRE_MESSAGE(g.ok(), g.message());
    BOOST_TEST(g->ttl_seconds == 2);
    const auto lease = g->lease;
    BOOST_REQUIRE((co_await c.txn(puts_with_lease(lease, two_keys()))).ok());
    watch_spec spec;
    spec.key = "l/";
    spec.end = prefix_end("l/");
    auto w = co_await c.watch(spec);
    BOOST_REQUIRE(w.ok());

    auto ttl = co_await c.time_to_live(lease, true);
    BOOST_REQUIRE_MESSAGE(ttl.ok(), ttl.message());
    BOOST_TEST(ttl->ttl_seconds == 2);
    BOOST_TEST(ttl->remaining_ms > 1000);
    BOOST_TEST(ttl->remaining_ms <= 2000);
    BOOST_TEST(ttl->keys == two_keys());
    auto all = co_await c.leases();
    BOOST_REQUIRE(all.ok());
    BOOST_TEST(all->size() == 1u);

    // Kept alive for 3 s, longer than its TTL.
    for (int i = 0; i < 6; ++i) {
      co_await sleep_ms(500ms);
      auto k = co_await c.keep_alive(lease);
      BOOST_REQUIRE_MESSAGE(k.ok(), k.message());
      BOOST_TEST(*k == 2);
    }
    BOOST_TEST((co_await c.get("l/a")).ok());
    // Then left alone: gone within about its TTL, both keys at one revision.
    const auto left_at = std::chrono::steady_clock::now();
    auto b = co_await (*w)->next();
    const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - left_at).count();
    BOOST_REQUIRE(b.ok());
    BOOST_REQUIRE(b->events.size() == 2u);
    BOOST_TEST(b->events[0].deleted);
    BOOST_TEST(b->events[1].deleted);
    BOOST_TEST(b->events[0].kv.mod_revision == b->events[1].kv.mod_revision);
    BOOST_TEST(after >= 1500);  // not before its TTL (less the last keepalive's round trip)
    BOOST_TEST(after < 4000);
    BOOST_TEST((co_await c.get("l/a")).is(errc::not_found));
    auto late = co_await c.keep_alive(lease);
    BOOST_TEST(late.is(errc::not_found));
    BOOST_TEST((co_await c.time_to_live(lease)).is(errc::not_found));

    // Revoked: its keys go at once, at one revision.
    auto g2 = co_await c.grant_lease(60);
    BOOST_REQUIRE(g2.ok());
    BOOST_REQUIRE((co_await c.txn(puts_with_lease(g2->lease, two_keys()))).ok());
    auto r = co_await c.revoke_lease(g2->lease);
    BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
    BOOST_TEST((co_await c.get("l/b")).is(errc::not_found));
    std::uint64_t deleted_at = 0;
    while (deleted_at == 0) {  // the puts' batch first, then the revoke's
      auto batch = co_await (*w)->next();
      BOOST_REQUIRE(batch.ok());
      if (batch->events.back().deleted) deleted_at = batch->events.back().kv.mod_revision;
    }
    BOOST_TEST(deleted_at == r->revision);
    BOOST_TEST((co_await c.revoke_lease(g2->lease)).is(errc::not_found));
  });
}

BOOST_AUTO_TEST_CASE(a_put_without_the_lease_detaches_the_key) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    auto g = co_await c.grant_lease(60);
    BOOST_REQUIRE(g.ok());
    BOOST_REQUIRE((co_await c.txn(puts_with_lease(g->lease, two_keys()))).ok());
    BOOST_REQUIRE((co_await c.set("l/a", "mine now")).ok());
    auto ttl = co_await c.time_to_live(g->lease, true);
    BOOST_REQUIRE(ttl.ok());
    BOOST_TEST(ttl->keys == std::vector<std::string>{"l/b"});
    BOOST_REQUIRE((co_await c.revoke_lease(g->lease)).ok());
    BOOST_TEST((co_await c.get("l/a")).ok());
    BOOST_TEST((co_await c.get("l/b")).is(errc::not_found));
  });
}

BOOST_AUTO_TEST_CASE(a_lease_outlives_a_restart_with_a_full_ttl) {
  node_process node;
  std::uint64_t lease = 0;
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    auto g = co_await c.grant_lease(3);
    BOOST_REQUIRE(g.ok());
    lease = g->lease;
    BOOST_REQUIRE((co_await c.txn(puts_with_lease(lease, two_keys()))).ok());
  });
  std::this_thread::sleep_for(2s);
  node.kill9();
  node.start();
  const auto restarted = std::chrono::steady_clock::now();
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    auto ttl = co_await c.time_to_live(lease, true);
    BOOST_REQUIRE_MESSAGE(ttl.ok(), ttl.message());
    BOOST_TEST(ttl->remaining_ms > 2000);  // a full TTL again, from the new leader's start
    BOOST_TEST(ttl->keys == two_keys());
    while ((co_await c.get("l/a")).ok()) co_await sleep_ms(50ms);
    const auto lived = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - restarted);
    BOOST_TEST(lived.count() >= 2500);
  });
}

BOOST_AUTO_TEST_CASE(bad_lease_requests_get_precise_errors) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    auto zero = co_await c.grant_lease(0);
    BOOST_TEST(zero.is(errc::bad_request));
    BOOST_TEST(zero.message().find("TTL is 1 to 9000000000 seconds, not 0") != std::string::npos, zero.message());
    auto g = co_await c.grant_lease(10, 77);
    BOOST_REQUIRE(g.ok());
    BOOST_TEST(g->lease == 77u);
    auto again = co_await c.grant_lease(10, 77);
    BOOST_TEST(again.is(errc::bad_request));
    BOOST_TEST(again.message().find("lease 77 already exists") != std::string::npos, again.message());
    auto put = co_await c.txn(puts_with_lease(12345, two_keys()));
    BOOST_TEST(put.is(errc::not_found));
    BOOST_TEST(put.message().find("lease 12345 not found") != std::string::npos, put.message());
    BOOST_TEST((co_await c.get("l/a")).is(errc::not_found));  // nothing applied
    BOOST_TEST((co_await c.keep_alive(12345)).is(errc::not_found));
    BOOST_TEST((co_await c.revoke_lease(12345)).is(errc::not_found));
    BOOST_TEST((co_await c.set("still", "serving")).ok());
  });
}

BOOST_AUTO_TEST_CASE(a_lease_keeper_keeps_a_lease_until_it_is_revoked) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    auto g = co_await c.grant_lease(1);
    BOOST_REQUIRE(g.ok());
    BOOST_REQUIRE((co_await c.txn(puts_with_lease(g->lease, two_keys()))).ok());
    lease_keeper keeper(c, g->lease, g->ttl_seconds);
    const auto start = std::chrono::steady_clock::now();
    int renewals = 0;
    while (std::chrono::steady_clock::now() - start < 3s) {  // three TTLs
      const auto before = keeper.guaranteed_until();
      auto r = co_await keeper.next();
      BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
      BOOST_TEST((keeper.guaranteed_until() > before));
      ++renewals;
    }
    BOOST_TEST(renewals >= 6);  // every third of the TTL
    BOOST_TEST((co_await c.get("l/a")).ok());
    BOOST_REQUIRE((co_await c.revoke_lease(g->lease)).ok());
    auto gone = co_await keeper.next();
    BOOST_TEST(gone.is(errc::not_found));
    keeper.stop();
    BOOST_TEST(((co_await keeper.next()).error() == std::make_error_code(std::errc::operation_canceled)));
  });
}

// The search index follows a lease's end: its keys' values are no longer found.
BOOST_AUTO_TEST_CASE(the_search_index_forgets_a_revoked_leases_keys) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    auto g = co_await c.grant_lease(60);
    BOOST_REQUIRE(g.ok());
    txn t;
    t.then_ops.push_back(make_put("doc/1", "the wombat sleeps", false, g->lease));
    BOOST_REQUIRE((co_await c.txn(t)).ok());
    auto found = co_await c.search(word("wombat"));
    BOOST_REQUIRE(found.ok());
    BOOST_TEST(found->hits.size() == 1u);
    auto r = co_await c.revoke_lease(g->lease);
    BOOST_REQUIRE(r.ok());
    auto after = co_await c.search(word("wombat"), r->index);  // once the index applied the revoke
    BOOST_REQUIRE(after.ok());
    BOOST_TEST(after->hits.empty());
  });
}

BOOST_AUTO_TEST_SUITE_END()

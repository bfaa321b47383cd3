// Per-key TTLs through a real kvnode process and the C++ client: a put with a TTL, expire,
// persist and ttl with Redis's answers; expiry seen by a watch and by the search index; TTLs
// that survive a kill -9 and never end early after it; many keys expiring at once, deleted in
// bounded batches while other writes go on; and the errors bad TTLs get.

#include "harness/node_process.hpp"
#include "integration/search_util.hpp"
#include "io/client/watch_stream.hpp"
#include "support/client_util.hpp"

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <set>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

asio::awaitable<void> sleep_ms(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

std::int64_t millis_since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ttl_process)

BOOST_AUTO_TEST_CASE(a_key_with_a_ttl_expires_and_watches_and_search_follow) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    watch_spec spec;
    spec.key = "t/";
    spec.end = prefix_end("t/");
    auto w = co_await c.watch(spec);
    BOOST_REQUIRE(w.ok());
    const auto sent = steady::now();
    auto put = co_await c.put_with_ttl("t/doc", "the quokka smiles", 1500ms);
    BOOST_REQUIRE_MESSAGE(put.ok(), put.message());
    auto left = co_await c.ttl("t/doc");
    BOOST_REQUIRE_MESSAGE(left.ok(), left.message());
    BOOST_TEST(*left > 1000);
    BOOST_TEST(*left <= 1500);
    auto found = co_await c.search(word("quokka"));
    BOOST_REQUIRE(found.ok());
    BOOST_TEST(found->hits.size() == 1u);

    auto created = co_await (*w)->next();
    BOOST_REQUIRE(created.ok());
    BOOST_REQUIRE(created->events.size() == 1u);
    auto gone = co_await (*w)->next();
    const auto lived = millis_since(sent);
    BOOST_REQUIRE_MESSAGE(gone.ok(), gone.message());
    BOOST_REQUIRE(gone->events.size() == 1u);
    BOOST_TEST(gone->events[0].deleted);
    BOOST_TEST(gone->events[0].kv.key == "t/doc");
    BOOST_TEST(lived >= 1500);  // never early, counted from before the write was sent
    BOOST_TEST(lived < 3000);   // and not much later: the leader aims at the deadline
    BOOST_TEST((co_await c.get("t/doc")).is(errc::not_found));
    BOOST_TEST(*(co_await c.ttl("t/doc")) == -2);
    auto after = co_await c.search(word("quokka"), 0);
    BOOST_REQUIRE(after.ok());
    BOOST_TEST(after->hits.empty());
  });
}

BOOST_AUTO_TEST_CASE(expire_persist_and_ttl_answer_as_redis_does) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_TEST(*(co_await c.ttl("absent")) == -2);
    BOOST_TEST(!*(co_await c.expire("absent", 10s)));  // no key: nothing to expire
    BOOST_TEST(!*(co_await c.persist("absent")));
    BOOST_REQUIRE((co_await c.set("k", "v")).ok());
    BOOST_TEST(*(co_await c.ttl("k")) == -1);
    BOOST_TEST(!*(co_await c.persist("k")));  // no TTL to remove
    BOOST_TEST(*(co_await c.expire("k", 60s)));
    auto left = co_await c.ttl("k");
    BOOST_TEST(*left > 59000);
    BOOST_TEST(*left <= 60000);
    // A put keeping the TTL (Redis's KEEPTTL), then one without: the plain put clears it, as SET does.
    txn keep;
    keep.then_ops.push_back(make_put_ttl("k", "v2", 0));
    BOOST_REQUIRE((co_await c.txn(keep)).ok());
    BOOST_TEST(*(co_await c.ttl("k")) > 59000);
    BOOST_REQUIRE((co_await c.incr("n", 1)).ok());
    BOOST_REQUIRE(*(co_await c.expire("n", 60s)));
    BOOST_REQUIRE((co_await c.incr("n", 1)).ok());
    BOOST_TEST(*(co_await c.ttl("n")) > 59000);  // an incr keeps the TTL
    BOOST_REQUIRE((co_await c.set("k", "v3")).ok());
    BOOST_TEST(*(co_await c.ttl("k")) == -1);
    BOOST_TEST(*(co_await c.expire("k", 60s)));
    BOOST_TEST(*(co_await c.persist("k")));
    BOOST_TEST(*(co_await c.ttl("k")) == -1);
    // A TTL read at a stale, local read answers too.
    BOOST_TEST(*(co_await c.ttl("n", read_mode::stale)) > 59000);
  });
}

BOOST_AUTO_TEST_CASE(bad_ttls_get_precise_errors) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    txn negative;
    negative.then_ops.push_back(make_expire("k", -5));
    auto r = co_await c.txn(negative);
    BOOST_TEST(r.is(errc::bad_request));
    BOOST_TEST(r.message().find("a TTL is 1 to 9000000000000 milliseconds (0 removes it), not -5") !=
                   std::string::npos,
               r.message());
    txn both;
    both.then_ops.push_back(make_put_ttl("k", "v", 5));
    both.then_ops.back().flags |= op_keep_ttl;
    auto b = co_await c.txn(both);
    BOOST_TEST(b.is(errc::bad_request));
    BOOST_TEST(b.message().find("either sets a TTL or keeps the key's") != std::string::npos, b.message());
    txn huge;
    huge.then_ops.push_back(make_put_ttl("k", "v", max_ttl_ms + 1));
    BOOST_TEST((co_await c.txn(huge)).is(errc::bad_request));
    BOOST_TEST((co_await c.get("k")).is(errc::not_found));  // nothing applied
    BOOST_TEST((co_await c.set("still", "serving")).ok());
  });
}

// The cluster clock survives a kill -9 (in the log and the snapshots): a key neither outlives
// its TTL by much nor, above all, expires before it, counted across the restart.
BOOST_AUTO_TEST_CASE(ttls_survive_a_kill_and_never_end_early) {
  node_process node;
  steady::time_point sent;
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    sent = steady::now();
    BOOST_REQUIRE((co_await c.put_with_ttl("short", "s", 3s)).ok());
    BOOST_REQUIRE((co_await c.put_with_ttl("long", "l", 600s)).ok());
  });
  std::this_thread::sleep_for(1s);
  node.kill9();
  node.start();
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    auto left = co_await c.ttl("long");
    BOOST_REQUIRE(left.ok());
    BOOST_TEST(*left > 590000);
    while ((co_await c.get("short")).ok()) co_await sleep_ms(20ms);
    const auto lived = millis_since(sent);
    BOOST_TEST(lived >= 3000);
    BOOST_TEST(lived < 3000 + 3000);  // the time the node was down is added at most
    BOOST_TEST((co_await c.get("long")).ok());
  });
}

// Thousands of keys due at the same moment go in bounded batches (several revisions), and a
// writer is served while they go.
BOOST_AUTO_TEST_CASE(many_keys_expiring_together_go_in_batches) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    constexpr int keys = 5000;
    for (int i = 0; i < keys; i += 125) {
      txn t;
      for (int j = i; j < i + 125; ++j) t.then_ops.push_back(make_put_ttl(fmt::format("e/{:05}", j), "x", 1000));
      // A transaction holds at most max-txn-ops ops: several of them, all due within a few ms.
      BOOST_REQUIRE_MESSAGE((co_await c.txn(t)).ok(), "put batch " << i);
    }
    watch_spec spec;
    spec.key = "e/";
    spec.end = prefix_end("e/");
    auto w = co_await c.watch(spec);
    BOOST_REQUIRE(w.ok());
    std::set<std::uint64_t> revisions;
    std::size_t deleted = 0;
    int writes_meanwhile = 0;
    while (deleted < keys) {
      auto b = co_await (*w)->next();
      BOOST_REQUIRE_MESSAGE(b.ok(), b.message());
      for (const auto& e : b->events) {
        BOOST_REQUIRE(e.deleted);
        revisions.insert(e.kv.mod_revision);
        ++deleted;
      }
      if ((co_await c.set("other", std::to_string(deleted))).ok()) ++writes_meanwhile;
    }
    BOOST_TEST(deleted == std::size_t(keys));
    BOOST_TEST(revisions.size() >= std::size_t(keys / 1000));  // expiry-batch keys per revision at most
    BOOST_TEST(writes_meanwhile > 0);
    auto left = co_await c.range(make_range("e/", prefix_end("e/")));
    BOOST_REQUIRE(left.ok());
    BOOST_TEST(left->count == 0u);
  });
}

BOOST_AUTO_TEST_SUITE_END()

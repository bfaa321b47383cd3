// The ordered, multi-version keyspace through a real kvnode process and the C++ client: ranges,
// revisions, compaction, transactions, counters, multi-key reads and deletes, and the errors bad
// input gets, each on a connection that goes on serving.

#include "harness/node_process.hpp"
#include "support/client_util.hpp"

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;

namespace {

std::vector<std::string> keys_of(const std::vector<kv_version>& kvs) {
  std::vector<std::string> out;
  for (const auto& kv : kvs) out.push_back(kv.key);
  return out;
}

std::string joined(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ",") + k;
  return out;
}

txn_op prefix(std::string p, std::uint64_t limit = 0, std::uint8_t flags = 0) {
  auto end = prefix_end(p);
  auto o = make_range(std::move(p), std::move(end), limit);
  o.flags = flags;
  return o;
}

compare compare_value(std::string key, compare_op op, std::string value) {
  compare c;
  c.key = std::move(key);
  c.target = compare_target::value;
  c.op = op;
  c.value = std::move(value);
  return c;
}

compare compare_number(std::string key, compare_target target, compare_op op, std::uint64_t n) {
  compare c;
  c.key = std::move(key);
  c.target = target;
  c.op = op;
  c.number = n;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(keyspace_process)

BOOST_AUTO_TEST_CASE(ranges_revisions_and_compaction) {
  node_process node("[storage]\nauto-compaction-mode = \"off\"\n");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_REQUIRE((co_await c.bulk_set(pairs_of("app/b", "2", "app/a", "1", "app/c", "3", "apq", "x", "ap", "y"))).ok());
    auto r = co_await c.range(prefix("app/"));
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(joined(keys_of(r->kvs)) == "app/a,app/b,app/c");
    BOOST_TEST(r->count == 3u);
    BOOST_TEST(!r->more);
    BOOST_TEST(r->revision == 2u);
    BOOST_TEST(r->kvs[0].create_revision == 2u);
    BOOST_TEST(r->kvs[0].version == 1u);

    r = co_await c.range(prefix("app/", 2, op_descending));
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(joined(keys_of(r->kvs)) == "app/c,app/b");
    BOOST_TEST(r->count == 3u);
    BOOST_TEST(r->more);
    r = co_await c.range(prefix("app/", 0, op_keys_only));
    BOOST_TEST(r->kvs.at(1).value.empty());
    r = co_await c.range(prefix("app/", 0, op_count_only));
    BOOST_TEST(r->kvs.empty());
    BOOST_TEST(r->count == 3u);
    r = co_await c.range(make_range("ap", std::string(1, '\0')));  // every key >= "ap"
    BOOST_TEST(r->count == 5u);
    r = co_await c.range(make_range("app/b", "app/c"));
    BOOST_TEST(joined(keys_of(r->kvs)) == "app/b");

    // Overwrites keep history: a read at an older revision sees the old value.
    BOOST_REQUIRE((co_await c.set("app/a", "1b")).ok());
    BOOST_REQUIRE((co_await c.set("app/a", "1c")).ok());
    r = co_await c.range(make_range("app/a", {}, 0, 3));
    BOOST_TEST(r->kvs.at(0).value == "1b");
    BOOST_TEST(r->kvs.at(0).version == 2u);
    BOOST_TEST(r->revision == 4u);  // the current revision, as etcd's header says
    r = co_await c.range(make_range("app/a"), read_mode::stale);
    BOOST_TEST(r->kvs.at(0).value == "1c");
    BOOST_TEST(r->kvs.at(0).mod_revision == 4u);

    // Pagination at one revision: later pages ignore writes made after the first.
    auto page1 = co_await c.range(prefix("app/", 2));
    BOOST_REQUIRE((co_await c.set("app/bb", "new")).ok());
    auto next = make_range(page1->kvs.back().key + std::string(1, '\0'), prefix_end("app/"), 2, page1->revision);
    auto page2 = co_await c.range(next);
    BOOST_TEST(joined(keys_of(page2->kvs)) == "app/c");

    // Compaction: below it reads fail with the oldest readable revision; beyond the current
    // revision they fail too.
    auto cur = (co_await c.range(make_range("app/a")))->revision;
    BOOST_REQUIRE((co_await c.compact(4)).ok());
    r = co_await c.range(make_range("app/a", {}, 0, 3));
    BOOST_TEST(r.is(errc::compacted));
    BOOST_TEST(r.message().find("oldest readable revision is 4") != std::string::npos, r.message());
    r = co_await c.range(make_range("app/a", {}, 0, cur + 10));
    BOOST_TEST(r.is(errc::future_revision));
    auto again = co_await c.compact(3);
    BOOST_TEST(again.is(errc::compacted), again.message());
    auto st = co_await c.status();
    BOOST_TEST(st->number("compacted_revision") == 4u);
    BOOST_TEST(st->number("revision") == cur);
  });
}

BOOST_AUTO_TEST_CASE(transactions_counters_and_multi_key_operations) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    // Compare-and-set: create only if absent, then swap only from the expected value.
    kv::txn create;
    create.compares.push_back(compare_number("lock", compare_target::version, compare_op::equal, 0));
    create.then_ops.push_back(make_put("lock", "owner-1"));
    create.else_ops.push_back(make_range("lock"));
    auto t = co_await c.txn(create);
    BOOST_REQUIRE(t.ok());
    BOOST_TEST(t->succeeded);
    t = co_await c.txn(create);
    BOOST_REQUIRE(t.ok());
    BOOST_TEST(!t->succeeded);
    BOOST_TEST(t->results.at(0).kvs.at(0).value == "owner-1");

    kv::txn swap;
    swap.compares.push_back(compare_value("lock", compare_op::equal, "owner-1"));
    swap.then_ops.push_back(make_put("lock", "owner-2", true));
    t = co_await c.txn(swap);
    BOOST_TEST(t->succeeded);
    BOOST_TEST(t->results.at(0).kvs.at(0).value == "owner-1");  // prev_kv
    t = co_await c.txn(swap);
    BOOST_TEST(!t->succeeded);
    auto mod = (co_await c.range(make_range("lock")))->kvs.at(0).mod_revision;
    kv::txn by_revision;
    by_revision.compares.push_back(compare_number("lock", compare_target::mod_revision, compare_op::equal, mod));
    by_revision.then_ops.push_back(make_put("lock", "owner-3"));
    by_revision.then_ops.push_back(make_range("lock"));  // sees the put before it
    t = co_await c.txn(by_revision);
    BOOST_TEST(t->succeeded);
    BOOST_TEST(t->results.at(1).kvs.at(0).value == "owner-3");
    BOOST_TEST(t->results.at(1).kvs.at(0).mod_revision == t->revision);

    // Counters.
    BOOST_TEST(*(co_await c.incr("hits")) == 1);
    BOOST_TEST(*(co_await c.incr("hits", 41)) == 42);
    BOOST_TEST(*(co_await c.incr("hits", -50)) == -8);
    BOOST_TEST(*(co_await c.get("hits")) == "-8");
    BOOST_REQUIRE((co_await c.set("big", "9223372036854775807")).ok());
    auto over = co_await c.incr("big");
    BOOST_TEST(over.is(errc::bad_request));
    BOOST_TEST(over.message().find("overflows") != std::string::npos, over.message());
    auto text = co_await c.incr("lock");
    BOOST_TEST(text.is(errc::bad_request));
    BOOST_TEST(text.message().find("not a decimal 64-bit integer") != std::string::npos, text.message());
    BOOST_TEST(*(co_await c.get("big")) == "9223372036854775807");  // nothing changed

    // Multi-key reads at one revision, and multi-key deletes.
    std::vector<std::string> wanted;
    wanted.push_back("hits");
    wanted.push_back("nope");
    wanted.push_back("lock");
    auto m = co_await c.mget(wanted);
    BOOST_REQUIRE(m.ok());
    BOOST_TEST(m->results.size() == 3u);
    BOOST_TEST(m->results[0].kvs.at(0).value == "-8");
    BOOST_TEST(m->results[1].kvs.empty());
    BOOST_TEST(m->results[2].kvs.at(0).value == "owner-3");
    std::vector<std::string> doomed;
    doomed.push_back("hits");
    doomed.push_back("nope");
    doomed.push_back("big");
    auto d = co_await c.delete_keys(doomed);
    BOOST_TEST(d->deleted == 2u);
    BOOST_REQUIRE((co_await c.bulk_set(pairs_of("q/1", "a", "q/2", "b", "q/3", "c"))).ok());
    auto dr = co_await c.delete_range("q/", prefix_end("q/"), true);
    BOOST_TEST(dr->deleted == 3u);
    BOOST_TEST(dr->prev.size() == 3u);
    BOOST_TEST(dr->prev.at(2).value == "c");
    BOOST_TEST((co_await c.range(prefix("q/")))->count == 0u);
    auto none = co_await c.delete_range("q/", prefix_end("q/"));
    BOOST_TEST(none->deleted == 0u);
  });
}

BOOST_AUTO_TEST_CASE(bad_transactions_are_refused_and_the_connection_serves_on) {
  node_process node("[storage]\nmax-txn-ops = 3\n");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    auto before = (co_await c.status())->number("revision");
    kv::txn too_many;
    for (int i = 0; i < 4; ++i) too_many.then_ops.push_back(make_put("k" + std::to_string(i), "v"));
    auto r = co_await c.txn(too_many);
    BOOST_TEST(r.is(errc::too_large));
    BOOST_TEST(r.message().find("max-txn-ops is 3") != std::string::npos, r.message());

    kv::txn twice;
    twice.then_ops.push_back(make_put("k", "1"));
    twice.then_ops.push_back(make_put("k", "2"));
    r = co_await c.txn(twice);
    BOOST_TEST(r.is(errc::bad_request));
    BOOST_TEST(r.message().find("written twice") != std::string::npos, r.message());

    kv::txn covered;
    covered.then_ops.push_back(make_delete_range("a", "m"));
    covered.then_ops.push_back(make_put("c", "1"));
    r = co_await c.txn(covered);
    BOOST_TEST(r.is(errc::bad_request));
    BOOST_TEST(r.message().find("deletes it") != std::string::npos, r.message());

    auto backwards = co_await c.range(make_range("m", "a"));
    BOOST_TEST(backwards.is(errc::bad_request));
    BOOST_TEST(backwards.message().find("is not after its key") != std::string::npos, backwards.message());

    kv::txn empty_key;
    empty_key.then_ops.push_back(make_put("", "v"));
    r = co_await c.txn(empty_key);
    BOOST_TEST(r.is(errc::bad_request));
    BOOST_TEST(r.message().find("then op 1 (put): the key is empty") != std::string::npos, r.message());

    kv::txn nothing;
    r = co_await c.txn(nothing);
    BOOST_TEST(r.is(errc::bad_request));

    auto future = co_await c.range(make_range("k", {}, 0, 1000));
    BOOST_TEST(future.is(errc::future_revision));
    BOOST_TEST((co_await c.compact(1000)).is(errc::future_revision));

    // Nothing was applied, and the connection still serves.
    auto st = co_await c.status();
    BOOST_TEST(st->number("revision") == before);
    BOOST_TEST((co_await c.set("k", "fine")).ok());
    BOOST_TEST(*(co_await c.get("k")) == "fine");
  });
}

// The leader compacts on its own, keeping the configured number of revisions.
BOOST_AUTO_TEST_CASE(automatic_compaction_keeps_the_last_revisions) {
  node_process node("[storage]\nauto-compaction-mode = \"revision\"\nauto-compaction-retention = 10\n");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    for (int i = 0; i < 40; ++i) BOOST_REQUIRE((co_await c.set("k", std::to_string(i))).ok());
    std::uint64_t compacted = 0;
    std::uint64_t revision = 0;
    for (int attempt = 0; attempt < 100 && compacted < 31; ++attempt) {
      auto st = co_await c.status();
      compacted = st->number("compacted_revision");
      revision = st->number("revision");
      if (compacted >= 31) break;
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::use_awaitable);
    }
    BOOST_TEST(revision == 41u);
    BOOST_TEST(compacted == 31u);  // the last 10 revisions stay readable
    auto old = co_await c.range(make_range("k", {}, 0, 30));
    BOOST_TEST(old.is(errc::compacted));
    auto kept = co_await c.range(make_range("k", {}, 0, 31));
    BOOST_TEST(kept->kvs.at(0).value == "29");
  });
}

// Search follows transactions and delete-ranges, and waits for a revision a transaction answered.
BOOST_AUTO_TEST_CASE(search_follows_transactions_and_waits_for_a_revision) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    kv::txn t;
    t.then_ops.push_back(make_put("doc/1", "the quick brown fox"));
    t.then_ops.push_back(make_put("doc/2", "a quick red fox"));
    t.then_ops.push_back(make_put("note", "slow brown dog"));
    auto w = co_await c.txn(t);
    BOOST_REQUIRE(w.ok());
    search::text_query q;
    q.terms.push_back("quick");
    auto found = co_await c.search(q, w->revision, read_mode::stale, min_point::revision);
    BOOST_REQUIRE_MESSAGE(found.ok(), found.message());
    BOOST_TEST(found->total == 2u);

    auto d = co_await c.delete_range("doc/", prefix_end("doc/"));
    BOOST_REQUIRE(d.ok());
    found = co_await c.search(q, d->revision, read_mode::stale, min_point::revision);
    BOOST_REQUIRE_MESSAGE(found.ok(), found.message());
    BOOST_TEST(found->total == 0u);
    auto n = co_await c.incr("counter", 5);  // a value that is not text to index well, still followed
    BOOST_REQUIRE(n.ok());

    auto ahead = co_await c.search(q, d->revision + 100, read_mode::stale, min_point::revision);
    BOOST_TEST(ahead.is(errc::future_revision));
    BOOST_TEST(ahead.message().find("beyond this node's revision") != std::string::npos, ahead.message());
  });
}

// set, del and bulk_set answer the revision they took (one for a whole bulk_set), the revision
// reads and transactions name, and a search on another connection waits for it.
BOOST_AUTO_TEST_CASE(writes_answer_the_revision_they_took_and_search_waits_for_it) {
  node_process node;
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    auto before = co_await c.status();
    BOOST_REQUIRE(before.ok());
    const auto start = before->number("revision");

    auto set = co_await c.set("doc/1", "the quick brown fox");
    BOOST_REQUIRE_MESSAGE(set.ok(), set.message());
    BOOST_TEST(set->revision == start + 1);
    BOOST_TEST(set->index > 0u);
    auto one = co_await c.range(make_range("doc/1"));
    BOOST_REQUIRE(one.ok());
    BOOST_TEST(one->kvs.at(0).mod_revision == set->revision);

    auto bulk = co_await c.bulk_set(pairs_of("doc/2", "a quick red fox", "doc/3", "quick thinking"));
    BOOST_REQUIRE_MESSAGE(bulk.ok(), bulk.message());
    BOOST_TEST(bulk->revision == set->revision + 1);  // one revision for every pair
    BOOST_TEST(bulk->index > set->index);
    auto two = co_await c.range(prefix("doc/"));
    BOOST_REQUIRE(two.ok());
    BOOST_TEST(two->kvs.at(1).mod_revision == bulk->revision);
    BOOST_TEST(two->kvs.at(2).mod_revision == bulk->revision);

    // Another connection, so that only the revision makes a stale search wait for the writes.
    client other(co_await asio::this_coro::executor, client_options(node.endpoint()));
    search::text_query q;
    q.terms.push_back("quick");
    auto found = co_await other.search(q, bulk->revision, read_mode::stale, min_point::revision);
    BOOST_REQUIRE_MESSAGE(found.ok(), found.message());
    BOOST_TEST(found->total == 3u);
    BOOST_TEST(found->applied_index >= bulk->index);

    auto del = co_await c.del("doc/3");
    BOOST_REQUIRE_MESSAGE(del.ok(), del.message());
    BOOST_TEST(del->revision == bulk->revision + 1);
    auto now = co_await c.range(prefix("doc/"));
    BOOST_TEST(now->revision == del->revision);  // a read names the same revision
    BOOST_TEST(now->kvs.size() == 2u);
    found = co_await other.search(q, del->revision, read_mode::stale, min_point::revision);
    BOOST_REQUIRE_MESSAGE(found.ok(), found.message());
    BOOST_TEST(found->total == 2u);
    BOOST_TEST(found->applied_index >= del->index);
    // The revision del answered is the node's current one: the next is not there yet.
    auto ahead = co_await other.search(q, del->revision + 1, read_mode::stale, min_point::revision);
    BOOST_TEST(ahead.is(errc::future_revision), ahead.message());
    other.close();
  });
}

BOOST_AUTO_TEST_SUITE_END()

// Search on a 3-node cluster of kvnode processes: a write is found at once on any node when the
// search carries the write's index, and after a failover (kill -9 of the leader under write
// load, then its return) every node's index holds exactly the same documents (same digest).

#include "harness/cluster.hpp"
#include "harness/cluster_status.hpp"
#include "support/client_util.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <boost/test/unit_test.hpp>

#include <set>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

client::options to_member(std::string endpoint) {
  auto o = direct_options(std::move(endpoint));
  o.request_timeout = 5s;
  return o;
}

client::options to_cluster(std::vector<std::string> endpoints) {
  client::options o;
  o.endpoints = std::move(endpoints);
  o.request_timeout = 5s;
  o.connect_timeout = 500ms;
  return o;
}

search::text_query word(std::string term) {
  search::text_query q;
  q.terms.push_back(std::move(term));
  q.limit = 1000;
  return q;
}

search::similar_query like(std::string text, std::uint32_t k, double threshold) {
  search::similar_query q;
  q.text = std::move(text);
  q.k = k;
  q.threshold = threshold;
  return q;
}

// Waits until every running member's index has applied what its store has, and its store
// what the cluster committed; returns the digests by member.
asio::awaitable<std::map<std::uint64_t, std::uint64_t>> index_digests(cluster& cl) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::map<std::uint64_t, std::uint64_t> digests;
    std::set<std::uint64_t> applied;
    bool settled = true;
    for (auto id : cl.ids()) {
      if (!cl.member(id).running()) continue;
      auto s = co_await member_status(cl.member(id));
      if (!s || s->number("applied_index") != s->number("commit_index") ||
          s->number("index_applied") != s->number("applied_index")) {
        settled = false;
        break;
      }
      applied.insert(s->number("index_applied"));
      digests[id] = s->number("index_digest");
    }
    if (settled && applied.size() == 1) co_return digests;
    co_await sleep_for(50ms);
  }
  throw std::runtime_error("the indexes did not settle on one applied index:\n" + cl.logs());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_search)

BOOST_AUTO_TEST_CASE(a_write_is_found_on_the_leader_and_on_a_follower) {
  cluster cl;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    const auto leader = co_await wait_for_leader(cl);
    const auto follower = leader == 1 ? 2u : 1u;
    client writer(ctx.get_executor(), to_cluster(cl.endpoints()));
    client on_leader(ctx.get_executor(), to_member(cl.member(leader).endpoint()));
    client on_follower(ctx.get_executor(), to_member(cl.member(follower).endpoint()));
    for (int i = 0; i < 40; ++i) {
      const auto word_i = fmt::format("marker{}", i);
      auto idx = co_await writer.set(fmt::format("k{}", i), "fresh " + word_i);
      BOOST_REQUIRE_MESSAGE(idx.ok(), idx.message());
      // The follower may not even have the entry yet: min_index makes it wait for it, even in
      // stale mode (no leader round trip).
      auto stale = co_await on_follower.search(word(word_i), idx->index, read_mode::stale);
      BOOST_REQUIRE_MESSAGE(stale.ok(), stale.message());
      BOOST_TEST(stale->hits.size() == 1u, "stale follower search after write " << i);
      BOOST_TEST(stale->applied_index >= idx->index);
      // Linearizable searches need no index: they reflect every acknowledged write.
      auto lin = co_await on_follower.search(word(word_i));
      BOOST_REQUIRE_MESSAGE(lin.ok(), lin.message());
      BOOST_TEST(lin->hits.size() == 1u, "linearizable follower search after write " << i);
      auto lead = co_await on_leader.similar(like("fresh " + word_i, 1, 0.9));
      BOOST_REQUIRE_MESSAGE(lead.ok(), lead.message());
      BOOST_REQUIRE(lead->hits.size() == 1u);
      BOOST_TEST(lead->hits[0].key == fmt::format("k{}", i));
    }
    writer.close();
    on_leader.close();
    on_follower.close();
  });
}

BOOST_AUTO_TEST_CASE(every_index_is_identical_after_a_failover) {
  // Frequent snapshots: the returning node may catch up by snapshot, which rebuilds its index.
  cluster cl(3, "[storage]\nsnapshot-entries = 300\n", "snapshot-catch-up-entries = 50\n");
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    const auto leader = co_await wait_for_leader(cl);
    const int writers = 4;
    bool stop = false;
    int running = writers;
    io::event done(ctx.get_executor());
    std::vector<std::unique_ptr<client>> clients;
    for (int w = 0; w < writers; ++w) {
      clients.push_back(std::make_unique<client>(ctx.get_executor(), to_cluster(cl.endpoints())));
      asio::co_spawn(
          ctx,
          [&, w]() -> asio::awaitable<void> {
            auto& c = *clients[static_cast<std::size_t>(w)];
            for (int n = 0; !stop; ++n) {
              // Overwrites and deletes of a small key space, so the index must track changes.
              auto key = fmt::format("w{}-{}", w, n % 97);
              if (n % 5 == 4) {
                (void)co_await c.del(key);
              } else {
                (void)co_await c.set(key, fmt::format("writer {} round {} topic t{} text", w, n, n % 13));
              }
            }
            if (--running == 0) done.notify();
          },
          asio::detached);
    }
    co_await sleep_for(500ms);
    cl.member(leader).kill9();
    co_await sleep_for(1500ms);
    cl.member(leader).start();
    co_await sleep_for(500ms);
    stop = true;
    while (running > 0) co_await done.wait();
    for (auto& c : clients) c->close();

    auto digests = co_await index_digests(cl);
    BOOST_REQUIRE(digests.size() == 3u);
    BOOST_TEST(digests[1] == digests[2]);
    BOOST_TEST(digests[2] == digests[3]);
    // The same answers everywhere, too, and they match the store.
    std::vector<search::search_answer> answers;
    for (auto id : cl.ids()) {
      client c(ctx.get_executor(), to_member(cl.member(id).endpoint()));
      auto a = co_await c.search(word("t7"), 0, read_mode::stale);
      BOOST_REQUIRE_MESSAGE(a.ok(), a.message());
      for (const auto& h : a->hits) {
        auto v = co_await c.get(h.key, read_mode::stale);
        BOOST_REQUIRE(v.ok());
        BOOST_TEST(v->find("topic t7 ") != std::string::npos, h.key << " = " << *v);
      }
      answers.push_back(std::move(*a));
      c.close();
    }
    BOOST_TEST(answers[0].total > 0u);
    for (std::size_t i = 1; i < answers.size(); ++i) {
      BOOST_TEST(answers[i].total == answers[0].total);
      BOOST_REQUIRE(answers[i].hits.size() == answers[0].hits.size());
      for (std::size_t j = 0; j < answers[i].hits.size(); ++j) {
        BOOST_TEST(answers[i].hits[j].key == answers[0].hits[j].key);
        BOOST_TEST(answers[i].hits[j].score == answers[0].hits[j].score);
      }
    }
  });
}

BOOST_AUTO_TEST_SUITE_END()

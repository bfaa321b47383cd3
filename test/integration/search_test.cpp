// Search through a real kvnode process: the index follows the applied log, answers after a
// write with min_index, stays exact under overwrite and delete, comes back after a restart,
// and refuses bad queries with clear errors.

#include "harness/node_process.hpp"
#include "harness/temp_dir.hpp"
#include "integration/search_util.hpp"
#include "support/client_util.hpp"

#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>

using namespace kv;
using namespace kv::harness;
using namespace kv::test;

namespace {

search::similar_query like(std::string text, std::uint32_t k = 10, double threshold = 0.3) {
  search::similar_query q;
  q.text = std::move(text);
  q.k = k;
  q.threshold = threshold;
  return q;
}

std::set<std::string> keys_of(const search::search_answer& a) {
  std::set<std::string> out;
  for (const auto& h : a.hits) out.insert(h.key);
  return out;
}

template <typename... S>
std::set<std::string> keys(S... k) {
  std::set<std::string> out;
  (out.emplace(k), ...);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(search_process)

BOOST_AUTO_TEST_CASE(a_write_is_found_at_once_with_its_index) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    for (int i = 0; i < 50; ++i) {
      auto ack = co_await c.set(fmt::format("k{}", i), fmt::format("fresh value number{} quokka", i));
      BOOST_REQUIRE(ack.ok());
      // Stale mode does no read-index round: only min_index makes it see the write.
      auto a = co_await c.search(word(fmt::format("number{}", i)), ack->index, read_mode::stale);
      BOOST_REQUIRE_MESSAGE(a.ok(), a.message());
      BOOST_TEST(a->applied_index >= ack->index);
      BOOST_TEST(keys_of(*a) == keys(fmt::format("k{}", i)));
    }
    auto all = co_await c.search(word("quokka"));
    BOOST_REQUIRE(all.ok());
    BOOST_TEST(all->total == 50u);
    BOOST_TEST(all->hits.size() == 50u);
  });
}

BOOST_AUTO_TEST_CASE(overwrite_delete_and_bulk_set_keep_the_index_exact) {
  node_process node;
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_REQUIRE((co_await c.set("fruit", "apple banana")).ok());
    BOOST_TEST(keys_of(*(co_await c.search(word("apple")))) == keys("fruit"));
    BOOST_REQUIRE((co_await c.set("fruit", "cherry")).ok());
    BOOST_TEST((co_await c.search(word("apple")))->hits.empty());
    BOOST_TEST(keys_of(*(co_await c.search(word("cherry")))) == keys("fruit"));
    BOOST_REQUIRE((co_await c.del("fruit")).ok());
    BOOST_TEST((co_await c.search(word("cherry")))->hits.empty());
    BOOST_TEST((co_await c.similar(like("cherry")))->hits.empty());

    BOOST_REQUIRE((co_await c.bulk_set(pairs_of("a", "red fox", "b", "red hen", "c", "blue fox"))).ok());
    BOOST_TEST(keys_of(*(co_await c.search(all_of("red", "fox")))) == keys("a"));
    BOOST_TEST(keys_of(*(co_await c.search(any_of("hen", "blue")))) == keys("b", "c"));
    BOOST_TEST(keys_of(*(co_await c.search(query_of(search::match_mode::phrase, "red fox")))) == keys("a"));
    BOOST_TEST(keys_of(*(co_await c.search(word("fo*")))) == keys("a", "c"));
    auto prefixed = word("fox");
    prefixed.key_prefix = "c";
    BOOST_TEST(keys_of(*(co_await c.search(prefixed))) == keys("c"));
    auto sim = co_await c.similar(like("red fax", 1, 0.1));
    BOOST_REQUIRE(sim.ok());
    BOOST_REQUIRE(sim->hits.size() == 1u);
    BOOST_TEST(sim->hits[0].key == "a");
    BOOST_TEST(sim->hits[0].score > 0.1);
    BOOST_TEST(sim->hits[0].score < 1.0);
    auto exact = co_await c.similar(like("blue fox", 3, 0.99));
    BOOST_REQUIRE(exact.ok());
    BOOST_REQUIRE(exact->hits.size() == 1u);
    BOOST_TEST(exact->hits[0].key == "c");
    BOOST_TEST(exact->hits[0].score == 1.0);

    BOOST_REQUIRE((co_await c.set("binary", std::string("\xff\xfe not utf8", 11))).ok());
    auto st = co_await index_caught_up(c);
    BOOST_TEST(st.number("index_skipped_non_utf8") == 1u);
    BOOST_TEST(st.number("index_documents") == 3u);
  });
}

BOOST_AUTO_TEST_CASE(bad_queries_get_clear_errors_and_the_node_serves_on) {
  node_process node("[index]\nmax-results = 50\nmax-query-terms = 4\nwait-timeout = \"300ms\"\n");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_REQUIRE((co_await c.set("k", "some words here")).ok());
    auto empty = co_await c.search(all_of());
    BOOST_TEST(empty.is(errc::bad_request), empty.message());
    auto many = all_of("a1", "b2", "c3", "d4", "e5");
    many.limit = 10;
    auto too_many = co_await c.search(many);
    BOOST_TEST(too_many.is(errc::too_large), too_many.message());
    BOOST_TEST(too_many.message().find("max-query-terms") != std::string::npos, too_many.message());
    auto big = word("some");
    big.limit = 51;
    auto over = co_await c.search(big);
    BOOST_TEST(over.is(errc::too_large), over.message());
    auto bad_threshold = co_await c.similar(like("words", 10, 1.5));
    BOOST_TEST(bad_threshold.is(errc::bad_request), bad_threshold.message());
    auto some = word("some");
    some.limit = 10;
    auto future = co_await c.search(some, 1'000'000);
    BOOST_TEST(future.is(errc::timed_out), future.message());
    BOOST_TEST(future.message().find("1000000") != std::string::npos, future.message());
    auto fine = co_await c.search(some);
    BOOST_REQUIRE(fine.ok());
    BOOST_TEST(keys_of(*fine) == keys("k"));
  });
}

BOOST_AUTO_TEST_CASE(search_can_be_disabled) {
  node_process node("[index]\nenabled = false\n");
  with_client(node.endpoint(), [](client& c) -> asio::awaitable<void> {
    BOOST_REQUIRE((co_await c.set("k", "words")).ok());
    auto r = co_await c.search(word("words"));
    BOOST_TEST(r.is(errc::bad_request));
    BOOST_TEST(r.message().find("disabled") != std::string::npos, r.message());
    auto st = co_await c.status();
    BOOST_TEST(st->text("index_applied").empty());
    BOOST_TEST(st->number("index_applied") == 0u);
  });
}

// Snapshots every 200 entries: the index is saved with each, and a restart loads the saved
// index and applies the log after it. Without a usable saved index (deleted, or damaged) the
// restart re-indexes the store's snapshot instead. Every way must end with the same digest and
// answers as before.
BOOST_AUTO_TEST_CASE(restart_restores_the_index) {
  node_process node("[storage]\nsnapshot-entries = 200\n");
  std::uint64_t digest = 0;
  std::uint64_t documents = 0;
  std::set<std::string> zebras;
  std::vector<search::hit> similar_before;
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    co_await write_corpus(c, 1000);
    auto st = co_await index_caught_up(c);
    BOOST_TEST(st.number("snapshot_index") > 0u);
    BOOST_TEST(st.number("index_saves") > 0u);
    digest = st.number("index_digest");
    documents = st.number("index_documents");
    BOOST_TEST(documents == 900u);
    zebras = keys_of(*(co_await c.search(word("zebra"))));
    similar_before = (co_await c.similar(like("document 42 about the search index")))->hits;
  });
  BOOST_TEST(zebras.size() == 100u);  // a limit of 100 of the 301 rewritten documents left
  auto saved_files = [&] {
    std::vector<std::filesystem::path> out;
    for (const auto& f : std::filesystem::directory_iterator(node.data_dir())) {
      if (f.path().filename().string().starts_with("index-")) out.push_back(f.path());
    }
    return out;
  };
  BOOST_REQUIRE(saved_files().size() == 1u);  // older ones are removed
  for (int round = 0; round < 4; ++round) {
    bool expect_load = true;
    if (round == 0) {
      node.restart();  // SIGTERM
    } else if (round == 1) {
      node.kill9();
      node.start();
    } else if (round == 2) {
      node.stop();
      auto files = saved_files();
      BOOST_REQUIRE(files.size() == 1u);
      std::filesystem::resize_file(files[0], std::filesystem::file_size(files[0]) / 2);
      node.start();
      expect_load = false;
    } else {
      node.kill9();
      for (const auto& f : saved_files()) std::filesystem::remove(f);
      node.start();
      expect_load = false;
    }
    with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
      auto st = co_await index_caught_up(c);
      BOOST_TEST(st.number("index_loads") == (expect_load ? 1u : 0u), "round " << round);
      BOOST_TEST(st.number("index_rebuilds") == (expect_load ? 0u : 1u), "round " << round);
      BOOST_TEST(st.number("index_digest") == digest);
      BOOST_TEST(st.number("index_documents") == documents);
      BOOST_TEST(keys_of(*(co_await c.search(word("zebra")))) == zebras);
      auto sim = co_await c.similar(like("document 42 about the search index"));
      BOOST_REQUIRE(sim.ok());
      BOOST_REQUIRE(sim->hits.size() == similar_before.size());
      for (std::size_t i = 0; i < sim->hits.size(); ++i) {
        BOOST_TEST(sim->hits[i].key == similar_before[i].key);
        BOOST_TEST(sim->hits[i].score == similar_before[i].score);
      }
    });
    if (round == 2) BOOST_TEST(node.log().find("cannot use the saved index") != std::string::npos);
  }
}

// No snapshot is ever taken here; the index saves itself once it has caught up after 16 KiB of
// log (index.save-interval). A restart after kill -9 loads that file and indexes only the log
// after it (without it, the whole log would be re-indexed: index_rebuilds 1, index_loads 0).
BOOST_AUTO_TEST_CASE(a_caught_up_index_saves_itself_between_snapshots) {
  node_process node("[storage]\nsnapshot-entries = 1000000\n[index]\nsave-interval = \"16KiB\"\n");
  std::uint64_t digest = 0;
  std::uint64_t saves = 0;
  std::set<std::string> zebras;
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    co_await write_corpus(c, 1000);  // ~70 KiB of log
    node_status st;
    // The saves follow the catching up, and the corpus may be worth more than one: wait until
    // there is one and the count has held for ten polls (200 ms).
    for (int i = 0, steady = 0; i < 250 && steady < 10; ++i) {
      st = co_await index_caught_up(c);
      const auto now = st.number("index_saves");
      steady = now > 0 && now == saves ? steady + 1 : 0;
      saves = now;
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
      co_await t.async_wait(asio::use_awaitable);
    }
    BOOST_REQUIRE(saves > 0u);
    BOOST_TEST(st.number("snapshot_index") == 0u);
    // A few writes after the save: under 16 KiB, so the restart has to index them from the log.
    for (int i = 0; i < 20; ++i) BOOST_REQUIRE((co_await c.set(fmt::format("late{}", i), "late zebra words")).ok());
    st = co_await index_caught_up(c);
    BOOST_TEST(st.number("index_saves") == saves);
    digest = st.number("index_digest");
    zebras = keys_of(*(co_await c.search(word("zebra"))));
  });
  BOOST_TEST(zebras.size() == 100u);
  node.kill9();
  node.start();
  with_client(node.endpoint(), [&](client& c) -> asio::awaitable<void> {
    auto st = co_await index_caught_up(c);
    BOOST_TEST(st.number("snapshot_index") == 0u);
    BOOST_TEST(st.number("index_loads") == 1u);
    BOOST_TEST(st.number("index_rebuilds") == 0u);
    BOOST_TEST(st.number("index_digest") == digest);
    BOOST_TEST(keys_of(*(co_await c.search(word("zebra")))) == zebras);
    auto late = co_await c.search(word("late"));
    BOOST_REQUIRE(late.ok());
    BOOST_TEST(late->total == 20u);
  });
  BOOST_TEST(node.log().find("caught up;") != std::string::npos);
}


BOOST_AUTO_TEST_CASE(kvctl_search_and_similar) {
  node_process node;
  auto kvctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {binary("kvctl").string(), "--endpoints", node.endpoint()});
    return run_command(args);
  };
  BOOST_REQUIRE(kvctl({"bulk-set", "a", "the quick brown fox", "b", "the lazy brown dog", "c", "quick thinking"}).exit_code == 0);
  auto all = kvctl({"search", "brown", "quick"});
  BOOST_TEST(all.exit_code == 0);
  BOOST_TEST(all.out.starts_with("a\t"), all.out);
  BOOST_TEST(std::count(all.out.begin(), all.out.end(), '\n') == 1);
  auto any = kvctl({"search", "--or", "--limit", "2", "quick", "dog"});
  BOOST_TEST(any.exit_code == 0);
  BOOST_TEST(std::count(any.out.begin(), any.out.end(), '\n') == 2, any.out);
  BOOST_TEST(any.err.find("2 of 3 matches") != std::string::npos, any.err);
  auto phrase = kvctl({"search", "--phrase", "brown", "dog"});
  BOOST_TEST(phrase.out.starts_with("b\t"), phrase.out);
  auto sim = kvctl({"similar", "the quick brown fax", "--top", "1", "--threshold", "0.2"});
  BOOST_TEST(sim.exit_code == 0);
  BOOST_TEST(sim.out.starts_with("a\t"), sim.out);
  auto bad = kvctl({"similar", "x", "--threshold", "2"});
  BOOST_TEST(bad.exit_code == 2);
  auto none = kvctl({"search"});
  BOOST_TEST(none.exit_code == 2);
}

BOOST_AUTO_TEST_CASE(an_unknown_stemming_language_stops_kvnode_with_a_clear_error) {
  temp_dir dir;
  std::ofstream(dir / "kv.toml") << fmt::format("[node]\ndata-dir = \"{}\"\n[index]\nstemming = \"klingon\"\n",
                                                (dir / "data").string());
  auto r = run_command({binary("kvnode").string(), "--config", (dir / "kv.toml").string()});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("configuration error: [index]") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("klingon") != std::string::npos, r.err);
  BOOST_TEST(!std::filesystem::exists(dir / "data"));
}

BOOST_AUTO_TEST_SUITE_END()

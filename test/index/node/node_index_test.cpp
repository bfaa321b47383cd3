// The node's index (search::node_index) answering queries: a cheap query on the caller's
// thread when the index is free and far enough, anything else on a query thread with the
// configured limits, and the same answers either way while the index keeps changing.

#include "core/model/command.hpp"
#include "index/node/node_index.hpp"
#include "support/async.hpp"
#include "support/temp_dir.hpp"

#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace kv;
using namespace kv::search;

namespace {

index_options options(std::uint64_t max_postings_scanned = 200'000'000, std::string stemming = "") {
  index_options o;
  o.stop_words = {};
  o.stemming_language = std::move(stemming);
  o.max_postings_scanned = max_postings_scanned;
  return o;
}

text_query word(std::string w) {
  text_query q;
  q.terms.push_back(std::move(w));
  q.mode = match_mode::all;
  q.limit = 10;
  return q;
}

// Either word (the second one new each time, so that the stemmer's cache changes).
text_query either(std::string a, std::string b) {
  auto q = word(std::move(a));
  q.terms.push_back(std::move(b));
  q.mode = match_mode::any;
  return q;
}

// Waits (polling) until the index has applied `index`: its thread is then idle.
void wait_applied(const node_index& f, std::uint64_t index) {
  for (int i = 0; i < 60'000 && f.progress().applied_index < index; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  BOOST_REQUIRE_EQUAL(f.progress().applied_index, index);
}

// Runs one search on a fresh io_context (the "caller's thread") and returns its answer.
result<search_answer> search_on_this_thread(node_index& f, const text_query& q, std::uint64_t min_index) {
  result<search_answer> out = errc::internal;
  test::run_async([&](asio::io_context&) -> asio::awaitable<void> { out = co_await f.search(q, min_index); });
  return out;
}

// The match count of a one-word search that must succeed.
std::uint64_t matches(node_index& f, std::string w, std::uint64_t min_index) {
  auto r = search_on_this_thread(f, word(std::move(w)), min_index);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
  return r->total;
}

// n documents "doc<i>" holding "common" and their own word, as one bulk_set.
std::string bulk_of_common(int n) {
  std::vector<kv_pair> pairs;
  for (int i = 0; i < n; ++i) pairs.push_back({fmt::format("doc{}", i), fmt::format("common word{}", i)});
  return encode_bulk_set(pairs);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(node_index_queries)

BOOST_AUTO_TEST_CASE(a_cheap_query_is_answered_on_the_callers_thread) {
  node_index f(options(), std::chrono::seconds(5));
  f.restart_from(nullptr, 0, 0);
  f.applied(1, encode_set("a", "apple pie"));
  f.applied(2, encode_set("b", "banana split"));
  wait_applied(f, 2);
  auto r = search_on_this_thread(f, word("apple"), 2);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
  BOOST_REQUIRE_EQUAL(r->hits.size(), 1u);
  BOOST_TEST(r->hits[0].key == "a");
  BOOST_TEST(r->applied_index == 2u);
  BOOST_TEST(f.progress().answered_here == 1u);

  // Turned off ([index] server-thread-postings = 0): the same answer, from a query thread.
  node_index off(options(), std::chrono::seconds(5), {}, 0, query_routing{.here_postings = 0});
  off.restart_from(nullptr, 0, 0);
  off.applied(1, encode_set("a", "apple pie"));
  wait_applied(off, 1);
  auto r2 = search_on_this_thread(off, word("apple"), 1);
  BOOST_REQUIRE_MESSAGE(r2.ok(), r2.message());
  BOOST_TEST(r2->total == 1u);
  BOOST_TEST(off.progress().answered_here == 0u);
}

// Over the caller's-thread budget: answered on a query thread, in full.
BOOST_AUTO_TEST_CASE(a_query_over_the_budget_runs_on_a_query_thread) {
  const int n = static_cast<int>(query_routing{}.here_postings) + 100;
  // One thread per pool (the node's [index] query-threads = 1).
  node_index f(options(), std::chrono::seconds(5), {}, 0, query_routing{.threads = 1});
  f.restart_from(nullptr, 0, 0);
  f.applied(1, bulk_of_common(n));
  wait_applied(f, 1);
  auto r = search_on_this_thread(f, word("common"), 1);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
  BOOST_TEST(r->total == static_cast<std::uint64_t>(n));
  BOOST_TEST(r->hits.size() == 10u);
  BOOST_TEST(f.progress().answered_here == 0u);
  BOOST_TEST(f.progress().answered_long == 0u);  // within the short-query budget
  auto cheap = search_on_this_thread(f, word("word7"), 1);
  BOOST_REQUIRE_MESSAGE(cheap.ok(), cheap.message());
  BOOST_TEST(cheap->total == 1u);
  BOOST_TEST(f.progress().answered_here == 1u);
}

// Three tiers by cost: the caller's thread, a short-query thread, a long-query thread, each
// answering in full.
BOOST_AUTO_TEST_CASE(queries_go_to_the_tier_of_their_cost) {
  node_index f(options(), std::chrono::seconds(5), {}, 0,
             query_routing{.here_postings = 10, .short_postings = 100, .threads = 1});
  f.restart_from(nullptr, 0, 0);
  std::vector<kv_pair> pairs;
  for (int i = 0; i < 300; ++i) {
    pairs.push_back({fmt::format("doc{}", i), fmt::format("common word{} {}", i, i % 5 == 0 ? "fifth" : "")});
  }
  f.applied(1, encode_bulk_set(pairs));
  wait_applied(f, 1);
  struct tier_case {
    const char* word;
    std::uint64_t total, here, long_ones;
  };
  // "word7": 1 posting; "fifth": 60; "common": 300.
  for (const auto& c : {tier_case{"word7", 1, 1, 0}, tier_case{"fifth", 60, 1, 0}, tier_case{"common", 300, 1, 1}}) {
    BOOST_TEST(matches(f, c.word, 1) == c.total, c.word);
    BOOST_TEST(f.progress().answered_here == c.here, c.word);
    BOOST_TEST(f.progress().answered_long == c.long_ones, c.word);
  }
}

// The configured limit, lower than the budget, still holds: the caller's thread and the
// short-query thread give up, the long-query thread refuses with the limit's message.
BOOST_AUTO_TEST_CASE(the_configured_postings_limit_still_refuses) {
  node_index f(options(50), std::chrono::seconds(5));
  f.restart_from(nullptr, 0, 0);
  f.applied(1, bulk_of_common(60));
  wait_applied(f, 1);
  auto r = search_on_this_thread(f, word("common"), 1);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.is(errc::too_large));
  BOOST_TEST(r.message().find("index.max-postings-scanned (50)") != std::string::npos, r.message());
  BOOST_TEST(f.progress().answered_long == 1u);  // the short-query thread passed it on
  BOOST_TEST(search_on_this_thread(f, word("word3"), 1).ok());
}

// A query for a log index the index has not reached waits for it (on the index thread's list).
BOOST_AUTO_TEST_CASE(a_query_ahead_of_the_index_waits_for_it) {
  node_index f(options(), std::chrono::seconds(5));
  f.restart_from(nullptr, 0, 0);
  f.applied(1, encode_set("a", "apple pie"));
  wait_applied(f, 1);
  result<search_answer> r = errc::internal;
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    f.applied(2, encode_set("c", "apple tart"));
  });
  r = search_on_this_thread(f, word("apple"), 2);
  later.join();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
  BOOST_TEST(r->total == 2u);
  BOOST_TEST(r->applied_index == 2u);
  BOOST_TEST(f.progress().answered_here == 0u);
}

// Queries from this thread, back to back, while the index thread indexes a stream of
// writes: cheap ones ("alpha": entry i > 1 adds the (i - 1)-th document holding it) and, side
// by side, expensive ones ("common", in every document of entry 1, more than the caller's-thread
// budget) that run on query threads. Every answer is of one consistent state, at or past
// the min_index asked for, whichever thread answered it and whatever ran beside it. Each query
// also names a word never seen before, so that both threads' queries tokenize (and the stemmer
// caches) at the same time: under ThreadSanitizer this finds a query path that is not safe to
// run beside another.
BOOST_AUTO_TEST_CASE(answers_stay_consistent_while_the_index_changes) {
  constexpr std::uint64_t entries = 3000;
  // A small caller's-thread budget keeps the expensive queries short enough for a
  // ThreadSanitizer build to run thousands of steps of this in seconds.
  query_routing routing;
  routing.here_postings = 2'000;
  const auto common = routing.here_postings + 100;
  node_index f(options(200'000'000, "english"), std::chrono::seconds(5), {}, 0, routing);
  f.restart_from(nullptr, 0, 0);
  f.applied(1, bulk_of_common(static_cast<int>(common)));
  std::atomic<std::uint64_t> cheap{0};
  std::atomic<bool> abandon{false};
  std::thread writer([&] {
    for (std::uint64_t i = 2; i <= entries && !abandon.load(); ++i) {
      f.applied(i, encode_set(fmt::format("k{}", i), fmt::format("alpha number{}", i)));
      if (i % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
      // Keep pace with the queries however fast this build runs: a cheap answer per 100 entries.
      for (int wait = 0; wait < 10'000 && cheap.load() < i / 100 && !abandon.load(); ++wait) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  });
  // However the queries end (a failed check throws), the writer stops and is joined.
  struct join_writer {
    std::thread& t;
    std::atomic<bool>& abandon;
    ~join_writer() {
      abandon = true;
      t.join();
    }
  } joiner{writer, abandon};
  std::uint64_t expensive = 0;
  std::uint64_t failures = 0;
  bool done = false;
  test::run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          while (!done) {
            auto r = co_await f.search(either("common", fmt::format("absent{}", expensive)), 1);
            if (!r || r->total != common) ++failures;
            ++expensive;
          }
        },
        asio::detached);
    std::uint64_t min_index = 1;
    while (true) {
      auto r = co_await f.search(either("alpha", fmt::format("missing{}", cheap.load())), min_index);
      if (!r || r->applied_index < min_index || r->total + 1 != r->applied_index) {
        ++failures;
        break;
      }
      ++cheap;
      if (r->applied_index == entries) break;
      min_index = r->applied_index;  // answers never go back
    }
    done = true;
  });
  BOOST_TEST(failures == 0u);
  BOOST_TEST(cheap.load() >= entries / 100);
  BOOST_TEST(expensive > 1u);
  BOOST_TEST_MESSAGE(fmt::format("{} cheap and {} expensive answers, {} on this thread", cheap.load(), expensive,
                                 f.progress().answered_here));
}

BOOST_AUTO_TEST_SUITE_END()

// Changes beside queries that never pause: the node_index applies queued entries in runs, so
// that two streams of back-to-back queries (one of them always holding the index shared) take
// turns with runs of many entries, not with one entry each. (Not in the ThreadSanitizer run: the
// count it checks depends on how much a run can do in its time slice.)
BOOST_AUTO_TEST_SUITE(node_index_changes)

BOOST_AUTO_TEST_CASE(back_to_back_queries_do_not_hold_the_index_back) {
  constexpr std::uint64_t entries = 2000;
  query_routing routing;
  routing.here_postings = 0;  // every query on a query thread, where it holds the index shared
  const std::uint64_t common = 2'000;
  node_index f(options(), std::chrono::seconds(5), {}, 0, routing);
  f.restart_from(nullptr, 0, 0);
  f.applied(1, bulk_of_common(static_cast<int>(common)));
  wait_applied(f, 1);
  std::uint64_t queries = 0;
  std::uint64_t failures = 0;
  bool caught_up = false;
  test::run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    for (int stream = 0; stream < 2; ++stream) {
      asio::co_spawn(
          ctx,
          [&]() -> asio::awaitable<void> {
            while (!caught_up) {
              auto r = co_await f.search(word("common"), 1);
              if (!r || r->total != common) ++failures;
              ++queries;
            }
          },
          asio::detached);
    }
    // Both streams are running: queue the entries at once.
    asio::steady_timer pause(ctx, std::chrono::milliseconds(20));
    co_await pause.async_wait(asio::use_awaitable);
    const auto before = queries;
    for (std::uint64_t i = 2; i <= entries + 1; ++i) {
      f.applied(i, encode_set(fmt::format("k{}", i), fmt::format("alpha number{}", i)));
    }
    while (f.progress().applied_index < entries + 1) {
      asio::steady_timer poll(ctx, std::chrono::milliseconds(1));
      co_await poll.async_wait(asio::use_awaitable);
    }
    caught_up = true;
    queries -= before;
  });
  BOOST_TEST(failures == 0u);
  BOOST_TEST_MESSAGE(fmt::format("{} queries answered while {} entries were indexed", queries, entries));
  // Runs of changes take a few query turns; a turn per entry or per few entries takes hundreds.
  BOOST_TEST(queries < entries / 20);
}

BOOST_AUTO_TEST_SUITE_END()

// Saved indexes: one is loaded on restart only if it lies between the snapshot and the end of
// the log. A file past the end of the log (the log lost entries the index had seen: say, a data
// directory put back from an older copy) would answer with documents the store does not hold.
BOOST_AUTO_TEST_SUITE(node_index_saved_index)

BOOST_AUTO_TEST_CASE(a_saved_index_past_the_end_of_the_log_is_not_used) {
  test::temp_dir dir;
  auto put = [](int i) { return encode_set(fmt::format("doc{}", i), fmt::format("common word{}", i)); };
  {
    node_index f(options(), std::chrono::seconds(5), dir.path());
    f.restart_from(nullptr, 0, 0);
    for (int i = 1; i <= 3; ++i) f.applied(i, put(i));
    f.checkpoint(3);  // a snapshot at 3: the index saves itself once it has applied 3
    for (int i = 0; i < 60'000 && f.progress().saves == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    BOOST_REQUIRE_EQUAL(f.progress().saves, 1u);
  }
  {
    // The log ends at 3: the saved index is loaded, nothing is indexed again.
    node_index f(options(), std::chrono::seconds(5), dir.path());
    f.restart_from(nullptr, 0, 3);
    wait_applied(f, 3);
    BOOST_TEST(f.progress().loads == 1u);
    BOOST_TEST(f.progress().documents == 3u);
    BOOST_TEST(matches(f, "word3", 3) == 1u);
  }
  // The log ends at 2: the file at 3 is not used; the index is built from the log (no snapshot).
  node_index f(options(), std::chrono::seconds(5), dir.path());
  f.restart_from(nullptr, 0, 2);
  for (int i = 1; i <= 2; ++i) f.applied(i, put(i));
  wait_applied(f, 2);
  BOOST_TEST(f.progress().loads == 0u);
  BOOST_TEST(f.progress().documents == 2u);
  BOOST_TEST(matches(f, "word3", 2) == 0u);
  BOOST_TEST(matches(f, "word2", 2) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

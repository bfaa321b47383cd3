#pragma once
// Queries and a corpus for the tests that search through a real kvnode process
// (search_test.cpp, index_save_failure_test.cpp).

#include "io/client/client.hpp"

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace kv::test {

// (g++ 12 cannot keep braced initializer lists in coroutine frames: these build queries from
// plain arguments.)
template <typename... S>
search::text_query query_of(search::match_mode mode, S... terms) {
  search::text_query q;
  (q.terms.emplace_back(terms), ...);
  q.mode = mode;
  q.limit = 100;
  return q;
}
template <typename... S>
search::text_query all_of(S... terms) {
  return query_of(search::match_mode::all, terms...);
}
template <typename... S>
search::text_query any_of(S... terms) {
  return query_of(search::match_mode::any, terms...);
}
inline search::text_query word(std::string term) { return all_of(term); }

inline std::string topic(int i) {
  switch (i % 5) {
    case 0: return "storage engine";
    case 1: return "consensus protocol";
    case 2: return "search index";
    case 3: return "network stack";
    default: return "disk format";
  }
}

// Waits until the node's index has applied everything the store has; returns its status.
inline asio::awaitable<node_status> index_caught_up(client& c) {
  for (int i = 0; i < 500; ++i) {
    auto s = co_await c.status();
    BOOST_REQUIRE(s.ok());
    if (s->number("index_applied") == s->number("applied_index")) co_return *s;
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
    co_await t.async_wait(asio::use_awaitable);
  }
  BOOST_FAIL("the index did not catch up with the store within 10 s");
  co_return node_status{};
}

// A corpus with overwrites and deletes, the same every run.
inline asio::awaitable<std::uint64_t> write_corpus(client& c, int docs) {
  std::uint64_t last = 0;
  for (int i = 0; i < docs; i += 50) {
    std::vector<std::pair<std::string, std::string>> batch;
    for (int j = i; j < std::min(docs, i + 50); ++j) {
      batch.emplace_back(fmt::format("doc{:05}", j),
                         fmt::format("document {} about the {} with words w{} and w{}", j, topic(j), j % 7, j % 11));
    }
    last = (co_await c.bulk_set(std::move(batch)))->index;
  }
  for (int i = 0; i < docs; i += 3) {
    last = (co_await c.set(fmt::format("doc{:05}", i), fmt::format("rewritten {} zebra", i)))->index;
  }
  for (int i = 1; i < docs; i += 10) {
    auto r = co_await c.del(fmt::format("doc{:05}", i));
    if (r) last = r->index;
  }
  co_return last;
}

}  // namespace kv::test

#pragma once
// kvnode's side of the search benchmark, through kv::client: load a corpus with bulk_set from
// several clients, wait until the index has caught up, run the query lists, and time a restart.
//
// Each function runs its own io_context on the calling thread and returns when done; the
// coroutines inside own their arguments or borrow from the caller's frame, which outlives them.

#include "bench/concurrently.hpp"
#include "bench/search_run.hpp"
#include "harness/cluster_status.hpp"
#include "core/model/query.hpp"
#include "io/client/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kv::bench {

inline client::options search_client_options(const std::string& endpoint, std::chrono::milliseconds timeout) {
  client::options o;
  o.endpoints.assign(1, endpoint);
  o.request_timeout = timeout;
  return o;
}

// Runs `body` on a fresh io_context until it ends; rethrows what it threw.
inline void run_on_context(const std::function<asio::awaitable<void>()>& body) {
  asio::io_context ctx(1);
  std::exception_ptr failure;
  asio::co_spawn(ctx, body(), [&](std::exception_ptr e) { failure = e; });
  ctx.run();
  if (failure) std::rethrow_exception(failure);
}

// A query that matches nothing: asking it with min_index waits for the index, cheaply.
inline search::text_query probe_query() {
  search::text_query q;
  q.terms = {"zzqxjv"};
  q.limit = 1;
  return q;
}

// What loading a corpus into kvnode measured.
struct kvnode_load {
  double write_seconds = 0;   // first bulk_set sent .. last acknowledged
  double index_seconds = 0;   // first bulk_set sent .. a search with min_index = last_index answered
  double lag_seconds = 0;     // last acknowledged .. that search answered
  std::uint64_t last_index = 0;
  std::uint64_t index_documents = 0;  // status after the load
  std::uint64_t keys = 0;             // status after the load
};

// Waits until the node answers a ping (or `limit` passes: throws).
inline void wait_serving(const std::string& endpoint, std::chrono::milliseconds limit) {
  run_on_context([&]() -> asio::awaitable<void> {
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      client c(co_await asio::this_coro::executor, search_client_options(endpoint, std::chrono::milliseconds(1000)));
      if (co_await c.ping()) co_return;
      c.close();
      if (std::chrono::steady_clock::now() > until) throw std::runtime_error("kvnode did not answer at " + endpoint);
      co_await harness::sleep_for(std::chrono::milliseconds(10));
    }
  });
}

// Asks `probe_query` with `min_index` until it is answered (the node may time a long wait out).
inline asio::awaitable<void> await_index(client& c, std::uint64_t min_index, std::chrono::steady_clock::time_point until) {
  for (;;) {
    auto r = co_await c.search(probe_query(), min_index);
    if (r && r->applied_index >= min_index) co_return;
    if (std::chrono::steady_clock::now() > until) {
      throw std::runtime_error("kvnode's index did not reach " + std::to_string(min_index) +
                               (r ? "" : ": " + r.message()));
    }
    co_await harness::sleep_for(std::chrono::milliseconds(10));
  }
}

// Loads `docs` in bulk_set batches of `batch` from `clients` clients (lane l sends batches l,
// l + clients, ...), then waits for the index.
inline kvnode_load load_kvnode(const std::string& endpoint, const std::vector<document>& docs, int clients,
                               std::size_t batch) {
  using namespace std::chrono;
  kvnode_load out;
  run_on_context([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::unique_ptr<client>> lanes;
    for (int l = 0; l < clients; ++l) lanes.push_back(std::make_unique<client>(ex, search_client_options(endpoint, seconds(120))));
    auto start = steady_clock::now();
    co_await all_of(clients, [&](int lane) -> asio::awaitable<void> {
      auto& c = *lanes[static_cast<std::size_t>(lane)];
      for (auto b = static_cast<std::size_t>(lane) * batch; b < docs.size(); b += static_cast<std::size_t>(clients) * batch) {
        std::vector<std::pair<std::string, std::string>> pairs;
        for (auto i = b; i < std::min(b + batch, docs.size()); ++i) pairs.emplace_back(docs[i].key, docs[i].value);
        auto r = co_await c.bulk_set(std::move(pairs));
        if (!r) throw std::runtime_error("bulk_set failed: " + r.message());
        out.last_index = std::max(out.last_index, r->index);
      }
    });
    auto written = steady_clock::now();
    client waiter(ex, search_client_options(endpoint, seconds(600)));
    co_await await_index(waiter, out.last_index, written + seconds(3600));
    auto indexed = steady_clock::now();
    out.write_seconds = duration<double>(written - start).count();
    out.index_seconds = duration<double>(indexed - start).count();
    out.lag_seconds = duration<double>(indexed - written).count();
    auto st = co_await waiter.status();
    if (st) {
      out.index_documents = st->number("index_documents");
      out.keys = st->number("keys");
    }
    waiter.close();
    for (auto& c : lanes) c->close();
  });
  return out;
}

// The kvnode request for query i of a class.
inline search::text_query text_request(query_class kind, const std::vector<std::string>& terms) {
  search::text_query q;
  q.mode = kind == query_class::all_words ? search::match_mode::all
           : kind == query_class::any_word ? search::match_mode::any
                                           : search::match_mode::phrase;
  q.terms = terms;
  q.limit = 10;
  return q;
}

// The kvnode request for similarity query `text`: top 10, threshold 0.3.
inline search::similar_query similar_request(const std::string& text) {
  search::similar_query s;
  s.text = text;
  s.k = 10;
  s.threshold = 0.3;
  return s;
}

// The term lists of a text query class.
inline const std::vector<std::vector<std::string>>& text_list(const query_set& q, query_class kind) {
  return kind == query_class::all_words ? q.all_words : kind == query_class::any_word ? q.any_word : q.phrases;
}

inline asio::awaitable<bool> ask_kvnode(client& c, const query_set& q, query_class kind, std::size_t i, answer& out,
                                        std::string& error) {
  result<search::search_answer> r = search::search_answer{};
  if (kind == query_class::similar) {
    r = co_await c.similar(similar_request(q.similar[i]));
  } else {
    r = co_await c.search(text_request(kind, text_list(q, kind)[i]));
  }
  if (!r) {
    error = r.message();
    co_return false;
  }
  out.total = r->total;
  for (auto& h : r->hits) {
    out.keys.push_back(std::move(h.key));
    out.scores.push_back(h.score);
  }
  co_return true;
}

inline std::size_t class_size(const query_set& q, query_class kind) {
  switch (kind) {
    case query_class::all_words: return q.all_words.size();
    case query_class::any_word: return q.any_word.size();
    case query_class::phrase: return q.phrases.size();
    case query_class::similar: return q.similar.size();
  }
  return 0;
}

// One client, queries one after the other (keeps the answers); then `clients` clients sharing
// the list. Returns the two runs.
inline std::vector<class_run> query_kvnode(const std::string& endpoint, const query_set& q, query_class kind,
                                           int clients, const run_limits& limits, std::vector<answer>& answers) {
  using namespace std::chrono;
  auto n = class_size(q, kind);
  std::vector<class_run> runs;
  {
    // One client: run_one_client's loop, each query driven to its answer on a context of its own.
    asio::io_context ctx(1);
    client c(ctx.get_executor(), search_client_options(endpoint, seconds(60)));
    auto ask = [&](std::size_t i, answer& a, std::string& error) {
      std::optional<bool> ok;
      asio::co_spawn(ctx, ask_kvnode(c, q, kind, i, a, error), [&](std::exception_ptr e, bool r) {
        if (e) std::rethrow_exception(e);
        ok = r;
      });
      while (!ok) ctx.run_one();
      return *ok;
    };
    runs.push_back(run_one_client("kvnode", kind, n, limits, ask, answers));
    c.close();
    ctx.run();
  }
  if (clients <= 1) return runs;
  run_on_context([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    class_run r("kvnode", kind, clients, n);
    std::vector<std::unique_ptr<client>> cs;
    for (int l = 0; l < clients; ++l) cs.push_back(std::make_unique<client>(ex, search_client_options(endpoint, seconds(60))));
    std::size_t next = 0;
    auto start = steady_clock::now();
    auto stop = limits.deadline(start);
    co_await all_of(clients, [&](int lane) -> asio::awaitable<void> {
      std::string error;
      while (next < n && steady_clock::now() < stop) {
        auto i = next++;
        answer a;
        auto sent = steady_clock::now();
        if (co_await ask_kvnode(*cs[static_cast<std::size_t>(lane)], q, kind, i, a, error)) {
          r.latency.add(steady_clock::now() - sent);
          ++r.ops;
        } else if (r.errors++ == 0) {
          r.first_error = error;
        }
      }
    });
    r.seconds = duration<double>(steady_clock::now() - start).count();
    for (auto& c : cs) c->close();
    runs.push_back(std::move(r));
  });
  return runs;
}

// What a restart after kill -9 measured, from the new process's start.
struct kvnode_restart {
  double get_ms = 0;    // until a linearizable GET of a loaded key succeeded (storage recovered)
  double index_ms = 0;  // until a search with min_index = the last write's index answered
  std::uint64_t index_documents = 0;
};

// Kills the node with SIGKILL, starts it on the same data directory and times the recovery.
template <typename Node>
kvnode_restart restart_kvnode(Node& node, const std::string& key, std::uint64_t last_index) {
  using namespace std::chrono;
  kvnode_restart out;
  node.kill9();
  auto start = steady_clock::now();
  node.launch();
  run_on_context([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto until = start + seconds(3600);
    for (;;) {
      client::options o = search_client_options(node.endpoint(), seconds(60));
      o.connect_timeout = milliseconds(200);
      client c(ex, o);
      auto r = co_await c.get(key);
      c.close();
      if (r) break;
      if (steady_clock::now() > until) throw std::runtime_error("kvnode did not serve a GET after restart: " + r.message());
      co_await harness::sleep_for(milliseconds(2));
    }
    out.get_ms = duration<double, std::milli>(steady_clock::now() - start).count();
    client c(ex, search_client_options(node.endpoint(), seconds(600)));
    co_await await_index(c, last_index, until);
    out.index_ms = duration<double, std::milli>(steady_clock::now() - start).count();
    auto st = co_await c.status();
    if (st) out.index_documents = st->number("index_documents");
    c.close();
  });
  return out;
}

}  // namespace kv::bench

#pragma once
// What the search benchmark measures for one system and one class of queries, and how it drives
// systems that answer synchronously (SQLite in-process, PostgreSQL through libpq): one client
// sending the queries one after the other (latency), then `clients` threads sharing them
// (throughput). kvnode's asynchronous runs (bench/search_kvnode.hpp) fill the same records.

#include "bench/latency.hpp"
#include "bench/search_queries.hpp"

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kv::bench {

// One query's answer, kept from the one-client run to compare systems.
struct answer {
  bool ok = false;
  std::vector<std::string> keys;  // best first
  std::vector<double> scores;     // beside keys, where the system returns them
  std::uint64_t total = 0;        // documents that matched (text queries), if known
};

// One (system, query class, number of clients) run.
struct class_run {
  class_run(std::string system_name, query_class query, int concurrent, std::uint64_t queries)
      : system(std::move(system_name)), kind(query), clients(concurrent), planned(queries) {}

  std::string system;
  query_class kind = query_class::all_words;
  int clients = 1;
  latency_recorder latency;
  std::uint64_t ops = 0;     // queries answered (errors excluded)
  std::uint64_t planned = 0; // queries in the list
  std::uint64_t errors = 0;
  std::string first_error;
  double seconds = 0;  // wall time of the timed part
  double ops_per_sec() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
};

// A build: loading documents into a system (and indexing them).
struct build_run {
  std::string system;
  std::string operation;  // "load", "index", "build", ...
  std::uint64_t docs = 0;
  double seconds = 0;
  std::string note;
  double docs_per_sec() const { return seconds > 0 ? static_cast<double>(docs) / seconds : 0; }
};

// Limits every timed run shares.
struct run_limits {
  std::size_t warmup = 100;  // queries sent first, untimed (the list's first ones)...
  double max_seconds = 60;   // ...for at most a tenth of this; a run stops sending new queries after this long

  std::chrono::steady_clock::time_point deadline(std::chrono::steady_clock::time_point start, double fraction = 1) const {
    return start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(max_seconds * fraction));
  }
};

// ask(i, out, error) for a run: false, or an exception (its message in `error`), is an error.
template <typename Ask>
bool ask_once(Ask& ask, std::size_t i, answer& out, std::string& error) {
  try {
    return ask(i, out, error);
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

// Sends queries 0..n-1 through `ask(i, out, error)` (which returns false with `error` saying why,
// or throws, on an error), one at a time; keeps every answer.
inline class_run run_one_client(std::string system, query_class kind, std::size_t n, const run_limits& limits,
                                const std::function<bool(std::size_t, answer&, std::string&)>& ask,
                                std::vector<answer>& answers) {
  using namespace std::chrono;
  class_run r(std::move(system), kind, 1, n);
  answers.assign(n, answer{});
  std::string error;
  auto warm_until = limits.deadline(steady_clock::now(), 0.1);
  for (std::size_t i = 0; i < std::min(limits.warmup, n) && steady_clock::now() < warm_until; ++i) {
    answer ignored;
    ask_once(ask, i, ignored, error);
  }
  auto start = steady_clock::now();
  auto stop = limits.deadline(start);
  for (std::size_t i = 0; i < n && steady_clock::now() < stop; ++i) {
    auto sent = steady_clock::now();
    answers[i].ok = ask_once(ask, i, answers[i], error);
    if (!answers[i].ok) {
      if (r.errors++ == 0) r.first_error = error;
      continue;
    }
    r.latency.add(steady_clock::now() - sent);
    ++r.ops;
  }
  r.seconds = duration<double>(steady_clock::now() - start).count();
  return r;
}

// `clients` threads, each with its own connection from `connect()`, share queries 0..n-1.
template <typename Connect>
class_run run_threads(std::string system, query_class kind, std::size_t n, int clients, const run_limits& limits,
                      Connect connect) {
  using namespace std::chrono;
  class_run r(std::move(system), kind, clients, n);
  std::mutex mu;
  std::size_t next = 0;
  auto start = steady_clock::now();
  auto stop = limits.deadline(start);
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      auto ask = connect();  // bool(std::size_t, answer&, std::string&), may throw
      latency_recorder mine;
      std::uint64_t ops = 0, errors = 0;
      std::string error, first_error;
      for (;;) {
        std::size_t i;
        {
          std::lock_guard lock(mu);
          if (next >= n || steady_clock::now() >= stop) break;
          i = next++;
        }
        answer a;
        auto sent = steady_clock::now();
        if (ask_once(ask, i, a, error)) {
          mine.add(steady_clock::now() - sent);
          ++ops;
        } else if (errors++ == 0) {
          first_error = error;
        }
      }
      std::lock_guard lock(mu);
      r.latency.merge(mine);
      r.ops += ops;
      if (r.errors == 0 && errors > 0) r.first_error = first_error;
      r.errors += errors;
    });
  }
  for (auto& t : threads) t.join();
  r.seconds = duration<double>(steady_clock::now() - start).count();
  return r;
}

}  // namespace kv::bench

// index_bench: kvnode's search index in process, without a server, a log or a network: how fast
// it indexes the search corpus and answers each query class. It shows what the engine itself
// costs (search_bench measures the whole node), and is the program to run under a profiler.
//
//   build/bin/index_bench --docs 100000 [--batch 500] [--threads 1|2] [--builds 1] [--queries 2000] [--seed 1]
//
// Same corpus and queries as search_bench (bench/search_corpus.hpp, bench/search_queries.hpp).
// Build: put_many in batches of --batch documents (as the node indexes a bulk_set), docs/s over
// the whole load; --builds N builds N fresh indexes and reports each, the median and the best
// (this machine's speed varies by tens of percent from minute to minute). Queries run on the last. Queries: each class's list once, one after the other, p50/p99 per query.

#include "bench/args.hpp"
#include "bench/latency.hpp"
#include "bench/search_corpus.hpp"
#include "bench/search_queries.hpp"
#include "index/search_index.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace kb = kv::bench;
namespace ks = kv::search;

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
  std::uint64_t docs = 100'000;
  std::size_t batch = 500;
  std::size_t threads = 1;
  std::size_t builds = 1;
  std::size_t queries = 2000;
  std::uint64_t seed = 1;
};

options parse(int argc, char** argv) {
  options o;
  kb::flag_table flags("index_bench",
                       "kvnode's search index in process, without a server, a log or a network: how fast it\n"
                       "indexes the search corpus and answers each query class.");
  flags.add("--docs", "N", "documents of the corpus", o.docs);
  flags.add("--batch", "N", "documents per put_many, as the node indexes a bulk_set", o.batch);
  flags.add("--threads", "1|2", "threads that build the index", o.threads);
  flags.add("--builds", "N", "fresh indexes built, each reported, then the median and the best", o.builds);
  flags.add("--queries", "N", "queries of each class, run on the last index", o.queries);
  flags.add("--seed", "N", "seed of the corpus and the queries", o.seed);
  flags.parse(argc, argv);
  if (o.batch < 1 || o.builds < 1) flags.usage_error("--batch and --builds must be at least 1");
  if (o.threads < 1 || o.threads > 2) flags.usage_error("--threads takes 1 or 2");
  return o;
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Runs every query of one class; returns false if any failed.
bool run_class(const ks::search_index& index, const kb::query_set& q, kb::query_class kind) {
  kb::latency_recorder latency;
  std::uint64_t matches = 0;
  std::size_t failed = 0;
  const std::size_t n = kind == kb::query_class::all_words  ? q.all_words.size()
                        : kind == kb::query_class::any_word ? q.any_word.size()
                        : kind == kb::query_class::phrase   ? q.phrases.size()
                                                            : q.similar.size();
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = clock_type::now();
    kv::result<ks::search_answer> r = ks::search_answer{};
    if (kind == kb::query_class::similar) {
      ks::similar_query s;
      s.text = q.similar[i];
      r = index.similar(s);
    } else {
      ks::text_query t;
      t.mode = kind == kb::query_class::all_words ? ks::match_mode::all
               : kind == kb::query_class::any_word ? ks::match_mode::any
                                                   : ks::match_mode::phrase;
      t.terms = kind == kb::query_class::all_words ? q.all_words[i] : kind == kb::query_class::any_word ? q.any_word[i] : q.phrases[i];
      r = index.search(t);
    }
    latency.add(clock_type::now() - t0);
    if (r) matches += r->total;
    else ++failed;
  }
  const double elapsed = seconds_since(start);
  fmt::print("{:<8} {:>6} queries  p50 {:>8.1f} us  p99 {:>9.1f} us  {:>8.0f} q/s  matches {:>10}  failed {}\n",
             kb::class_name(kind), n, latency.percentile_us(0.5), latency.percentile_us(0.99),
             static_cast<double>(n) / elapsed, matches, failed);
  return failed == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  kb::corpus_source source;
  const auto docs = kb::scaled_corpus(kb::load_packages(source), o.docs);
  const auto queries = kb::make_queries(docs, o.queries, o.seed);

  ks::index_options opts;
  opts.stop_words = ks::default_stop_words();
  opts.build_threads = o.threads;
  std::unique_ptr<ks::search_index> index;
  std::vector<double> rates;
  for (std::size_t b = 0; b < o.builds; ++b) {
    index.reset();  // the previous index's memory goes back first
    index = std::make_unique<ks::search_index>(opts);
    std::vector<ks::pair_view> batch;
    const auto start = clock_type::now();
    for (std::size_t at = 0; at < docs.size(); at += o.batch) {
      batch.clear();
      for (std::size_t i = at; i < std::min(docs.size(), at + o.batch); ++i) batch.push_back({docs[i].key, docs[i].value});
      index->put_many(batch);
    }
    rates.push_back(static_cast<double>(docs.size()) / seconds_since(start));
    if (o.builds > 1) fmt::print("build {}: {:.0f} docs/s\n", b + 1, rates.back());
  }
  std::sort(rates.begin(), rates.end());
  const auto stats = index->stats();
  fmt::print("build    {} docs: median {:.0f} docs/s, best {:.0f} of {} build{} ({} build thread{}), {} terms, {} postings, "
             "{} n-grams, {:.0f} MiB\n",
             stats.documents, rates[rates.size() / 2], rates.back(), rates.size(), rates.size() == 1 ? "" : "s", o.threads,
             o.threads == 1 ? "" : "s", stats.terms, stats.postings, stats.ngrams,
             static_cast<double>(stats.memory_bytes) / (1 << 20));
  bool ok = stats.documents == docs.size();
  for (auto kind : {kb::query_class::all_words, kb::query_class::any_word, kb::query_class::phrase, kb::query_class::similar}) {
    ok = run_class(*index, queries, kind) && ok;
  }
  std::fflush(stdout);
  return ok ? 0 : 3;
}

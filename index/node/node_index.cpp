// search::node_index: its life (the threads it starts and stops), its progress report, and the
// search_index options it takes from the settings. Its three jobs are in files of their own:
// feed.cpp (applied entries into the index), saves.cpp (index-<I>.idx files) and
// query_routing.cpp (which thread answers a query, and when).

#include "index/node/node_index.hpp"

#include "index/node/thread_loop.hpp"

#include <asio/post.hpp>

namespace kv::search {

namespace {
// The index builds the n-grams of a batch on a helper thread (index_options::build_threads).
constexpr std::size_t index_build_threads = 2;
}  // namespace

index_options options_of(const index_config& c) {
  index_options o;
  o.ngram_size = c.ngram_size;
  o.stop_words = c.stop_words ? *c.stop_words : default_stop_words();
  o.stemming_language = c.stemming;
  o.remove_diacritics = c.remove_diacritics;
  o.max_results = c.max_results;
  o.max_query_terms = c.max_query_terms;
  o.max_postings_scanned = c.max_postings_scanned;
  o.build_threads = index_build_threads;
  return o;
}

node_index::node_index(index_options opts, std::chrono::milliseconds wait_timeout, std::filesystem::path dir,
                       std::uint64_t save_interval_bytes, query_routing routing)
    : wait_timeout_(wait_timeout),
      dir_(std::move(dir)),
      save_interval_bytes_(save_interval_bytes),
      routing_(routing),
      work_(ctx_.get_executor()),
      index_(std::move(opts)) {
  const unsigned threads = routing_.threads == 0 ? automatic_query_threads() : routing_.threads;
  short_queries_.start(threads, short_query_nice, "a short search query thread");
  long_queries_.start(threads, long_query_nice, "a long search query thread");
  thread_ = std::thread([this] { detail::run_or_terminate(ctx_, "the search index thread"); });
}

node_index::~node_index() { stop(); }

void node_index::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  asio::post(ctx_, [this] {
    while (!waiting_.empty()) finish_waiter(waiting_.begin()->first, errc::unavailable);
  });
  work_.reset();
  thread_.join();
  // Short first: a query there may still move on to the long pool.
  short_queries_.stop();
  long_queries_.stop();
}

node_index::progress_t node_index::progress() const {
  progress_t p;
  p.applied_index = applied_index_.load(std::memory_order_relaxed);
  p.documents = documents_.load(std::memory_order_relaxed);
  p.skipped_non_utf8 = skipped_.load(std::memory_order_relaxed);
  p.digest = digest_.load(std::memory_order_relaxed);
  p.rebuilds = rebuilds_.load(std::memory_order_relaxed);
  p.loads = loads_.load(std::memory_order_relaxed);
  p.saves = saves_.load(std::memory_order_relaxed);
  p.answered_here = answered_here_.load(std::memory_order_relaxed);
  p.answered_long = answered_long_.load(std::memory_order_relaxed);
  return p;
}

}  // namespace kv::search

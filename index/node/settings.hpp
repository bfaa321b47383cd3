#pragma once
// The settings of a node's search index (index/node): what it indexes, its per-query limits, and
// how it runs. Durations and sizes carry their unit in the type or the name; the defaults here are
// kvnode's defaults.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kv {

struct index_config {
  bool enabled = true;
  std::uint32_t ngram_size = 3;  // n of the character n-grams for similarity (1..8)
  // Words left out of the full-text index; nullopt: a short English list
  // (search::default_stop_words()); an empty list: none.
  std::optional<std::vector<std::string>> stop_words;
  std::string stemming;  // a Snowball language ("english", ...), or "" for none
  bool remove_diacritics = true;  // "naive" finds "naïve" (Latin letters only)
  // Per query: hits returned (limit + offset, or k), terms after tokenizing, and posting
  // entries read; a query over a limit fails with too_large.
  std::uint32_t max_results = 1000;
  std::uint32_t max_query_terms = 64;
  std::uint64_t max_postings_scanned = 200'000'000;
  // A query that reads at most this many posting entries is answered on the server's thread when
  // the index is free (skipping two thread hand-offs); 0: every query on a query thread.
  std::uint64_t server_thread_postings = 20'000;
  // Threads in each of the two pools (short and long queries) that run the other queries at a
  // lower priority (0: automatic, see search::node_index).
  std::uint32_t query_threads = 0;
  // How long a search waits for the index to reach its min_index (or read index) before it
  // fails with timed_out.
  std::chrono::milliseconds wait_timeout{5000};
  // Once this much log has been applied since the index was last saved and the index has caught
  // up, it is saved (besides at every snapshot), so a restart loads it and re-indexes only the
  // log after it.
  std::uint64_t save_interval_bytes = 64ull << 20;
};

}  // namespace kv

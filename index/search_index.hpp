#pragma once
// kvnode's search index: full-text search (BM25-ranked, with all/any/phrase modes and prefix
// terms) and n-gram similarity search over the values of the store, kept in step with the applied
// log. A deterministic core: no threads, no clocks, no I/O but save() and load(). Two indexes
// fed the same documents (in any order, through any number of overwrites) hold the same logical
// contents and answer every query identically (digest() compares them).
//
// How it is built: tokenizer.hpp (words, folding, stop words, stemming), text_index.hpp (inverted
// index and BM25), ngram_index.hpp (n-grams and Jaccard), doc_table.hpp (key <-> document id).
// index/README.md gives the data structures and the cost of every operation.
//
// Persistence: save() writes the whole index to a file and load() takes it back, so a restart
// need not re-tokenize every value (index/README.md, "Persistence", gives the format). These are
// the only members that do I/O.
//
// Threading: const members (queries, digest, stats, save) may run on several threads at once;
// nothing may run alongside a non-const member (the node's index, search::node_index, keeps this with a
// reader-writer lock). Queries tokenize with a tokenizer of their own, under a mutex held for
// the tokenizing only.
// With index_options::build_threads = 2 the index owns a helper thread (build_worker.hpp): a
// batch (put_many, a bulk_set) is tokenized by both threads (every other document, the helper
// with a tokenizer of its own), then builds its n-gram half on the helper while the calling
// thread builds the full-text half; the result (contents, answers, digest) is the same as with
// one thread, and the helper is idle whenever a call returns.

#include "core/model/command.hpp"
#include "core/base/error.hpp"
#include "core/model/query.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kv::search {

struct index_options {
  std::size_t ngram_size = 3;                       // n of the character n-grams, >= 1
  std::vector<std::string> stop_words;              // the final list (see default_stop_words())
  std::string stemming_language;                    // "" = no stemming; else a Snowball name ("english", ...)
  bool remove_diacritics = true;                    // Latin letters' diacritics out of terms (tokenizer.hpp)
  std::uint32_t max_results = 1000;                 // limit + offset (text) and k (similar) at most
  std::uint32_t max_query_terms = 64;               // terms of a query after tokenizing, stop words
                                                    // excepted; a prefix term counts once, not per expansion
  std::uint64_t max_postings_scanned = 200'000'000;  // per query: posting entries read (see text_index.hpp)
  std::size_t build_threads = 1;                    // 1: all work on the caller's thread; 2: batches
                                                    // (put_many, bulk_set) build their n-grams on a
                                                    // second thread the index owns
};

// A key and value to index, borrowed from the caller for one call.
struct pair_view {
  std::string_view key;
  std::string_view value;
};

// A short list of common English function words, for the configuration's default.
const std::vector<std::string>& default_stop_words();

class search_index {
 public:
  // Throws std::invalid_argument (naming the option) for an unknown stemming language or
  // ngram_size 0.
  explicit search_index(index_options opts);
  ~search_index();
  search_index(search_index&&) noexcept;
  search_index& operator=(search_index&&) noexcept;

  // Indexes `value` under `key`, replacing what key had. A value that is not valid UTF-8 is not
  // indexed (key's previous document is removed) and is counted in stats().skipped_non_utf8.
  // Cost: O(length of value), amortized (see README.md).
  void put(std::string_view key, std::string_view value);
  // Removes key's document; a no-op if there is none.
  void erase(std::string_view key);
  // put() for each pair, in order (as a bulk load at restart would). With build_threads = 2 the
  // n-grams are built on the helper thread, in chunks pipelined with the full text. The views
  // need only outlive the call.
  void put_many(std::span<const pair_view> pairs);
  void put_many(std::span<const kv_pair> pairs);

  // Applies one committed log command: set -> put, del -> erase, bulk_set -> put of every pair
  // (all of them before this returns, as put_many); other commands change nothing. Then applied_index() = index.
  void apply(std::uint64_t index, const command_view& cmd);
  // Sets the index after a rebuild from a snapshot.
  void set_applied_index(std::uint64_t index);
  std::uint64_t applied_index() const;
  // Empties the index: no documents, applied_index() 0, statistics reset.
  void clear();

  // Writes the whole index (every structure queries and later updates use, applied_index() and
  // skipped_non_utf8) to `path` in a versioned, checksummed format: written to path + ".tmp",
  // fdatasynced, renamed over `path`, and the directory fsynced, so `path` holds either the old
  // file or the whole new one. Throws std::system_error naming the file on I/O failure (the .tmp
  // file is removed). O(size of the index), in time and in the file's bytes.
  void save(const std::filesystem::path& path) const;
  // Replaces this index with the one saved at `path` and returns its applied index. The file
  // must have been saved with the same ngram_size, stop words (as a set, after folding),
  // stemming language and remove_diacritics; the query limits may differ. Errors (this index is then empty, as after
  // clear(), and usable):
  //  - errc::bad_request "saved with different options: ..." naming the options that differ;
  //  - errc::corruption naming the file, the offset and what is wrong, if the file is truncated,
  //    fails a checksum, is of an unknown version or is otherwise inconsistent;
  //  - errc::not_found if there is no such file; errc::internal if it cannot be opened or read.
  // Afterwards the index answers every query exactly as the saved one did (scores included), has
  // the same digest() and stats() counts, and takes updates as it would have.
  result<std::uint64_t> load(const std::filesystem::path& path);

  // A full-text query. errc::bad_request: no terms, a term that is not valid UTF-8, a bare "*",
  // no searchable term left after tokenizing (only stop words or punctuation); errc::too_large:
  // more terms than max_query_terms, limit + offset above max_results, or more postings to read
  // than max_postings_scanned (the message names the limit). answer.applied_index = applied_index().
  // `postings_budget`, if lower, replaces max_postings_scanned for this query (an attempt that
  // may give up early, see node/node_index.hpp); exceeding it is the same too_large error.
  result<search_answer> search(const text_query& q, std::uint64_t postings_budget = UINT64_MAX) const;
  // A similarity query. errc::bad_request: empty or invalid text, text without n-grams,
  // k == 0, threshold not in [0, 1]; errc::too_large: k above max_results, or more postings to
  // read than max_postings_scanned (or postings_budget, if lower).
  result<search_answer> similar(const similar_query& q, std::uint64_t postings_budget = UINT64_MAX) const;

  // An order-independent digest of the logical contents: every key with its terms and their
  // positions and its n-gram set. Equal on two indexes that hold the same documents, however they
  // got there; applied_index and statistics are not part of it. O(1): kept up to date by put/erase.
  std::uint64_t digest() const;

  struct stats_t {
    std::uint64_t documents;
    std::uint64_t terms;             // distinct terms indexed
    std::uint64_t postings;          // (document, term) pairs
    std::uint64_t ngrams;            // distinct n-grams
    std::uint64_t ngram_postings;    // (document, n-gram) pairs
    std::uint64_t skipped_non_utf8;  // values not indexed since construction or clear()
    std::size_t memory_bytes;        // an estimate of the heap the index holds
    std::uint64_t stale_postings;    // entries of removed documents not yet compacted (both
                                     // indexes); at most about the live postings plus 8 per list
  };
  // O(terms + n-grams) for the memory estimate.
  stats_t stats() const;
  // The same counts as stats(), in O(1).
  std::uint64_t documents() const;
  std::uint64_t skipped_non_utf8() const;

  // Throws std::logic_error if any internal structure disagrees with another (posting lists vs.
  // documents, counts, dictionaries). O(everything); for tests and debugging.
  void check_invariants() const;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace kv::search

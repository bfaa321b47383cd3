#pragma once
// Similarity search: documents whose sets of character n-grams are close to a text's (Jaccard).
//
// N-grams. The n-grams of a value are taken per word (the tokenizer's folded words, stop words
// included, nothing stemmed) over code points, each word padded as pg_trgm does: n - 1 spaces
// before and one after (none after when n = 1), so "cat" gives "  c", " ca", "cat", "at " for
// n = 3 and short words still share grams. A document's grams form a set: repeats count once.
// Similarity is Jaccard: J(A, B) = |A ∩ B| / |A ∪ B|, computed as double(|A∩B|) / double(|A∪B|).
//
// Data: a gram dictionary (id <-> gram), per gram a posting list of documents (ascending id), per
// document its gram count and a forward record of its gram ids (ascending, varint gaps).
// Updates cost O(grams of the document), amortized, as in text_index (same dead-entry scheme).
//
// Queries are exact without scanning every document. For threshold t and query grams Q:
//  - length filter: J(Q, D) <= min(|Q|,|D|) / max(|Q|,|D|), so D is skipped when that is below t;
//  - prefix filter: J >= t needs |Q ∩ D| >= o, the least o with o / |Q| >= t (at least 1), so D
//    holds at least one of any |Q| - o + 1 grams of Q; candidates come from the lists of the
//    |Q| - o + 1 rarest grams of Q (grams in no document first: their lists are empty);
//  - the candidates' overlaps are completed by reading the lists of Q's other grams, shortest
//    first, counting only candidates and dropping each candidate as soon as it could not reach
//    the overlap even if it were in every list left; once the next list is longer than the
//    surviving candidates' forward records together, those records are read instead.
// Every bound is computed with the same floating-point divisions as the score, so no document
// with J >= t is ever filtered out. Only documents with J > 0 are returned: at t = 0 those are
// exactly the documents that share a gram with the text. Cost: the lists and records read, all
// counted against max_postings_scanned (besides O(documents) to clear a counter per document id).
//
// Threading: none of its own (search_index may run its changes on its helper thread, one call
// at a time). Const members (similar, save, memory_bytes) may run on several threads at once,
// with the same doc_table; a non-const member must run alone, with no other call in progress
// (the node's index holds its reader-writer lock exclusively for changes, shared for queries).

#include "core/base/error.hpp"
#include "index/posting_list.hpp"
#include "core/model/query.hpp"
#include "index/text_ids.hpp"
#include "index/tokenizer.hpp"

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kv::search {

class doc_table;
namespace persist {
class reader;
class writer;
}  // namespace persist

// Calls f(gram) for each n-gram of a folded word, padded as above (occurrences, in order).
// `scratch` is a reusable buffer.
template <typename F>
void for_each_ngram(std::string_view word, std::size_t n, std::string& scratch, F&& f) {
  scratch.assign(n - 1, ' ');
  scratch.append(word);
  if (n > 1) scratch.push_back(' ');
  const std::string_view padded(scratch);
  bool ascii = true;
  for (char c : word) ascii &= static_cast<unsigned char>(c) < 0x80;
  if (ascii) {
    for (std::size_t i = 0; i + n <= padded.size(); ++i) f(padded.substr(i, n));
    return;
  }
  // Slide a window of n code points: [begin, end).
  std::size_t begin = 0;
  std::size_t end = 0;
  for (std::size_t k = 0; k < n; ++k) end += utf8_sequence_length(static_cast<unsigned char>(padded[end]));
  for (;;) {
    f(padded.substr(begin, end - begin));
    if (end == padded.size()) return;
    begin += utf8_sequence_length(static_cast<unsigned char>(padded[begin]));
    end += utf8_sequence_length(static_cast<unsigned char>(padded[end]));
  }
}

// The least o such that double(o) / double(q) >= threshold (o <= q for threshold <= 1).
std::uint32_t min_overlap(std::uint32_t q, double threshold);

class ngram_index {
 public:
  explicit ngram_index(std::size_t n);
  ngram_index(const ngram_index&) = delete;
  ngram_index& operator=(const ngram_index&) = delete;

  // Adds document `doc` (an id above every id added before) with the grams of text's words.
  // Returns an order-independent hash of its gram set (for the index digest).
  std::uint64_t add(std::uint32_t doc, const analyzed_text& text);
  // Removes a document that was added and not removed.
  void remove(std::uint32_t doc);
  // Renames documents through old_to_new (order-preserving; no_doc for removed ones).
  void remap(std::span<const std::uint32_t> old_to_new, std::uint32_t new_bound);

  // The k documents most similar to text's words with J >= threshold (and J > 0), best first
  // (ties by key), and how many there are. errc::bad_request if text has no gram; errc::too_large
  // past max_postings_scanned. Assumes 0 <= threshold <= 1 and k >= 1.
  result<search_answer> similar(const analyzed_text& text, std::uint32_t k, double threshold,
                                std::uint64_t max_postings_scanned, const doc_table& docs) const;

  std::uint64_t documents() const { return documents_; }
  std::uint64_t grams() const { return live_grams_; }
  std::uint64_t postings() const { return postings_; }     // live (document, gram) pairs
  std::uint64_t stale_postings() const { return stale_; }  // dead entries not yet compacted
  std::size_t memory_bytes() const;                        // O(grams)

  // Throws std::logic_error if the lists or counts disagree with the forward records. For tests.
  void check_invariants() const;

  // Writes sections `grams` and `gram_documents` (persist.hpp): every gram id (free ones
  // included) with its list's raw bytes, and per document id its gram count and forward record.
  void save(persist::writer& w) const;
  // Takes back what save() wrote into an empty index of the same n whose documents are `docs`
  // (already loaded); rebuilds the dictionary and recounts. Throws persist::format_error.
  void load(persist::reader& r, const doc_table& docs);

 private:
  struct gram_entry {
    std::string text;
    std::uint64_t hash = 0;  // stable_hash(text)
    posting_list<false> postings;
  };
  static constexpr std::uint32_t absent = UINT32_MAX;  // size_ of an id with no document

  bool live(std::uint32_t doc) const { return doc < size_.size() && size_[doc] != absent; }
  // The id of gram, or no_doc (used as "none") if the dictionary lacks it.
  std::uint32_t find(std::string_view gram) const;
  // gram's slot in dense_ids_, or -1.
  std::ptrdiff_t dense_slot(std::string_view gram) const;
  std::uint32_t intern(std::string_view gram);
  void release(std::uint32_t gram);
  // add()'s fast path for a word of dense characters only (n <= 3): calls take(id) for each of
  // its grams, computing each slot from the previous one. False (nothing taken) for other words.
  template <typename Take>
  bool add_dense_word(std::string_view word, Take& take);
  // Gram `at` of the padded word (in scratch_).
  std::string_view padded_gram(std::string_view word, std::size_t at);
  // The distinct gram ids of text's words that the dictionary holds (ascending), and how many
  // distinct grams it does not hold.
  void query_grams(const analyzed_text& text, std::vector<std::uint32_t>& known, std::uint32_t& unknown) const;

  std::size_t n_;
  std::vector<gram_entry> grams_;
  std::vector<std::uint32_t> free_grams_;
  // Where the id of a gram is found, fastest first: for n <= 3, grams of ASCII word characters
  // (after folding: a-z, 0-9, _ ' . , and the padding space) index a dense table of 42^n ids;
  // other grams of up to 8 bytes (nearly all: a trigram of letters below U+0800) are found by
  // their bytes packed in an integer (zero-padded; no gram holds a zero byte); longer ones by text.
  std::vector<std::uint32_t> dense_ids_;  // empty if n > 3
  absl::flat_hash_map<std::uint64_t, std::uint32_t> short_ids_;
  ids_by_text<std::vector<gram_entry>> long_ids_;
  std::uint64_t live_grams_ = 0;
  std::vector<std::uint32_t> size_;   // per document id: its number of distinct grams
  std::vector<byte_blob> forward_;    // per document id
  std::uint64_t documents_ = 0;
  std::uint64_t postings_ = 0;
  std::uint64_t stale_ = 0;
  std::uint64_t forward_bytes_ = 0;
  std::vector<std::uint32_t> ids_;     // add()'s scratch
  std::vector<std::uint32_t> sort_scratch_;
  std::vector<std::uint32_t> seen_;    // per gram id: 1 + the last document add() met it in
  std::vector<std::uint8_t> record_;   // add()'s scratch
  std::vector<std::uint8_t> codes_;    // add_dense_word()'s scratch
  std::string scratch_;  // add()'s
};

}  // namespace kv::search

#pragma once
// The inverted index behind full-text search.
//
// Data: a term dictionary (id <-> term; hashed for exact lookup, ordered for prefix ranges) and per
// term a posting list of (document, term frequency) ascending by document (posting_list.hpp);
// per document its length and a forward record: its distinct term ids, each with its positions.
// The forward record tells remove() which lists to update, and phrase queries where terms sit.
//
// Updates: add() appends one entry to each of the document's term lists (O(terms of the doc),
// amortized); remove() marks those entries dead and compacts a list once its dead entries outnumber
// its live ones, so removal is amortized O(terms of the doc) and dead entries stay bounded. A term
// whose last document goes is dropped from the dictionary at once. Counts (documents, document
// frequencies, lengths) are exact at all times, so scores never depend on history.
//
// Ranking: Okapi BM25 with k1 = 1.2, b = 0.75. For a document d of length |d| (its indexed terms,
// stop words not counted), N documents (those without any term included) of average length avgdl,
// and a term t that occurs tf times in d and in n documents:
//   idf(t)        = ln(1 + (N - n + 0.5) / (n + 0.5))
//   score(t, d)   = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))
//   score(q, d)   = the sum over q's distinct terms present in d, in query order.
// A prefix term scores its best-scoring expansion in d (max over the indexed terms it matches).
// A phrase hit scores like an all-terms hit (the positions decide only whether it matches).
//
// Queries run document-at-a-time over one cursor per query term expansion. OR merges every list
// in document order through a heap, O(P log L) for P postings read from L lists. AND and phrase
// run a zig-zag join: the rarest term proposes a document, every other term's cursors skip ahead
// to it (posting_list skips) and a term that lands past it proposes the next, so the work follows
// the rarest list; a phrase candidate is then checked against its forward record. The best
// offset+limit are kept in a bounded heap. The entries of every list the query may read (dead
// ones included; an upper bound for AND and phrase) and every forward entry decoded count against
// the query's max_postings_scanned.
//
// Threading: none of its own. Const members (search, score, save, memory_bytes) may run on
// several threads at once, with the same doc_table; a non-const member must run alone, with no
// other call in progress. search_index passes this on; the node's index keeps it with a
// reader-writer lock (index/node/node_index.hpp): queries and saves shared, changes exclusive.

#include "core/base/error.hpp"
#include "index/posting_list.hpp"
#include "core/model/query.hpp"
#include "index/text_ids.hpp"
#include "index/tokenizer.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kv::search {

class doc_table;
namespace persist {
class reader;
class writer;
}  // namespace persist

inline constexpr double bm25_k1 = 1.2;
inline constexpr double bm25_b = 0.75;

// One term of an analyzed query.
struct query_term {
  std::string text;            // a folded (and stemmed) term, or a folded prefix
  bool prefix = false;         // matches every indexed term that starts with `text`
  std::uint32_t position = 0;  // its slot in the query, stop words counted (phrase mode)
};

struct text_search {
  match_mode mode = match_mode::all;
  std::vector<query_term> terms;  // at least one; ascending position
  std::uint64_t offset = 0;
  std::uint64_t limit = 10;
  std::string_view key_prefix;
  std::uint64_t max_postings_scanned = UINT64_MAX;
};

class text_index {
 public:
  text_index();
  text_index(const text_index&) = delete;
  text_index& operator=(const text_index&) = delete;

  // Adds document `doc` (an id above every id added before) with the terms of `text`.
  void add(std::uint32_t doc, const analyzed_text& text);
  // Removes a document that was added and not removed.
  void remove(std::uint32_t doc);
  // Renames documents through old_to_new (order-preserving; no_doc for removed ones).
  void remap(std::span<const std::uint32_t> old_to_new, std::uint32_t new_bound);

  // Hits (keys from docs) and the number of matches; errc::too_large if the query would read
  // more than q.max_postings_scanned postings. applied_index is left 0.
  result<search_answer> search(const text_search& q, const doc_table& docs) const;

  std::uint64_t documents() const { return documents_; }
  std::uint64_t terms() const { return by_text_.size(); }
  std::uint64_t postings() const { return postings_; }        // live (document, term) pairs
  std::uint64_t stale_postings() const { return stale_; }     // dead entries not yet compacted
  std::size_t memory_bytes() const;                           // O(terms)
  // The BM25 score of term `text` in the document with this id (0 if absent); for tests.
  double score(std::string_view text, std::uint32_t doc) const;

  // Throws std::logic_error if the posting lists, counts or dictionary disagree with the forward
  // records. O(everything); for tests.
  void check_invariants() const;

  // Writes sections `terms` and `term_documents` (persist.hpp): every term id (free ones
  // included), its list's raw bytes, the dictionary's order, and per document id its length and
  // forward record, so that ids and lists survive a save and load unchanged.
  void save(persist::writer& w) const;
  // Takes back what save() wrote into an empty index whose documents are `docs` (already
  // loaded); rebuilds the dictionary and recounts. Throws persist::format_error.
  void load(persist::reader& r, const doc_table& docs);

 private:
  struct term_entry {
    std::string text;
    posting_list<true> postings;
  };
  struct forward_entry {
    std::uint32_t term;
    std::uint32_t frequency;
    const std::uint8_t* positions;  // `frequency` varints: the first position, then gaps
  };
  static constexpr std::uint32_t absent = UINT32_MAX;  // length_ of an id with no document

  // A query term resolved to the indexed terms it matches.
  struct resolved_term {
    std::vector<std::uint32_t> expansions;
    std::uint32_t position;
    bool scored;  // false for a repeat (phrase mode keeps repeats for their positions)
  };
  // A posting-list reader of one expansion of one query term.
  struct cursor {
    posting_list<true>::cursor postings;
    std::uint32_t term;
    std::uint32_t query_term;
    double idf;
  };
  // What a query knows about the document it is looking at, with scratch reused across documents.
  struct match_state {
    match_state(std::size_t terms, bool phrase) : best(terms, 0), present(terms, 0), positions(phrase ? terms : 0) {}
    void take(std::uint32_t cursor_index, const cursor& c, double norm);
    void reset();

    std::vector<double> best;            // per query term: its best expansion's score here
    std::vector<char> present;           // per query term: found here
    std::vector<std::uint32_t> touched;  // query terms present
    std::vector<std::uint32_t> matched;  // cursors on the document
    std::vector<std::vector<std::uint32_t>> positions;               // phrase: per query term
    std::vector<std::pair<std::uint32_t, std::uint32_t>> wanted;     // phrase: (term, query term)
  };

  bool live(std::uint32_t doc) const { return doc < length_.size() && length_[doc] != absent; }
  std::uint32_t intern(std::string_view text);
  void release(std::uint32_t term);
  static std::vector<forward_entry> decode_forward(const byte_blob& record);
  static void decode_forward(const byte_blob& record, std::vector<forward_entry>& entries);
  double idf(std::uint32_t term) const;
  double length_norm(std::uint32_t doc) const;
  template <typename Consider>
  bool match_any(std::vector<cursor>& cursors, match_state& m, Consider&& consider) const;
  template <typename Consider>
  bool match_all(const std::vector<resolved_term>& query, std::vector<cursor>& cursors,
                 const std::vector<std::uint32_t>& first_cursor, match_state& m, Consider&& consider) const;
  bool phrase_at(std::uint32_t doc, const std::vector<resolved_term>& query, const std::vector<cursor>& cursors,
                 match_state& m, std::uint64_t& scanned) const;

  std::vector<term_entry> terms_;
  std::vector<std::uint32_t> free_terms_;
  ids_by_text<std::vector<term_entry>> by_text_;
  ids_in_text_order<std::vector<term_entry>> ordered_;
  std::vector<std::uint32_t> length_;  // per document id
  std::vector<byte_blob> forward_;     // per document id
  std::uint64_t documents_ = 0;
  std::uint64_t total_length_ = 0;
  std::uint64_t postings_ = 0;
  std::uint64_t stale_ = 0;
  std::uint64_t forward_bytes_ = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs_;  // add()'s scratch: (term, position)
  std::vector<std::uint8_t> record_;                            // add()'s scratch
};

}  // namespace kv::search

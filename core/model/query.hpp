#pragma once
// Search requests and their answers, as the index answers them and as clients send them.
// Header-only with no dependencies beyond the standard library, so the client library can use
// it without linking the index (ICU, Snowball).

#include <cstdint>
#include <string>
#include <vector>

namespace kv::search {

enum class match_mode : std::uint8_t {
  all = 0,     // AND: a document must contain every term
  any = 1,     // OR: a document must contain at least one term
  phrase = 2,  // the terms, in this order, as consecutive words (stop words keep their place)
};

// A full-text query. `terms` are what the user typed (one word each, or whole phrases: each is
// tokenized like a value). A term ending in '*' is a prefix term: it matches every indexed word
// that starts with the rest (after lower-casing; never stemmed).
struct text_query {
  match_mode mode = match_mode::all;
  std::vector<std::string> terms;
  std::uint32_t limit = 10;   // hits returned at most
  std::uint32_t offset = 0;   // hits skipped first (paging), after ranking
  std::string key_prefix;     // only keys starting with this ("" = every key)
};

// A similarity query: documents whose character n-gram sets have a Jaccard similarity of at
// least `threshold` with the n-grams of `text`, the `k` most similar first.
struct similar_query {
  std::string text;
  std::uint32_t k = 10;
  double threshold = 0.3;  // in [0, 1]
};

struct hit {
  std::string key;
  double score = 0;  // BM25 for text queries; Jaccard similarity in [0, 1] for similar
};

// Hits best first (ties: by key, ascending), so equal indexes answer identically on every node.
struct search_answer {
  std::vector<hit> hits;
  std::uint64_t total = 0;          // documents that matched, before offset and limit
  std::uint64_t applied_index = 0;  // the log index the index reflected when it answered
};

}  // namespace kv::search

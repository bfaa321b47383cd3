#pragma once
// How far the systems' answers agree, computed after the timed runs from the answers of the
// one-client runs.
//
// - Text queries (kvnode against SQLite FTS5): per query, whether both counted the same number
//   of matches, and how many of the top-10 keys they share.
// - Similarity (kvnode and PostgreSQL against a reference): recall@10 with ties counted as
//   hits: a returned key is right if its exact similarity is at least the reference's k-th
//   best. The reference is the brute-force answer (bench/trigram.hpp), or PostgreSQL's own
//   answer where the corpus is too large for brute force.

#include "bench/search_run.hpp"
#include "bench/trigram.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kv::bench {

struct text_agreement {
  query_class kind = query_class::all_words;
  std::uint64_t queries = 0;       // answered by both
  std::uint64_t equal_totals = 0;  // both counted the same number of matches
  std::uint64_t total_a = 0;       // matches, summed over the queries
  std::uint64_t total_b = 0;
  std::uint64_t shared = 0;        // top-10 keys in both answers, summed
  std::uint64_t possible = 0;      // per query the larger top-10, summed
  std::vector<std::string> examples;  // a few queries whose totals differ

  double overlap() const { return possible ? static_cast<double>(shared) / static_cast<double>(possible) : 1.0; }
};

inline text_agreement compare_text(query_class kind, const std::vector<std::vector<std::string>>& queries,
                                   const std::vector<answer>& a, const std::vector<answer>& b) {
  text_agreement out;
  out.kind = kind;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (!a[i].ok || !b[i].ok) continue;
    ++out.queries;
    out.total_a += a[i].total;
    out.total_b += b[i].total;
    if (a[i].total == b[i].total) {
      ++out.equal_totals;
    } else if (out.examples.size() < 5) {
      std::string q;
      for (const auto& t : queries[i]) q += (q.empty() ? "" : " ") + t;
      out.examples.push_back(fmt::format("\"{}\": {} vs {}", q, a[i].total, b[i].total));
    }
    for (const auto& k : a[i].keys) out.shared += std::count(b[i].keys.begin(), b[i].keys.end(), k) > 0;
    out.possible += std::max(a[i].keys.size(), b[i].keys.size());
  }
  return out;
}

struct similarity_recall {
  std::string system;
  std::string reference;            // "exact" or the system used as reference
  std::uint64_t queries = 0;        // answered by the system and the reference
  std::uint64_t with_matches = 0;   // of which the reference found at least one match
  std::uint64_t hits = 0;
  std::uint64_t expected = 0;       // sum over queries of min(10, reference matches)
  std::uint64_t false_positives = 0;  // returned keys below the threshold (exactly computed)
  std::uint64_t reference_matches = 0;  // all matches the reference knows of (exact: every one)
  double max_score_error = 0;       // |score the system reported - exact similarity|, largest
  std::string worst;                // the query and key of that largest error

  double recall() const { return expected ? static_cast<double>(hits) / static_cast<double>(expected) : 1.0; }
};

// The reference answer to one similarity query: matching documents, best first (possibly only
// the top k), with exact scores.
using reference_answer = std::vector<scored_doc>;

class similarity_judge {
 public:
  similarity_judge(const std::vector<document>& docs, double threshold) : docs_(docs), threshold_(threshold) {
    for (std::size_t d = 0; d < docs.size(); ++d) index_.emplace(docs[d].key, static_cast<std::uint32_t>(d));
  }

  // Exact similarity of a query's trigrams to the document with `key`; -1 if no such key.
  double exact(const trigram_set& q, const std::string& key) const {
    auto it = index_.find(key);
    return it == index_.end() ? -1 : similarity(q, trigrams(docs_[it->second].value));
  }

  // A system's answers as a reference: its keys rescored exactly, best first.
  reference_answer from_answer(const std::string& text, const answer& a) const {
    auto q = trigrams(text);
    reference_answer out;
    for (const auto& k : a.keys) {
      auto it = index_.find(k);
      if (it == index_.end()) continue;
      auto s = similarity(q, trigrams(docs_[it->second].value));
      if (s >= threshold_ - 1e-9) out.push_back({it->second, s});
    }
    std::sort(out.begin(), out.end(), [](const scored_doc& x, const scored_doc& y) { return x.score > y.score; });
    return out;
  }

  // Adds one query's outcome for `a` against `ref` (all the reference's matches, best first).
  void judge(similarity_recall& r, const std::string& text, const answer& a, const reference_answer& ref,
             std::size_t k = 10) const {
    if (!a.ok) return;
    auto q = trigrams(text);
    ++r.queries;
    r.reference_matches += ref.size();
    auto want = std::min(k, ref.size());
    r.with_matches += want > 0;
    r.expected += want;
    double boundary = want ? ref[want - 1].score : 2.0;
    std::uint64_t hits = 0;
    for (std::size_t j = 0; j < a.keys.size() && j < k; ++j) {
      auto s = exact(q, a.keys[j]);
      if (s < threshold_ - 1e-9) ++r.false_positives;
      if (s >= boundary - 1e-9) ++hits;
      if (j < a.scores.size() && std::abs(a.scores[j] - s) > r.max_score_error) {
        r.max_score_error = std::abs(a.scores[j] - s);
        r.worst = fmt::format("\"{}\" -> {} ({:.4f}, exact {:.4f})", text, a.keys[j], a.scores[j], s);
      }
    }
    r.hits += std::min<std::uint64_t>(hits, want);
  }

 private:
  const std::vector<document>& docs_;
  double threshold_;
  std::unordered_map<std::string_view, std::uint32_t> index_;
};

}  // namespace kv::bench

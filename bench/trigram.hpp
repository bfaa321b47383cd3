#pragma once
// Trigram similarity, computed by brute force in the benchmark, to measure the recall of other
// systems. kvnode (index/tokenizer.hpp) and pg_trgm (in a database whose ctype is C.UTF-8) take
// the same words from a text: maximal runs of letters and digits, lower-cased; every other
// character separates words ("don't", "example.com", "3.14" and "x86_64" are two words each).
// Approximated here: a non-ASCII character counts as a letter unless it is in a block of
// punctuation or symbols, and only Latin-1 capitals are folded (kvnode asks ICU and folds with
// NFKC_Casefold, PostgreSQL asks the C library's iswalnum and towlower).
//
// Each word is padded with two spaces before and one after ("  word "), the trigrams are its
// windows of 3 characters (code points), and a text's set keeps each trigram once.
// similarity(a, b) = |A ∩ B| / |A ∪ B|.

#include "bench/search_corpus.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kv::bench {

// A trigram set: codes of trigrams (their bytes packed, or a hash past 8 bytes), sorted, unique.
using trigram_set = std::vector<std::uint64_t>;

namespace detail {

inline bool ascii_letter(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

inline std::uint64_t gram_code(std::string_view g) {
  std::uint64_t code = 0;
  if (g.size() <= 8) {
    std::memcpy(&code, g.data(), g.size());
    return code;
  }
  code = 1469598103934665603ULL;  // FNV-1a, top bit set so it never equals a packed gram
  for (unsigned char c : g) code = (code ^ c) * 1099511628211ULL;
  return code | (1ULL << 63);
}

// Adds the trigrams of one (folded) word to `out`.
inline void add_word(std::string_view word, std::string& padded, trigram_set& out) {
  padded.assign("  ");
  padded.append(word);
  padded.push_back(' ');
  auto step = [&](std::size_t at) {
    auto lead = static_cast<unsigned char>(padded[at]);
    return static_cast<std::size_t>(lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2);
  };
  std::size_t begin = 0, end = 0;
  for (int k = 0; k < 3; ++k) end += step(end);
  for (;;) {
    out.push_back(gram_code(std::string_view(padded).substr(begin, end - begin)));
    if (end >= padded.size()) return;
    begin += step(begin);
    end += step(end);
  }
}

// The code points of UTF-8 `text` (a malformed byte stands for itself).
inline std::vector<char32_t> code_points(std::string_view text) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < text.size();) {
    auto lead = static_cast<unsigned char>(text[i]);
    std::size_t n = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (i + n > text.size()) n = 1;
    char32_t cp = n == 1 ? lead : lead & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A non-ASCII code point is a letter unless it is in one of the blocks of punctuation and symbols
// that descriptions use (Latin-1 symbols, general punctuation, arrows to miscellaneous symbols,
// CJK punctuation).
inline bool unicode_letter(char32_t cp) {
  return cp >= 0x80 && !(cp <= 0xBF) && cp != 0xD7 && cp != 0xF7 && !(cp >= 0x2000 && cp <= 0x206F) &&
         !(cp >= 0x2190 && cp <= 0x2BFF) && !(cp >= 0x3000 && cp <= 0x303F);
}

inline bool word_char(char32_t c) {
  return (c < 0x80 && (ascii_letter(static_cast<unsigned char>(c)) || (c >= '0' && c <= '9'))) || unicode_letter(c);
}

// The words of `text`, folded, passed to f one by one.
template <typename F>
void for_each_word(std::string_view text, F&& f) {
  auto cps = code_points(text);
  std::string word;
  for (std::size_t i = 0; i < cps.size();) {
    if (!word_char(cps[i])) {
      ++i;
      continue;
    }
    word.clear();
    for (; i < cps.size() && word_char(cps[i]); ++i) {
      auto c = cps[i];
      if (c >= 'A' && c <= 'Z') c += 32;
      if (c >= 0xC0 && c <= 0xDE && c != 0xD7) c += 32;  // Latin-1 capitals
      append_utf8(word, c);
    }
    f(std::string_view(word));
  }
}

}  // namespace detail

inline trigram_set trigrams(std::string_view text) {
  trigram_set out;
  std::string padded;
  detail::for_each_word(text, [&](std::string_view w) { detail::add_word(w, padded, out); });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

inline double similarity(const trigram_set& a, const trigram_set& b) {
  std::size_t common = 0;
  for (auto i = a.begin(), j = b.begin(); i != a.end() && j != b.end();) {
    if (*i < *j) {
      ++i;
    } else if (*j < *i) {
      ++j;
    } else {
      ++common, ++i, ++j;
    }
  }
  auto all = a.size() + b.size() - common;
  return all == 0 ? 0.0 : static_cast<double>(common) / static_cast<double>(all);
}

struct scored_doc {
  std::uint32_t doc = 0;
  double score = 0;
};

// Exact similarity search over a fixed set of documents: an inverted index from trigram to
// documents, and a count of common trigrams per document for each query.
class trigram_oracle {
 public:
  trigram_oracle(const std::vector<document>& docs) : sizes_(docs.size()), counts_(docs.size(), 0) {
    std::vector<std::vector<std::uint32_t>> sets(docs.size());
    std::vector<std::uint32_t> per_gram;
    for (std::size_t d = 0; d < docs.size(); ++d) {
      auto codes = trigrams(docs[d].value);
      sizes_[d] = static_cast<std::uint32_t>(codes.size());
      for (auto code : codes) {
        auto [it, fresh] = ids_.emplace(code, static_cast<std::uint32_t>(ids_.size()));
        if (fresh) per_gram.push_back(0);
        ++per_gram[it->second];
        sets[d].push_back(it->second);
      }
    }
    start_.assign(per_gram.size() + 1, 0);
    for (std::size_t g = 0; g < per_gram.size(); ++g) start_[g + 1] = start_[g] + per_gram[g];
    postings_.resize(start_.back());
    auto fill = start_;
    for (std::size_t d = 0; d < docs.size(); ++d) {
      for (auto g : sets[d]) postings_[fill[g]++] = static_cast<std::uint32_t>(d);
      std::vector<std::uint32_t>().swap(sets[d]);
    }
  }

  // Every document with similarity >= threshold (> 0) to `text`, best first, ties by document.
  std::vector<scored_doc> search(std::string_view text, double threshold) {
    auto q = trigrams(text);
    std::vector<std::uint32_t> touched;
    for (auto code : q) {
      auto it = ids_.find(code);
      if (it == ids_.end()) continue;
      for (auto p = start_[it->second]; p < start_[it->second + 1]; ++p) {
        auto d = postings_[p];
        if (counts_[d]++ == 0) touched.push_back(d);
      }
    }
    std::vector<scored_doc> out;
    for (auto d : touched) {
      auto common = counts_[d];
      counts_[d] = 0;
      auto s = static_cast<double>(common) / static_cast<double>(q.size() + sizes_[d] - common);
      if (s >= threshold) out.push_back({d, s});
    }
    std::sort(out.begin(), out.end(), [](const scored_doc& a, const scored_doc& b) {
      return a.score != b.score ? a.score > b.score : a.doc < b.doc;
    });
    return out;
  }

 private:
  std::unordered_map<std::uint64_t, std::uint32_t> ids_;  // trigram code -> dense id
  std::vector<std::uint32_t> sizes_;    // per document: its trigram count
  std::vector<std::uint32_t> counts_;   // per document: common trigrams with the current query
  std::vector<std::uint64_t> start_;    // per trigram id: its first posting
  std::vector<std::uint32_t> postings_;
};

}  // namespace kv::bench

#pragma once
// The search benchmark's queries, drawn deterministically (a seed) from the corpus, and the same
// list sent to every system.
//
// - and / or: 2-3 distinct words from one random document;
// - phrase: a run of 2-3 consecutive words of one random document;
// - similar: the first ~60 bytes of one random document's value, with 2 character edits.
//
// Words are chosen so that every tokenizer in the comparison cuts them the same way: lower-cased
// ASCII letters and digits (not only digits), at least 3 long, not a stop word, with only spaces,
// brackets, quotes or sentence punctuation around them ("x86_64", "user's", "e.g.", "TCP/IP" and
// words next to non-ASCII letters are never drawn). A phrase's words are separated by one space.
// Stop words are left out because kvnode drops them from queries and SQLite's tokenizer does not.

#include "bench/search_corpus.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace kv::bench {

enum class query_class : std::uint8_t { all_words, any_word, phrase, similar };

inline const char* class_name(query_class c) {
  switch (c) {
    case query_class::all_words: return "and";
    case query_class::any_word: return "or";
    case query_class::phrase: return "phrase";
    case query_class::similar: return "similar";
  }
  return "?";
}

struct query_set {
  std::vector<std::vector<std::string>> all_words;  // AND
  std::vector<std::vector<std::string>> any_word;   // OR
  std::vector<std::vector<std::string>> phrases;    // consecutive words, in order
  std::vector<std::string> similar;                 // texts
};

// English stop words: a superset of the usual lists (Snowball, Lucene, PostgreSQL's english).
inline bool is_stop_word(std::string_view w) {
  static const std::unordered_set<std::string_view> words{
      "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "aren",
      "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can",
      "cannot", "could", "couldn", "did", "didn", "do", "does", "doesn", "doing", "don", "down", "during", "each",
      "few", "for", "from", "further", "had", "hadn", "has", "hasn", "have", "haven", "having", "he", "her", "here",
      "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "isn", "it", "its",
      "itself", "just", "let", "ll", "me", "more", "most", "mustn", "my", "myself", "no", "nor", "not", "now", "of",
      "off", "on", "once", "only", "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own", "re",
      "same", "shan", "she", "should", "shouldn", "so", "some", "such", "than", "that", "the", "their", "theirs",
      "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under",
      "until", "up", "ve", "very", "was", "wasn", "we", "were", "weren", "what", "when", "where", "which", "while",
      "who", "whom", "why", "will", "with", "won", "would", "wouldn", "you", "your", "yours", "yourself",
      "yourselves"};
  return words.contains(w);
}

// A word of a value: [begin, end) in bytes, and its lower-cased text.
struct word_span {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;
};

inline bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The words of `value` that qualify for queries (see the header comment), in order.
inline std::vector<word_span> query_words(std::string_view value) {
  auto clean_before = [&](std::size_t i) {
    if (i == 0) return true;
    char c = value[i - 1];
    return c == ' ' || c == '\n' || c == '\t' || c == '(' || c == '[' || c == '"';
  };
  auto clean_after = [&](std::size_t i) {
    if (i == value.size()) return true;
    char c = value[i];
    if (c == '.') return i + 1 == value.size() || value[i + 1] == ' ' || value[i + 1] == '\n';
    return c == ' ' || c == '\n' || c == '\t' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' ||
           c == ')' || c == ']' || c == '"';
  };
  std::vector<word_span> out;
  for (std::size_t i = 0; i < value.size();) {
    if (!is_ascii_alnum(value[i])) {
      ++i;
      continue;
    }
    auto begin = i;
    bool letters = false;
    std::string text;
    for (; i < value.size() && is_ascii_alnum(value[i]); ++i) {
      char c = value[i];
      letters |= !(c >= '0' && c <= '9');
      text += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    if (letters && text.size() >= 3 && clean_before(begin) && clean_after(i) && !is_stop_word(text)) {
      out.push_back({begin, i, std::move(text)});
    }
  }
  return out;
}

// `words` distinct words from one document, or nothing if it has too few.
inline std::vector<std::string> draw_words(std::string_view value, std::size_t words, std::mt19937_64& rng) {
  auto candidates = query_words(value);
  std::vector<std::string> out;
  for (int attempt = 0; attempt < 32 && out.size() < words && !candidates.empty(); ++attempt) {
    auto& w = candidates[rng() % candidates.size()].text;
    if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
  }
  if (out.size() < words) out.clear();
  return out;
}

// `words` consecutive words of one document, one space apart, or nothing.
inline std::vector<std::string> draw_phrase(std::string_view value, std::size_t words, std::mt19937_64& rng) {
  auto candidates = query_words(value);
  if (candidates.size() < words) return {};
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto first = rng() % (candidates.size() - words + 1);
    std::vector<std::string> out{candidates[first].text};
    for (auto j = first + 1; j < first + words; ++j) {
      if (candidates[j].begin != candidates[j - 1].end + 1 || value[candidates[j - 1].end] != ' ') break;
      out.push_back(candidates[j].text);
    }
    if (out.size() == words) return out;
  }
  return {};
}

// The first ~`length` bytes of `value` (cut on a character boundary, newlines as spaces) with
// `edits` random single-character edits (substitute, insert or delete a lower-case letter) at
// ASCII positions.
inline std::string similar_text(std::string_view value, std::size_t length, int edits, std::mt19937_64& rng) {
  auto cut = std::min(length, value.size());
  while (cut < value.size() && cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  std::string text(value.substr(0, cut));
  for (auto& c : text) {
    if (c == '\n') c = ' ';
  }
  for (int e = 0; e < edits && text.size() > 1; ++e) {
    std::size_t at = rng() % text.size();
    for (int tries = 0; tries < 8 && (static_cast<unsigned char>(text[at]) & 0x80); ++tries) at = rng() % text.size();
    if (static_cast<unsigned char>(text[at]) & 0x80) continue;
    char letter = static_cast<char>('a' + rng() % 26);
    switch (rng() % 3) {
      case 0: text[at] = letter; break;
      case 1: text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), letter); break;
      default: text.erase(at, 1); break;
    }
  }
  return text;
}

// `n` queries of each class over `docs`, from `seed`.
inline query_set make_queries(const std::vector<document>& docs, std::size_t n, std::uint64_t seed) {
  query_set q;
  std::mt19937_64 rng(seed);
  auto doc = [&]() -> const std::string& { return docs[rng() % docs.size()].value; };
  auto fill = [&](std::vector<std::vector<std::string>>& out, auto draw) {
    for (std::size_t attempts = 0; out.size() < n && attempts < 100 * n; ++attempts) {
      auto words = draw(doc(), 2 + rng() % 2, rng);
      if (!words.empty()) out.push_back(std::move(words));
    }
  };
  fill(q.all_words, draw_words);
  fill(q.any_word, draw_words);
  fill(q.phrases, draw_phrase);
  while (q.similar.size() < n) q.similar.push_back(similar_text(doc(), 60, 2, rng));
  return q;
}

}  // namespace kv::bench

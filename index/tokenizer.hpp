#pragma once
// Text analysis: UTF-8 text -> case-folded words (for n-grams) and terms with positions (for the
// inverted index). The same pipeline serves values and queries, so they meet in the same terms.
//
// Words. A word is a maximal run of letters (Unicode L*), decimal digits (Nd) and combining marks
// (M*, so decomposed accents stay inside). Everything else separates words: "don't" -> "don"
// "t", "library's" -> "library" "s", "example.com" -> "example" "com", "snake_case" -> "snake"
// "case", "3.14" -> "3" "14", "python3.11" -> "python3" "11". So a search for "library" finds
// "library's" and "python3" finds "python3.11", and a phrase query ("example.com", "3.14") still
// finds the whole name or number. These are the words of SQLite FTS5's unicode61 tokenizer and
// of pg_trgm, so the three find the same documents. Word characters are read from ICU's
// character properties in one pass over the bytes with an ASCII fast path; ICU's BreakIterator
// (UAX #29) is several times slower, would keep numbers and "python3.11" whole, and only adds
// dictionary segmentation of Thai, Lao, Khmer and Burmese (here a run of such letters is one
// word).
//
// Folding. Each word is folded with ICU's NFKC_Casefold: full Unicode case folding ("Straße" ->
// "strasse", "ÉCOLE" -> "école") plus NFKC, so composed and decomposed forms, full-width letters
// and ligatures index alike. ASCII words take a fast path (lower-casing).
//
// Diacritics (remove_diacritics, on by default). Before stop words and stemming, a term's Latin
// letters lose their diacritics: each is replaced by its canonical decomposition without the
// non-spacing marks ("naïve" -> "naive", "Ångström" -> "angstrom", "ệ" -> "e"), and a non-spacing
// mark that follows a Latin letter is dropped. Letters without a decomposition stay ("ø", "ł",
// "đ"), and so do the marks of other scripts, which there often make another letter (Greek
// "ά", Cyrillic "й", Devanagari vowel signs). This is what SQLite FTS5's unicode61 tokenizer does
// by default, so "naive" finds "naïve" there and here. The words that n-grams are made of keep their
// marks (as in pg_trgm).
//
// Terms. Each ideograph (Han) and each hiragana letter of a word is a term of its own, as in
// UAX #29 and Lucene's StandardTokenizer ("東京" -> "東", "京"); otherwise a word is one term.
// Every term takes the next position. A stop word (compared after folding) is then dropped but
// keeps its position, so a phrase query with a stop word in it requires a word (any word) in that
// slot: "state of the art" finds "state of the art" and also "state in the art", never "state art".
// Remaining terms are stemmed when a Snowball language is configured.
//
// Threading: a tokenizer is not thread-safe, const members included (the stemmer has state).

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/functional/function_ref.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct sb_stemmer;

namespace kv::search {

// The length of the UTF-8 sequence that starts with `lead` (valid UTF-8 assumed).
constexpr std::size_t utf8_sequence_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
}

// True if text is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view text) noexcept;

// Calls f(word) with each folded word of text (valid UTF-8), in order. The view is valid during
// the call only. `scratch` is a reusable buffer.
void for_each_word(std::string_view text, std::string& scratch, absl::FunctionRef<void(std::string_view)> f);

// The folded form of one word (or of any text: NFKC_Casefold).
std::string fold(std::string_view text);

// Calls f(piece) for each term-sized piece of a folded word: the word itself, or its ideographs
// and hiragana letters one by one with the runs between them.
void for_each_piece(std::string_view word, absl::FunctionRef<void(std::string_view)> f);

// One value, analyzed; reused across calls to keep allocations down.
class analyzed_text {
 public:
  void clear();

  std::size_t word_count() const { return word_ends_.size(); }
  std::string_view word(std::size_t i) const;

  // The indexed terms (stop words left out), in position order.
  std::size_t term_count() const { return terms_.size(); }
  std::string_view term(std::size_t i) const;
  std::uint32_t position(std::size_t i) const { return terms_[i].position; }

 private:
  friend class tokenizer;
  struct term_ref {
    std::uint32_t end;  // in term_text_; begins at the previous term's end
    std::uint32_t position;
  };
  std::string words_;
  std::vector<std::uint32_t> word_ends_;
  std::string term_text_;
  std::vector<term_ref> terms_;
};

class tokenizer {
 public:
  // stop_words are folded (and their diacritics removed, if asked) here. Throws
  // std::invalid_argument naming stemming_language if libstemmer has no such algorithm ("" turns
  // stemming off).
  tokenizer(const std::vector<std::string>& stop_words, const std::string& stemming_language, bool remove_diacritics);
  ~tokenizer();
  tokenizer(const tokenizer&) = delete;
  tokenizer& operator=(const tokenizer&) = delete;

  // Fills out (cleared first) with text's words and terms. text must be valid UTF-8.
  void analyze(std::string_view text, analyzed_text& out) const;

  // A folded piece without the diacritics of its Latin letters, when this tokenizer removes them;
  // else the piece itself. The view is valid until the next call.
  std::string_view unaccent(std::string_view piece) const;

  bool is_stop_word(std::string_view folded) const {
    return stop_words_.contains(absl::string_view(folded.data(), folded.size()));
  }
  // The term a folded, unaccented, non-stop piece is indexed as (its stem, or itself). Valid until
  // the next call.
  std::string_view stem(std::string_view folded) const;

  // For tests: the terms of text, with "" in the slot of each stop word.
  std::vector<std::string> terms(std::string_view text) const;

 private:
  // Stemming a word costs far more than a hash lookup, and words repeat: remember up to this
  // many stems (then start over).
  static constexpr std::size_t stem_cache_entries = 1 << 16;

  absl::flat_hash_set<std::string> stop_words_;
  sb_stemmer* stemmer_ = nullptr;
  mutable absl::flat_hash_map<std::string, std::string> stem_cache_;
  bool remove_diacritics_;
  mutable std::string scratch_;
  mutable std::string unaccented_;
};

}  // namespace kv::search

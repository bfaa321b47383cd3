#include "index/tokenizer.hpp"

#include <libstemmer.h>
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <array>
#include <cstring>
#include <new>
#include <stdexcept>

namespace kv::search {
namespace {

// What a code point does in a word (see the header's rules).
enum class char_class : std::uint8_t { other, letter, digit, extend };

constexpr std::array<char_class, 128> ascii_classes = [] {
  std::array<char_class, 128> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = char_class::letter;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = char_class::letter;
  for (int c = '0'; c <= '9'; ++c) t[c] = char_class::digit;
  return t;
}();

char_class classify(UChar32 c) {
  if (c < 0x80) return ascii_classes[c];
  switch (u_charType(c)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return char_class::letter;
    case U_DECIMAL_DIGIT_NUMBER:
      return char_class::digit;
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
      return char_class::extend;
    default:
      return char_class::other;
  }
}

bool in_word(char_class k) {
  return k == char_class::letter || k == char_class::digit || k == char_class::extend;
}

struct code_point {
  UChar32 value;
  char_class kind;
  std::size_t next;  // byte offset after it
};

// The code point at byte i of valid UTF-8.
code_point decode(std::string_view s, std::size_t i) {
  auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return {lead, ascii_classes[lead], i + 1};
  std::size_t len = utf8_sequence_length(lead);
  UChar32 c = lead & (0x7f >> len);
  for (std::size_t k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  return {c, classify(c), i + len};
}

void fold_into(std::string_view text, bool ascii, std::string& out) {
  out.clear();
  if (ascii) {
    out.resize(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
    }
    return;
  }
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(err);
  if (U_FAILURE(err)) throw std::runtime_error(std::string("ICU NFKC_Casefold: ") + u_errorName(err));
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
  nfkc_cf->normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())), sink, nullptr, err);
  if (U_FAILURE(err)) throw std::runtime_error(std::string("ICU NFKC_Casefold: ") + u_errorName(err));
}

bool all_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool is_latin(UChar32 c) {
  UErrorCode err = U_ZERO_ERROR;
  return uscript_getScript(c, &err) == USCRIPT_LATIN;
}

// Appends piece (folded, so NFC) to out without the diacritics of its Latin letters (see the
// header). Returns false, leaving out as it was, if there is nothing to remove.
bool append_unaccented(std::string_view piece, std::string& out) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(err);
  if (U_FAILURE(err)) throw std::runtime_error(std::string("ICU NFD: ") + u_errorName(err));
  const std::size_t start = out.size();
  bool changed = false;
  bool after_latin = false;  // the last letter kept was Latin: a mark after it goes
  icu::UnicodeString decomposition;
  std::size_t i = 0;
  while (i < piece.size()) {
    code_point cp = decode(piece, i);
    const std::string_view bytes = piece.substr(i, cp.next - i);
    i = cp.next;
    if (cp.value < 0x80) {
      out.append(bytes);
      after_latin = true;
      continue;
    }
    if (cp.kind == char_class::extend) {
      if (after_latin && u_charType(cp.value) == U_NON_SPACING_MARK) {
        changed = true;
      } else {
        out.append(bytes);
      }
      continue;
    }
    after_latin = is_latin(cp.value);
    if (!after_latin || !nfd->getDecomposition(cp.value, decomposition)) {
      out.append(bytes);
      continue;
    }
    for (int32_t k = 0; k < decomposition.length();) {
      UChar32 part = decomposition.char32At(k);
      k += U16_LENGTH(part);
      if (u_charType(part) == U_NON_SPACING_MARK) continue;
      char utf8[4];
      int32_t n = 0;
      U8_APPEND_UNSAFE(utf8, n, part);
      out.append(utf8, static_cast<std::size_t>(n));
    }
    changed = true;
  }
  if (!changed) out.resize(start);
  return changed;
}

bool stands_alone(UChar32 c) {
  if (u_hasBinaryProperty(c, UCHAR_IDEOGRAPHIC)) return true;
  UErrorCode err = U_ZERO_ERROR;
  return uscript_getScript(c, &err) == USCRIPT_HIRAGANA;
}

std::string known_stemmers() {
  std::string names;
  for (const char** name = sb_stemmer_list(); *name != nullptr; ++name) {
    if (!names.empty()) names += ", ";
    names += *name;
  }
  return names;
}

}  // namespace

bool valid_utf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p == end) break;
    unsigned lead = *p;
    if (lead < 0x80) {
      ++p;
      continue;
    }
    if (lead < 0xC2 || lead > 0xF4) return false;  // continuation byte, overlong 2-byte, > U+10FFFF
    std::size_t len = utf8_sequence_length(static_cast<unsigned char>(lead));
    if (static_cast<std::size_t>(end - p) < len) return false;
    std::uint32_t c = lead & (0x7f >> len);
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
      c = (c << 6) | (p[k] & 0x3f);
    }
    if (len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) return false;
    if (len == 4 && (c < 0x10000 || c > 0x10FFFF)) return false;
    p += len;
  }
  return true;
}

void for_each_word(std::string_view text, std::string& scratch, absl::FunctionRef<void(std::string_view)> f) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    code_point cp = decode(text, i);
    if (!in_word(cp.kind)) {
      i = cp.next;
      continue;
    }
    const std::size_t start = i;
    bool ascii = cp.value < 0x80;
    i = cp.next;
    while (i < n) {
      code_point next = decode(text, i);
      if (!in_word(next.kind)) break;
      ascii &= next.value < 0x80;
      i = next.next;
    }
    fold_into(text.substr(start, i - start), ascii, scratch);
    if (!scratch.empty()) f(scratch);
  }
}

std::string fold(std::string_view text) {
  std::string out;
  fold_into(text, all_ascii(text), out);
  return out;
}

void for_each_piece(std::string_view word, absl::FunctionRef<void(std::string_view)> f) {
  if (all_ascii(word)) {
    f(word);
    return;
  }
  std::size_t run = 0;  // start of the current run
  std::size_t i = 0;
  while (i < word.size()) {
    code_point cp = decode(word, i);
    if (cp.value >= 0x2E80 && stands_alone(cp.value)) {  // no ideograph or kana below U+2E80
      if (run < i) f(word.substr(run, i - run));
      f(word.substr(i, cp.next - i));
      run = cp.next;
    }
    i = cp.next;
  }
  if (run < word.size()) f(word.substr(run));
}

void analyzed_text::clear() {
  words_.clear();
  word_ends_.clear();
  term_text_.clear();
  terms_.clear();
}

std::string_view analyzed_text::word(std::size_t i) const {
  std::uint32_t begin = i == 0 ? 0 : word_ends_[i - 1];
  return std::string_view(words_).substr(begin, word_ends_[i] - begin);
}

std::string_view analyzed_text::term(std::size_t i) const {
  std::uint32_t begin = i == 0 ? 0 : terms_[i - 1].end;
  return std::string_view(term_text_).substr(begin, terms_[i].end - begin);
}

tokenizer::tokenizer(const std::vector<std::string>& stop_words, const std::string& stemming_language,
                     bool remove_diacritics)
    : remove_diacritics_(remove_diacritics) {
  for (const auto& w : stop_words) stop_words_.insert(std::string(unaccent(fold(w))));
  if (!stemming_language.empty()) {
    stemmer_ = sb_stemmer_new(stemming_language.c_str(), "UTF_8");
    if (stemmer_ == nullptr) {
      throw std::invalid_argument("stemming_language: no Snowball stemmer named '" + stemming_language +
                                  "' (known: " + known_stemmers() + ")");
    }
  }
}

tokenizer::~tokenizer() {
  if (stemmer_ != nullptr) sb_stemmer_delete(stemmer_);
}

std::string_view tokenizer::unaccent(std::string_view piece) const {
  if (!remove_diacritics_ || all_ascii(piece)) return piece;
  unaccented_.clear();
  return append_unaccented(piece, unaccented_) ? std::string_view(unaccented_) : piece;
}

std::string_view tokenizer::stem(std::string_view folded) const {
  if (stemmer_ == nullptr) return folded;
  if (auto it = stem_cache_.find(absl::string_view(folded.data(), folded.size())); it != stem_cache_.end()) return it->second;
  const sb_symbol* stemmed = sb_stemmer_stem(stemmer_, reinterpret_cast<const sb_symbol*>(folded.data()),
                                             static_cast<int>(folded.size()));
  if (stemmed == nullptr) throw std::bad_alloc();
  std::string value(reinterpret_cast<const char*>(stemmed), static_cast<std::size_t>(sb_stemmer_length(stemmer_)));
  if (stem_cache_.size() >= stem_cache_entries) stem_cache_.clear();
  return stem_cache_.emplace(std::string(folded), std::move(value)).first->second;
}

void tokenizer::analyze(std::string_view text, analyzed_text& out) const {
  out.clear();
  std::uint32_t position = 0;
  for_each_word(text, scratch_, [&](std::string_view word) {
    out.words_.append(word);
    out.word_ends_.push_back(static_cast<std::uint32_t>(out.words_.size()));
    for_each_piece(word, [&](std::string_view folded) {
      std::uint32_t at = position++;
      std::string_view piece = unaccent(folded);
      if (is_stop_word(piece)) return;
      out.term_text_.append(stem(piece));
      out.terms_.push_back({static_cast<std::uint32_t>(out.term_text_.size()), at});
    });
  });
}

std::vector<std::string> tokenizer::terms(std::string_view text) const {
  analyzed_text a;
  analyze(text, a);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < a.term_count(); ++i) {
    out.resize(a.position(i));
    out.emplace_back(a.term(i));
  }
  return out;
}

}  // namespace kv::search

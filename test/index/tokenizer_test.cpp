#include "index/ngram_index.hpp"
#include "index/tokenizer.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using strings = std::vector<std::string>;

namespace {

strings grams(std::string_view word, std::size_t n) {
  strings out;
  std::string scratch;
  kv::search::for_each_ngram(word, n, scratch, [&](std::string_view g) { out.emplace_back(g); });
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tokenizer)

BOOST_AUTO_TEST_CASE(unicode_words_are_case_folded) {
  kv::search::tokenizer t({}, "", false);
  // Full case folding (ß -> ss), accents kept, each ideograph a term of its own.
  BOOST_TEST(t.terms("Straße ÉCOLE naïve 東京") == (strings{"strasse", "école", "naïve", "東", "京"}),
             boost::test_tools::per_element());
  // A decomposed accent (i + U+0308) folds like the composed one; full-width letters like ASCII.
  BOOST_TEST(t.terms("nai\xCC\x88ve \xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3") == (strings{"naïve", "abc"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.terms("ПРИВЕТ мир ΣΟΦΊΑ") == (strings{"привет", "мир", "σοφία"}), boost::test_tools::per_element());
  // Hiragana letters stand alone, katakana runs stay together.
  BOOST_TEST(t.terms("すし カタカナ") == (strings{"す", "し", "カタカナ"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(punctuation_splits_words) {
  kv::search::tokenizer t({}, "", false);
  BOOST_TEST(t.terms("Hello, world! (foo)-bar; baz... \"quoted\" a/b") ==
                 (strings{"hello", "world", "foo", "bar", "baz", "quoted", "a", "b"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.terms("").empty());
  BOOST_TEST(t.terms(" -- !! ** ").empty());
}

// Dots and commas separate words everywhere, between digits too, as in SQLite's unicode61 and
// pg_trgm: a number or version splits into its digit runs, and a phrase query finds it whole.
BOOST_AUTO_TEST_CASE(dots_and_commas_separate_words_and_numbers) {
  kv::search::tokenizer t({}, "", false);
  BOOST_TEST(t.terms("version 3.14 costs 1,000 euros: 2.0.1 libc6-dev, 42.") ==
                 (strings{"version", "3", "14", "costs", "1", "000", "euros", "2", "0", "1", "libc6", "dev", "42"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.terms("see example.com, e.g. this,that snake_case v1.2 x.9 python3.11") ==
                 (strings{"see", "example", "com", "e", "g", "this", "that", "snake", "case", "v1", "2", "x", "9",
                          "python3", "11"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(apostrophes_separate_words) {
  kv::search::tokenizer t({}, "", false);
  BOOST_TEST(t.terms("Don't O\xE2\x80\x99Reilly's 'quoted' rock'n'roll dogs'") ==
                 (strings{"don", "t", "o", "reilly", "s", "quoted", "rock", "n", "roll", "dogs"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(stop_words_keep_their_position) {
  kv::search::tokenizer t({"The", "of"}, "", false);  // folded like the text
  BOOST_TEST(t.terms("THE state of the art") == (strings{"", "state", "", "", "art"}), boost::test_tools::per_element());
  kv::search::analyzed_text a;
  t.analyze("the state of the art", a);
  BOOST_REQUIRE_EQUAL(a.term_count(), 2u);
  BOOST_TEST(a.term(0) == "state");
  BOOST_TEST(a.position(0) == 1u);
  BOOST_TEST(a.term(1) == "art");
  BOOST_TEST(a.position(1) == 4u);
  BOOST_TEST(a.word_count() == 5u);  // the n-grams see every word
}

BOOST_AUTO_TEST_CASE(stemming_on_and_off) {
  kv::search::tokenizer plain({}, "", false);
  kv::search::tokenizer english({}, "english", false);
  const char* text = "Running runs connected connection databases";
  BOOST_TEST(plain.terms(text) == (strings{"running", "runs", "connected", "connection", "databases"}),
             boost::test_tools::per_element());
  BOOST_TEST(english.terms(text) == (strings{"run", "run", "connect", "connect", "databas"}),
             boost::test_tools::per_element());
  // The cache gives the same answers the second time.
  BOOST_TEST(english.terms(text) == (strings{"run", "run", "connect", "connect", "databas"}),
             boost::test_tools::per_element());
  kv::search::tokenizer german({}, "german", false);
  BOOST_TEST(german.terms("Häuser") == (strings{"haus"}), boost::test_tools::per_element());
}

// remove_diacritics: Latin letters lose their marks (composed or decomposed), letters without a
// decomposition and other scripts keep theirs; stop words and stems see the unaccented word.
BOOST_AUTO_TEST_CASE(diacritics_are_removed_from_latin_letters) {
  kv::search::tokenizer t({}, "", true);
  BOOST_TEST(t.terms("Naïve CAFÉ Ångström Việt crème-brûlée façade") ==
                 (strings{"naive", "cafe", "angstrom", "viet", "creme", "brulee", "facade"}),
             boost::test_tools::per_element());
  // Decomposed input (e + U+0301), and a mark with no precomposed letter (q + U+0303).
  BOOST_TEST(t.terms("cafe\xCC\x81 q\xCC\x83") == (strings{"cafe", "q"}), boost::test_tools::per_element());
  // No decomposition: kept. ß folds to ss first.
  BOOST_TEST(t.terms("Øresund Łódź đ Straße") == (strings{"øresund", "łodz", "đ", "strasse"}),
             boost::test_tools::per_element());
  // Other scripts keep their marks: Greek tonos, Cyrillic short i, a Devanagari vowel sign.
  BOOST_TEST(t.terms("σοφία йод हिंदी") == (strings{"σοφία", "йод", "हिंदी"}), boost::test_tools::per_element());
  // A mark after a non-Latin letter stays even when a Latin letter follows in the same word.
  BOOST_TEST(t.terms("йé") == (strings{"йe"}), boost::test_tools::per_element());

  kv::search::tokenizer stops({"Déjà", "vu"}, "", true);
  BOOST_TEST(stops.terms("deja VU déjà entendu") == (strings{"", "", "", "entendu"}), boost::test_tools::per_element());
  kv::search::tokenizer french({}, "french", true);
  BOOST_TEST(french.terms("économies economie") == french.terms("economies économie"), boost::test_tools::per_element());

  kv::search::analyzed_text a;
  t.analyze("naïve café", a);
  BOOST_TEST(a.word(0) == "naïve");  // the words n-grams are made of keep their marks
  BOOST_TEST(a.term(0) == "naive");
}

BOOST_AUTO_TEST_CASE(unknown_stemming_language_is_rejected) {
  try {
    kv::search::tokenizer t({}, "klingon", false);
    BOOST_FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("stemming_language") != std::string::npos);
    BOOST_TEST(std::string(e.what()).find("english") != std::string::npos);  // lists the known ones
  }
}

BOOST_AUTO_TEST_CASE(utf8_validation) {
  using kv::search::valid_utf8;
  BOOST_TEST(valid_utf8(""));
  BOOST_TEST(valid_utf8("plain ascii text that is longer than eight bytes"));
  BOOST_TEST(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  BOOST_TEST(!valid_utf8("\xC3"));                  // truncated
  BOOST_TEST(!valid_utf8("abc\xE2\x82"));           // truncated
  BOOST_TEST(!valid_utf8("\xC0\xAF"));              // overlong '/'
  BOOST_TEST(!valid_utf8("\xE0\x80\xAF"));          // overlong
  BOOST_TEST(!valid_utf8("\xED\xA0\x80"));          // surrogate
  BOOST_TEST(!valid_utf8("\xF4\x90\x80\x80"));      // above U+10FFFF
  BOOST_TEST(!valid_utf8("\x80 continuation"));     // stray continuation
  BOOST_TEST(!valid_utf8("12345678\xFF"));          // after the fast path
}

BOOST_AUTO_TEST_CASE(ngrams_are_padded_per_word) {
  BOOST_TEST(grams("cat", 3) == (strings{"  c", " ca", "cat", "at "}), boost::test_tools::per_element());
  BOOST_TEST(grams("a", 3) == (strings{"  a", " a "}), boost::test_tools::per_element());
  BOOST_TEST(grams("cat", 2) == (strings{" c", "ca", "at", "t "}), boost::test_tools::per_element());
  BOOST_TEST(grams("cat", 1) == (strings{"c", "a", "t"}), boost::test_tools::per_element());
  // Code points, not bytes.
  BOOST_TEST(grams("жé", 2) == (strings{" ж", "жé", "é "}), boost::test_tools::per_element());
  BOOST_TEST(grams("東京", 3) == (strings{"  東", " 東京", "東京 "}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

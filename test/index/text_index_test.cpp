#include "index/search_index.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace kv::search;

namespace {

search_index make_index(std::vector<std::string> stop_words = {}, std::string stemming = "") {
  index_options o;
  o.stop_words = std::move(stop_words);
  o.stemming_language = std::move(stemming);
  return search_index(o);
}

search_answer run(const search_index& ix, std::vector<std::string> terms, match_mode mode = match_mode::all,
                  std::uint32_t limit = 100, std::uint32_t offset = 0, std::string key_prefix = "") {
  text_query q;
  q.terms = std::move(terms);
  q.mode = mode;
  q.limit = limit;
  q.offset = offset;
  q.key_prefix = std::move(key_prefix);
  auto r = ix.search(q);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
  return *r;
}

std::vector<std::string> keys(const search_answer& a) {
  std::vector<std::string> out;
  for (const auto& h : a.hits) out.push_back(h.key);
  return out;
}

using strings = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(text_index)

// Corpus: a = "apple banana apple" (|a| = 3), b = "banana cherry" (2), c = "cherry" (1).
// N = 3, avgdl = 6 / 3 = 2, k1 = 1.2, b = 0.75.
//   idf(apple)  (n = 1) = ln(1 + (3 - 1 + 0.5) / 1.5) = ln(8/3)  = 0.9808292530117263
//   idf(banana) (n = 2) = ln(1 + (3 - 2 + 0.5) / 2.5) = ln(1.6)  = 0.47000362924573563
//   idf(cherry) = idf(banana)
//   length norm K(d) = 1.2 * (0.25 + 0.75 * |d| / 2): K(a) = 1.65, K(b) = 1.2, K(c) = 0.75
//   apple in a:  tf 2: 0.98083 * 2 * 2.2 / (2 + 1.65) = 0.98083 * 1.2054795 = 1.1823695104798893
//   banana in a: tf 1: 0.47000 * 2.2 / (1 + 1.65)     = 0.47000 * 0.8301887 = 0.39019169220400696
//   banana in b: tf 1: 0.47000 * 2.2 / (1 + 1.2)      = 0.47000 * 1         = 0.47000362924573563
//   cherry in b: as banana in b                                            = 0.47000362924573563
//   cherry in c: tf 1: 0.47000 * 2.2 / (1 + 0.75)     = 0.47000 * 1.2571429 = 0.5908617053374963
BOOST_AUTO_TEST_CASE(bm25_matches_hand_computed_scores) {
  auto ix = make_index();
  ix.put("a", "apple banana apple");
  ix.put("b", "banana cherry");
  ix.put("c", "cherry");
  auto apple = run(ix, {"apple"});
  BOOST_REQUIRE_EQUAL(apple.hits.size(), 1u);
  BOOST_TEST(apple.hits[0].score == 1.1823695104798893, boost::test_tools::tolerance(1e-12));

  auto banana = run(ix, {"banana"});
  BOOST_TEST(keys(banana) == (strings{"b", "a"}), boost::test_tools::per_element());
  BOOST_TEST(banana.hits[0].score == 0.47000362924573563, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(banana.hits[1].score == 0.39019169220400696, boost::test_tools::tolerance(1e-12));

  // OR sums per document: a = apple + banana, b = banana + cherry, c = cherry.
  auto any = run(ix, {"apple", "banana", "cherry"}, match_mode::any);
  BOOST_TEST(keys(any) == (strings{"a", "b", "c"}), boost::test_tools::per_element());
  BOOST_TEST(any.hits[0].score == 1.1823695104798893 + 0.39019169220400696, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(any.hits[1].score == 2 * 0.47000362924573563, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(any.hits[2].score == 0.5908617053374963, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(any.total == 3u);

  // Case and punctuation do not matter in queries either.
  auto loud = run(ix, {"APPLE!"});
  BOOST_TEST(loud.hits[0].score == apple.hits[0].score);
}

BOOST_AUTO_TEST_CASE(all_and_any) {
  auto ix = make_index();
  ix.put("k1", "red green blue");
  ix.put("k2", "red green");
  ix.put("k3", "red");
  ix.put("k4", "yellow");
  BOOST_TEST(keys(run(ix, {"red", "green"})) == (strings{"k2", "k1"}), boost::test_tools::per_element());
  BOOST_TEST(run(ix, {"red green"}).total == 2u);  // a term with two words: both required
  BOOST_TEST(run(ix, {"red", "purple"}).total == 0u);
  auto any = run(ix, {"green", "yellow", "purple"}, match_mode::any);
  BOOST_TEST(any.total == 3u);
  BOOST_TEST(keys(any)[0] == "k4");  // the rarest term scores highest
  // A repeated term counts once.
  BOOST_TEST(run(ix, {"red", "red"}).hits[0].score == run(ix, {"red"}).hits[0].score);
}

BOOST_AUTO_TEST_CASE(phrase_needs_consecutive_terms_in_order) {
  auto ix = make_index();
  ix.put("k1", "new york city");
  ix.put("k2", "york new city");
  ix.put("k3", "new big york");
  ix.put("k4", "new new york");
  // k4 holds "new" twice: it ranks first.
  BOOST_TEST(keys(run(ix, {"new york"}, match_mode::phrase)) == (strings{"k4", "k1"}), boost::test_tools::per_element());
  BOOST_TEST(run(ix, {"new york"}, match_mode::phrase).total == 2u);
  BOOST_TEST(run(ix, {"new", "york"}, match_mode::phrase).total == 2u);  // terms joined in order
  BOOST_TEST(keys(run(ix, {"york new"}, match_mode::phrase)) == (strings{"k2"}), boost::test_tools::per_element());
  BOOST_TEST(run(ix, {"new york city"}, match_mode::phrase).total == 1u);
  BOOST_TEST(run(ix, {"city york"}, match_mode::phrase).total == 0u);
  // A phrase hit scores like an all-terms hit.
  BOOST_TEST(run(ix, {"york new"}, match_mode::phrase).hits[0].score == run(ix, {"york", "new"}, match_mode::all, 10, 0, "k2").hits.at(0).score);
}

// Numbers, versions and host names are several words (as in SQLite's unicode61): a word finds
// them, and a phrase query finds the whole of one.
BOOST_AUTO_TEST_CASE(a_phrase_finds_a_number_or_name_whole) {
  auto ix = make_index();
  ix.put("pi", "pi is about 3.14");
  ix.put("apart", "3 cats and 14 dogs");
  ix.put("swapped", "14.3 degrees");
  ix.put("py", "needs python3.11 or later");
  BOOST_TEST(keys(run(ix, {"3.14"}, match_mode::phrase)) == (strings{"pi"}), boost::test_tools::per_element());
  BOOST_TEST(run(ix, {"3", "14"}).total == 3u);
  BOOST_TEST(keys(run(ix, {"python3"})) == (strings{"py"}), boost::test_tools::per_element());
  BOOST_TEST(keys(run(ix, {"python3.11"}, match_mode::phrase)) == (strings{"py"}), boost::test_tools::per_element());
  BOOST_TEST(run(ix, {"python3.12"}, match_mode::phrase).total == 0u);
}

// With remove_diacritics (the default) "naive" and "naïve" are one term, in values and queries,
// phrases and prefixes alike; turned off, each finds only itself.
BOOST_AUTO_TEST_CASE(diacritics_are_ignored_unless_turned_off) {
  auto ix = make_index();
  ix.put("plain", "a naive approach");
  ix.put("marked", "a naïve approach");
  ix.put("caps", "NAÏVETÉ itself");
  BOOST_TEST(keys(run(ix, {"naive"})) == (strings{"marked", "plain"}), boost::test_tools::per_element());
  BOOST_TEST(keys(run(ix, {"naïve"})) == (strings{"marked", "plain"}), boost::test_tools::per_element());
  BOOST_TEST(keys(run(ix, {"naïve approach"}, match_mode::phrase)) == (strings{"marked", "plain"}),
             boost::test_tools::per_element());
  BOOST_TEST(keys(run(ix, {"naï*"})) == (strings{"caps", "marked", "plain"}), boost::test_tools::per_element());
  BOOST_TEST(keys(run(ix, {"naivete"})) == (strings{"caps"}), boost::test_tools::per_element());

  index_options o;
  o.stop_words = {};
  o.remove_diacritics = false;
  search_index exact(o);
  exact.put("plain", "a naive approach");
  exact.put("marked", "a naïve approach");
  BOOST_TEST(keys(run(exact, {"naive"})) == (strings{"plain"}), boost::test_tools::per_element());
  BOOST_TEST(keys(run(exact, {"NAÏVE"})) == (strings{"marked"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(stop_words_hold_their_slot_in_phrases) {
  auto ix = make_index({"of", "the", "in"});
  ix.put("p1", "state of the art");
  ix.put("p2", "state in the art");  // a stop word in each slot
  ix.put("p3", "state of art");
  ix.put("p4", "the state art");
  ix.put("p5", "state big new art");  // any word fills a stop word's slot
  auto hits = keys(run(ix, {"state of the art"}, match_mode::phrase));
  std::sort(hits.begin(), hits.end());
  BOOST_TEST(hits == (strings{"p1", "p2", "p5"}), boost::test_tools::per_element());
  // Leading and trailing stop words constrain nothing.
  BOOST_TEST(run(ix, {"the state art"}, match_mode::phrase).total == 1u);
  BOOST_TEST(run(ix, {"of state art of"}, match_mode::phrase).total == 1u);
}

BOOST_AUTO_TEST_CASE(prefix_terms_expand_and_score_their_best_expansion) {
  auto ix = make_index({}, "english");
  ix.put("d1", "databases and database design");  // stems: databas, and, databas, design
  ix.put("d2", "big data");
  ix.put("d3", "datum point");
  ix.put("d4", "dat file");
  ix.put("d5", "data database data");
  auto hits = keys(run(ix, {"data*"}));
  std::sort(hits.begin(), hits.end());
  BOOST_TEST(hits == (strings{"d1", "d2", "d5"}), boost::test_tools::per_element());
  // Upper case is folded; the prefix is not stemmed ("databases*" would stem to "databas").
  BOOST_TEST(run(ix, {"DATABASES*"}).total == 0u);
  BOOST_TEST(run(ix, {"databas*"}).total == 2u);
  // d5 holds two expansions: it scores the better one.
  auto prefix = run(ix, {"data*"});
  auto d5 = std::find_if(prefix.hits.begin(), prefix.hits.end(), [](const hit& h) { return h.key == "d5"; });
  BOOST_REQUIRE(d5 != prefix.hits.end());
  double as_data = run(ix, {"data"}, match_mode::all, 100, 0, "d5").hits.at(0).score;
  double as_database = run(ix, {"database"}, match_mode::all, 100, 0, "d5").hits.at(0).score;
  BOOST_TEST(d5->score == std::max(as_data, as_database));
  BOOST_TEST(as_data != as_database);
  // Prefix terms mix with plain ones in every mode.
  BOOST_TEST(run(ix, {"big", "dat*"}).total == 1u);
  BOOST_TEST(run(ix, {"point", "databa*"}, match_mode::any).total == 3u);
  BOOST_TEST(run(ix, {"big dat*"}, match_mode::phrase).total == 1u);
  BOOST_TEST(run(ix, {"dat* big"}, match_mode::phrase).total == 0u);
}

BOOST_AUTO_TEST_CASE(limit_offset_and_total) {
  auto ix = make_index();
  for (int i = 0; i < 25; ++i) {
    std::string value = "needle";  // longer documents score lower: a strict order
    for (int j = 0; j < i; ++j) value += " hay";
    ix.put("doc" + std::to_string(100 + i), value);
  }
  auto all = run(ix, {"needle"}, match_mode::all, 25);
  BOOST_TEST(all.total == 25u);
  BOOST_REQUIRE_EQUAL(all.hits.size(), 25u);
  for (std::size_t i = 1; i < all.hits.size(); ++i) BOOST_TEST(all.hits[i - 1].score >= all.hits[i].score);
  std::vector<hit> paged;
  for (std::uint32_t offset = 0; offset < 25; offset += 7) {
    auto page = run(ix, {"needle"}, match_mode::all, 7, offset);
    BOOST_TEST(page.total == 25u);
    BOOST_TEST(page.hits.size() == std::min<std::size_t>(7, 25 - offset));
    paged.insert(paged.end(), page.hits.begin(), page.hits.end());
  }
  BOOST_REQUIRE_EQUAL(paged.size(), 25u);
  for (std::size_t i = 0; i < 25; ++i) BOOST_TEST(paged[i].key == all.hits[i].key);
  BOOST_TEST(run(ix, {"needle"}, match_mode::all, 10, 30).hits.empty());
  BOOST_TEST(run(ix, {"needle"}, match_mode::all, 0, 0).total == 25u);  // a count only
}

BOOST_AUTO_TEST_CASE(key_prefix_filters_and_counts) {
  auto ix = make_index();
  ix.put("a/1", "shared word");
  ix.put("a/2", "shared");
  ix.put("b/1", "shared");
  ix.put("ab", "shared");
  auto a = run(ix, {"shared"}, match_mode::all, 100, 0, "a/");
  BOOST_TEST(a.total == 2u);
  BOOST_TEST(keys(a) == (strings{"a/2", "a/1"}), boost::test_tools::per_element());
  BOOST_TEST(run(ix, {"shared"}, match_mode::any, 100, 0, "a").total == 3u);
  BOOST_TEST(run(ix, {"shared"}, match_mode::all, 100, 0, "c").total == 0u);
}

BOOST_AUTO_TEST_CASE(ties_break_by_key) {
  auto ix = make_index();
  for (const char* k : {"k3", "k10", "k1", "k2"}) ix.put(k, "same words here");
  auto a = run(ix, {"words"});
  BOOST_TEST(keys(a) == (strings{"k1", "k10", "k2", "k3"}), boost::test_tools::per_element());
  BOOST_TEST(a.hits[0].score == a.hits[3].score);
  auto page = run(ix, {"words"}, match_mode::all, 2, 1);
  BOOST_TEST(keys(page) == (strings{"k10", "k2"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(overwritten_and_erased_values_leave_no_hits) {
  auto ix = make_index();
  ix.put("k", "apple");
  ix.put("k", "banana");
  ix.put("gone", "apple cherry");
  ix.erase("gone");
  ix.erase("never there");
  BOOST_TEST(run(ix, {"apple"}).total == 0u);
  BOOST_TEST(run(ix, {"cherry"}, match_mode::any).total == 0u);
  BOOST_TEST(keys(run(ix, {"banana"})) == (strings{"k"}), boost::test_tools::per_element());
  BOOST_TEST(run(ix, {"app*"}).total == 0u);
  auto st = ix.stats();
  BOOST_TEST(st.documents == 1u);
  BOOST_TEST(st.terms == 1u);
  BOOST_TEST(st.postings == 1u);
  ix.check_invariants();
}

BOOST_AUTO_TEST_SUITE_END()

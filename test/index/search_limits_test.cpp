#include "index/search_index.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

using namespace kv::search;

namespace {

bool names(const kv::result<search_answer>& r, kv::errc code, const std::string& words) {
  if (!r.is(code)) return false;
  return r.message().find(words) != std::string::npos;
}

search_index small_index(index_options o) {
  o.stop_words = default_stop_words();
  search_index ix(o);
  for (int i = 0; i < 20; ++i) ix.put("k" + std::to_string(i), "common words in document number " + std::to_string(i));
  return ix;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(limits)

BOOST_AUTO_TEST_CASE(max_query_terms) {
  index_options o;
  o.max_query_terms = 3;
  auto ix = small_index(o);
  BOOST_TEST(ix.search(text_query{match_mode::any, {"a1 a2 a3"}, 10, 0, ""}).ok());
  auto r = ix.search(text_query{match_mode::any, {"a1 a2", "a3", "a4"}, 10, 0, ""});
  BOOST_TEST(names(r, kv::errc::too_large, "index.max-query-terms (3)"), r.message());
  // Stop words do not count; a prefix term counts once, however many words it expands to.
  BOOST_TEST(ix.search(text_query{match_mode::any, {"the a1 of the a2 in a3"}, 10, 0, ""}).ok());
  auto p = ix.search(text_query{match_mode::any, {"w*"}, 10, 0, ""});
  BOOST_TEST(p.ok());
}

BOOST_AUTO_TEST_CASE(max_results) {
  index_options o;
  o.max_results = 10;
  auto ix = small_index(o);
  BOOST_TEST(ix.search(text_query{match_mode::all, {"common"}, 5, 5, ""}).ok());
  auto r = ix.search(text_query{match_mode::all, {"common"}, 6, 5, ""});
  BOOST_TEST(names(r, kv::errc::too_large, "index.max-results (10)"), r.message());
  auto huge = ix.search(text_query{match_mode::all, {"common"}, UINT32_MAX, UINT32_MAX, ""});  // no overflow
  BOOST_TEST(huge.is(kv::errc::too_large));
  BOOST_TEST(ix.similar(similar_query{"common", 10, 0.1}).ok());
  auto s = ix.similar(similar_query{"common", 11, 0.1});
  BOOST_TEST(names(s, kv::errc::too_large, "index.max-results (10)"), s.message());
}

BOOST_AUTO_TEST_CASE(max_postings_scanned) {
  index_options o;
  o.max_postings_scanned = 15;
  auto ix = small_index(o);
  BOOST_TEST(ix.search(text_query{match_mode::all, {"7", "11"}, 10, 0, ""}).ok());  // 1 + 1 postings
  // Every list of the query counts, a rare term's company included: 20 + 1 > 15.
  BOOST_TEST(ix.search(text_query{match_mode::all, {"number", "7"}, 10, 0, ""}).is(kv::errc::too_large));
  auto r = ix.search(text_query{match_mode::all, {"common"}, 10, 0, ""});
  BOOST_TEST(names(r, kv::errc::too_large, "index.max-postings-scanned (15)"), r.message());
  auto p = ix.search(text_query{match_mode::any, {"c*"}, 10, 0, ""});
  BOOST_TEST(names(p, kv::errc::too_large, "index.max-postings-scanned"), p.message());
  auto s = ix.similar(similar_query{"common words", 10, 0.0});
  BOOST_TEST(names(s, kv::errc::too_large, "index.max-postings-scanned (15)"), s.message());
}

BOOST_AUTO_TEST_CASE(bad_text_queries) {
  auto ix = small_index(index_options{});
  BOOST_TEST(names(ix.search(text_query{match_mode::all, {}, 10, 0, ""}), kv::errc::bad_request, "no terms"));
  auto stops = ix.search(text_query{match_mode::all, {"the", "of the", "!!"}, 10, 0, ""});
  BOOST_TEST(names(stops, kv::errc::bad_request, "no terms left after tokenizing"), stops.message());
  BOOST_TEST(names(ix.search(text_query{match_mode::all, {"*"}, 10, 0, ""}), kv::errc::bad_request, "prefix"));
  BOOST_TEST(names(ix.search(text_query{match_mode::all, {"ok", "\xff"}, 10, 0, ""}), kv::errc::bad_request, "UTF-8"));
  // A term no document holds is not an error: no hits.
  auto none = ix.search(text_query{match_mode::all, {"absent"}, 10, 0, ""});
  BOOST_REQUIRE(none.ok());
  BOOST_TEST(none->total == 0u);
}

BOOST_AUTO_TEST_CASE(bad_similar_queries) {
  auto ix = small_index(index_options{});
  auto bad = [&](similar_query q, const std::string& words) {
    auto r = ix.similar(q);
    BOOST_TEST(names(r, kv::errc::bad_request, words), r.message());
  };
  bad(similar_query{"", 10, 0.3}, "empty");
  bad(similar_query{"text", 0, 0.3}, "k must");
  bad(similar_query{"text", 10, -0.1}, "threshold");
  bad(similar_query{"text", 10, 1.5}, "threshold");
  bad(similar_query{"text", 10, std::numeric_limits<double>::quiet_NaN()}, "threshold");
  bad(similar_query{"\xc3", 10, 0.3}, "UTF-8");
  bad(similar_query{"?! --", 10, 0.3}, "no n-grams");
  BOOST_TEST(ix.similar(similar_query{"text", 10, 0.0}).ok());
  BOOST_TEST(ix.similar(similar_query{"text", 10, 1.0}).ok());
}

BOOST_AUTO_TEST_CASE(bad_options_throw) {
  index_options zero;
  zero.ngram_size = 0;
  try {
    search_index ix(zero);
    BOOST_FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("ngram_size") != std::string::npos);
  }
  index_options language;
  language.stemming_language = "no-such-language";
  try {
    search_index ix(language);
    BOOST_FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("stemming_language") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// kvctl's search and similar arguments: --min-index takes a revision (--min-revision is its
// alias), and the query's own options.

#include "apps/kvctl/query_args.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace kv::kvctl;

namespace {

search_args search_of(std::vector<std::string> args, byte_notation notation = byte_notation::text) {
  auto s = parse_search(args, notation);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.message());
  return *s;
}

similar_args similar_of(std::vector<std::string> args) {
  auto s = parse_similar(args);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.message());
  return *s;
}

std::string search_error(std::vector<std::string> args, byte_notation notation = byte_notation::text) {
  auto s = parse_search(args, notation);
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.is(kv::errc::bad_request));
  return s.message();
}

std::string similar_error(std::vector<std::string> args) {
  auto s = parse_similar(args);
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.is(kv::errc::bad_request));
  return s.message();
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(kvctl_query_args)

BOOST_AUTO_TEST_CASE(min_index_and_its_alias_min_revision_take_a_revision) {
  BOOST_TEST(search_of({"quick"}).min_revision == 0u);  // no wait
  BOOST_TEST(search_of({"--min-index", "9", "quick"}).min_revision == 9u);
  BOOST_TEST(search_of({"quick", "--min-revision=9"}).min_revision == 9u);
  BOOST_TEST(similar_of({"--min-index=12", "the quick fox"}).min_revision == 12u);
  BOOST_TEST(similar_of({"the quick fox", "--min-revision", "12"}).min_revision == 12u);

  BOOST_TEST(has(search_error({"--min-index", "3", "--min-revision", "3", "quick"}), "give one --min-index"));
  BOOST_TEST(has(search_error({"--min-index", "0", "--min-index", "4", "quick"}), "give one --min-index"));
  BOOST_TEST(has(similar_error({"--min-revision", "2", "--min-index", "2", "x"}), "give one --min-index"));
  auto bad = search_error({"--min-index", "-1", "quick"});
  BOOST_TEST(bad.starts_with("search: --min-index takes a non-negative integer"), bad);
  BOOST_TEST(has(similar_error({"x", "--min-index"}), "--min-index needs a value"));
}

BOOST_AUTO_TEST_CASE(search_options_anywhere_among_the_words) {
  auto s = search_of({"quick", "--or", "--limit", "3", "brown", "--offset=2", "--prefix", "doc/", "--stale"});
  BOOST_TEST((s.query.mode == kv::search::match_mode::any));
  BOOST_TEST(s.query.limit == 3u);
  BOOST_TEST(s.query.offset == 2u);
  BOOST_TEST(s.query.key_prefix == "doc/");
  BOOST_TEST(s.stale);
  BOOST_TEST((s.query.terms == std::vector<std::string>{"quick", "brown"}));

  auto defaults = search_of({"quick"});
  BOOST_TEST((defaults.query.mode == kv::search::match_mode::all));
  BOOST_TEST(defaults.query.limit == 10u);
  BOOST_TEST(!defaults.stale);
  BOOST_TEST((search_of({"--phrase", "a", "b"}).query.mode == kv::search::match_mode::phrase));
  BOOST_TEST(search_of({"--prefix", "6b00", "w"}, byte_notation::hex).query.key_prefix == std::string("k\0", 2));

  BOOST_TEST(search_error({}) == "search takes at least one word");
  BOOST_TEST(search_error({"--limit", "4294967296", "w"}) == "search: --limit is too large");
  BOOST_TEST(has(search_error({"--top", "3", "w"}), "unknown option \"--top\""));
  BOOST_TEST(has(search_error({"--prefix", "zz", "w"}, byte_notation::hex), "not hexadecimal"));
}

BOOST_AUTO_TEST_CASE(similar_takes_one_text_a_top_and_a_threshold) {
  auto s = similar_of({"--top", "3", "the quick fox", "--threshold", "0.5", "--stale"});
  BOOST_TEST(s.query.text == "the quick fox");
  BOOST_TEST(s.query.k == 3u);
  BOOST_TEST(s.query.threshold == 0.5);
  BOOST_TEST(s.stale);

  BOOST_TEST(similar_of({"x"}).query.threshold == 0.3);
  BOOST_TEST(has(similar_error({"x", "--threshold", "2"}), "--threshold takes a number from 0 to 1"));
  BOOST_TEST(has(similar_error({"x", "--threshold", "0.5x"}), "--threshold takes a number from 0 to 1"));
  BOOST_TEST(similar_error({"a", "b"}) == "similar takes one TEXT (quote it if it has spaces)");
  BOOST_TEST(similar_error({}) == "similar takes one TEXT (quote it if it has spaces)");
  BOOST_TEST(has(similar_error({"--or", "x"}), "unknown option \"--or\""));
}

BOOST_AUTO_TEST_SUITE_END()

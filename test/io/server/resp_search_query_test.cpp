// FT.SEARCH's query language mapped onto kvnode's (resp_detail::parse_search_query): each
// RediSearch form kvnode can say becomes its mode and terms; every other is refused with an
// error naming the construct and where it is.

#include "io/server/resp_commands.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using kv::resp_detail::parse_search_query;
using kv::search::match_mode;

namespace {

// The query `q` maps to, or fails the test.
kv::search::text_query mapped(std::string_view q) {
  auto r = parse_search_query(q);
  if (auto* error = std::get_if<std::string>(&r)) BOOST_FAIL("\"" << q << "\" was refused: " << *error);
  return std::get<kv::search::text_query>(r);
}

std::string refusal(std::string_view q) {
  auto r = parse_search_query(q);
  if (auto* error = std::get_if<std::string>(&r)) return *error;
  BOOST_FAIL("\"" << q << "\" was accepted");
  return {};
}

using terms = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(resp_search_query)

BOOST_AUTO_TEST_CASE(forms_kvnode_can_say) {
  auto q = mapped("  hello   world ");
  BOOST_TEST((q.mode == match_mode::all));
  BOOST_TEST(q.terms == (terms{"hello", "world"}), boost::test_tools::per_element());
  q = mapped("hello | wor* |x");
  BOOST_TEST((q.mode == match_mode::any));
  BOOST_TEST(q.terms == (terms{"hello", "wor*", "x"}), boost::test_tools::per_element());
  q = mapped("a|b");
  BOOST_TEST((q.mode == match_mode::any));
  BOOST_TEST(q.terms == (terms{"a", "b"}), boost::test_tools::per_element());
  q = mapped("\"new york city\"");
  BOOST_TEST((q.mode == match_mode::phrase));
  BOOST_TEST(q.terms == (terms{"new york city"}), boost::test_tools::per_element());
  q = mapped("new-yo* café");  // punctuation splits words as in a value; non-ASCII letters are letters
  BOOST_TEST((q.mode == match_mode::all));
  BOOST_TEST(q.terms == (terms{"new-yo*", "café"}), boost::test_tools::per_element());
  q = mapped("café | naïve");
  BOOST_TEST((q.mode == match_mode::any));
}

BOOST_AUTO_TEST_CASE(forms_it_cannot_are_refused_by_name) {
  auto unsupported = [](std::string_view what, char c, int at) {
    return "ERR the query uses " + std::string(what) + " ('" + c + "' at offset " + std::to_string(at) +
           "), which kvnode's FT.SEARCH does not support";
  };
  BOOST_TEST(refusal("a -b") == unsupported("negation", '-', 2));
  BOOST_TEST(refusal("~a b") == unsupported("optional terms", '~', 0));
  BOOST_TEST(refusal("@title:a") == unsupported("field modifiers", '@', 0));
  BOOST_TEST(refusal("a (b|c)") == unsupported("grouping", '(', 2));
  BOOST_TEST(refusal("a(b)") == unsupported("grouping", '(', 1));
  BOOST_TEST(refusal("{tag}") == unsupported("tag queries", '{', 0));
  BOOST_TEST(refusal("[1 2]") == unsupported("numeric and vector ranges", '[', 0));
  BOOST_TEST(refusal("%helo%") == unsupported("fuzzy matching", '%', 0));
  BOOST_TEST(refusal("$param") == unsupported("query parameters", '$', 0));
  BOOST_TEST(refusal("a\\-b") == unsupported("escapes", '\\', 1));
  BOOST_TEST(refusal("a =>{$weight:2}") == unsupported("query attributes", '=', 2));
  BOOST_TEST(refusal("*") == unsupported("the match-all query", '*', 0));
  BOOST_TEST(refusal("*ing") == unsupported("suffix and infix matching", '*', 0));
  BOOST_TEST(refusal("a*b") ==
             unsupported("a wildcard inside a word (only a trailing '*', a prefix, is supported)", '*', 1));
  BOOST_TEST(refusal("a b | c") == "ERR the query mixes AND (terms side by side, at offset 2) with OR ('|'): "
                                   "kvnode's query matches every term or any term, not both");
  BOOST_TEST(refusal("a | b c") == "ERR the query mixes AND (terms side by side, at offset 6) with OR ('|'): "
                                   "kvnode's query matches every term or any term, not both");
  BOOST_TEST(refusal("| a") == "ERR Syntax error at offset 0: '|' needs a term on each side");
  BOOST_TEST(refusal("a ||b") == "ERR Syntax error at offset 3: '|' needs a term on each side");
  BOOST_TEST(refusal("a |") == "ERR Syntax error at offset 2: '|' needs a term on each side");
  BOOST_TEST(refusal("a-b | c") ==
             "ERR 'a-b' (at offset 0) is several words: each side of an OR ('|') must be one word");
  BOOST_TEST(refusal("\"a b\" | c") == "ERR a \"phrase\" in an OR ('|', at offset 0) is not supported");
  BOOST_TEST(refusal("x \"a b\"") ==
             "ERR a \"phrase\" (at offset 2) with other terms is not supported: kvnode's query is one phrase, "
             "or words");
  BOOST_TEST(refusal("\"a b*\"") ==
             "ERR a '*' inside the \"phrase\" at offset 0 is not supported: a phrase matches words exactly");
  BOOST_TEST(refusal("\"a b") == "ERR Syntax error at offset 0: the '\"' is not closed");
  BOOST_TEST(refusal("\" \"") == "ERR Syntax error at offset 0: the phrase is empty");
  BOOST_TEST(refusal(" \t ") == "ERR the query is empty");
}

BOOST_AUTO_TEST_SUITE_END()

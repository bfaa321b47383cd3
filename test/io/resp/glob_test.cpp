// Redis's glob patterns against what Redis 7.0 itself answers: each case's matches are KEYS
// pattern's answer from a redis-server 7.0 holding these keys (binary keys, NUL bytes, bytes past
// 0x7f, escapes, negated and reversed sets, unclosed brackets).

#include "io/resp/glob.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::string_view_literals;

BOOST_AUTO_TEST_SUITE(resp_glob)

BOOST_AUTO_TEST_CASE(matches_as_redis_7_0_keys_does) {
  const std::vector<std::string_view> keys{"hello"sv, "hallo"sv, "hxllo"sv, "hllo"sv, "heeeello"sv, "a\000b"sv, "a\000c"sv, "a*b"sv, "a?b"sv, "a[b"sv, "a]b"sv, "a\\b"sv, "-"sv, "^"sv, "\377\001"sv, "\200"sv, "abc"sv, "ab"sv, "z"sv, "]"sv};
  const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> cases{
      {"h?llo"sv, {"hallo"sv, "hello"sv, "hxllo"sv}},
      {"h*llo"sv, {"hallo"sv, "heeeello"sv, "hello"sv, "hllo"sv, "hxllo"sv}},
      {"h[ae]llo"sv, {"hallo"sv, "hello"sv}},
      {"h[^e]llo"sv, {"hallo"sv, "hxllo"sv}},
      {"h[a-b]llo"sv, {"hallo"sv}},
      {"h[b-a]llo"sv, {"hallo"sv}},
      {"a\000*"sv, {"a\000b"sv, "a\000c"sv}},
      {"a?[bc]"sv, {"a\000b"sv, "a\000c"sv, "a*b"sv, "a?b"sv, "a[b"sv, "a\\b"sv, "a]b"sv, "abc"sv}},
      {"a\\*b"sv, {"a*b"sv}},
      {"a\\?b"sv, {"a?b"sv}},
      {"a[[]b"sv, {"a[b"sv}},
      {"a[\\]]b"sv, {"a]b"sv}},
      {"a\\\\b"sv, {"a\\b"sv}},
      {"a[\\\\]b"sv, {"a\\b"sv}},
      {"[-]"sv, {"-"sv}},
      {"[^]"sv, {"-"sv, "]"sv, "^"sv, "z"sv, "\200"sv}},
      {"[\\^]"sv, {"^"sv}},
      {"a[b"sv, {"ab"sv}},
      {"a["sv, {}},
      {"ab["sv, {}},
      {"*\\"sv, {}},
      {"[\200-\377]*"sv, {"\200"sv, "\377\001"sv}},
      {"[\001-\200]"sv, {"\200"sv}},
      {"[]]"sv, {}},
      {"a[^a-z]b"sv, {"a\000b"sv, "a*b"sv, "a?b"sv, "a[b"sv, "a\\b"sv, "a]b"sv}},
      {"**"sv, {"-"sv, "]"sv, "^"sv, "a\000b"sv, "a\000c"sv, "a*b"sv, "a?b"sv, "a[b"sv, "a\\b"sv, "a]b"sv, "ab"sv, "abc"sv, "hallo"sv, "heeeello"sv, "hello"sv, "hllo"sv, "hxllo"sv, "z"sv, "\200"sv, "\377\001"sv}},
      {"*c"sv, {"a\000c"sv, "abc"sv}},
      {"a\\"sv, {}},
      {"[a-]*"sv, {"]"sv, "^"sv}},
      {"h[a-ex]llo"sv, {"hallo"sv, "hello"sv, "hxllo"sv}},
  };
  for (const auto& [pattern, want] : cases) {
    std::vector<std::string_view> got;
    for (auto k : keys) {
      if (kv::resp::glob_match(pattern, k)) got.push_back(k);
    }
    std::sort(got.begin(), got.end());
    BOOST_TEST(got == want, "pattern '" << pattern << "'");
  }
}

// A pattern that backtracks badly under a naive matcher answers at once, and past 1000 nested
// stars gives up as Redis does.
BOOST_AUTO_TEST_CASE(pathological_patterns_stay_cheap) {
  const std::string key(200, 'a');
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "*a";
  BOOST_TEST(!kv::resp::glob_match(pattern + "b", key));
  BOOST_TEST(kv::resp::glob_match(pattern, key));
  std::string stars;
  for (int i = 0; i < 1001; ++i) stars += "a*";
  BOOST_TEST(kv::resp::glob_match(stars.substr(0, 2 * 999), std::string(1000, 'a')));
  BOOST_TEST(!kv::resp::glob_match(stars + "a", std::string(1002, 'a')));
}

BOOST_AUTO_TEST_SUITE_END()

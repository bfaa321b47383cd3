// Redis's pub/sub without sockets: glob patterns as Redis matches them, who receives a message,
// and the notify-keyspace-events flags as CONFIG SET parses and CONFIG GET shows them.
#include "io/server/pubsub.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

using namespace kv;

BOOST_AUTO_TEST_SUITE(pubsub_test)

BOOST_AUTO_TEST_CASE(glob_matches_as_redis) {
  BOOST_TEST(!resp::glob_match("*", ""));  // Redis's matcher: nothing matches an empty channel
  BOOST_TEST(resp::glob_match("*", "anything"));
  BOOST_TEST(resp::glob_match("news.*", "news.sport"));
  BOOST_TEST(!resp::glob_match("news.*", "new.sport"));
  BOOST_TEST(resp::glob_match("h?llo", "hello"));
  BOOST_TEST(!resp::glob_match("h?llo", "hllo"));
  BOOST_TEST(resp::glob_match("h[ae]llo", "hallo"));
  BOOST_TEST(!resp::glob_match("h[ae]llo", "hillo"));
  BOOST_TEST(resp::glob_match("h[^e]llo", "hallo"));
  BOOST_TEST(!resp::glob_match("h[^e]llo", "hello"));
  BOOST_TEST(resp::glob_match("h[a-b]llo", "hbllo"));
  BOOST_TEST(resp::glob_match("h[b-a]llo", "hallo"));  // a reversed range, as Redis swaps it
  BOOST_TEST(resp::glob_match("a\\*b", "a*b"));
  BOOST_TEST(!resp::glob_match("a\\*b", "axb"));
  BOOST_TEST(resp::glob_match("a*b*c", "aXXbYYc"));
  BOOST_TEST(!resp::glob_match("a*a*a*a*a*a*b", std::string(60, 'a')));  // cut short, not exponential
  BOOST_TEST(!resp::glob_match("[", "["));  // an unclosed class matches nothing, as in Redis 7.0
  BOOST_TEST(!resp::glob_match("[", "x"));
  BOOST_TEST(resp::glob_match("[^", "x"));  // an unclosed negation matches any one byte, as in Redis
  BOOST_TEST(resp::glob_match("ab*", "ab"));
  BOOST_TEST(resp::glob_match(std::string("a\0b", 3), std::string("a\0b", 3)));
  BOOST_TEST(!resp::glob_match("a", std::string("a\0", 2)));
}

BOOST_AUTO_TEST_CASE(channel_and_pattern_subscribers_each_receive) {
  pubsub_registry r;
  BOOST_TEST(r.empty());
  BOOST_TEST(r.subscribe(1, "news"));
  BOOST_TEST(!r.subscribe(1, "news"));
  BOOST_TEST(r.psubscribe(1, "n*"));
  BOOST_TEST(r.psubscribe(2, "*s"));
  BOOST_TEST(r.subscriptions(1) == 2u);
  std::vector<std::pair<std::uint64_t, std::string>> got;
  auto n = r.publish("news", [&](std::uint64_t s, const std::string* pattern) {
    got.emplace_back(s, pattern ? *pattern : std::string("-"));
  });
  BOOST_TEST(n == 3u);  // 1 as a channel subscriber and through n*, 2 through *s
  std::sort(got.begin(), got.end());
  BOOST_TEST((got == std::vector<std::pair<std::uint64_t, std::string>>{{1, "-"}, {1, "n*"}, {2, "*s"}}));
  BOOST_TEST(r.publish("other", [](std::uint64_t, const std::string*) {}) == 0u);
  BOOST_TEST(r.subscribers_of("news") == 1u);
  BOOST_TEST(r.pattern_count() == 2u);
  BOOST_TEST((r.active_channels(std::nullopt) == std::vector<std::string>{"news"}));
  BOOST_TEST(r.active_channels(std::string_view("x*")).empty());
  BOOST_TEST(!r.unsubscribe(2, "news"));
  BOOST_TEST(r.unsubscribe(1, "news"));
  BOOST_TEST(r.subscribers_of("news") == 0u);
  BOOST_TEST(r.active_channels(std::nullopt).empty());
  r.forget(1);
  BOOST_TEST(r.subscriptions(1) == 0u);
  BOOST_TEST(r.pattern_count() == 1u);
  BOOST_TEST(r.punsubscribe(2, "*s"));
  BOOST_TEST(r.empty());
  BOOST_TEST(r.pattern_count() == 0u);
}

BOOST_AUTO_TEST_CASE(keyspace_event_flags_read_and_show_as_redis) {
  BOOST_TEST(!keyspace_events::parse("KEX"));
  BOOST_TEST(keyspace_events::parse("")->flags == 0u);
  BOOST_TEST(keyspace_events::parse("KEA")->text() == "AKE");
  BOOST_TEST(keyspace_events::parse("g$xKE")->text() == "g$xKE");
  BOOST_TEST(keyspace_events::parse("Ex")->text() == "xE");
  BOOST_TEST(keyspace_events::parse("Kmn")->text() == "nKm");
  auto e = *keyspace_events::parse("Kx");
  BOOST_TEST(e.wants(keyspace_events::expired));
  BOOST_TEST(!e.wants(keyspace_events::string));
  BOOST_TEST(!keyspace_events::parse("A")->wants(keyspace_events::string));  // neither K nor E
}

BOOST_AUTO_TEST_SUITE_END()

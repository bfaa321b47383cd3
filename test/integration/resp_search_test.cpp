// Search over the Redis protocol through a real kvnode process: FT.SEARCH, FT.SIMILAR, FT.INFO
// and FT._LIST answer byte for byte in RediSearch's shape, a search sees its connection's write
// at once (and another connection's acknowledged one), deleted and expired keys drop out, and
// bad input gets a precise error while the node keeps serving.

#include "harness/node_process.hpp"
#include "harness/resp_client.hpp"
#include "support/resp_expect.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>

using namespace kv::harness;
using namespace kv::test;
using namespace std::chrono_literals;

namespace {

std::string bulk(std::string_view s) { return fmt::format("${}\r\n{}\r\n", s.size(), s); }
std::string count(std::size_t n) { return fmt::format("*{}\r\n", n); }
std::string total(std::int64_t n) { return fmt::format(":{}\r\n", n); }
// A hit's fields: ["value", value].
std::string fields(std::string_view value) { return count(2) + bulk("value") + bulk(value); }
std::string error(std::string_view text) { return fmt::format("-{}\r\n", text); }
// BM25 (k1 = 1.2, b = 0.75; docs/protocol.md) of a term found once in a document of average
// length, computed as the index does: idf · f · (k1 + 1) / (f + k1 · (1 - b + b · 1)), which is
// idf but for rounding.
double bm25_of_one(double idf) { return idf * 1.0 * (1.2 + 1) / (1.0 + 1.2 * (1.0 - 0.75 + 0.75 * 1.0)); }

// Reads until what came ends with `tail` (a reply whose bytes the test does not state in full).
std::string read_until(raw_client& c, std::string_view tail) {
  std::string got;
  while (!got.ends_with(tail)) {
    auto more = c.read(1);  // empty: closed, or nothing for 5 s
    if (more.empty()) break;
    got += more;
  }
  return got;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resp_search)

BOOST_AUTO_TEST_CASE(search_forms_answer_as_redisearch) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"MSET", "k1", "red apple pie", "k2", "green apple tart", "k3", "red cherry"}), "+OK\r\n");
  // Terms: every one must match; the hit's fields follow its key.
  expect(c, cmd({"FT.SEARCH", "kv", "cherry"}), count(3) + total(1) + bulk("k3") + fields("red cherry"));
  expect(c, cmd({"FT.SEARCH", "kv", "apple red", "NOCONTENT"}), count(2) + total(1) + bulk("k1"));
  expect(c, cmd({"FT.SEARCH", "kv", "apple cherry", "NOCONTENT"}), count(1) + total(0));
  // OR: the shorter document ranks first (BM25's length norm), both match one term.
  expect(c, cmd({"ft.search", "kv", "tart | cherry", "nocontent"}), count(3) + total(2) + bulk("k3") + bulk("k2"));
  expect(c, cmd({"FT.SEARCH", "kv", "tart|cherry|nothing", "NOCONTENT"}),
         count(3) + total(2) + bulk("k3") + bulk("k2"));
  // A phrase: the words consecutive and in order.
  expect(c, cmd({"FT.SEARCH", "kv", "\"apple pie\""}), count(3) + total(1) + bulk("k1") + fields("red apple pie"));
  expect(c, cmd({"FT.SEARCH", "kv", "\"pie apple\""}), count(1) + total(0));
  // A prefix; equal scores rank by key.
  expect(c, cmd({"FT.SEARCH", "kv", "app*", "NOCONTENT"}), count(3) + total(2) + bulk("k1") + bulk("k2"));
  expect(c, cmd({"FT.SEARCH", "kv", "app* gre*"}), count(3) + total(1) + bulk("k2") + fields("green apple tart"));
  // LIMIT pages after ranking; LIMIT 0 0 is the count alone, as in RediSearch.
  expect(c, cmd({"FT.SEARCH", "kv", "app*", "LIMIT", "1", "1"}),
         count(3) + total(2) + bulk("k2") + fields("green apple tart"));
  expect(c, cmd({"FT.SEARCH", "kv", "app*", "LIMIT", "0", "0"}), count(1) + total(2));
  expect(c, cmd({"FT.SEARCH", "kv", "app*", "LIMIT", "5", "10"}), count(1) + total(2));
  expect(c, cmd({"FT.SEARCH", "kv", "nothing"}), count(1) + total(0));
}

BOOST_AUTO_TEST_CASE(scores_and_similarity) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"MSET", "s1", "alpha beta", "s2", "gamma delta"}), "+OK\r\n");
  // Two documents of the same length, the term in one: idf = ln(1 + 1.5 / 1.5) = ln 2.
  const auto ln2 = fmt::format("{:.17g}", bm25_of_one(std::log(2.0)));
  expect(c, cmd({"FT.SEARCH", "kv", "alpha", "WITHSCORES"}),
         count(4) + total(1) + bulk("s1") + bulk(ln2) + fields("alpha beta"));
  expect(c, cmd({"FT.SEARCH", "kv", "alpha", "WITHSCORES", "NOCONTENT"}), count(3) + total(1) + bulk("s1") + bulk(ln2));
  // Similarity: the same text is 1; a near one passes a low threshold, not a high one.
  expect(c, cmd({"FT.SIMILAR", "kv", "alpha beta", "WITHSCORES", "THRESHOLD", "0.9"}),
         count(4) + total(1) + bulk("s1") + bulk("1") + fields("alpha beta"));
  expect(c, cmd({"FT.SIMILAR", "kv", "alpha betx", "NOCONTENT", "THRESHOLD", "0.5"}), count(2) + total(1) + bulk("s1"));
  expect(c, cmd({"FT.SIMILAR", "kv", "alpha betx", "NOCONTENT", "THRESHOLD", "0.8"}), count(1) + total(0));
  expect(c, cmd({"FT.SIMILAR", "kv", "alpha betx"}), count(3) + total(1) + bulk("s1") + fields("alpha beta"));
  // THRESHOLD 0 admits every document sharing an n-gram; LIMIT pages them and 0 0 counts.
  expect(c, cmd({"MSET", "s3", "alpha bet"}), "+OK\r\n");
  expect(c, cmd({"FT.SIMILAR", "kv", "alpha beta", "THRESHOLD", "0.5", "NOCONTENT"}),
         count(3) + total(2) + bulk("s1") + bulk("s3"));
  expect(c, cmd({"FT.SIMILAR", "kv", "alpha beta", "THRESHOLD", "0.5", "NOCONTENT", "LIMIT", "1", "1"}),
         count(2) + total(2) + bulk("s3"));
  expect(c, cmd({"FT.SIMILAR", "kv", "alpha beta", "THRESHOLD", "0.5", "LIMIT", "0", "0"}), count(1) + total(2));
  // RESP3: the same shape, scores as doubles.
  c.send(cmd({"HELLO", "3"}) + cmd({"PING"}));
  BOOST_TEST(read_until(c, "+PONG\r\n").starts_with("%7\r\n"));
  // Three documents of two words, the term in one: idf = ln(1 + 2.5 / 1.5).
  expect(c, cmd({"FT.SEARCH", "kv", "gamma", "WITHSCORES", "NOCONTENT"}),
         count(3) + total(1) + bulk("s2") + fmt::format(",{:.17g}\r\n", bm25_of_one(std::log(8.0 / 3.0))));
}

BOOST_AUTO_TEST_CASE(a_search_sees_the_connections_write_at_once) {
  resp_node n;
  raw_client c(n.port);
  raw_client other(n.port);
  for (int i = 0; i < 30; ++i) {
    const auto key = fmt::format("w{}", i);
    const auto word = fmt::format("word{}", i);
    // The write and the search in one pipeline: the search waits for the write, then for the
    // index to have applied it.
    c.send(cmd({"SET", key, word}) + cmd({"FT.SEARCH", "kv", word}));
    const auto want = "+OK\r\n" + count(3) + total(1) + bulk(key) + fields(word);
    BOOST_TEST(c.read(want.size()) == want);
    // An overwrite replaces the old words at once; another connection sees it once acknowledged.
    const auto next = fmt::format("next{}", i);
    c.send(cmd({"SET", key, next}) + cmd({"FT.SEARCH", "kv", word}));
    BOOST_TEST(c.read(5 + count(1).size() + total(0).size()) == "+OK\r\n" + count(1) + total(0));
    expect(other, cmd({"FT.SEARCH", "kv", next, "NOCONTENT"}), count(2) + total(1) + bulk(key));
  }
  // READONLY reads this node's state: still after the connection's own writes.
  expect(c, cmd({"READONLY"}), "+OK\r\n");
  c.send(cmd({"SET", "ro", "readonly words"}) + cmd({"FT.SEARCH", "kv", "readonly", "NOCONTENT"}));
  const auto want = "+OK\r\n" + count(2) + total(1) + bulk("ro");
  BOOST_TEST(c.read(want.size()) == want);
}

BOOST_AUTO_TEST_CASE(deleted_and_expired_keys_disappear) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"MSET", "d1", "doomed text", "d2", "doomed too"}), "+OK\r\n");
  expect(c, cmd({"FT.SEARCH", "kv", "doomed", "NOCONTENT"}), count(3) + total(2) + bulk("d1") + bulk("d2"));
  expect(c, cmd({"DEL", "d1"}), ":1\r\n");
  expect(c, cmd({"FT.SEARCH", "kv", "doomed"}), count(3) + total(1) + bulk("d2") + fields("doomed too"));
  expect(c, cmd({"FLUSHDB"}), "+OK\r\n");
  expect(c, cmd({"FT.SEARCH", "kv", "doomed"}), count(1) + total(0));
  // An expired key's delete goes through the log like any other: the index follows it.
  expect(c, cmd({"SET", "e", "ephemeral", "PX", "300"}), "+OK\r\n");
  expect(c, cmd({"FT.SEARCH", "kv", "ephemeral", "NOCONTENT"}), count(2) + total(1) + bulk("e"));
  const auto none = count(1) + total(0);
  std::string got;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    got = c.ask(cmd({"FT.SEARCH", "kv", "ephemeral", "NOCONTENT"}), none);
    if (got == none) break;
    got += c.read(count(2).size() + total(1).size() + bulk("e").size() - got.size());
    std::this_thread::sleep_for(50ms);
  }
  BOOST_TEST(got == none);
  expect(c, cmd({"GET", "e"}), "$-1\r\n");
}

BOOST_AUTO_TEST_CASE(bad_input_gets_a_precise_error) {
  resp_node n;
  raw_client c(n.port);
  expect(c, cmd({"SET", "k", "some words"}), "+OK\r\n");
  // The one index, its name, and what RediSearch answers for others.
  expect(c, cmd({"FT._LIST"}), count(1) + bulk("kv"));
  expect(c, cmd({"FT.SEARCH", "idx", "words"}), error("idx: no such index"));
  expect(c, cmd({"FT.SIMILAR", "idx", "words"}), error("idx: no such index"));
  expect(c, cmd({"FT.INFO", "idx"}), error("Unknown index name"));
  // FT.INFO tells the index as it is (it may lag the log a moment): the SET is counted once applied.
  const auto info_head = count(14) + bulk("index_name") + bulk("kv") + bulk("attributes") + count(1) + count(6) +
                         bulk("identifier") + bulk("value") + bulk("attribute") + bulk("value") + bulk("type") +
                         bulk("TEXT") + bulk("num_docs") + total(1) + bulk("hash_indexing_failures") + total(0) +
                         bulk("indexing") + total(0) + bulk("index_applied_index");
  const auto info_tail = bulk("index_lag") + total(0) + "+PONG\r\n";
  std::string info;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    c.send(cmd({"FT.INFO", "kv"}) + cmd({"PING"}));
    info = read_until(c, "+PONG\r\n");
    if (info.starts_with(info_head) && info.ends_with(info_tail)) break;
    std::this_thread::sleep_for(20ms);
  }
  BOOST_TEST(info.starts_with(info_head), info);
  BOOST_TEST(info.ends_with(info_tail), info);
  // Arity.
  expect(c, cmd({"FT.SEARCH", "kv"}), error("ERR wrong number of arguments for 'ft.search' command"));
  expect(c, cmd({"FT.SIMILAR", "kv"}), error("ERR wrong number of arguments for 'ft.similar' command"));
  expect(c, cmd({"FT.INFO"}), error("ERR wrong number of arguments for 'ft.info' command"));
  expect(c, cmd({"FT._LIST", "x"}), error("ERR wrong number of arguments for 'ft._list' command"));
  // Options.
  const auto bad_limit = error("ERR LIMIT takes an offset and a number of results, integers from 0 to 4294967295");
  expect(c, cmd({"FT.SEARCH", "kv", "words", "LIMIT", "1"}), bad_limit);
  expect(c, cmd({"FT.SEARCH", "kv", "words", "LIMIT", "-1", "5"}), bad_limit);
  expect(c, cmd({"FT.SEARCH", "kv", "words", "LIMIT", "a", "5"}), bad_limit);
  expect(c, cmd({"FT.SEARCH", "kv", "words", "LIMIT", "0", "4294967296"}), bad_limit);
  expect(c, cmd({"FT.SEARCH", "kv", "words", "LIMIT", "990", "11"}),
         error("ERR limit + offset (1001) exceeds index.max-results (1000)"));
  expect(c, cmd({"FT.SEARCH", "kv", "words", "SORTBY", "value"}),
         error("ERR FT.SEARCH's argument 'SORTBY' is unknown or not supported by kvnode (it takes NOCONTENT, "
               "WITHSCORES and LIMIT offset num)"));
  expect(c, cmd({"FT.SIMILAR", "kv", "words", "THRESHOLD", "1.5"}), error("ERR THRESHOLD takes a number from 0 to 1"));
  expect(c, cmd({"FT.SIMILAR", "kv", "words", "THRESHOLD", "x"}), error("ERR THRESHOLD takes a number from 0 to 1"));
  expect(c, cmd({"FT.SIMILAR", "kv", "words", "TOP", "3"}),
         error("ERR FT.SIMILAR's argument 'TOP' is unknown (it takes THRESHOLD t, NOCONTENT, WITHSCORES and LIMIT "
               "offset num)"));
  expect(c, cmd({"FT.SIMILAR", "kv", "!!"}), error("ERR the text has no n-grams (no letters or digits)"));
  // Queries kvnode cannot say are refused, never answered differently.
  expect(c, cmd({"FT.SEARCH", "kv", "words -some"}),
         error("ERR the query uses negation ('-' at offset 6), which kvnode's FT.SEARCH does not support"));
  expect(c, cmd({"FT.SEARCH", "kv", "@value:words"}),
         error("ERR the query uses field modifiers ('@' at offset 0), which kvnode's FT.SEARCH does not support"));
  expect(c, cmd({"FT.SEARCH", "kv", "some words | other"}),
         error("ERR the query mixes AND (terms side by side, at offset 5) with OR ('|'): kvnode's query matches every "
               "term or any term, not both"));
  expect(c, cmd({"FT.SEARCH", "kv", "\"some words"}), error("ERR Syntax error at offset 0: the '\"' is not closed"));
  expect(c, cmd({"FT.SEARCH", "kv", ""}), error("ERR the query is empty"));
  expect(c, cmd({"FT.SEARCH", "kv", "the a"}),
         error("ERR no terms left after tokenizing: the query holds only stop words, punctuation or symbols"));
  // A search is no transaction op.
  expect(c, cmd({"MULTI"}), "+OK\r\n");
  expect(c, cmd({"FT.SEARCH", "kv", "words"}),
         error("ERR 'FT.SEARCH' cannot run inside MULTI on kvnode (docs/redis.md)"));
  expect(c, cmd({"DISCARD"}), "+OK\r\n");
  expect(c, cmd({"PING"}), "+PONG\r\n");
  expect(c, cmd({"FT.SEARCH", "kv", "words", "NOCONTENT"}), count(2) + total(1) + bulk("k"));
}

BOOST_AUTO_TEST_CASE(search_disabled_is_said_so) {
  resp_node n("[index]\nenabled = false\n");
  raw_client c(n.port);
  const auto disabled = error("ERR search is disabled on this node ([index] enabled = false)");
  expect(c, cmd({"FT.SEARCH", "kv", "words"}), disabled);
  expect(c, cmd({"FT.SIMILAR", "kv", "words"}), disabled);
  expect(c, cmd({"FT.INFO", "kv"}), disabled);
  expect(c, cmd({"FT._LIST"}), count(0));
  expect(c, cmd({"SET", "k", "v"}), "+OK\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

#include "core/model/command.hpp"
#include "index/search_index.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace kv::search;

namespace {

index_options options() {
  index_options o;
  o.stop_words = {"the", "of", "and"};
  o.stemming_language = "english";
  return o;
}

std::string random_value(std::mt19937& rng) {
  static const std::vector<std::string> words{"the", "of", "and", "index", "indexes", "indexing", "data",
                                              "database", "node", "nodes", "raft", "log", "Straße",
                                              "strasse", "café", "東京", "3.14", "don't", "key", "value"};
  if (rng() % 25 == 0) return std::string("bad \xff utf-8");
  std::string s;
  int n = static_cast<int>(rng() % 8);
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + words[rng() % words.size()];
  return s;
}

bool valid(const std::string& v) { return v.find('\xff') == std::string::npos; }

// Compares two indexes on everything observable.
void require_same(const search_index& a, const search_index& b) {
  BOOST_TEST(a.digest() == b.digest());
  auto sa = a.stats();
  auto sb = b.stats();
  BOOST_TEST(sa.documents == sb.documents);
  BOOST_TEST(sa.terms == sb.terms);
  BOOST_TEST(sa.postings == sb.postings);
  BOOST_TEST(sa.ngrams == sb.ngrams);
  BOOST_TEST(sa.ngram_postings == sb.ngram_postings);
  const std::vector<text_query> texts{
      {match_mode::all, {"index"}, 50, 0, ""},
      {match_mode::any, {"data", "node", "café"}, 50, 0, ""},
      {match_mode::all, {"raft log"}, 50, 0, ""},
      {match_mode::phrase, {"the index"}, 50, 0, ""},
      {match_mode::phrase, {"data of the node"}, 50, 0, ""},
      {match_mode::any, {"ind*", "str*"}, 50, 0, ""},
      {match_mode::all, {"key"}, 5, 2, "k1"},
      {match_mode::any, {"東京", "3.14", "don't"}, 50, 0, ""},
  };
  for (const auto& q : texts) {
    auto ra = a.search(q);
    auto rb = b.search(q);
    BOOST_REQUIRE(ra.ok() && rb.ok());
    BOOST_TEST(ra->total == rb->total);
    BOOST_REQUIRE_EQUAL(ra->hits.size(), rb->hits.size());
    for (std::size_t i = 0; i < ra->hits.size(); ++i) {
      BOOST_TEST(ra->hits[i].key == rb->hits[i].key);
      BOOST_TEST(ra->hits[i].score == rb->hits[i].score);
    }
  }
  for (const char* text : {"index data", "strasse", "the node of raft", "café 東京"}) {
    for (double t : {0.0, 0.3, 0.7}) {
      auto ra = a.similar(similar_query{text, 20, t});
      auto rb = b.similar(similar_query{text, 20, t});
      BOOST_REQUIRE(ra.ok() && rb.ok());
      BOOST_TEST(ra->total == rb->total);
      BOOST_REQUIRE_EQUAL(ra->hits.size(), rb->hits.size());
      for (std::size_t i = 0; i < ra->hits.size(); ++i) {
        BOOST_TEST(ra->hits[i].key == rb->hits[i].key);
        BOOST_TEST(ra->hits[i].score == rb->hits[i].score);
      }
    }
  }
}

search_index fresh_from(const std::map<std::string, std::string>& final_values) {
  search_index fresh(options());
  // Reverse key order: the digest must not depend on the order documents arrive in.
  for (auto it = final_values.rbegin(); it != final_values.rend(); ++it) {
    if (valid(it->second)) fresh.put(it->first, it->second);
  }
  return fresh;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(maintenance)

// Random sets, deletes and bulk sets, encoded and decoded as the log carries them: afterwards the
// index equals one built from scratch from the final key -> value map.
BOOST_AUTO_TEST_CASE(applied_commands_equal_a_fresh_build) {
  for (unsigned seed = 1; seed <= 6; ++seed) {
    std::mt19937 rng(seed);
    search_index ix(options());
    std::map<std::string, std::string> model;
    std::uint64_t index = 0;
    for (int step = 0; step < 1500; ++step) {
      auto key = [&] { return "k" + std::to_string(rng() % 60); };
      std::string bytes;
      int op = static_cast<int>(rng() % 10);
      if (op < 6) {
        std::string k = key();
        std::string v = random_value(rng);
        bytes = kv::encode_set(k, v);
        model[k] = v;
      } else if (op < 8) {
        std::string k = key();
        bytes = kv::encode_del(k);
        model.erase(k);
      } else if (op < 9) {
        std::vector<kv::kv_pair> pairs;
        int n = 1 + static_cast<int>(rng() % 6);
        for (int i = 0; i < n; ++i) {
          pairs.push_back({key(), random_value(rng)});  // a key may repeat: the last pair wins
          model[pairs.back().key] = pairs.back().value;
        }
        bytes = kv::encode_bulk_set(pairs);
      } else {
        std::string k = key();
        std::string v = random_value(rng);
        bytes = kv::encode_in_session(kv::session_ref{7, static_cast<std::uint64_t>(step), 0}, kv::encode_set(k, v));
        model[k] = v;
      }
      auto cmd = kv::decode_command(bytes);
      BOOST_REQUIRE(cmd.ok());
      ix.apply(++index, *cmd);
      BOOST_TEST(ix.applied_index() == index);
    }
    for (auto it = model.begin(); it != model.end();) it = valid(it->second) ? std::next(it) : model.erase(it);
    BOOST_TEST_CONTEXT("seed " << seed) {
      ix.check_invariants();
      auto fresh = fresh_from(model);
      fresh.check_invariants();
      BOOST_TEST(ix.stats().documents == model.size());
      require_same(ix, fresh);
    }
  }
}

// The same commands through an index that builds its n-grams on a helper thread (build_threads
// = 2) and one that does everything on the caller's thread: large bulk sets (keys repeating in a
// batch, values that are not UTF-8), deletes and single sets between them, and enough churn to
// renumber the documents several times, some of them in the middle of a batch.
BOOST_AUTO_TEST_CASE(two_build_threads_build_what_one_thread_builds) {
  auto two = options();
  two.build_threads = 2;
  search_index parallel(two);
  search_index serial(options());
  std::mt19937 rng(2024);
  std::map<std::string, std::string> model;
  std::uint64_t index = 0;
  auto apply_both = [&](const std::string& bytes) {
    auto cmd = kv::decode_command(bytes);
    BOOST_REQUIRE(cmd.ok());
    parallel.apply(++index, *cmd);
    serial.apply(index, *cmd);
  };
  auto key = [&] { return "k" + std::to_string(rng() % 400); };
  for (int round = 0; round < 50; ++round) {
    std::vector<kv::kv_pair> pairs;
    const int n = 1 + static_cast<int>(rng() % 600);
    for (int i = 0; i < n; ++i) {
      pairs.push_back({key(), random_value(rng)});
      model[pairs.back().key] = pairs.back().value;
    }
    apply_both(kv::encode_bulk_set(pairs));
    for (int i = 0; i < 20; ++i) {
      std::string k = key();
      if (rng() % 2 == 0) {
        apply_both(kv::encode_del(k));
        model.erase(k);
      } else {
        std::string v = random_value(rng);
        apply_both(kv::encode_set(k, v));
        model[k] = v;
      }
    }
    BOOST_REQUIRE(parallel.digest() == serial.digest());
    if (round % 10 == 9) parallel.check_invariants();
  }
  std::vector<kv::kv_pair> reload;  // put_many takes the same path
  for (const auto& [k, v] : model) reload.push_back({k, v});
  std::shuffle(reload.begin(), reload.end(), rng);
  parallel.put_many(reload);
  serial.put_many(reload);
  for (auto it = model.begin(); it != model.end();) it = valid(it->second) ? std::next(it) : model.erase(it);
  parallel.check_invariants();
  require_same(parallel, serial);
  const auto p = parallel.stats();
  const auto s = serial.stats();
  BOOST_TEST(p.documents == model.size());
  BOOST_TEST(p.stale_postings == s.stale_postings);
  BOOST_TEST(p.skipped_non_utf8 == s.skipped_non_utf8);
  BOOST_TEST(p.skipped_non_utf8 > 0u);
  require_same(parallel, fresh_from(model));
}

BOOST_AUTO_TEST_CASE(bulk_set_is_applied_whole) {
  search_index ix(options());
  std::vector<kv::kv_pair> pairs{{"a", "first apple"}, {"b", "second apple"}, {"a", "third banana"}};
  auto bytes = kv::encode_bulk_set(pairs);
  auto cmd = kv::decode_command(bytes);
  BOOST_REQUIRE(cmd.ok());
  ix.apply(42, *cmd);
  BOOST_TEST(ix.applied_index() == 42u);
  BOOST_TEST(ix.stats().documents == 2u);
  auto apple = ix.search(text_query{match_mode::all, {"apple"}, 10, 0, ""});
  BOOST_REQUIRE(apple.ok());
  BOOST_TEST(apple->total == 1u);  // "a" was overwritten by the third pair
  BOOST_TEST(apple->applied_index == 42u);
  // Commands that do not write only move the index.
  auto noop = kv::encode_noop();
  ix.apply(43, *kv::decode_command(noop));
  auto session = kv::encode_open_session();
  ix.apply(44, *kv::decode_command(session));
  BOOST_TEST(ix.applied_index() == 44u);
  BOOST_TEST(ix.stats().documents == 2u);
  ix.set_applied_index(100);
  BOOST_TEST(ix.applied_index() == 100u);
}

BOOST_AUTO_TEST_CASE(postings_return_to_the_expected_count) {
  search_index ix(options());
  std::mt19937 rng(99);
  std::map<std::string, std::string> model;
  // Enough churn to compact lists many times and renumber documents (dead ids > live + 4096).
  for (int round = 0; round < 60; ++round) {
    for (int i = 0; i < 200; ++i) {
      std::string k = "key" + std::to_string(i);
      std::string v = random_value(rng);
      ix.put(k, v);
      if (valid(v)) {
        model[k] = v;
      } else {
        model.erase(k);
      }
    }
    auto st = ix.stats();
    // Dead entries stay bounded by the live ones plus a small slack per list.
    BOOST_TEST(st.stale_postings <= st.postings + st.ngram_postings + 8 * (st.terms + st.ngrams));
  }
  ix.check_invariants();
  auto fresh = fresh_from(model);
  require_same(ix, fresh);
  BOOST_TEST(ix.stats().postings == fresh.stats().postings);
  BOOST_TEST(ix.stats().ngram_postings == fresh.stats().ngram_postings);
  BOOST_TEST(ix.stats().skipped_non_utf8 > 0u);

  auto full = ix.stats();
  for (int i = 0; i < 200; ++i) ix.erase("key" + std::to_string(i));
  auto empty = ix.stats();
  BOOST_TEST(empty.documents == 0u);
  BOOST_TEST(empty.terms == 0u);
  BOOST_TEST(empty.postings == 0u);
  BOOST_TEST(empty.ngrams == 0u);
  BOOST_TEST(empty.ngram_postings == 0u);
  BOOST_TEST(empty.stale_postings == 0u);
  BOOST_TEST(empty.memory_bytes < full.memory_bytes);
  BOOST_TEST(ix.digest() == search_index(options()).digest());
  ix.check_invariants();
}

BOOST_AUTO_TEST_CASE(digest_reflects_contents_not_history) {
  search_index a(options());
  search_index b(options());
  a.put("x", "alpha beta");
  a.put("y", "gamma");
  b.put("y", "something else");
  b.put("x", "alpha");
  b.put("y", "gamma");
  BOOST_TEST(a.digest() != b.digest());
  b.put("x", "alpha beta");
  BOOST_TEST(a.digest() == b.digest());
  // Keys, positions and grams all count.
  search_index c(options());
  c.put("x", "beta alpha");
  c.put("y", "gamma");
  BOOST_TEST(c.digest() != a.digest());
  search_index d(options());
  d.put("z", "alpha beta");
  d.put("y", "gamma");
  BOOST_TEST(d.digest() != a.digest());
  // Values that only differ in case analyze alike.
  search_index e(options());
  e.put("x", "ALPHA Beta");
  e.put("y", "gamma!");
  BOOST_TEST(e.digest() == a.digest());
}

BOOST_AUTO_TEST_CASE(invalid_utf8_removes_and_is_counted) {
  search_index ix(options());
  ix.put("k", "fine words");
  ix.put("k", "broken \xc3\x28 words");
  BOOST_TEST(ix.stats().documents == 0u);
  BOOST_TEST(ix.stats().skipped_non_utf8 == 1u);
  BOOST_TEST(ix.search(text_query{match_mode::all, {"fine"}, 10, 0, ""})->total == 0u);
  ix.check_invariants();
  ix.clear();
  BOOST_TEST(ix.stats().skipped_non_utf8 == 0u);
  BOOST_TEST(ix.applied_index() == 0u);
}

BOOST_AUTO_TEST_CASE(clear_empties_everything) {
  search_index ix(options());
  ix.put("a", "some words");
  ix.set_applied_index(9);
  ix.clear();
  BOOST_TEST(ix.stats().documents == 0u);
  BOOST_TEST(ix.applied_index() == 0u);
  BOOST_TEST(ix.digest() == search_index(options()).digest());
  ix.put("a", "some words");  // still usable, with the same options (stemming)
  BOOST_TEST(ix.search(text_query{match_mode::all, {"word"}, 10, 0, ""})->total == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

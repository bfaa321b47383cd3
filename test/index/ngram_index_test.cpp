#include "index/ngram_index.hpp"
#include "index/search_index.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace kv::search;

namespace {

// An independent model of the n-gram sets: values here are lower-case letters (which fold to
// themselves) separated by spaces, so words are the space-separated runs.
std::u32string code_points(std::string_view s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    auto lead = static_cast<unsigned char>(s[i]);
    std::size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    char32_t c = len == 1 ? lead : lead & (0x7f >> len);
    for (std::size_t k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    out.push_back(c);
    i += len;
  }
  return out;
}

std::set<std::u32string> model_grams(std::string_view value, std::size_t n) {
  std::set<std::u32string> grams;
  std::u32string text = code_points(value);
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == U' ') {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && text[j] != U' ') ++j;
    std::u32string padded = std::u32string(n - 1, U' ') + text.substr(i, j - i) + (n > 1 ? U" " : U"");
    for (std::size_t k = 0; k + n <= padded.size(); ++k) grams.insert(padded.substr(k, n));
    i = j;
  }
  return grams;
}

struct model_answer {
  std::vector<hit> hits;
  std::uint64_t total = 0;
};

model_answer brute_force(const std::map<std::string, std::string>& docs, std::string_view text, std::size_t n,
                         std::uint32_t k, double threshold) {
  auto q = model_grams(text, n);
  model_answer a;
  for (const auto& [key, value] : docs) {
    auto d = model_grams(value, n);
    std::size_t shared = 0;
    for (const auto& g : d) shared += q.count(g);
    std::size_t united = q.size() + d.size() - shared;
    double j = static_cast<double>(shared) / static_cast<double>(united);
    if (shared > 0 && j >= threshold) a.hits.push_back(hit{key, j});
  }
  std::sort(a.hits.begin(), a.hits.end(),
            [](const hit& x, const hit& y) { return x.score != y.score ? x.score > y.score : x.key < y.key; });
  a.total = a.hits.size();
  if (a.hits.size() > k) a.hits.resize(k);
  return a;
}

std::string random_text(std::mt19937& rng, const std::vector<std::string>& alphabet, int min_words, int max_words) {
  std::string s;
  int words = std::uniform_int_distribution<int>(min_words, max_words)(rng);
  for (int w = 0; w < words; ++w) {
    if (w > 0) s += ' ';
    int len = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int c = 0; c < len; ++c) s += alphabet[rng() % alphabet.size()];
  }
  return s;
}

void check_against_model(const search_index& ix, const std::map<std::string, std::string>& docs,
                         std::mt19937& rng, const std::vector<std::string>& alphabet, std::size_t n) {
  for (int i = 0; i < 12; ++i) {
    std::string text = random_text(rng, alphabet, 1, 4);
    for (double threshold : {0.0, 0.1, 0.2, 1.0 / 3, 0.5, 0.75, 1.0}) {
      for (std::uint32_t k : {1u, 3u, 1000u}) {
        auto want = brute_force(docs, text, n, k, threshold);
        auto got = ix.similar(similar_query{text, k, threshold});
        BOOST_REQUIRE_MESSAGE(got.ok(), got.message());
        BOOST_TEST_CONTEXT("text '" << text << "' threshold " << threshold << " k " << k << " n " << n) {
          BOOST_TEST(got->total == want.total);
          BOOST_REQUIRE_EQUAL(got->hits.size(), want.hits.size());
          for (std::size_t h = 0; h < want.hits.size(); ++h) {
            BOOST_TEST(got->hits[h].key == want.hits[h].key);
            BOOST_TEST(got->hits[h].score == want.hits[h].score);  // exactly: the same division
          }
        }
      }
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ngram_index)

BOOST_AUTO_TEST_CASE(jaccard_of_small_examples) {
  search_index ix(index_options{});
  ix.put("cat", "cat");
  ix.put("cats", "Cats");  // folded
  ix.put("dog", "dog");
  // "cat": {"  c", " ca", "cat", "at "}; "cats": {"  c", " ca", "cat", "ats", "ts "}: 3 / 6.
  auto r = ix.similar(similar_query{"cat", 10, 0.0});
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE_EQUAL(r->hits.size(), 2u);  // "dog" shares no gram: J = 0 is never returned
  BOOST_TEST(r->hits[0].key == "cat");
  BOOST_TEST(r->hits[0].score == 1.0);
  BOOST_TEST(r->hits[1].key == "cats");
  BOOST_TEST(r->hits[1].score == 0.5);
  BOOST_TEST(r->total == 2u);
  auto high = ix.similar(similar_query{"cat", 10, 0.6});
  BOOST_REQUIRE(high.ok());
  BOOST_TEST(high->total == 1u);
  // Stop words count for similarity; word order does not.
  ix.put("phrase", "the cat");
  auto order = ix.similar(similar_query{"cat the", 1, 1.0});
  BOOST_REQUIRE(order.ok());
  BOOST_REQUIRE_EQUAL(order->hits.size(), 1u);
  BOOST_TEST(order->hits[0].key == "phrase");
}

BOOST_AUTO_TEST_CASE(min_overlap_is_exact) {
  BOOST_TEST(min_overlap(10, 0.0) == 0u);
  BOOST_TEST(min_overlap(10, 0.3) == 3u);
  BOOST_TEST(min_overlap(10, 0.31) == 4u);
  BOOST_TEST(min_overlap(10, 1.0) == 10u);
  BOOST_TEST(min_overlap(3, 1.0 / 3) == 1u);
  BOOST_TEST(min_overlap(7, 0.5) == 4u);
  for (std::uint32_t q = 1; q < 50; ++q) {
    for (double t = 0; t <= 1.0; t += 0.01) {
      std::uint32_t o = min_overlap(q, t);
      BOOST_TEST((static_cast<double>(o) / q >= t));
      if (o > 0) BOOST_TEST((static_cast<double>(o - 1) / q < t));
    }
  }
}

// Random corpora over small alphabets (so grams are shared a lot), with overwrites and deletes,
// against a brute-force scan: keys and scores must be identical.
BOOST_AUTO_TEST_CASE(similar_equals_brute_force_on_random_corpora) {
  const std::vector<std::vector<std::string>> alphabets{
      {"a", "b", "c"},
      {"a", "b"},
      {"a", "é", "ж"},       // 2-byte code points: packed grams
      {"東", "京", "x"},     // 3-byte code points: long grams for n >= 3
  };
  for (unsigned seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    const auto& alphabet = alphabets[seed % alphabets.size()];
    const std::size_t n = 1 + seed % 5;
    index_options o;
    o.ngram_size = n;
    o.max_results = 1000;
    search_index ix(o);
    std::map<std::string, std::string> docs;
    BOOST_TEST_CONTEXT("seed " << seed << " n " << n) {
      for (int step = 0; step < 400; ++step) {
        std::string key = "k" + std::to_string(rng() % 40);
        int op = static_cast<int>(rng() % 100);
        if (op < 75) {
          std::string value = random_text(rng, alphabet, 0, 5);
          ix.put(key, value);
          docs[key] = value;
        } else {
          ix.erase(key);
          docs.erase(key);
        }
        if (step % 100 == 99) check_against_model(ix, docs, rng, alphabet, n);
      }
      ix.check_invariants();
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

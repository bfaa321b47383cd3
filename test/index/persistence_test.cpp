// search_index::save / load: round trips keep every answer, damaged files are refused.
#include "core/base/bytes.hpp"
#include "core/base/crc32c.hpp"
#include "index/persist.hpp"
#include "index/search_index.hpp"
#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>
#include <vector>

using namespace kv::search;
namespace persist = kv::search::persist;

namespace {

index_options options() {
  index_options o;
  o.stop_words = {"the", "of", "and"};
  o.stemming_language = "english";
  return o;
}

std::string random_value(std::mt19937& rng) {
  static const std::vector<std::string> words{
      "the",  "of",     "and",   "index", "indexes", "indexing", "data", "database", "node",   "nodes",
      "raft", "log",    "logs",  "Straße", "strasse", "café",    "東京", "3.14",     "don't",  "key",
      "value", "library", "libc6", "development", "files", "ünïcödé", "ελληνικά", "x", "qz", "zzzzzzzzzzlong"};
  if (rng() % 30 == 0) return std::string("bad \xff utf-8");
  std::string s;
  int n = static_cast<int>(rng() % 10);
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + words[rng() % words.size()];
  return s;
}

// One random update: mostly puts (overwrites among them), some erases.
void random_update(search_index& ix, std::mt19937& rng, int keys) {
  std::string key = "k" + std::to_string(rng() % static_cast<unsigned>(keys));
  if (rng() % 5 == 0) {
    ix.erase(key);
  } else {
    ix.put(key, random_value(rng));
  }
}

void require_same_answer(const kv::result<search_answer>& a, const kv::result<search_answer>& b) {
  BOOST_REQUIRE_EQUAL(a.ok(), b.ok());
  if (!a.ok()) return;
  BOOST_TEST(a->total == b->total);
  BOOST_TEST(a->applied_index == b->applied_index);
  BOOST_REQUIRE_EQUAL(a->hits.size(), b->hits.size());
  for (std::size_t i = 0; i < a->hits.size(); ++i) {
    BOOST_TEST(a->hits[i].key == b->hits[i].key);
    BOOST_TEST(a->hits[i].score == b->hits[i].score);  // bit-identical, not merely close
  }
}

// Compares two indexes on everything observable.
void require_same(const search_index& a, const search_index& b) {
  BOOST_TEST(a.digest() == b.digest());
  BOOST_TEST(a.applied_index() == b.applied_index());
  auto sa = a.stats();
  auto sb = b.stats();
  BOOST_TEST(sa.documents == sb.documents);
  BOOST_TEST(sa.terms == sb.terms);
  BOOST_TEST(sa.postings == sb.postings);
  BOOST_TEST(sa.ngrams == sb.ngrams);
  BOOST_TEST(sa.ngram_postings == sb.ngram_postings);
  BOOST_TEST(sa.skipped_non_utf8 == sb.skipped_non_utf8);
  BOOST_TEST(sa.stale_postings == sb.stale_postings);
  const std::vector<text_query> texts{
      {match_mode::all, {"index"}, 100, 0, ""},
      {match_mode::all, {"data", "node"}, 100, 0, ""},
      {match_mode::any, {"data", "node", "café", "ελληνικά"}, 100, 0, ""},
      {match_mode::any, {"raft", "log"}, 7, 3, ""},
      {match_mode::phrase, {"the index"}, 100, 0, ""},
      {match_mode::phrase, {"development files"}, 100, 0, ""},
      {match_mode::phrase, {"data of the node"}, 100, 0, ""},
      {match_mode::any, {"ind*", "str*"}, 100, 0, ""},
      {match_mode::all, {"lib*"}, 100, 0, ""},
      {match_mode::phrase, {"lib* dev*"}, 100, 0, ""},
      {match_mode::all, {"key"}, 5, 2, "k1"},
      {match_mode::any, {"東京", "3.14", "don't", "zzzzzzzzzzlong"}, 100, 0, ""},
  };
  for (const auto& q : texts) require_same_answer(a.search(q), b.search(q));
  for (const char* text : {"index data", "strasse", "the node of raft", "café 東京", "ünïcödé zzzzzzzzzzlong", "qz x"}) {
    for (double t : {0.0, 0.3, 0.7}) {
      require_same_answer(a.similar(similar_query{text, 50, t}), b.similar(similar_query{text, 50, t}));
    }
  }
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct chunk_at {
  std::size_t offset;
  std::uint32_t section;
  std::uint32_t length;
};

// The chunks of a saved file, in order (the footer last).
std::vector<chunk_at> chunks_of(std::string_view file) {
  std::vector<chunk_at> chunks;
  for (std::size_t off = persist::header_bytes; off < file.size();) {
    chunk_at c{off, kv::get_fixed<std::uint32_t>(file.data() + off + 4), kv::get_fixed<std::uint32_t>(file.data() + off + 8)};
    chunks.push_back(c);
    off += persist::chunk_header_bytes + c.length;
  }
  return chunks;
}

// An index that went through overwrites, erases, compactions and (with enough updates) renumbering.
search_index churned_index(unsigned seed, int updates, int keys) {
  std::mt19937 rng(seed);
  search_index ix(options());
  for (int i = 0; i < updates; ++i) random_update(ix, rng, keys);
  ix.set_applied_index(1000 + seed);
  return ix;
}

// The index must be empty (as after clear()) and usable.
void require_empty_and_usable(search_index& ix) {
  BOOST_TEST(ix.documents() == 0u);
  BOOST_TEST(ix.applied_index() == 0u);
  BOOST_TEST(ix.stats().terms == 0u);
  BOOST_TEST(ix.stats().ngrams == 0u);
  BOOST_TEST(ix.digest() == search_index(options()).digest());
  ix.check_invariants();
  ix.put("fresh", "indexing after a failed load");
  auto r = ix.search(text_query{match_mode::all, {"load"}, 10, 0, ""});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->total == 1u);
  ix.clear();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(persistence)

BOOST_AUTO_TEST_CASE(round_trip_keeps_every_answer_and_later_updates) {
  kv::test::temp_dir dir;
  for (unsigned seed = 1; seed <= 5; ++seed) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      // Seeds 4 and 5 churn few keys long enough to renumber documents (more than 4096 dead ids).
      const int keys = seed <= 3 ? 400 : 40;
      const int updates = seed <= 3 ? 3000 : 9000;
      search_index original = churned_index(seed, updates, keys);
      original.save(dir / "index");
      BOOST_TEST(!std::filesystem::exists(dir / "index.tmp"));

      search_index loaded(options());
      loaded.put("stale", "contents that load must replace");
      auto r = loaded.load(dir / "index");
      BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
      BOOST_TEST(*r == 1000u + seed);
      loaded.check_invariants();
      require_same(original, loaded);

      // Saving the loaded index gives the same bytes: ids, lists and free lists all survived.
      loaded.save(dir / "again");
      BOOST_TEST((read_bytes(dir / "index") == read_bytes(dir / "again")));

      // Both take the same updates alike, through compactions and renumbering.
      std::mt19937 rng(seed * 7919);
      for (int i = 0; i < updates; ++i) {
        std::mt19937 copy = rng;
        random_update(original, rng, keys);
        random_update(loaded, copy, keys);
      }
      original.set_applied_index(5000);
      loaded.set_applied_index(5000);
      loaded.check_invariants();
      require_same(original, loaded);
    }
  }
}

BOOST_AUTO_TEST_CASE(loaded_index_equals_a_fresh_build_of_the_same_contents) {
  kv::test::temp_dir dir;
  search_index a(options());
  search_index b(options());
  a.put("x", "first version of x");
  a.put("y", "something about raft logs");
  a.put("x", "the index of the database");
  a.erase("y");
  b.put("x", "the index of the database");
  a.save(dir / "a");
  search_index loaded(options());
  BOOST_REQUIRE(loaded.load(dir / "a").ok());
  BOOST_TEST(loaded.digest() == b.digest());
  BOOST_TEST(loaded.stats().documents == 1u);
}

// Regression: ids handed out after a renumbering repeat old ones, and n-gram bookkeeping left
// from before the renumbering once dropped the grams of such a document (so a loaded index, which
// has none of that bookkeeping, would have diverged from the one it was saved from).
BOOST_AUTO_TEST_CASE(grams_survive_renumbering) {
  search_index ix(options());
  ix.put("a", "common words");
  for (int id = 1; id < 4100; ++id) ix.put("k", "common");
  ix.put("k", "qqq");  // takes id 4100; the table is then renumbered
  for (int id = 2; id < 4100; ++id) ix.put("k", "common");
  ix.put("k", "qqq");  // takes id 4100 again
  ix.check_invariants();
  auto r = ix.similar(similar_query{"qqq", 5, 0.5});
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE_EQUAL(r->hits.size(), 1u);
  BOOST_TEST(r->hits[0].score == 1.0);
}

BOOST_AUTO_TEST_CASE(an_empty_index_round_trips) {
  kv::test::temp_dir dir;
  search_index empty(options());
  empty.set_applied_index(17);
  empty.save(dir / "empty");
  search_index loaded(options());
  loaded.put("k", "replaced by the empty index");
  auto r = loaded.load(dir / "empty");
  BOOST_REQUIRE_MESSAGE(r.ok(), r.message());
  BOOST_TEST(*r == 17u);
  loaded.check_invariants();
  require_same(empty, loaded);
  loaded.put("k", "usable afterwards");
  BOOST_TEST(loaded.search(text_query{match_mode::all, {"usable"}, 10, 0, ""})->total == 1u);
}

BOOST_AUTO_TEST_CASE(options_must_match) {
  kv::test::temp_dir dir;
  search_index original = churned_index(3, 500, 100);
  original.save(dir / "index");

  auto refused = [&](index_options o, const std::string& named) {
    search_index other(std::move(o));
    other.put("k", "dropped by the failed load");
    auto r = other.load(dir / "index");
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.is(kv::errc::bad_request));
    BOOST_TEST(r.message().find("saved with different options") != std::string::npos, r.message());
    BOOST_TEST(r.message().find(named) != std::string::npos, r.message());
    require_empty_and_usable(other);
  };
  index_options o = options();
  o.ngram_size = 4;
  refused(o, "ngram_size 3 in the file, 4 here");
  o = options();
  o.stop_words.push_back("a");
  refused(o, "stop words");
  o = options();
  o.stemming_language = "";
  refused(o, "stemming");
  o = options();
  o.remove_diacritics = !o.remove_diacritics;
  refused(o, "remove_diacritics");

  // The same stop words in another order and case, and other query limits, are the same options.
  o = options();
  o.stop_words = {"AND", "the", "of", "the"};
  o.max_results = 10;
  o.max_postings_scanned = 5;
  search_index same(std::move(o));
  BOOST_REQUIRE(same.load(dir / "index").ok());
  BOOST_TEST(same.digest() == original.digest());
}

BOOST_AUTO_TEST_CASE(truncation_anywhere_is_detected) {
  kv::test::temp_dir dir;
  // Large enough for several chunks per section, so fields straddle chunk boundaries.
  search_index original = churned_index(11, 30000, 20000);
  original.save(dir / "index");
  const std::string file = read_bytes(dir / "index");
  const auto chunks = chunks_of(file);
  BOOST_TEST(chunks.size() > 5u);
  BOOST_TEST(chunks.back().section == static_cast<std::uint32_t>(persist::section::footer));

  std::vector<std::size_t> cuts{0, 1, persist::header_bytes - 1, persist::header_bytes, file.size() - 1};
  for (const auto& c : chunks) {
    cuts.push_back(c.offset);                                      // at every chunk (and section) boundary
    cuts.push_back(c.offset + persist::chunk_header_bytes / 2);    // inside a chunk header
    cuts.push_back(c.offset + persist::chunk_header_bytes + c.length / 2);  // inside a body
  }
  search_index loaded(options());
  for (std::size_t cut : cuts) {
    BOOST_TEST_CONTEXT("cut at " << cut) {
      write_bytes(dir / "cut", std::string_view(file).substr(0, cut));
      auto r = loaded.load(dir / "cut");
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.is(kv::errc::corruption), r.message());
      BOOST_TEST(r.message().find((dir / "cut").string()) != std::string::npos, r.message());
      BOOST_TEST(r.message().find("offset") != std::string::npos, r.message());
      BOOST_TEST(loaded.documents() == 0u);
    }
  }
  // Bytes after the footer are refused too.
  write_bytes(dir / "long", file + "x");
  BOOST_TEST(loaded.load(dir / "long").is(kv::errc::corruption));
  require_empty_and_usable(loaded);
  BOOST_REQUIRE(loaded.load(dir / "index").ok());
  require_same(original, loaded);
}

BOOST_AUTO_TEST_CASE(a_flipped_byte_in_any_section_is_detected) {
  kv::test::temp_dir dir;
  search_index original = churned_index(12, 30000, 20000);
  original.save(dir / "index");
  const std::string file = read_bytes(dir / "index");
  const auto chunks = chunks_of(file);

  std::vector<std::size_t> flips{0, 8, 20, persist::header_bytes - 1};  // magic, version, fields, header CRC
  for (const auto& c : chunks) {
    flips.push_back(c.offset);                                            // its CRC
    flips.push_back(c.offset + 4);                                        // its section
    flips.push_back(c.offset + 9);                                        // its length
    if (c.length > 0) flips.push_back(c.offset + persist::chunk_header_bytes + c.length / 3);  // its body
  }
  search_index loaded(options());
  for (std::size_t at : flips) {
    BOOST_TEST_CONTEXT("byte " << at << " flipped") {
      std::string damaged = file;
      damaged[at] = static_cast<char>(damaged[at] ^ 0x20);
      write_bytes(dir / "damaged", damaged);
      auto r = loaded.load(dir / "damaged");
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.is(kv::errc::corruption), r.message());
      BOOST_TEST(loaded.documents() == 0u);
    }
  }
  require_empty_and_usable(loaded);
}

BOOST_AUTO_TEST_CASE(an_unknown_version_is_refused) {
  kv::test::temp_dir dir;
  search_index original = churned_index(2, 200, 50);
  original.save(dir / "index");
  std::string file = read_bytes(dir / "index");
  kv::put_fixed<std::uint32_t>(file.data() + persist::magic.size(), persist::format_version + 1);
  kv::put_fixed<std::uint32_t>(file.data() + persist::header_bytes - 4,
                               kv::crc32c(std::string_view(file).substr(0, persist::header_bytes - 4)));
  write_bytes(dir / "future", file);
  search_index loaded(options());
  auto r = loaded.load(dir / "future");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.is(kv::errc::corruption));
  BOOST_TEST(r.message().find("unsupported version " + std::to_string(persist::format_version + 1)) != std::string::npos, r.message());
  require_empty_and_usable(loaded);
}

BOOST_AUTO_TEST_CASE(load_after_a_failed_load_and_missing_files) {
  kv::test::temp_dir dir;
  search_index original = churned_index(5, 2000, 300);
  original.save(dir / "index");
  write_bytes(dir / "garbage", "not an index at all");

  search_index ix(options());
  ix.put("k", "old contents");
  ix.set_applied_index(3);
  auto r = ix.load(dir / "garbage");
  BOOST_TEST(r.is(kv::errc::corruption));
  require_empty_and_usable(ix);
  BOOST_TEST(ix.load(dir / "missing").is(kv::errc::not_found));
  require_empty_and_usable(ix);
  // A good file loads into the index a failed load left behind.
  BOOST_REQUIRE(ix.load(dir / "index").ok());
  ix.check_invariants();
  require_same(original, ix);
}

BOOST_AUTO_TEST_CASE(save_failures_throw_and_leave_the_old_file) {
  kv::test::temp_dir dir;
  search_index ix = churned_index(6, 300, 100);
  BOOST_CHECK_THROW(ix.save(dir / "no-such-dir" / "index"), std::system_error);
  ix.save(dir / "index");
  const std::string before = read_bytes(dir / "index");
  // A directory in the way of the .tmp file: the save fails, the previous file stays whole.
  std::filesystem::create_directory(dir / "index.tmp");
  ix.put("new", "document");
  BOOST_CHECK_THROW(ix.save(dir / "index"), std::system_error);
  BOOST_TEST((read_bytes(dir / "index") == before));
}

BOOST_AUTO_TEST_SUITE_END()

#include "core/base/bytes.hpp"
#include "core/base/crc32c.hpp"
#include "core/base/error.hpp"
#include "core/snapshot/snapshot.hpp"
#include "support/temp_dir.hpp"
#include "support/wal_util.hpp"

#include <boost/test/unit_test.hpp>

using namespace kv;

namespace {

std::string snapshot_of(state_machine& sm, std::uint64_t term) {
  std::string out = snapshot::encode_header(sm.applied_index(), term, sm.key_count());
  std::uint64_t pairs = 0;
  std::uint64_t chunks = 0;
  sm.begin_capture([&](state_machine::chunk c) {
    pairs += c.count;
    ++chunks;
    out += snapshot::encode_chunk(c);
  });
  out += snapshot::encode_revisions(sm.capture_revision(), sm.capture_compacted(), sm.capture_clock());
  while (sm.capture_step()) {
  }
  out += snapshot::encode_footer(pairs, chunks);
  return out;
}

state_machine filled(int keys) {
  state_machine sm;
  for (int i = 0; i < keys; ++i) {
    auto bytes = encode_set("key" + std::to_string(i), std::string(50, static_cast<char>('a' + i % 26)));
    sm.apply(sm.applied_index() + 1, *decode_command(bytes));
  }
  return sm;
}

std::string decode_error(const std::string& data) {
  state_machine sm;
  try {
    snapshot::decode(data, "snap", sm);
  } catch (const corruption_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(snapshot_file)

BOOST_AUTO_TEST_CASE(round_trip) {
  auto sm = filled(5000);
  auto bytes = snapshot_of(sm, 3);
  state_machine restored;
  auto m = snapshot::decode(bytes, "snap", restored);
  BOOST_TEST(m.index == 5000u);
  BOOST_TEST(m.term == 3u);
  BOOST_TEST(m.pairs == 5000u);
  BOOST_TEST(restored.applied_index() == 5000u);
  BOOST_TEST(restored.key_count() == 5000u);
  BOOST_TEST(restored.data_bytes() == sm.data_bytes());
  for (int i = 0; i < 5000; i += 97) BOOST_TEST(*restored.get("key" + std::to_string(i)) == *sm.get("key" + std::to_string(i)));
}

// Revisions, versions and the history not compacted survive a snapshot.
BOOST_AUTO_TEST_CASE(round_trip_keeps_revisions_and_history) {
  state_machine sm;
  for (int i = 0; i < 30; ++i) {
    auto bytes = encode_set("k" + std::to_string(i % 7), "v" + std::to_string(i));
    sm.apply(sm.applied_index() + 1, *decode_command(bytes));
  }
  auto compact = encode_compact(12);
  BOOST_TEST((sm.apply(sm.applied_index() + 1, *decode_command(compact)) == errc::ok));
  BOOST_TEST(sm.compacted_revision() == 12u);
  auto del = encode_del("k3");
  sm.apply(sm.applied_index() + 1, *decode_command(del));
  auto bytes = snapshot_of(sm, 2);
  state_machine restored;
  auto m = snapshot::decode(bytes, "snap", restored);
  BOOST_TEST(m.revision == sm.revision());
  BOOST_TEST(restored.revision() == sm.revision());
  BOOST_TEST(restored.compacted_revision() == sm.compacted_revision());
  BOOST_TEST(restored.key_count() == sm.key_count());
  for (auto rev = sm.compacted_revision(); rev <= sm.revision(); ++rev) {
    for (int k = 0; k < 7; ++k) {
      auto key = "k" + std::to_string(k);
      auto a = sm.keys().get(key, rev);
      auto b = restored.keys().get(key, rev);
      BOOST_REQUIRE(a.has_value() == b.has_value());
      if (!a) continue;
      BOOST_TEST(a->value == b->value);
      BOOST_TEST(a->create_revision == b->create_revision);
      BOOST_TEST(a->mod_revision == b->mod_revision);
      BOOST_TEST(a->version == b->version);
    }
  }
}

// A snapshot written before revisions (version 2: pairs) still loads: each key at revision 1.
BOOST_AUTO_TEST_CASE(version_2_snapshots_still_load) {
  auto frame = [](std::uint32_t count, const std::string& body) {
    std::string out(16, '\0');
    put_fixed<std::uint32_t>(out.data() + 4, count);
    put_fixed<std::uint64_t>(out.data() + 8, body.size());
    out += body;
    put_fixed<std::uint32_t>(out.data(), crc32c(std::string_view(out).substr(4)));
    return out;
  };
  std::string bytes = "KVSNAP01";
  append_fixed<std::uint32_t>(bytes, 2);
  append_fixed<std::uint64_t>(bytes, 9);  // index
  append_fixed<std::uint64_t>(bytes, 1);  // term
  append_fixed<std::uint64_t>(bytes, 2);  // pairs
  append_fixed<std::uint32_t>(bytes, crc32c(bytes));
  std::string pairs;
  append_pair(pairs, "x", "1");
  append_pair(pairs, "y", "22");
  bytes += frame(2, pairs);
  std::string footer;
  append_fixed<std::uint64_t>(footer, 2);
  append_fixed<std::uint64_t>(footer, 1);
  bytes += frame(0xFFFFFFFF, footer);
  state_machine sm;
  auto m = snapshot::decode(bytes, "old-snap", sm);
  BOOST_TEST(m.index == 9u);
  BOOST_TEST(sm.key_count() == 2u);
  BOOST_TEST(*sm.get("y") == "22");
  BOOST_TEST(sm.revision() == 1u);
  BOOST_TEST(sm.keys().get("x")->create_revision == 1u);
  auto next = encode_set("x", "2");
  sm.apply(sm.applied_index() + 1, *decode_command(next));
  BOOST_TEST(sm.revision() == 2u);
  BOOST_TEST(sm.keys().get("x")->version == 2u);
}

BOOST_AUTO_TEST_CASE(empty_state_round_trip) {
  state_machine sm;
  auto bytes = snapshot_of(sm, 0);
  state_machine restored;
  BOOST_TEST(snapshot::decode(bytes, "snap", restored).pairs == 0u);
}

BOOST_AUTO_TEST_CASE(every_truncation_is_detected) {
  auto sm = filled(40);
  auto bytes = snapshot_of(sm, 1);
  for (std::size_t cut = 0; cut < bytes.size(); cut += 7) {
    auto e = decode_error(bytes.substr(0, cut));
    BOOST_TEST(!e.empty(), "cut at " << cut);
  }
}

BOOST_AUTO_TEST_CASE(flipped_bytes_are_detected_and_named) {
  auto sm = filled(40);
  auto bytes = snapshot_of(sm, 1);
  for (std::size_t at = 0; at < bytes.size(); at += 5) {
    auto bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x04);
    auto e = decode_error(bad);
    BOOST_TEST(e.find("corrupt snapshot snap at offset") != std::string::npos, "flip at " << at << ": " << e);
  }
  BOOST_TEST(!decode_error(bytes + "trailing").empty());
}

// Records that pass their checksums but do not fit together are refused, naming file and chunk.
BOOST_AUTO_TEST_CASE(inconsistent_key_records_are_refused) {
  auto with_chunk = [](const captured_key& k, std::uint64_t revision) {
    state_machine::chunk c;
    append_key_record(c.keys, k);
    c.count = 1;
    return snapshot::encode_header(1, 1, 1) + snapshot::encode_revisions(revision, 1, 0) + snapshot::encode_chunk(c) +
           snapshot::encode_footer(1, 1);
  };
  captured_key backwards;
  backwards.key = "k";
  backwards.versions.push_back({2, 3, 1, "new"});
  backwards.versions.push_back({2, 2, 2, "old"});
  auto e = decode_error(with_chunk(backwards, 5));
  BOOST_TEST(e.find("corrupt snapshot snap at offset") != std::string::npos, e);
  BOOST_TEST(e.find("out of order") != std::string::npos, e);
  captured_key ahead;
  ahead.key = "k";
  ahead.versions.push_back({9, 9, 1, "v"});
  e = decode_error(with_chunk(ahead, 5));  // a version newer than the snapshot's revision
  BOOST_TEST(e.find("corrupt snapshot snap at offset") != std::string::npos, e);
  BOOST_TEST(e.find("do not fit versions up to revision 9") != std::string::npos, e);
}

BOOST_AUTO_TEST_CASE(newest_picks_the_highest_index) {
  test::temp_dir dir;
  test::write_file(dir / snapshot::file_name(9), "x");
  test::write_file(dir / snapshot::file_name(120), "x");
  test::write_file(dir / snapshot::file_name(13), "x");
  BOOST_TEST(snapshot::newest(dir.path())->filename().string() == snapshot::file_name(120));
}

BOOST_AUTO_TEST_SUITE_END()

// The trash (io/sys/trash.hpp): obsolete files deleted a slice at a time on a thread of its own.

#include "io/sys/trash.hpp"

#include "support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

// A file of `bytes` bytes at `path`.
void make_file(const std::filesystem::path& path, std::size_t bytes) {
  std::ofstream(path, std::ios::binary) << std::string(bytes, 'x');
}

// Waits up to `limit` for `done()`.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_trash)

BOOST_AUTO_TEST_CASE(a_file_is_cut_from_its_end_then_unlinked) {
  kv::test::temp_dir dir;
  kv::io::trash t(dir.path(), {.chunk_bytes = 1u << 20, .pause = 20ms});
  make_file(dir / kv::io::trash::trash_name("seg.wal"), (10u << 20) + 5);
  t.add("seg.wal");
  // Seen part way: shorter than it was, not yet gone.
  const auto path = dir / "seg.wal.trash";
  bool seen_shorter = eventually([&] {
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    return !ec && size > 0 && size < (10u << 20);
  });
  BOOST_TEST(seen_shorter);
  BOOST_TEST(t.pending() == 1u);
  BOOST_REQUIRE(eventually([&] { return t.pending() == 0; }));
  BOOST_TEST(!std::filesystem::exists(path));
  BOOST_TEST(t.freed_bytes() == (10u << 20) + 5);
}

BOOST_AUTO_TEST_CASE(files_are_deleted_in_the_order_given_and_others_left_alone) {
  kv::test::temp_dir dir;
  make_file(dir / "keep.wal", 100);
  kv::io::trash t(dir.path(), {.chunk_bytes = 64, .pause = 1ms});
  for (const char* name : {"a.snap", "b.wal"}) {
    make_file(dir / kv::io::trash::trash_name(name), 300);
    t.add(name);
  }
  t.add("never-existed.wal");  // skipped without harm
  BOOST_REQUIRE(eventually([&] { return t.pending() == 0; }));
  BOOST_TEST(!std::filesystem::exists(dir / "a.snap.trash"));
  BOOST_TEST(!std::filesystem::exists(dir / "b.wal.trash"));
  BOOST_TEST(std::filesystem::file_size(dir / "keep.wal") == 100u);
  BOOST_TEST(t.freed_bytes() == 600u);
}

// A restart finds what the last run left in the trash (a crash while cutting) and deletes it.
BOOST_AUTO_TEST_CASE(what_a_previous_run_left_is_deleted) {
  kv::test::temp_dir dir;
  make_file(dir / "wal-1.wal.trash", 4096);
  make_file(dir / "wal-2.wal", 4096);
  kv::io::trash t(dir.path(), {.chunk_bytes = 1024, .pause = 1ms});
  BOOST_REQUIRE(eventually([&] { return t.pending() == 0; }));
  BOOST_TEST(!std::filesystem::exists(dir / "wal-1.wal.trash"));
  BOOST_TEST(std::filesystem::exists(dir / "wal-2.wal"));
}

// Stopping does not wait for the pace: what is left is unlinked at once.
BOOST_AUTO_TEST_CASE(stopping_deletes_the_rest_at_once) {
  kv::test::temp_dir dir;
  const auto start = std::chrono::steady_clock::now();
  {
    kv::io::trash t(dir.path(), {.chunk_bytes = 1, .pause = 10s});
    for (const char* name : {"a.wal", "b.wal"}) {
      make_file(dir / kv::io::trash::trash_name(name), 1000);
      t.add(name);
    }
    std::this_thread::sleep_for(20ms);  // the thread is waiting out its first pause
  }
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  BOOST_TEST(!std::filesystem::exists(dir / "a.wal.trash"));
  BOOST_TEST(!std::filesystem::exists(dir / "b.wal.trash"));
}

BOOST_AUTO_TEST_SUITE_END()

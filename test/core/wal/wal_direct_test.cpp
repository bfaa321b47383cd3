// The WAL's direct I/O path (wal::io_mode::direct): the files it writes, and what a crash in
// the middle of one of its aligned writes leaves on disk.
#include "core/wal/wal.hpp"
#include "support/temp_dir.hpp"
#include "support/wal_util.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

using namespace kv;
using namespace kv::test;

namespace {

constexpr std::size_t block = io::aligned_buffer::block_bytes;
constexpr std::size_t sector = 512;  // what the disk writes atomically

wal::options with_io(wal::options o, wal::io_mode io) {
  o.io = io;
  return o;
}

// Whether the log over `opts` writes with direct I/O (the file system takes O_DIRECT).
bool writes_direct(const wal::options& opts) {
  bool direct = false;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    io::uring ring(ctx.get_executor());
    wal::log log(ring, opts, wal::log::read(opts, 0));
    direct = log.direct_io();
    log.stop();
    co_await log.run([](std::uint64_t) {});
  });
  return direct;
}

// Batches of many sizes: most end inside a block, some span several blocks, some carry a hard
// state, and together they fill more than one 64 KiB segment.
std::vector<write_group> assorted_groups(std::uint64_t first, std::uint64_t last) {
  std::vector<write_group> groups;
  for (auto i = first; i <= last; ++i) {
    write_group g;
    const auto term = 1 + i / 20;
    g.entries.push_back(make_entry(term, i, 30 + (i * 397) % 5000));
    if (i % 3 == 0 && i < last) {
      ++i;
      g.entries.push_back(make_entry(term, i, 10));
    }
    if (i % 5 == 0) g.state = raft::hard_state{1 + i / 20, 2, i - 1};
    groups.push_back(std::move(g));
  }
  return groups;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(wal_direct_io)

// Direct writes rewrite the tail block and pad with zeros the segment already holds, so the
// files are byte for byte those of buffered writes, across rotations and a reopen (which
// loads the tail block from disk), and recovery reads them the same.
BOOST_AUTO_TEST_CASE(direct_and_buffered_writes_leave_identical_files) {
  temp_dir direct_dir;
  temp_dir buffered_dir;
  auto direct = with_io(small_wal(direct_dir.path()), wal::io_mode::direct);
  auto buffered = with_io(small_wal(buffered_dir.path()), wal::io_mode::buffered);
  BOOST_REQUIRE(writes_direct(direct));
  BOOST_REQUIRE(!writes_direct(buffered));
  for (auto [first, last] : {std::pair{1, 60}, std::pair{61, 90}}) {
    write_log(direct, assorted_groups(first, last));
    write_log(buffered, assorted_groups(first, last));
  }
  auto names = io::list_files(direct_dir.path(), "", ".wal");
  BOOST_REQUIRE(names == io::list_files(buffered_dir.path(), "", ".wal"));
  BOOST_TEST(names.size() >= 3u);
  for (const auto& name : names) {
    BOOST_TEST((read_file(direct_dir / name) == read_file(buffered_dir / name)), name);
  }
  auto a = read_log(direct);
  auto b = read_log(buffered);
  BOOST_REQUIRE(a.entries.size() == b.entries.size());
  BOOST_TEST(a.entries.back().index == 90u);
  for (std::size_t i = 0; i < a.entries.size(); ++i) BOOST_TEST((a.entries[i] == b.entries[i]));
  BOOST_TEST((a.state == b.state));
  BOOST_TEST(a.torn_bytes == 0u);
}

// io_mode::automatic changes path between batches (here every other batch or every third is
// buffered, as its samples are): the log keeps the tail block on both paths, so the files are
// still byte for byte those of buffered writes, across rotations and a reopen.
BOOST_AUTO_TEST_CASE(switching_paths_between_batches_leaves_identical_files) {
  for (std::size_t every : {2u, 3u}) {
    temp_dir mixed_dir;
    temp_dir buffered_dir;
    auto mixed = with_io(small_wal(mixed_dir.path()), wal::io_mode::automatic);
    mixed.choice.sample_every = every;
    mixed.choice.slow = std::chrono::hours(1);  // never falls back here, however slow the disk
    auto buffered = with_io(small_wal(buffered_dir.path()), wal::io_mode::buffered);
    BOOST_REQUIRE(writes_direct(mixed));
    std::uint64_t batches = 0;
    std::uint64_t direct = 0;
    for (auto [first, last] : {std::pair{1, 60}, std::pair{61, 90}}) {
      wal::log::stats written;
      write_log(mixed, assorted_groups(first, last), 0, 0, &written);
      batches += written.batches;
      direct += written.direct_batches;
      write_log(buffered, assorted_groups(first, last));
    }
    BOOST_TEST(direct > 0u);
    BOOST_TEST(direct < batches);
    BOOST_TEST(batches - direct >= batches / every - 2);  // the samples
    auto names = io::list_files(mixed_dir.path(), "", ".wal");
    BOOST_REQUIRE(names == io::list_files(buffered_dir.path(), "", ".wal"));
    BOOST_TEST(names.size() >= 3u);
    for (const auto& name : names) {
      BOOST_TEST((read_file(mixed_dir / name) == read_file(buffered_dir / name)), name << " every " << every);
    }
    auto a = read_log(mixed);
    BOOST_TEST(a.entries.size() == read_log(buffered).entries.size());
    BOOST_TEST(a.entries.back().index == 90u);
    BOOST_TEST(a.torn_bytes == 0u);
  }
}

// A direct write rewrites the acknowledged bytes of its first block. The disk makes only each
// sector atomic, so a crash during it may leave any mix of its sectors old and new: every mix
// keeps all acknowledged records and reads as the old log or, if nothing is missing, the new.
BOOST_AUTO_TEST_CASE(a_torn_rewrite_of_the_tail_block_keeps_acknowledged_records) {
  temp_dir dir;
  auto opts = with_io(small_wal(dir.path()), wal::io_mode::direct);
  BOOST_REQUIRE(writes_direct(opts));
  std::vector<write_group> acknowledged;
  for (std::uint64_t i = 1; i <= 5; ++i) acknowledged.push_back({{make_entry(1, i, 700)}, std::nullopt});
  write_log(opts, acknowledged);
  const auto seg = dir / wal::segment_name(1);
  const auto before = read_file(seg);
  const auto old_end = written_end(before);
  BOOST_REQUIRE(old_end % block != 0);  // the next write starts by rewriting a partial block
  write_log(opts, {{{make_entry(1, 6, 5000)}, std::nullopt}});
  const auto after = read_file(seg);
  const auto from = old_end / block * block;
  const auto to = (written_end(after) + block - 1) / block * block;
  const auto sectors = (to - from) / sector;
  BOOST_REQUIRE(sectors > block / sector);  // the write spans the tail block and more

  auto check = [&](const std::vector<bool>& fresh) {
    auto mix = before;
    for (std::size_t s = 0; s < sectors; ++s) {
      if (fresh[s]) std::copy_n(after.begin() + static_cast<std::ptrdiff_t>(from + s * sector), sector,
                                mix.begin() + static_cast<std::ptrdiff_t>(from + s * sector));
    }
    write_file(seg, mix);
    auto r = read_log(opts);
    BOOST_REQUIRE(r.entries.size() >= 5u);
    for (std::uint64_t i = 1; i <= 5; ++i) BOOST_TEST(r.entries[i - 1].data == make_entry(1, i, 700).data);
    BOOST_TEST((r.entries.size() == 6u) == (mix == after));
  };
  std::vector<std::vector<bool>> cases;
  for (std::size_t n = 0; n <= sectors; ++n) {  // written in order, up to sector n
    std::vector<bool> prefix(sectors, false);
    std::fill_n(prefix.begin(), n, true);
    cases.push_back(prefix);
    cases.emplace_back(prefix.rbegin(), prefix.rend());  // written backwards
  }
  for (std::size_t s = 0; s < sectors; ++s) {  // all but one sector, or only one
    std::vector<bool> one(sectors, false);
    one[s] = true;
    cases.push_back(one);
    one.flip();
    cases.push_back(one);
  }
  std::mt19937 random(19);
  for (int i = 0; i < 200; ++i) {
    std::vector<bool> any(sectors);
    for (std::size_t s = 0; s < sectors; ++s) any[s] = random() % 2 == 0;
    cases.push_back(any);
  }
  for (const auto& c : cases) check(c);
}

BOOST_AUTO_TEST_SUITE_END()

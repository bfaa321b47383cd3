#include "core/base/error.hpp"
#include "core/base/fail_stop.hpp"
#include "core/wal/wal.hpp"
#include "support/temp_dir.hpp"
#include "support/wal_util.hpp"

#include <boost/test/unit_test.hpp>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <thread>

using namespace kv;
using namespace kv::test;

namespace {

std::string corruption_message(const wal::options& opts) {
  try {
    read_log(opts);
  } catch (const corruption_error& e) {
    return e.what();
  }
  return "";
}

std::vector<write_group> one_entry_per_batch(std::uint64_t first, std::uint64_t last, std::uint64_t term = 1) {
  std::vector<write_group> groups;
  for (auto i = first; i <= last; ++i) groups.push_back({{make_entry(term, i, 30 + i % 50)}, std::nullopt});
  return groups;
}

// Whether `path` has space allocated but never written (fallocate's "unwritten" extents, which
// make every fdatasync commit the journal), by FIEMAP. nullopt where the file system cannot say.
std::optional<bool> has_unwritten_extents(const std::filesystem::path& path) {
  auto fd = io::open_file(path, O_RDONLY);
  constexpr unsigned max_extents = 256;
  std::vector<char> buf(sizeof(fiemap) + max_extents * sizeof(fiemap_extent));
  auto* map = reinterpret_cast<fiemap*>(buf.data());
  map->fm_start = 0;
  map->fm_length = FIEMAP_MAX_OFFSET;
  map->fm_flags = FIEMAP_FLAG_SYNC;
  map->fm_extent_count = max_extents;
  if (::ioctl(fd.get(), FS_IOC_FIEMAP, map) != 0) return std::nullopt;
  for (unsigned i = 0; i < map->fm_mapped_extents; ++i) {
    if (map->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN) return true;
  }
  return false;
}

// What a WAL run in a forked child did: its exit status, and each index the log reported
// durable (sent through a pipe), in order.
struct child_outcome {
  int status = 0;
  std::vector<std::uint64_t> durable;
};

// Runs a WAL over `opts` in a forked child: `inject` arms a failure in the ring, `append` adds
// entries, then the log runs until it stops (or the failure ends the process).
child_outcome run_failing_log(const wal::options& opts, const std::function<void(io::uring&)>& inject,
                              const std::function<void(wal::log&)>& append) {
  int reports[2];
  BOOST_REQUIRE(::pipe(reports) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(reports[0]);
    run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
      io::uring ring(ctx.get_executor());
      wal::log log(ring, opts, wal::log::read(opts, 0));
      inject(ring);
      append(log);
      log.stop();
      co_await log.run([&](std::uint64_t index) {
        [[maybe_unused]] auto n = ::write(reports[1], &index, sizeof index);
      });
    });
    ::_exit(0);  // not reached if the failure was fatal
  }
  ::close(reports[1]);
  child_outcome out;
  std::uint64_t index = 0;
  while (::read(reports[0], &index, sizeof index) == static_cast<ssize_t>(sizeof index)) out.durable.push_back(index);
  ::close(reports[0]);
  ::waitpid(pid, &out.status, 0);
  return out;
}

std::function<void(io::uring&)> fail_next(io::op_kind kind, int error) {
  return [=](io::uring& ring) { ring.inject_failure(kind, error); };
}

// Automatic writes its first batches direct (one in 16 is buffered, io_choice.hpp).
constexpr wal::io_mode both_io_modes[] = {wal::io_mode::direct, wal::io_mode::buffered, wal::io_mode::automatic};

const char* name_of(wal::io_mode io) {
  switch (io) {
    case wal::io_mode::direct: return "direct";
    case wal::io_mode::buffered: return "buffered";
    case wal::io_mode::automatic: return "auto";
  }
  return "?";
}

// A log whose first segment is already zero-filled, so that every write it issues next is a
// batch (no zeros that may lack space without harm).
wal::options filled_log(const std::filesystem::path& dir, wal::io_mode io, std::uint64_t acknowledged = 0) {
  auto opts = small_wal(dir);
  opts.io = io;
  std::vector<write_group> groups;
  for (std::uint64_t i = 1; i <= acknowledged; ++i) groups.push_back({{make_entry(1, i, 700)}, std::nullopt});
  write_log(opts, groups);
  return opts;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(wal_log)

// Segments are preallocated with written zeros, the next one in the background under a temporary
// name once the active one is half full; a rotation renames it, and a restart removes a spare
// left by an earlier run.
BOOST_AUTO_TEST_CASE(segments_are_zero_filled_and_the_next_is_prepared_ahead) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  const auto spare = dir / "next-segment.tmp";
  write_log(opts, {{{make_entry(1, 1, 100)}, std::nullopt}});
  BOOST_TEST(!std::filesystem::exists(spare));  // not before the segment is half full
  if (auto unwritten = has_unwritten_extents(dir / wal::segment_name(1))) {
    BOOST_TEST(!*unwritten);
  } else {
    BOOST_TEST_MESSAGE("FIEMAP not supported here: extent check skipped");
  }
  // Past half of the first segment: the spare is made, full size.
  std::vector<write_group> groups;
  for (std::uint64_t i = 2; i <= 40; ++i) groups.push_back({{make_entry(1, i, 1000)}, std::nullopt});
  write_log(opts, groups);
  BOOST_TEST(read_log(opts).segments.size() == 1u);
  BOOST_REQUIRE(std::filesystem::exists(spare));
  BOOST_TEST(std::filesystem::file_size(spare) == opts.segment_bytes);
  if (auto unwritten = has_unwritten_extents(spare)) BOOST_TEST(!*unwritten);
  // Reopening removes it (it may be unfinished); filling the segment makes a new one, which the
  // rotation takes.
  groups.clear();
  for (std::uint64_t i = 41; i <= 100; ++i) groups.push_back({{make_entry(1, i, 1000)}, std::nullopt});
  write_log(opts, groups);
  auto r = read_log(opts);
  BOOST_TEST(r.segments.size() == 2u);
  BOOST_REQUIRE(r.entries.size() == 100u);
  BOOST_TEST(r.entries.back().data == make_entry(1, 100, 1000).data);
  BOOST_TEST(std::filesystem::file_size(dir / wal::segment_name(2)) == opts.segment_bytes);
  if (auto unwritten = has_unwritten_extents(dir / wal::segment_name(2))) BOOST_TEST(!*unwritten);
}

// A crash while a new segment was being zero-filled leaves it short: the next start fills it.
BOOST_AUTO_TEST_CASE(a_segment_left_short_is_filled_at_startup) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  write_log(opts, {{{make_entry(1, 1, 100)}, std::nullopt}});
  const auto seg = dir / wal::segment_name(1);
  std::filesystem::resize_file(seg, 8192);
  write_log(opts, {{{make_entry(1, 2, 100)}, std::nullopt}});
  BOOST_TEST(std::filesystem::file_size(seg) == opts.segment_bytes);
  auto r = read_log(opts);
  BOOST_REQUIRE(r.entries.size() == 2u);
  BOOST_TEST(r.entries[1].data == make_entry(1, 2, 100).data);
}

// Opening the log writes no zeros: a new segment is filled from run() on, in the background,
// while the first batches are written below the zeros already there (a node listens at once).
BOOST_AUTO_TEST_CASE(opening_the_log_leaves_the_zeros_to_run) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  opts.segment_bytes = 8u << 20;
  const auto seg = dir / wal::segment_name(1);
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    io::uring ring(ctx.get_executor());
    wal::log log(ring, opts, wal::log::read(opts, 0));
    BOOST_TEST(std::filesystem::file_size(seg) == 0u);
    log.append(1, 1, make_entry(1, 1).data);
    log.stop();
    co_await log.run([](std::uint64_t) {});
  });
  BOOST_TEST(std::filesystem::file_size(seg) == opts.segment_bytes);
  BOOST_TEST(read_log(opts).entries.size() == 1u);
}

BOOST_AUTO_TEST_CASE(empty_directory_recovers_empty) {
  temp_dir dir;
  auto r = write_log(small_wal(dir.path()), {});  // reads, then opens for appending
  BOOST_TEST(r.entries.empty());
  BOOST_TEST(r.torn_bytes == 0u);
  BOOST_TEST(std::filesystem::file_size(dir / wal::segment_name(1)) == small_wal(dir.path()).segment_bytes);
  BOOST_TEST(read_log(small_wal(dir.path())).entries.empty());
}

BOOST_AUTO_TEST_CASE(entries_survive_reopen_in_order) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  write_log(opts, {{{make_entry(1, 1), make_entry(1, 2), make_entry(1, 3)}, std::nullopt}});
  write_log(opts, {{{make_entry(1, 4)}, std::nullopt}, {{make_entry(2, 5)}, std::nullopt}});
  auto r = read_log(opts);
  BOOST_REQUIRE(r.entries.size() == 5u);
  for (std::uint64_t i = 1; i <= 5; ++i) {
    BOOST_TEST(r.entries[i - 1].index == i);
    BOOST_TEST(r.entries[i - 1].data == make_entry(0, i).data);
  }
  BOOST_TEST(r.entries.back().term == 2u);
}

BOOST_AUTO_TEST_CASE(segments_rotate_and_replay_across_files) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  std::vector<write_group> groups;
  for (std::uint64_t i = 1; i <= 400; i += 4) {
    write_group g;
    for (std::uint64_t j = i; j < i + 4; ++j) g.entries.push_back(make_entry(1, j, 500));
    groups.push_back(std::move(g));
  }
  write_log(opts, groups);
  auto r = read_log(opts);
  BOOST_TEST(r.segments.size() > 3u);
  BOOST_REQUIRE(r.entries.size() == 400u);
  BOOST_TEST(r.entries.back().data == make_entry(1, 400, 500).data);
}

BOOST_AUTO_TEST_CASE(entries_covered_by_a_snapshot_are_skipped) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  write_log(opts, one_entry_per_batch(1, 10));
  auto r = read_log(opts, 6);
  BOOST_REQUIRE(r.entries.size() == 4u);
  BOOST_TEST(r.entries.front().index == 7u);
  // A snapshot beyond the log's end leaves nothing to replay, and appending continues after it.
  write_log(opts, one_entry_per_batch(21, 22), 20);
  r = read_log(opts, 20);
  BOOST_REQUIRE(r.entries.size() == 2u);
  BOOST_TEST(r.entries.front().index == 21u);
}

BOOST_AUTO_TEST_CASE(a_later_entry_replaces_the_suffix) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  write_log(opts, one_entry_per_batch(1, 10, 1));
  write_log(opts, {{{make_entry(2, 6, 99), make_entry(2, 7, 98)}, std::nullopt}});
  auto r = read_log(opts);
  BOOST_REQUIRE(r.entries.size() == 7u);
  BOOST_TEST(r.entries[5].term == 2u);
  BOOST_TEST(r.entries[5].data == make_entry(2, 6, 99).data);
  BOOST_TEST(r.entries[6].index == 7u);
}

BOOST_AUTO_TEST_CASE(a_reset_record_empties_the_log_after_an_installed_snapshot) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  write_log(opts, one_entry_per_batch(1, 10, 1));
  // A follower installed a snapshot through 6 whose term disagrees with its own entries 6..10:
  // they must not come back after a restart.
  write_group g;
  g.reset = 6;
  write_log(opts, {g}, 6);
  auto r = read_log(opts, 6);
  BOOST_TEST(r.entries.empty());
  BOOST_TEST(r.last_index == 6u);
  write_log(opts, {{{make_entry(3, 7)}, std::nullopt}}, 6);
  r = read_log(opts, 6);
  BOOST_REQUIRE(r.entries.size() == 1u);
  BOOST_TEST(r.entries[0].index == 7u);
  BOOST_TEST(r.entries[0].term == 3u);
  // A lagging follower's reset past its log's end: appends continue after the snapshot.
  write_group far;
  far.reset = 50;
  far.entries = {make_entry(4, 51), make_entry(4, 52)};
  write_log(opts, {far}, 6);
  r = read_log(opts, 50);
  BOOST_REQUIRE(r.entries.size() == 2u);
  BOOST_TEST(r.entries[0].index == 51u);
  // Without the snapshot the reset relies on, the log cannot be trusted.
  BOOST_TEST(corruption_message(opts).find("the log restarts after entry 6, but the newest snapshot covers only entry 0") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(hard_state_survives_rotation_and_compaction) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  raft::hard_state hs{5, 2, 17};
  std::vector<write_group> groups{{{make_entry(5, 1, 100)}, hs}};
  for (std::uint64_t i = 2; i <= 600; ++i) groups.push_back({{make_entry(5, i, 400)}, std::nullopt});
  write_log(opts, groups, 0, /*compact_to=*/500);
  auto names = io::list_files(dir.path(), "", ".wal");
  BOOST_TEST(names.front() != wal::segment_name(1));  // the first segments were deleted
  auto r = read_log(opts, 500);
  BOOST_TEST((r.state == hs));
  BOOST_REQUIRE(!r.entries.empty());
  BOOST_TEST(r.entries.front().index == 501u);
  BOOST_TEST(r.entries.back().index == 600u);
}

// With a trash, compaction renames the covered segments out of recovery's sight and the trash
// deletes them; the log reads back the same.
BOOST_AUTO_TEST_CASE(compaction_hands_covered_segments_to_the_trash) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  io::trash trash(dir.path(), {.chunk_bytes = 8u << 10, .pause = std::chrono::milliseconds(1)});
  opts.trash = &trash;
  std::vector<write_group> groups;
  for (std::uint64_t i = 1; i <= 600; ++i) groups.push_back({{make_entry(5, i, 400)}, std::nullopt});
  write_log(opts, groups, 0, /*compact_to=*/500);
  auto names = io::list_files(dir.path(), "", ".wal");
  BOOST_TEST(names.front() != wal::segment_name(1));  // out of the log's sight at once
  for (int i = 0; i < 5000 && trash.pending() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  BOOST_TEST(trash.pending() == 0u);
  BOOST_TEST(trash.freed_bytes() > 0u);  // cut a slice at a time, not unlinked whole
  BOOST_TEST(io::list_files(dir.path(), "", ".trash").empty());
  auto r = read_log(opts, 500);
  BOOST_REQUIRE(!r.entries.empty());
  BOOST_TEST(r.entries.front().index == 501u);
  BOOST_TEST(r.entries.back().index == 600u);
}

// A crash while the last batch was being written leaves any prefix of it on disk, possibly with
// holes. Whatever was cut, recovery keeps every earlier batch, discards the torn one, and the
// log accepts new writes after it.
BOOST_AUTO_TEST_CASE(torn_tail_at_every_byte_offset_of_the_last_record) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  write_log(opts, one_entry_per_batch(1, 4));
  auto seg = dir / wal::segment_name(1);
  auto end4 = written_end(read_file(seg));
  write_log(opts, {{{make_entry(1, 5, 120)}, std::nullopt}});
  const auto full = read_file(seg);
  const auto end5 = written_end(full);
  BOOST_REQUIRE(end5 > end4 + wal::header_bytes);

  for (auto cut = end4; cut < end5; ++cut) {
    auto torn = full;
    std::fill(torn.begin() + static_cast<std::ptrdiff_t>(cut), torn.end(), '\0');
    write_file(seg, torn);
    auto r = read_log(opts);
    BOOST_REQUIRE_MESSAGE(r.entries.size() == 4u, "cut at " << cut);
    BOOST_TEST(r.torn_bytes == written_end(torn) - end4, "cut at " << cut);
    BOOST_TEST(r.entries.back().data == make_entry(1, 4, 30 + 4).data);
    // The repaired log takes new writes and reads back cleanly.
    write_log(opts, {{{make_entry(1, 5, 77)}, std::nullopt}});
    auto again = read_log(opts);
    BOOST_REQUIRE(again.entries.size() == 5u);
    BOOST_TEST(again.torn_bytes == 0u);
    BOOST_TEST(again.entries.back().data == make_entry(1, 5, 77).data);
  }
}

// Disks write sectors out of order: the torn batch may have a hole and data after it.
BOOST_AUTO_TEST_CASE(torn_tail_with_a_hole_in_the_last_batch) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  write_log(opts, one_entry_per_batch(1, 3));
  auto seg = dir / wal::segment_name(1);
  auto end3 = written_end(read_file(seg));
  write_log(opts, {{{make_entry(1, 4, 300), make_entry(1, 5, 300), make_entry(1, 6, 300)}, std::nullopt}});
  const auto full = read_file(seg);
  for (std::size_t hole_at : {end3, end3 + 10, end3 + 200, end3 + 400}) {
    auto torn = full;
    std::fill_n(torn.begin() + static_cast<std::ptrdiff_t>(hole_at), 100, '\0');
    write_file(seg, torn);
    auto r = read_log(opts);
    BOOST_TEST(r.entries.size() == 3u, "hole at " << hole_at);
    BOOST_TEST(r.torn_bytes > 0u);
    write_file(seg, full);
  }
}

BOOST_AUTO_TEST_CASE(corruption_in_the_middle_refuses_to_start) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  write_log(opts, one_entry_per_batch(1, 2));
  auto seg = dir / wal::segment_name(1);
  auto start = written_end(read_file(seg));
  write_log(opts, one_entry_per_batch(3, 3));
  auto end = written_end(read_file(seg));
  write_log(opts, one_entry_per_batch(4, 6));
  const auto full = read_file(seg);
  for (auto at = start; at < end; ++at) {  // every byte of the batch holding entry 3
    auto bad = full;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    write_file(seg, bad);
    auto msg = corruption_message(opts);
    BOOST_TEST(msg.find("corrupt WAL record in " + seg.string() + " at offset ") != std::string::npos,
               "flip at " << at << ": " << msg);
  }
  // Nothing was modified by the refused starts: the intact file still reads fully.
  write_file(seg, full);
  BOOST_TEST(read_log(opts).entries.size() == 6u);
}

BOOST_AUTO_TEST_CASE(corruption_names_the_offset_of_the_bad_record) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  write_log(opts, one_entry_per_batch(1, 2));
  auto seg = dir / wal::segment_name(1);
  auto start = written_end(read_file(seg));
  write_log(opts, one_entry_per_batch(3, 5));
  auto bad = read_file(seg);
  auto record_at = start + wal::header_bytes + wal::batch_payload_bytes;  // the entry inside the batch
  bad[record_at + wal::header_bytes + 2] ^= 0x40;                          // a payload byte
  write_file(seg, bad);
  auto msg = corruption_message(opts);
  BOOST_TEST(msg.find("at offset " + std::to_string(record_at) + ":") != std::string::npos, msg);
  BOOST_TEST(msg.find("checksum mismatch") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(damage_in_an_older_segment_is_corruption) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  std::vector<write_group> groups;
  for (std::uint64_t i = 1; i <= 300; ++i) groups.push_back({{make_entry(1, i, 600)}, std::nullopt});
  write_log(opts, groups);
  auto first = dir / wal::segment_name(1);
  auto data = read_file(first);
  auto end = written_end(data);
  data[end - 5] ^= 0x10;  // the last batch of a full, older segment
  write_file(first, data);
  auto msg = corruption_message(opts);
  BOOST_TEST(msg.find(first.string()) != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(a_gap_in_indexes_is_corruption) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  std::string seg(opts.segment_bytes, '\0');
  std::size_t off = 0;
  for (std::uint64_t index : {1u, 2u, 4u}) {  // each batch vouches for those before it
    std::string batch(wal::header_bytes + wal::batch_payload_bytes, '\0');
    wal::append_record(batch, wal::record_type::entry, 1, index, "x");
    wal::write_batch_record(batch.data(), 1, batch.size() - wal::header_bytes - wal::batch_payload_bytes, off);
    seg.replace(off, batch.size(), batch);
    off += batch.size();
  }
  write_file(dir / wal::segment_name(1), seg);
  auto msg = corruption_message(opts);
  BOOST_TEST(msg.find("gap in the log: entry 4 follows entry 2") != std::string::npos, msg);
}

namespace {
// Builds a segment by hand, one batch per entry. in_flight[i] is how many of the batches before
// batch i were still in flight when it was written: it claims durability only up to them.
// Returns the segment bytes and each batch's offset.
std::pair<std::string, std::vector<std::size_t>> handmade_segment(const wal::options& opts,
                                                                  const std::vector<std::size_t>& in_flight) {
  std::string seg(opts.segment_bytes, '\0');
  std::vector<std::size_t> offsets;
  std::size_t off = 0;
  for (std::size_t i = 0; i < in_flight.size(); ++i) {
    offsets.push_back(off);
    std::string batch(wal::header_bytes + wal::batch_payload_bytes, '\0');
    wal::append_record(batch, wal::record_type::entry, 1, i + 1, "entry " + std::to_string(i + 1));
    auto claim = offsets[i - in_flight[i]];
    wal::write_batch_record(batch.data(), 1, batch.size() - wal::header_bytes - wal::batch_payload_bytes, claim);
    seg.replace(off, batch.size(), batch);
    off += batch.size();
  }
  return {seg, offsets};
}

// Flips a payload byte of the entry in batch `i`.
void damage_batch(std::string& seg, const std::vector<std::size_t>& at, std::size_t i) {
  seg[at[i] + wal::header_bytes + wal::batch_payload_bytes + wal::header_bytes + 1] ^= 0x08;
}
}  // namespace

// Batches 3 and 4 were in flight together (4 was written before 3 was known durable): a crash
// may leave 3 damaged and 4 whole. Neither was acknowledged, so both are discarded.
BOOST_AUTO_TEST_CASE(batches_in_flight_together_are_torn_together) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  auto [seg, at] = handmade_segment(opts, {0, 0, 0, 1});
  damage_batch(seg, at, 2);
  write_file(dir / wal::segment_name(1), seg);
  auto r = read_log(opts);
  BOOST_TEST(r.entries.size() == 2u);
  BOOST_TEST(r.torn_bytes > 0u);
}

// If a later batch says the damaged one was already durable, it is corruption, not a tear.
BOOST_AUTO_TEST_CASE(damage_vouched_for_by_a_later_batch_is_corruption) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  auto [seg, at] = handmade_segment(opts, {0, 0, 0, 0});  // each batch vouches for all before it
  damage_batch(seg, at, 2);
  write_file(dir / wal::segment_name(1), seg);
  auto msg = corruption_message(opts);
  BOOST_TEST(msg.find("later records show it had been durable") != std::string::npos, msg);
}

// Several batches in flight at once against a real disk: everything acknowledged reads back.
// On the direct path a batch that starts in the last block of one in flight waits for it.
BOOST_AUTO_TEST_CASE(pipelined_syncs_keep_log_order) {
  for (auto io : both_io_modes) {
    temp_dir dir;
    auto opts = small_wal(dir.path());
    opts.io = io;
    opts.syncs_in_flight = 4;
    std::vector<std::uint64_t> durable_seen;
    run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
      io::uring ring(ctx.get_executor());
      wal::log log(ring, opts, wal::log::read(opts, 0));
      for (std::uint64_t i = 1; i <= 2000; ++i) {
        log.append(1, i, make_entry(1, i, 100).data);
        if (i % 7 == 0) co_await asio::post(ctx, asio::use_awaitable);  // let batches form and overlap
      }
      log.stop();
      co_await log.run([&](std::uint64_t index) { durable_seen.push_back(index); });
    });
    BOOST_TEST(std::is_sorted(durable_seen.begin(), durable_seen.end()), name_of(io));
    BOOST_TEST(durable_seen.back() == 2000u, name_of(io));
    auto r = read_log(opts);
    BOOST_REQUIRE(r.entries.size() == 2000u);
    for (std::uint64_t i = 1; i <= 2000; i += 97) BOOST_TEST(r.entries[i - 1].data == make_entry(1, i, 100).data);
  }
}

// Group-commit delay: after a batch of 10 is answered, a lone write waits (boundedly) for its
// likely companions; a full set is written at once.
BOOST_AUTO_TEST_CASE(group_commit_delay_waits_for_expected_writers_but_not_forever) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  opts.group_commit_delay = std::chrono::milliseconds(150);
  std::chrono::steady_clock::duration lone_wait{};
  std::uint64_t batches_before_full = 0;
  std::uint64_t batches_after_full = 0;
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    io::uring ring(ctx.get_executor());
    wal::log log(ring, opts, wal::log::read(opts, 0));
    io::event durable(ctx.get_executor());
    auto driver = [&]() -> asio::awaitable<void> {
      for (std::uint64_t i = 1; i <= 10; ++i) log.append(1, i, "x");
      while (log.durable_index() < 10) co_await durable.wait();  // a batch of 10: expect 10 next
      auto start = std::chrono::steady_clock::now();
      log.append(1, 11, "lone");
      while (log.durable_index() < 11) co_await durable.wait();
      lone_wait = std::chrono::steady_clock::now() - start;
      batches_before_full = log.written().batches;
      for (std::uint64_t i = 12; i <= 13; ++i) log.append(1, i, "x");  // expected: 1 (the lone one)
      while (log.durable_index() < 13) co_await durable.wait();
      batches_after_full = log.written().batches;
      log.stop();
    };
    co_await (log.run([&](std::uint64_t) { durable.notify(); }) && driver());
  });
  BOOST_TEST(lone_wait >= std::chrono::milliseconds(100));  // it waited for company...
  BOOST_TEST(lone_wait < std::chrono::seconds(2));          // ...but not for ever
  BOOST_TEST(batches_after_full == batches_before_full + 1);
}

// A node that stops being the only voter's leader stops waiting: turning the delay off takes
// effect for the batch that is waiting.
BOOST_AUTO_TEST_CASE(group_commit_delay_can_be_turned_off_while_a_batch_waits) {
  temp_dir dir;
  auto opts = small_wal(dir.path());
  opts.group_commit_delay = std::chrono::seconds(5);
  std::chrono::steady_clock::duration lone_wait{};
  run_async([&](asio::io_context& ctx) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    io::uring ring(ctx.get_executor());
    wal::log log(ring, opts, wal::log::read(opts, 0));
    io::event durable(ctx.get_executor());
    asio::steady_timer pause(ctx);
    auto driver = [&]() -> asio::awaitable<void> {
      for (std::uint64_t i = 1; i <= 10; ++i) log.append(1, i, "x");
      while (log.durable_index() < 10) co_await durable.wait();  // 10 expected next
      auto start = std::chrono::steady_clock::now();
      log.append(1, 11, "lone");  // waits for 9 more...
      pause.expires_after(std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::use_awaitable);
      BOOST_TEST(log.durable_index() == 10u);
      log.set_group_commit_delay(std::chrono::microseconds(0));  // ...until the delay is off
      while (log.durable_index() < 11) co_await durable.wait();
      lone_wait = std::chrono::steady_clock::now() - start;
      log.stop();
    };
    co_await (log.run([&](std::uint64_t) { durable.notify(); }) && driver());
  });
  BOOST_TEST(lone_wait < std::chrono::seconds(2));
}

// A failed fdatasync must stop the process (fail-stop), and the write must not be acknowledged,
// on the buffered path and on the automatic one's buffered batches (here all of them).
// (The direct path has no fdatasync: its O_DSYNC write fails instead, tested below.)
BOOST_AUTO_TEST_CASE(failed_fdatasync_is_fatal) {
  for (auto io : {wal::io_mode::buffered, wal::io_mode::automatic}) {
    temp_dir dir;
    auto opts = small_wal(dir.path());
    opts.io = io;
    opts.choice.sample_every = 1;
    auto out = run_failing_log(opts, fail_next(io::op_kind::fdatasync, EIO),
                               [](wal::log& log) { log.append(1, 1, "doomed"); });
    BOOST_TEST(out.durable.empty(), name_of(io));  // no acknowledgement was sent
    BOOST_REQUIRE(WIFEXITED(out.status));
    BOOST_TEST(WEXITSTATUS(out.status) == fail_stop_exit_code, name_of(io));
  }
}

// A batch's write failing (EIO), or finding no space in the preallocated segment (ENOSPC: a
// lack of space is harmless only while writing zeros), stops the process on either path, and
// nothing acknowledged is lost.
BOOST_AUTO_TEST_CASE(a_failed_batch_write_is_fatal_on_both_paths) {
  for (auto io : both_io_modes) {
    for (int error : {EIO, ENOSPC}) {
      temp_dir dir;
      auto opts = filled_log(dir.path(), io, 3);
      auto out = run_failing_log(opts, fail_next(io::op_kind::write, error),
                                 [](wal::log& log) { log.append(1, 4, "doomed"); });
      BOOST_TEST(out.durable.empty(), name_of(io) << " " << std::strerror(error));
      BOOST_REQUIRE(WIFEXITED(out.status));
      BOOST_TEST(WEXITSTATUS(out.status) == fail_stop_exit_code, name_of(io) << " " << std::strerror(error));
      auto r = read_log(opts);
      BOOST_TEST(r.entries.size() == 3u, name_of(io) << " " << std::strerror(error));
    }
  }
}

// A short write puts part of a batch on disk and is fatal; recovery drops the partial batch as a
// torn tail and keeps everything acknowledged. On the direct path the part written is the
// rewritten tail block: the acknowledged bytes in it stay intact.
BOOST_AUTO_TEST_CASE(a_short_batch_write_is_fatal_and_recovery_keeps_the_acknowledged_records) {
  for (auto io : both_io_modes) {
    temp_dir dir;
    auto opts = filled_log(dir.path(), io, 3);
    auto out = run_failing_log(
        opts, [](io::uring& ring) { ring.inject_short_write(io::aligned_buffer::block_bytes); },
        [](wal::log& log) { log.append(1, 4, std::string(10000, 'q')); });
    BOOST_TEST(out.durable.empty(), name_of(io));
    BOOST_REQUIRE(WIFEXITED(out.status));
    BOOST_TEST(WEXITSTATUS(out.status) == fail_stop_exit_code, name_of(io));
    auto r = read_log(opts);
    BOOST_TEST(r.torn_bytes > 0u, name_of(io));  // part of the batch reached the file
    BOOST_REQUIRE(r.entries.size() == 3u);
    for (std::uint64_t i = 1; i <= 3; ++i) BOOST_TEST(r.entries[i - 1].data == make_entry(1, i, 700).data);
  }
}

// Preparing the next segment can fail with an I/O error: that is fatal as well (unlike a lack of
// space, see disk_full_tests), and what was acknowledged before stays readable.
BOOST_AUTO_TEST_CASE(a_failed_next_segment_is_fatal_and_loses_nothing_acknowledged) {
  for (auto io : both_io_modes) {
    temp_dir dir;
    // The first segment, filled: the only fsync left to fail is the spare's (batches use
    // fdatasync or O_DSYNC, the spare fsync).
    auto opts = filled_log(dir.path(), io);
    auto out = run_failing_log(opts, fail_next(io::op_kind::fsync, EIO), [](wal::log& log) {
      for (std::uint64_t i = 1; i <= 3; ++i) log.append(1, i, std::string(12000, 'x'));  // past half
    });
    BOOST_REQUIRE(WIFEXITED(out.status));
    BOOST_TEST(WEXITSTATUS(out.status) == fail_stop_exit_code, name_of(io));
    // The third batch starts the spare; how many batches were durable before it failed is a race.
    const std::uint64_t durable = out.durable.empty() ? 0 : out.durable.back();
    BOOST_TEST(read_log(opts).entries.size() >= durable);  // every acknowledged entry is there
  }
}

// The zeros of the next segment are written back a MiB at a time (sync_file_range): a failure
// there is an I/O error on the disk, fatal like the spare's fsync, and loses nothing acknowledged.
BOOST_AUTO_TEST_CASE(a_failed_writeback_of_zeros_is_fatal_and_loses_nothing_acknowledged) {
  for (auto io : both_io_modes) {
    temp_dir dir;
    auto opts = filled_log(dir.path(), io);  // the only writebacks left are the spare's
    auto out = run_failing_log(opts, fail_next(io::op_kind::writeback, EIO), [](wal::log& log) {
      for (std::uint64_t i = 1; i <= 3; ++i) log.append(1, i, std::string(12000, 'x'));  // past half
    });
    BOOST_REQUIRE(WIFEXITED(out.status));
    BOOST_TEST(WEXITSTATUS(out.status) == fail_stop_exit_code, name_of(io));
    const std::uint64_t durable = out.durable.empty() ? 0 : out.durable.back();
    BOOST_TEST(read_log(opts).entries.size() >= durable);
  }
}

BOOST_AUTO_TEST_SUITE_END()

#pragma once
// The write-ahead log: the durable, segmented log of (term, index) entries that the node appends
// commands to and, with Raft, replicates. It is the Raft log, so it also stores the hard state
// (term, vote, commit) and lets a later entry replace a suffix (conflict truncation).
//
// Files: <dir>/<seq: 20 digits>.wal, each preallocated to segment_bytes by writing zeros (not
// fallocate: a write into fallocated, "unwritten" space also changes the file's extent map, so
// every fdatasync would commit the file system's journal too; over written zeros it flushes the
// data alone). The next segment is zero-filled and synced in the background, as
// <dir>/next-segment.tmp, once the active one is half full, so a rotation only renames it. A
// new or short active segment (an empty directory, a crash during its filling) is filled in the
// background too, from run() on: batches are written only below the zeros already written, so
// opening the log never waits for a whole segment's zeros. Every segment begins with a
// hard_state record, so deleting old segments never loses the current hard state.
//
// A full disk is not fatal (etcd's NOSPACE alarm, Redis's MISCONF): when zeros cannot be written
// (ENOSPC, EDQUOT) the log keeps writing while the zeros it has hold its batches, and once a
// batch finds no room it waits; out_of_space() then says so, and the owner refuses new writes.
// Every space_retry_interval the log tries again, and writes go on by themselves once space was
// freed. A failed write or sync of log data is still fatal (see below).
// Replay rule: an entry whose index is not greater than the last one replayed replaces the
// entries from that index on, exactly as a follower's log does when it truncates a conflict.
//
// Group commit: append() only queues a record. The writer coroutine (run()) takes everything
// queued as one batch and writes + fdatasyncs it through io_uring as one linked submission.
// While that sync runs, the next batch may already be written and synced (up to
// syncs_in_flight batches at once), so a slow fsync does not hold back the writes behind it.
// Batches become durable strictly in log order; each batch records how far its segment was
// durable when it was written, which is how recovery tells batches torn by a crash (never
// acknowledged: truncated) from corruption (refuse to start).
//
// Direct I/O (io_mode::direct, with sync): the active segment is also opened O_DIRECT|O_DSYNC
// and each batch is one aligned write through it, durable when it completes. A buffered write
// and its fdatasync run on io_uring's worker threads (a thread wake-up and a hop each); a
// direct write into a preallocated, written extent is issued by io_uring inline. Offsets,
// lengths and memory must be aligned to 4 KiB, so the log keeps the bytes of the active
// segment's partial last block (tail_) and a batch rewrites them, followed by the batch, padded
// with zeros to the next block boundary. The zeros are what the preallocated segment already
// holds, so the files read exactly as the buffered path writes them; the rewritten bytes are
// the same as on disk, so a torn rewrite (only sectors are atomic) cannot damage acknowledged
// records. Two writes sharing a block are never in flight at once: a batch that starts in the
// tail block of an in-flight write waits for it. Zeros (filling, the spare) are still written
// through the page cache and fsynced. A file system without O_DIRECT (EINVAL) gets the
// buffered path, with a warning.
//
// io_mode::automatic switches between the two paths batch by batch as io_choice says. A switch
// waits until no write is in flight, so the two paths never write the same block at once; the
// log keeps tail_ on both paths, so a direct write after buffered ones rewrites the right bytes
// (the kernel drops the clean cached pages a direct write covers), and a buffered write after
// direct ones reads its partial page back from the disk.
//
// A failed write or sync is fatal (fail_stop): the node stops rather than acknowledge data
// that may not be on disk.
//
// Threading: owned by the node's event-loop thread, like the uring it submits to.

#include "core/wal/io_choice.hpp"
#include "core/wal/record.hpp"
#include "raft/message.hpp"
#include "io/sys/aligned_buffer.hpp"
#include "io/sys/event.hpp"
#include "io/sys/file.hpp"
#include "io/sys/trash.hpp"
#include "io/sys/uring.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace kv::wal {

// The log holds Raft's own entries and hard state (raft/message.hpp): it is the Raft log on disk.
using raft::entry;
using raft::hard_state;

// How batches reach the disk when `sync` is on (see the class comment): one O_DIRECT|O_DSYNC
// write each, or a buffered write and an fdatasync, or (automatic) direct while direct writes
// complete in about the disk's time and buffered for a while when they do not (io_choice.hpp).
// Without sync, always buffered.
enum class io_mode : std::uint8_t { direct, buffered, automatic };

struct options {
  std::filesystem::path dir;
  std::uint64_t segment_bytes = 64ull << 20;
  std::uint64_t max_batch_bytes = 8ull << 20;
  bool sync = true;  // false: no fdatasync (fsync = "never"); not durable
  io_mode io = io_mode::buffered;
  std::size_t syncs_in_flight = 1;  // batches being written and synced at once
  // Group-commit delay: when the disk is free but fewer records are queued than the recent
  // batches held, wait up to this long for the rest (0: never wait).
  std::chrono::microseconds group_commit_delay{0};
  // After zeros could not be written for lack of space: how long until the next try.
  std::chrono::milliseconds space_retry_interval{1000};
  // Where segments a snapshot covers go (renamed, then deleted a slice at a time); nullptr, or
  // short of space: unlinked at once.
  io::trash* trash = nullptr;
  io_choice::settings choice;  // io_mode::automatic: when to leave direct I/O, and for how long
};

struct segment_info {
  std::uint64_t seq = 0;
  std::uint64_t max_index = 0;  // highest entry index it holds (0 for none)
};

// What recovery found in the log.
struct recovered {
  hard_state state;
  std::vector<entry> entries;  // every entry after `after_index`, in index order, contiguous
  std::uint64_t last_index = 0;   // of the log (after_index if it holds nothing newer)
  std::deque<segment_info> segments;  // oldest first
  std::uint64_t end_offset = 0;   // end of the valid data in the last segment
  std::uint64_t bytes = 0;        // bytes of valid records read
  std::uint64_t torn_bytes = 0;   // bytes discarded from a torn tail (0 if the log ended cleanly)
};

class log {
 public:
  // Reads every segment in opts.dir and returns what the log holds after `after_index` (the
  // index the latest snapshot covers). Repairs a torn tail, with a warning. Throws
  // corruption_error naming the file and offset on any other damage, std::system_error on I/O
  // errors. Touches no uring, so it may run on any thread.
  static recovered read(const options& opts, std::uint64_t after_index);

  // Opens the log for appending after what read() found (creating the first segment of an
  // empty directory).
  log(io::uring& ring, options opts, const recovered& found);
  log(const log&) = delete;
  log& operator=(const log&) = delete;

  // Queues an entry. `index` must be at most last_index() + 1; a smaller one replaces the
  // entries from `index` on. Never blocks; durability is reported through run()'s callback.
  void append(std::uint64_t term, std::uint64_t index, std::string_view data);
  // Queues a record that empties the log after `index`: the node installed a snapshot through
  // `index` (already durable), and the next entry appended is index + 1.
  void reset(std::uint64_t index);
  // Queues a hard state record.
  void save_hard_state(const hard_state& hs);

  std::uint64_t last_index() const noexcept { return last_index_; }
  std::uint64_t durable_index() const noexcept { return durable_index_; }
  // Records (entries and hard states) queued since the log was opened, and how many of them are
  // durable: everything queued before a call to queued_records() is durable once
  // durable_records() reaches its value.
  std::uint64_t queued_records() const noexcept { return queued_records_; }
  std::uint64_t durable_records() const noexcept { return durable_records_; }
  // Bytes of records queued since the log was opened.
  std::uint64_t appended_bytes() const noexcept { return appended_bytes_; }

  // The writer coroutine. After each batch is durable, calls on_durable(durable_index()).
  // Returns once stop() was called and everything queued before it is durable.
  asio::awaitable<void> run(std::function<void(std::uint64_t)> on_durable);
  void stop();

  // Changes options().group_commit_delay from now on (0: never wait). The node waits for more
  // writers only while it is the leader of a cluster of one (see store::note_role_change).
  void set_group_commit_delay(std::chrono::microseconds delay);

  // Deletes the segments (never the active one) whose entries all have index <= `index`,
  // oldest first, then syncs the directory.
  asio::awaitable<void> compact(std::uint64_t index);

  std::size_t segment_count() const noexcept { return segments_.size(); }
  // Whether the next batch is written with direct I/O: options().io is direct (or automatic, and
  // io_choice says direct), sync is on, and the file system took O_DIRECT.
  bool direct_io() const noexcept { return direct_open() && use_direct_; }
  // io_mode::automatic: how many times direct writes were slow and the log fell back to buffered.
  std::uint64_t io_fallbacks() const noexcept { return choice_.fallbacks(); }

  // True while the log is about to run out of room or has (the disk is full): the next segment
  // cannot be prepared and less than max_batch_bytes is left in the active one, or a batch
  // already waits. The owner should refuse new writes (errc::no_space) until it turns false
  // again, by itself, once space is freed; what it queues meanwhile (hard states, a follower's
  // entries, writes taken before) uses the room left, or waits.
  bool out_of_space() const noexcept;
  // Why the log could not prepare space the last time it tried (names the cause, the directory
  // and the space needed); empty once it could again. May be set while out_of_space() is false:
  // the active segment still has room.
  const std::string& space_problem() const noexcept { return space_problem_; }

  struct stats {
    std::uint64_t batches = 0;
    std::uint64_t records = 0;
    std::uint64_t bytes = 0;
    std::uint64_t direct_batches = 0;  // of the batches, those written with direct I/O
  };
  const stats& written() const noexcept { return stats_; }

 private:
  struct batch {
    std::string bytes;  // batch record frame (filled at write time), then the records
    std::uint32_t records = 0;
    std::uint32_t entries = 0;     // of the records
    std::uint64_t last_index = 0;  // index of the last entry appended to it, 0 for none
  };
  // A batch submitted to the disk and not yet durable.
  struct in_flight_write {
    batch b;
    std::string first;  // the hard-state batch that opens a segment, if this batch starts one
    // Direct I/O: the aligned write (tail block, first, batch, zero padding) at write_offset.
    io::aligned_buffer blocks;
    bool direct = false;
    std::uint64_t write_offset = 0;
    iovec iov[2];
    int iov_count = 0;
    std::chrono::steady_clock::time_point submitted;  // when choosing_path()
    std::uint64_t offset = 0;  // of the records in the segment
    std::uint64_t end = 0;
    bool done = false;
  };

  void open_active_segment();
  // Whether the active segment is open for direct I/O (whichever path the next batch takes).
  bool direct_open() const noexcept { return static_cast<bool>(direct_fd_); }
  // io_mode::automatic with the segment open for direct I/O (so sync is on): io_choice picks each
  // batch's path and is told each write's completion time.
  bool choosing_path() const noexcept { return opts_.io == io_mode::automatic && direct_open(); }
  // io_mode::automatic: whether the next batches should change path; the switch waits until no
  // write is in flight (then returns false, having switched).
  bool switch_pending();
  // Keeps tail_ (the active segment's partial last block) across a buffered write of `w`.
  void advance_tail(const in_flight_write& w);
  void note_completion(const in_flight_write& w);
  // Opens the active segment for direct I/O and loads its tail block, if options().io asks for
  // it; a file system without O_DIRECT leaves the buffered path, with a warning.
  void open_direct(const std::filesystem::path& path);
  // Lays `w`'s records out as one aligned write after the tail block, and keeps the new tail.
  void prepare_direct(in_flight_write& w);
  // Whether the next batch would start in the last block of a write still in flight.
  bool shares_block_with_in_flight() const noexcept;
  // Whether the front pending batch can be written now; if not, starts what makes room.
  enum class placement : std::uint8_t { write, rotate, wait };
  placement place(std::uint64_t size);
  // Zero-fills the active segment from filled_ to segment_bytes, in the background.
  void start_fill();
  asio::awaitable<void> fill_active();
  // Writes zeros to `fd` from `from` to `to`, advancing `*done` as chunks complete. Returns 0,
  // or the errno of a lack of space (ENOSPC, EDQUOT); any other failure is fatal.
  asio::awaitable<int> write_zeros(int fd, std::uint64_t from, std::uint64_t to, std::uint64_t* done,
                                   const std::filesystem::path& path);
  void note_space_problem(std::string what);
  void note_space_ok();
  bool retry_due() const noexcept;
  batch& writable_batch();
  void record_queued(bool entry);
  bool worth_waiting_for_more() const;
  void start_write(batch b);
  asio::awaitable<void> write(in_flight_write* w);
  asio::awaitable<void> rotate();
  // Starts preparing the next segment unless it is being prepared or ready: prepare_spare()
  // creates next-segment.tmp, fills it with zeros and syncs it (then spare_fd_ holds it).
  void start_spare();
  asio::awaitable<void> prepare_spare();
  std::string hard_state_batch() const;
  std::filesystem::path segment_path(std::uint64_t seq) const;

  io::uring& ring_;
  options opts_;
  io::unique_fd dir_fd_;
  io::unique_fd active_fd_;
  // Direct I/O (while direct_fd_ is open): the active segment opened O_DIRECT|O_DSYNC, and the bytes of its last
  // partial block, from the block's start to active_offset_ (everything submitted so far).
  io::unique_fd direct_fd_;
  std::string tail_;
  bool use_direct_ = true;  // automatic: the path io_choice chose last; otherwise always true
  io_choice choice_{opts_.choice};
  std::vector<io::aligned_buffer> spare_blocks_;  // written batches' aligned buffers
  std::uint64_t active_offset_ = 0;   // where the next batch goes in the active segment
  std::uint64_t durable_offset_ = 0;  // everything before it in the active segment is durable
  std::uint64_t filled_ = 0;          // bytes of the active segment written (data or zeros)
  bool filling_ = false;              // fill_active() is running
  std::deque<segment_info> segments_;  // oldest first; back() is the active segment

  hard_state hard_state_;
  std::uint64_t last_index_ = 0;
  std::uint64_t durable_index_ = 0;
  std::uint64_t queued_records_ = 0;
  std::uint64_t durable_records_ = 0;
  std::uint64_t appended_bytes_ = 0;
  std::deque<batch> pending_;
  std::uint64_t pending_entries_ = 0;  // entries queued and not yet submitted
  // Group-commit delay state: how many entries the next batch is expected to hold (the writers
  // just answered, who will likely write again, plus those already waiting), and since when.
  std::uint64_t expected_entries_ = 0;
  std::chrono::steady_clock::time_point wait_from_;
  std::deque<in_flight_write> in_flight_;  // oldest first; references stay valid while queued
  std::function<void(std::uint64_t)> on_durable_;
  std::vector<std::string> spare_buffers_;  // written batches' buffers, kept for their capacity
  io::event wake_;
  // The next segment: being prepared (spare_preparing_), or ready (spare_fd_ open).
  io::unique_fd spare_fd_;
  io::unique_fd spare_direct_fd_;  // direct I/O: the same file opened for direct I/O
  bool spare_preparing_ = false;
  io::event spare_done_;
  // Space: the last failure to write zeros, when to try again, and whether a batch waits.
  std::string space_problem_;
  std::chrono::steady_clock::time_point space_retry_at_{};
  bool blocked_ = false;
  bool stopping_ = false;
  stats stats_;
};

// The name of segment `seq` ("00000000000000000007.wal").
std::string segment_name(std::uint64_t seq);
std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint64_t seq);

}  // namespace kv::wal

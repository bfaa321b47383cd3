#pragma once
// Writing a whole snapshot file in one go, with blocking system calls: what the snapshot's child
// process does (raft/replica/snapshots.cpp), where the state machine is a private copy-on-write
// image that no write can change, so nothing needs slicing or locking. The file's bytes are
// exactly those of a capture taken on the event loop at the same state (snapshot.hpp's format).

#include "core/state/state_machine.hpp"
#include "io/sys/file.hpp"

#include <sys/uio.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kv::snapshot {

// How a write_file() went. Trivially copyable: a child process hands it to its parent as bytes.
struct write_outcome {
  enum class step : std::uint8_t { none, write, writeback, fdatasync };
  step failed = step::none;  // none: the file is complete (and synced if asked)
  int error = 0;             // the failed step's errno
  std::uint64_t bytes = 0;   // written before the end or the failure
  std::uint64_t pairs = 0;   // key records in the chunks
  std::uint64_t chunks = 0;
};

const char* step_name(write_outcome::step s) noexcept;

// The records written around the chunks, encoded by the caller at the snapshot's index.
struct file_parts {
  std::string header;    // encode_header()
  std::string sessions;  // encode_sessions()
  std::string leases;    // encode_leases(), or empty when there is no lease
};

// A snapshot file's records in file order, queued until they are written: the opening records,
// the chunks as they come, and the closing records. Every writer queues through one of these
// (file_stream below, thread_writer, and through file_stream the event loop's), so the order of
// the records and the footer's counts are kept here alone.
class file_records {
 public:
  // The header, then the revisions record: the state's at the capture.
  void open(std::string header, std::string revisions);
  // A chunk of key records (none queued for an empty one).
  void add_chunk(state_machine::chunk c);
  // The sessions, the leases (if any) and the footer.
  void close(file_parts& parts);
  bool has_queued() const noexcept { return !queued_.empty(); }
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  // Takes what is queued, in file order.
  std::vector<std::string> take();
  std::uint64_t pairs() const noexcept { return pairs_; }  // key records in the chunks so far
  std::uint64_t chunks() const noexcept { return chunks_; }

 private:
  void queue(std::string bytes);

  std::vector<std::string> queued_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t pairs_ = 0;
  std::uint64_t chunks_ = 0;
};

// A snapshot file's bytes in file order, as a capture of a state machine on its owner's thread
// produces them: the opening records at once, the chunks as step() captures them, the closing
// records when the capture ends. Not movable: the capture's sink refers to it.
class file_stream {
 public:
  // Begins the capture of `sm`, which must not be capturing.
  file_stream(state_machine& sm, file_parts parts);
  file_stream(const file_stream&) = delete;
  file_stream& operator=(const file_stream&) = delete;

  // Captures the next keys. Returns false once every key is captured; the closing records are
  // queued then too.
  bool step();
  bool has_queued() const noexcept { return records_.has_queued(); }
  std::size_t queued_bytes() const noexcept { return records_.queued_bytes(); }
  // Takes what is queued, in file order.
  std::vector<std::string> take() { return records_.take(); }
  std::uint64_t pairs() const noexcept { return records_.pairs(); }
  std::uint64_t chunks() const noexcept { return records_.chunks(); }

 private:
  state_machine& sm_;
  file_parts parts_;
  file_records records_;
};

// Writes a snapshot file on a thread of its own while the state machine's owner goes on with
// writes and reads: the owner pins batches of keys (pump()), the thread encodes each batch,
// writes the file and writes it back as write_file() does, and the owner releases the batches the
// thread is done with (state_machine::pin_batch). The file's bytes are those file_stream gives
// at the same state. The thread runs at a lower priority (nice +10): on a busy machine the
// serving threads win the cores and the snapshot takes longer.
class thread_writer {
 public:
  // Begins the capture of `sm` (which must not be capturing) into the file open for writing on
  // `fd`, from offset 0. The thread writes through a duplicate of `fd`, so that the caller
  // closing `fd` first can never send its writes to a file that reuses the number. `wake` is
  // called on the thread each time it is done with a batch, and at the end: the owner should
  // pump() then. Throws std::system_error if the thread or the duplicate cannot be had.
  thread_writer(state_machine& sm, int fd, file_parts parts, bool sync, std::uint64_t writeback_bytes,
                std::function<void()> wake);
  // Stops the thread if it still runs (leaving the file incomplete) and ends the capture.
  ~thread_writer();
  thread_writer(const thread_writer&) = delete;
  thread_writer& operator=(const thread_writer&) = delete;

  // On the owner's thread: releases the batches the thread is done with and pins more. True once
  // the file is complete or a system call failed (then the rest of the capture is skipped): the
  // capture has ended and outcome() tells how it went.
  bool pump();
  const write_outcome& outcome() const noexcept { return outcome_; }

 private:
  // Batches pinned ahead of the thread: the one it encodes and the next ones, so that it never
  // waits for the owner to pin while the owner is busy.
  static constexpr std::size_t batches_ahead = 4;

  void run(file_parts parts, std::string revisions, bool sync, std::uint64_t writeback_bytes);
  void end_capture();

  state_machine& sm_;
  std::function<void()> wake_;
  io::unique_fd fd_;  // the thread's duplicate of the file's descriptor
  // The owner's alone.
  std::uint64_t released_ = 0;  // batches released: done_ as the owner last saw it
  bool ended_ = false;
  // Shared, under mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<keyspace::capture_batch> queue_;
  bool last_pinned_ = false;  // no more batches will come
  bool stop_ = false;         // the owner gives up: leave at once
  std::uint64_t done_ = 0;    // batches the thread is done with
  bool failed_ = false;       // a system call failed
  bool finished_ = false;     // the thread is done (outcome_ is final)
  write_outcome outcome_;     // the thread's until finished_
  std::thread thread_;
};

// Points `iov` at the buffers of `bufs` from `from` on that one vectored write takes (at most
// IOV_MAX); returns how many bytes they hold.
std::uint64_t gather(const std::vector<std::string>& bufs, std::size_t from, std::vector<iovec>& iov);

// Captures `sm` (which must not be capturing) from start to end into the file open for writing
// on `fd`, from offset 0 (a file_stream). Writes the file back every `writeback_bytes` and waits
// for it, so that the final fdatasync (when `sync`) has little left to flush and no more than
// that much of the file queues at the device at once, ahead of the WAL's syncs. Stops at the
// first failed system call (a short write counts as ENOSPC), leaving `sm` capturing: only a
// throwaway image, such as the child's, may fail part-way. Never throws for I/O; allocation
// failures propagate.
write_outcome write_file(int fd, state_machine& sm, file_parts parts, bool sync, std::uint64_t writeback_bytes);

}  // namespace kv::snapshot

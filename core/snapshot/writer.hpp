#pragma once
// Writing a whole snapshot file in one go, with blocking system calls: what the snapshot's child
// process does (raft/replica/snapshots.cpp), where the state machine is a private copy-on-write
// image that no write can change, so nothing needs slicing or locking. The file's bytes are
// exactly those of a capture taken on the event loop at the same state (snapshot.hpp's format).

#include "core/state/state_machine.hpp"

#include <sys/uio.h>

#include <cstdint>
#include <string>
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

// A snapshot file's bytes in file order, as a capture of a state machine produces them: the
// header and the revisions at once, the chunks as step() captures them, then the sessions, the
// leases and the footer when the capture ends. Both writers, write_file() below and the event
// loop's (raft/replica/snapshots.cpp), only write what it queues, so the order of the records is
// kept here alone. Not movable: the capture's sink refers to it.
class file_stream {
 public:
  // Begins the capture of `sm`, which must not be capturing.
  file_stream(state_machine& sm, file_parts parts);
  file_stream(const file_stream&) = delete;
  file_stream& operator=(const file_stream&) = delete;

  // Captures the next keys. Returns false once every key is captured; the closing records are
  // queued then too.
  bool step();
  bool has_queued() const noexcept { return !queued_.empty(); }
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  // Takes what is queued, in file order.
  std::vector<std::string> take();
  std::uint64_t pairs() const noexcept { return pairs_; }  // key records in the chunks so far
  std::uint64_t chunks() const noexcept { return chunks_; }

 private:
  void queue(std::string bytes);

  state_machine& sm_;
  file_parts parts_;
  std::vector<std::string> queued_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t pairs_ = 0;
  std::uint64_t chunks_ = 0;
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

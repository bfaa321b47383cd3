#pragma once
// Writing a whole snapshot file in one go, with blocking system calls: what the snapshot's child
// process does (raft/replica/snapshots.cpp), where the state machine is a private copy-on-write
// image that no write can change, so nothing needs slicing or locking. The file's bytes are
// exactly those of a capture taken on the event loop at the same state (snapshot.hpp's format).

#include "core/state/state_machine.hpp"

#include <cstdint>
#include <string>

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

// Captures `sm` (which must not be capturing) from start to end into the file open for writing
// on `fd`, from offset 0: header, revisions, chunks, sessions, leases, footer. Writes the file
// back every `writeback_bytes` and waits for it, so that the final fdatasync (when `sync`) has
// little left to flush and no more than that much of the file queues at the device at once,
// ahead of the WAL's syncs. Stops at the first failed system call (a short write counts as ENOSPC), leaving `sm`
// capturing: only a throwaway image, such as the child's, may fail part-way. Never throws for
// I/O; allocation failures propagate.
write_outcome write_file(int fd, state_machine& sm, const file_parts& parts, bool sync, std::uint64_t writeback_bytes);

}  // namespace kv::snapshot

#pragma once
// Snapshot files: a point-in-time image of the state machine at a log index, which bounds the
// log (segments it covers are deleted) and is what a lagging Raft follower is sent.
//
// File <dir>/snap-<index: 20 digits>.snap, written as <name>.tmp, fdatasynced, renamed into
// place, and the directory fsynced, so a snapshot file either is complete or does not exist.
//
//   header:  "KVSNAP01" | u32 version | u64 index | u64 term | u64 keys | u32 crc32c of the preceding bytes
//   revisions: u32 crc32c of the rest | u32 0xFFFFFFFD | u64 24 | u64 revision | u64 compacted revision
//            | u64 cluster clock (version 3 on, the clock from version 4; at most one, before the chunks)
//   chunk*:  u32 crc32c of the rest | u32 count | u64 length | `count` records: key records
//            (append_key_record: a key with its versions; version 3 on, with expiry from 4) or
//            pairs (append_pair; versions 1 and 2, read as keys created at revision 1)
//   sessions: u32 crc32c of the rest | u32 0xFFFFFFFE | u64 length | session_table::encode()
//            (version 2 on; at most one, before the footer)
//   leases:  u32 crc32c of the rest | u32 0xFFFFFFFC | u64 length | lease_table::encode()
//            (at most one, before the footer; none when no lease exists)
//   footer:  u32 crc32c of the rest | u32 0xFFFFFFFF | u64 16 | u64 total_records | u64 chunk_count
//
// The footer proves the file is whole; every chunk's checksum proves its bytes. The header's key
// count is the live keys when the snapshot began (a size hint); the footer counts the records.

#include "core/state/state_machine.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kv::snapshot {

inline constexpr std::size_t header_bytes = 8 + 4 + 8 + 8 + 8 + 4;

struct meta {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::uint64_t pairs = 0;  // records (keys with their versions, or pairs) in the chunks
  std::uint64_t revision = 1;
  std::uint64_t compacted = 1;
  std::uint64_t clock = 0;  // the cluster clock (core/state/state_machine.hpp) at `index`
  std::uint64_t file_bytes = 0;
  std::uint32_t file_version = 0;
  std::string sessions;  // the client session table at `index` (core/state/sessions.hpp), if any
  std::string leases;    // the lease table at `index` (core/state/leases.hpp), if any
};

std::string file_name(std::uint64_t index);
// `pairs`: how many pairs the chunks will hold (the loader sizes the state machine with it).
std::string encode_header(std::uint64_t index, std::uint64_t term, std::uint64_t pairs);
std::string encode_chunk(const state_machine::chunk& c);
// The chunk's frame without its body: encode_chunk(c) is chunk_header(c) + c.keys. Lets a writer
// send the body as it is, without copying it behind the header.
std::string chunk_header(const state_machine::chunk& c);
std::string encode_revisions(std::uint64_t revision, std::uint64_t compacted, std::uint64_t clock);
std::string encode_sessions(std::string_view table);
std::string encode_leases(std::string_view table);
std::string encode_footer(std::uint64_t total_pairs, std::uint64_t chunk_count);

// Where a snapshot streamed from node `from` is received (a .tmp file, removed at startup).
std::filesystem::path incoming_path(const std::filesystem::path& dir, std::uint64_t from);

// The newest snapshot file in `dir`, if any.
std::optional<std::filesystem::path> newest(const std::filesystem::path& dir);

// Reads and checks just the header of the snapshot file at `path`: its index, term and pair
// count. Throws corruption_error.
meta read_header(const std::filesystem::path& path);

// Validates the snapshot file at `path` and restores it into `sm` (which must be empty).
// Throws corruption_error naming the file and offset if anything does not check out.
meta load(const std::filesystem::path& path, state_machine& sm);

// Validates encoded snapshot bytes and restores them into `sm` (which must be empty); `name`
// labels errors. Throws corruption_error.
meta decode(std::string_view data, std::string_view name, state_machine& sm);

// The live keys' current values for any consumer: `reserve(pairs)` (if given) once the header is
// read, with an upper bound on the pairs to come, then `pair(key, value)` for every live key in
// file order. A corruption found after some pairs throws after they were passed on.
using pair_sink = std::function<void(std::string_view key, std::string_view value)>;
meta decode_pairs(std::string_view data, std::string_view name, const pair_sink& pair,
                  const std::function<void(std::uint64_t)>& reserve = {});

}  // namespace kv::snapshot

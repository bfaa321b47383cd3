#pragma once
// The wire encoding of Raft messages between nodes (see docs/cluster.md, "Peer protocol").
//
//   message: u8 type | u64 from | u64 to | u64 term | u64 last_index | u64 last_term
//            | u64 prev_index | u64 prev_term | u64 commit | u8 flags | u64 match
//            | u64 hint_index | u64 hint_term | u64 context | u64 snapshot_index
//            | u64 snapshot_term | u32 entry_count | entries
//   entry:   u64 term | u64 index | u32 length | data
//
// flags: 1 reject, 2 leader_transfer. All integers little-endian. Pure: builds and parses bytes, never touches a socket.

#include "raft/message.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace kv::raft {

// Appends the encoding of `m` to `out`.
void encode(std::string& out, const message& m);

// Decodes a whole message; nullopt if `data` is not exactly one well-formed message (a bad
// type, a length that runs past the end, trailing bytes).
std::optional<message> decode(std::string_view data);

// The bytes encode() would append for `m`, for flow-control accounting.
std::size_t encoded_size(const message& m) noexcept;

}  // namespace kv::raft

#pragma once
// The error messages the server sends to clients: for frames it cannot take, and for the store's
// refusals (limits, client sessions, shutdown). Pure: each returns the text and never touches a
// socket, so the wording lives in one place.

#include "core/base/error.hpp"
#include "io/protocol/protocol.hpp"
#include "raft/replica/settings.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kv::error_text {

// ---- frames and connections ---------------------------------------------------------------

std::string frame_too_large(std::uint64_t declared, std::uint64_t max_frame_bytes);
// The length prefix is below the header size.
std::string frame_too_short(std::uint64_t declared);
std::string unsupported_version(std::uint8_t version);
// `what` names the part: "set", "bulk_set", "session prefix of a"...
std::string malformed_body(std::string_view what);
std::string unknown_operation(std::uint8_t code);
std::string search_disabled();
std::string too_many_connections(std::uint64_t max_connections);

// ---- watches ------------------------------------------------------------------------------

std::string watch_id_in_use(std::uint64_t id);
std::string too_many_watches(std::uint64_t max_watches);
std::string no_such_watch(std::uint64_t id);

// ---- the store's answers ------------------------------------------------------------------

// A key the store refused to read (check_key_for_read): empty (bad_request) or too long.
std::string key_refused(errc e, std::size_t key_size, const storage_config& limits);

// A write that failed. `o`, `key_size` and `value_size` describe the request, to say which limit
// it broke; empty for not_found (a delete of a missing key needs no explanation).
std::string write_failed(const result<std::uint64_t>& r, protocol::op o, std::size_t key_size, std::size_t value_size,
                         const storage_config& limits);

}  // namespace kv::error_text

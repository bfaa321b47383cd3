#pragma once
// How kvctl writes keys and values: as text, in hexadecimal (--hex), or in base64 (-w json, as
// etcdctl does).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kv::kvctl {

// How keys and values are written on the command line (and in txn's input) and printed.
enum class byte_notation : std::uint8_t {
  text,  // as they are
  hex,   // two hexadecimal digits a byte
};

std::string to_hex(std::string_view bytes);
// The bytes `text` spells in hexadecimal (either case), or nullopt if it is not an even number
// of hex digits.
std::optional<std::string> from_hex(std::string_view text);

// `text` as bytes in `notation`, or nullopt if it is not hexadecimal (byte_notation::hex).
std::optional<std::string> bytes_in(byte_notation notation, std::string_view text);
// `bytes` as kvctl prints them in `notation`.
std::string printed(byte_notation notation, std::string_view bytes);

// Standard base64 (RFC 4648, with padding): how Go's encoding/json, and so etcdctl -w json,
// writes bytes.
std::string to_base64(std::string_view bytes);

}  // namespace kv::kvctl

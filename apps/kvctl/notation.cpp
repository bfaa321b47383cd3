#include "apps/kvctl/notation.hpp"

#include <fmt/format.h>

#include <charconv>

namespace kv::kvctl {

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

std::optional<std::string> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    unsigned byte = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + i + 2, byte, 16);
    if (ec != std::errc() || end != text.data() + i + 2) return std::nullopt;
    out += static_cast<char>(byte);
  }
  return out;
}

std::optional<std::string> bytes_in(byte_notation notation, std::string_view text) {
  if (notation == byte_notation::hex) return from_hex(text);
  return std::string(text);
}

std::string printed(byte_notation notation, std::string_view bytes) {
  return notation == byte_notation::hex ? to_hex(bytes) : std::string(bytes);
}

std::string to_base64(std::string_view bytes) {
  static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                   static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += digits[n >> 18 & 63];
    out += digits[n >> 12 & 63];
    out += digits[n >> 6 & 63];
    out += digits[n & 63];
  }
  const auto rest = bytes.size() - i;
  if (rest == 0) return out;
  auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
  if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
  out += digits[n >> 18 & 63];
  out += digits[n >> 12 & 63];
  out += rest == 2 ? digits[n >> 6 & 63] : '=';
  out += '=';
  return out;
}

}  // namespace kv::kvctl

#pragma once
// CRC-32C (Castagnoli), the checksum of every WAL record and snapshot chunk.
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table-driven loop otherwise.

#include <cstdint>
#include <string_view>

namespace kv {

// Extends `crc` (the CRC of earlier bytes, 0 for none) with `data`.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0) noexcept;

// The portable implementation, exposed so tests can check both paths agree.
std::uint32_t crc32c_portable(std::string_view data, std::uint32_t crc = 0) noexcept;

}  // namespace kv

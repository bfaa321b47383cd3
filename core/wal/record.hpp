#pragma once
// The framing of every record in a WAL segment.
//
//   offset  size  field
//        0     4  crc32c of bytes [4, 25 + length)
//        4     4  length of the payload
//        8     1  type (record_type)
//        9     8  term
//       17     8  index
//       25     n  payload
//
// Records are written in batches, one batch per group commit: a `batch` record whose payload
// gives the number and total size of the records that follow it, then those records. A batch is
// the unit of durability: it is acknowledged only after it is wholly on disk. Each batch record
// also says how far its segment was known to be durable when the batch was written
// (`durable_through`): that is what lets recovery tell a torn tail (batches still in flight at
// the crash, never acknowledged: truncate) from corruption (damage that a later batch vouches
// was already durable: refuse to start).

#include <cstdint>
#include <string>
#include <string_view>

namespace kv::wal {

enum class record_type : std::uint8_t {
  batch = 1,       // payload: u32 record_count | u64 records_bytes | u64 durable_through
  entry = 2,       // a log entry: term, index, payload = the encoded command
  hard_state = 3,  // term = current term; payload: u64 voted_for | u64 commit_index
  reset = 4,       // index = i: the log is empty after entry i, which a snapshot durable before
                   // this record covers (a follower installed a leader's snapshot); no payload
};

inline constexpr std::size_t header_bytes = 25;
inline constexpr std::size_t batch_payload_bytes = 20;
// Larger lengths are treated as corruption rather than trusted to size an allocation.
inline constexpr std::uint32_t max_payload_bytes = 1u << 30;

struct record_header {
  std::uint32_t crc = 0;
  std::uint32_t length = 0;
  record_type type = record_type::entry;
  std::uint64_t term = 0;
  std::uint64_t index = 0;
};

// Appends a framed record to `out`.
void append_record(std::string& out, record_type type, std::uint64_t term, std::uint64_t index,
                   std::string_view payload);

// Writes the frame of a batch record at `out` (header_bytes + batch_payload_bytes bytes).
// `durable_through`: the offset in this segment up to which everything was durable when the
// batch was written.
void write_batch_record(char* out, std::uint32_t record_count, std::uint64_t records_bytes,
                        std::uint64_t durable_through);

enum class decode_status : std::uint8_t {
  ok,
  truncated,    // fewer bytes than the header or the payload needs
  bad_length,   // the length field is implausible
  bad_crc,      // the checksum does not match
  bad_type,     // an unknown record type (with a valid checksum: a bug or a newer format)
};

const char* to_string(decode_status s) noexcept;

struct decoded_record {
  decode_status status = decode_status::truncated;
  record_header header;
  std::string_view payload;
  std::size_t size = 0;  // header_bytes + payload length, when status == ok
};

// Decodes the record that starts at the beginning of `data`.
decoded_record decode_record(std::string_view data) noexcept;

// The payload of a batch record.
struct batch_info {
  std::uint32_t record_count = 0;
  std::uint64_t records_bytes = 0;
  std::uint64_t durable_through = 0;
};
bool decode_batch(std::string_view payload, batch_info& out) noexcept;

}  // namespace kv::wal

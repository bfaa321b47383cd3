#include "core/wal/record.hpp"

#include "core/base/bytes.hpp"
#include "core/base/crc32c.hpp"

namespace kv::wal {

namespace {
void write_header_fields(char* out, std::uint32_t length, record_type type, std::uint64_t term, std::uint64_t index) {
  put_fixed<std::uint32_t>(out + 4, length);
  out[8] = static_cast<char>(type);
  put_fixed<std::uint64_t>(out + 9, term);
  put_fixed<std::uint64_t>(out + 17, index);
}
}  // namespace

void append_record(std::string& out, record_type type, std::uint64_t term, std::uint64_t index,
                   std::string_view payload) {
  auto start = out.size();
  out.resize(start + header_bytes);
  char* h = out.data() + start;
  write_header_fields(h, static_cast<std::uint32_t>(payload.size()), type, term, index);
  std::uint32_t crc = crc32c(std::string_view(h + 4, header_bytes - 4));
  crc = crc32c(payload, crc);
  put_fixed<std::uint32_t>(h, crc);
  out.append(payload);
}

void write_batch_record(char* out, std::uint32_t record_count, std::uint64_t records_bytes,
                        std::uint64_t durable_through) {
  write_header_fields(out, batch_payload_bytes, record_type::batch, 0, 0);
  put_fixed<std::uint32_t>(out + header_bytes, record_count);
  put_fixed<std::uint64_t>(out + header_bytes + 4, records_bytes);
  put_fixed<std::uint64_t>(out + header_bytes + 12, durable_through);
  put_fixed<std::uint32_t>(out, crc32c(std::string_view(out + 4, header_bytes - 4 + batch_payload_bytes)));
}

const char* to_string(decode_status s) noexcept {
  switch (s) {
    case decode_status::ok: return "ok";
    case decode_status::truncated: return "record runs past the end of the file";
    case decode_status::bad_length: return "implausible record length";
    case decode_status::bad_crc: return "checksum mismatch";
    case decode_status::bad_type: return "unknown record type";
  }
  return "unknown";
}

decoded_record decode_record(std::string_view data) noexcept {
  decoded_record r;
  if (data.size() < header_bytes) return r;  // truncated
  const char* h = data.data();
  r.header.crc = get_fixed<std::uint32_t>(h);
  r.header.length = get_fixed<std::uint32_t>(h + 4);
  r.header.type = static_cast<record_type>(static_cast<std::uint8_t>(h[8]));
  r.header.term = get_fixed<std::uint64_t>(h + 9);
  r.header.index = get_fixed<std::uint64_t>(h + 17);
  if (r.header.length > max_payload_bytes) {
    r.status = decode_status::bad_length;
    return r;
  }
  if (data.size() - header_bytes < r.header.length) return r;  // truncated
  r.payload = data.substr(header_bytes, r.header.length);
  std::uint32_t crc = crc32c(std::string_view(h + 4, header_bytes - 4));
  crc = crc32c(r.payload, crc);
  if (crc != r.header.crc) {
    r.status = decode_status::bad_crc;
    return r;
  }
  auto t = r.header.type;
  if (t != record_type::batch && t != record_type::entry && t != record_type::hard_state && t != record_type::reset) {
    r.status = decode_status::bad_type;
    return r;
  }
  r.status = decode_status::ok;
  r.size = header_bytes + r.header.length;
  return r;
}

bool decode_batch(std::string_view payload, batch_info& out) noexcept {
  if (payload.size() != batch_payload_bytes) return false;
  out.record_count = get_fixed<std::uint32_t>(payload.data());
  out.records_bytes = get_fixed<std::uint64_t>(payload.data() + 4);
  out.durable_through = get_fixed<std::uint64_t>(payload.data() + 12);
  return true;
}

}  // namespace kv::wal

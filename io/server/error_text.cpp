#include "io/server/error_text.hpp"

#include <fmt/format.h>

namespace kv::error_text {

std::string frame_too_large(std::uint64_t declared, std::uint64_t max_frame_bytes) {
  return fmt::format("frame of {} bytes exceeds max-frame-size ({} bytes)", declared, max_frame_bytes);
}

std::string frame_too_short(std::uint64_t declared) {
  return fmt::format("malformed frame: length {} is shorter than the {}-byte header", declared,
                     protocol::header_bytes);
}

std::string unsupported_version(std::uint8_t version) {
  return fmt::format("unsupported protocol version {} (this node speaks version {})", version, protocol::version);
}

std::string malformed_body(std::string_view what) { return fmt::format("malformed {} request body", what); }

std::string unknown_operation(std::uint8_t code) {
  return fmt::format("unknown operation {}", static_cast<unsigned>(code));
}

std::string search_disabled() { return "search is disabled on this node ([index] enabled = false)"; }

std::string too_many_connections(std::uint64_t max_connections) {
  return fmt::format("too many connections (max-connections is {})", max_connections);
}

std::string watch_id_in_use(std::uint64_t id) {
  return fmt::format("watch {} is already open on this connection; a watch takes its request's id, which must be "
                     "unique among the connection's watches",
                     id);
}

std::string too_many_watches(std::uint64_t max_watches) {
  return fmt::format("this node serves {} watches, its max-watches; cancel some, or watch on another node", max_watches);
}

std::string no_such_watch(std::uint64_t id) {
  return fmt::format("no watch {} on this connection (it ended, was cancelled, or never started)", id);
}

namespace {
std::string key_too_long(std::size_t key_size, const storage_config& limits) {
  return fmt::format("key of {} bytes exceeds max-key-size ({} bytes)", key_size, limits.max_key_bytes);
}
}  // namespace

std::string key_refused(errc e, std::size_t key_size, const storage_config& limits) {
  return e == errc::bad_request ? std::string("the key is empty") : key_too_long(key_size, limits);
}

std::string write_failed(const result<std::uint64_t>& r, protocol::op o, std::size_t key_size, std::size_t value_size,
                         const storage_config& limits) {
  const bool bulk = o == protocol::op::bulk_set;
  // The store explains refusals of transactions, compactions and lease operations itself.
  const bool explained = o == protocol::op::txn || o == protocol::op::compact || o == protocol::op::lease_grant ||
                         o == protocol::op::lease_revoke;
  if (explained && !r.failure().message.empty()) return r.message();
  if (r.is(errc::not_found)) return {};
  if (r.is(errc::too_large)) {
    if (key_size > limits.max_key_bytes) return key_too_long(key_size, limits);
    if (value_size > limits.max_value_bytes && !bulk) {
      return fmt::format("value of {} bytes exceeds max-value-size ({} bytes)", value_size, limits.max_value_bytes);
    }
    return fmt::format("a key or value exceeds its limit (max-key-size {} bytes, max-value-size {} bytes), or "
                       "the write exceeds max-batch-size ({} bytes)",
                       limits.max_key_bytes, limits.max_value_bytes, limits.max_batch_bytes);
  }
  if (r.is(errc::bad_request)) {
    return bulk ? "bulk_set needs at least one pair, and no key may be empty" : "the key is empty";
  }
  if (r.is(errc::unavailable) && r.failure().message.empty()) return "the node is shutting down";
  if (r.is(errc::session_expired)) {
    return "the client session is unknown or expired (the cluster keeps a bounded number): open a new one";
  }
  return r.message();
}

}  // namespace kv::error_text

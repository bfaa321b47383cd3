#include "core/state/state_machine.hpp"

#include "core/base/bytes.hpp"

#include <cassert>

namespace kv {

namespace {
constexpr std::size_t keys_per_capture_step = 1024;
constexpr std::size_t version_header_bytes = 8 + 8 + 8 + 4;
}  // namespace

void append_key_record(std::string& out, const captured_key& k) {
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(k.key.size()));
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(k.versions.size()));
  out.append(k.key);
  for (const auto& v : k.versions) {
    append_fixed<std::uint64_t>(out, v.create_revision);
    append_fixed<std::uint64_t>(out, v.mod_revision);
    append_fixed<std::uint64_t>(out, v.version);
    append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(v.value.size()));
    out.append(v.value);
  }
}

namespace {

// Reads one record at `p` (with `left` bytes after it); returns its size, or 0 if malformed.
std::size_t read_key_record(const char* p, std::size_t left, captured_key* out) {
  if (left < 8) return 0;
  auto klen = get_fixed<std::uint32_t>(p);
  auto n = get_fixed<std::uint32_t>(p + 4);
  std::size_t at = 8;
  if (n == 0 || left - at < klen) return 0;
  if (out != nullptr) {
    out->key = std::string_view(p + at, klen);
    out->versions.clear();
  }
  at += klen;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (left - at < version_header_bytes) return 0;
    captured_key::version v{get_fixed<std::uint64_t>(p + at), get_fixed<std::uint64_t>(p + at + 8),
                            get_fixed<std::uint64_t>(p + at + 16), {}};
    auto vlen = get_fixed<std::uint32_t>(p + at + 24);
    at += version_header_bytes;
    if (left - at < vlen) return 0;
    v.value = std::string_view(p + at, vlen);
    at += vlen;
    if (out != nullptr) out->versions.push_back(v);
  }
  return at;
}

}  // namespace

bool valid_key_records(std::string_view bytes, std::uint32_t count) noexcept {
  std::size_t at = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    auto n = read_key_record(bytes.data() + at, bytes.size() - at, nullptr);
    if (n == 0) return false;
    at += n;
  }
  return at == bytes.size();
}

void for_each_key_record(std::string_view bytes, std::uint32_t count,
                         const std::function<void(const captured_key&)>& f) {
  captured_key k;
  std::size_t at = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    at += read_key_record(bytes.data() + at, bytes.size() - at, &k);
    f(k);
  }
}

errc state_machine::apply(std::uint64_t index, const command_view& cmd) {
  assert(index == applied_index_ + 1);
  applied_index_ = index;
  errc outcome = errc::ok;
  switch (cmd.type) {
    case command_type::noop:
    case command_type::open_session:  // sessions are the store's (core/state/sessions.hpp)
      return errc::ok;
    case command_type::in_session:  // decode_command() unwraps it
      return errc::internal;
    case command_type::set:
      ks_.begin_write();
      ks_.put(cmd.key, cmd.value);
      ks_.end_write();
      break;
    case command_type::del:
      ks_.begin_write();
      if (ks_.delete_range(key_range{cmd.key, {}}) == 0) outcome = errc::not_found;
      ks_.end_write();
      break;
    case command_type::bulk_set:
      ks_.begin_write();
      cmd.for_each_pair([this](std::string_view k, std::string_view v) { ks_.put(k, v); });
      ks_.end_write();
      break;
  }
  compact_history();
  return outcome;
}

void state_machine::compact_history() {
  const auto rev = ks_.revision();
  if (rev > ks_.compacted() + history_revisions_) ks_.compact(rev - history_revisions_);
}

std::optional<std::string_view> state_machine::get(std::string_view key) const {
  auto v = ks_.get(key);
  if (!v) return std::nullopt;
  return v->value;
}

void state_machine::restore_pair(std::string_view key, std::string_view value) {
  captured_key k;
  k.key = key;
  k.versions.push_back({1, 1, 1, value});
  ks_.restore_key(k);
}

void state_machine::begin_capture(chunk_sink sink) {
  assert(!capturing());
  sink_ = std::move(sink);
  ks_.begin_capture([this](std::vector<captured_key> batch) {
    chunk c;
    for (const auto& k : batch) append_key_record(c.keys, k);
    c.count = static_cast<std::uint32_t>(batch.size());
    sink_(std::move(c));
  });
}

bool state_machine::capture_step() {
  bool more = ks_.capture_step(keys_per_capture_step);
  if (!more) sink_ = nullptr;
  return more;
}

}  // namespace kv

#include "core/state/state_machine.hpp"

#include "core/base/bytes.hpp"

#include <cassert>

namespace kv {

namespace {
constexpr std::size_t keys_per_capture_step = 1024;
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

// Reads one record from `in` into `out` (when given); false if it is malformed.
bool read_key_record(byte_reader& in, captured_key* out) {
  auto klen = in.fixed<std::uint32_t>();
  auto versions = in.fixed<std::uint32_t>();
  auto key = in.bytes(klen);
  if (!in.ok() || versions == 0) return false;
  if (out != nullptr) {
    out->key = key;
    out->versions.clear();
  }
  for (std::uint32_t i = 0; i < versions; ++i) {
    captured_key::version v{};
    v.create_revision = in.fixed<std::uint64_t>();
    v.mod_revision = in.fixed<std::uint64_t>();
    v.version = in.fixed<std::uint64_t>();
    v.value = in.bytes(in.fixed<std::uint32_t>());
    if (!in.ok()) return false;
    if (out != nullptr) out->versions.push_back(v);
  }
  return true;
}

}  // namespace

bool valid_key_records(std::string_view bytes, std::uint32_t count) noexcept {
  byte_reader in(bytes);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (!read_key_record(in, nullptr)) return false;
  }
  return in.remaining() == 0;
}

void for_each_key_record(std::string_view bytes, std::uint32_t count,
                         const std::function<void(const captured_key&)>& f) {
  byte_reader in(bytes);
  captured_key k;
  for (std::uint32_t i = 0; i < count; ++i) {
    read_key_record(in, &k);
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
  ks_.begin_capture([sink = std::move(sink)](std::vector<captured_key> batch) {
    chunk c;
    for (const auto& k : batch) append_key_record(c.keys, k);
    c.count = static_cast<std::uint32_t>(batch.size());
    sink(std::move(c));
  });
}

bool state_machine::capture_step() { return ks_.capture_step(keys_per_capture_step); }

}  // namespace kv

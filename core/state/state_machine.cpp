#include "core/state/state_machine.hpp"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>

namespace kv {

namespace {
// Debian's Abseil is built with its own string_view type.
absl::string_view as_absl(std::string_view s) noexcept { return {s.data(), s.size()}; }
}  // namespace

state_machine::entry* state_machine::entry::make(std::string_view key, std::string_view value) {
  void* p = std::malloc(sizeof(entry) + key.size() + value.size());
  if (p == nullptr) throw std::bad_alloc();
  auto* e = static_cast<entry*>(p);
  e->key_len = static_cast<std::uint32_t>(key.size());
  e->value_len = static_cast<std::uint32_t>(value.size());
  auto* bytes = reinterpret_cast<char*>(e + 1);
  std::memcpy(bytes, key.data(), key.size());
  std::memcpy(bytes + key.size(), value.data(), value.size());
  return e;
}

void state_machine::entry::destroy(entry* e) noexcept { std::free(e); }

state_machine::shard::~shard() {
  for (const auto& s : entries) entry::destroy(s.e);
}

state_machine::state_machine() : shards_(shard_count) {}

std::size_t state_machine::shard_of(std::string_view key) const noexcept {
  // The maps use the low bits of the same hash; the shard takes the high ones.
  return absl::Hash<absl::string_view>{}(as_absl(key)) >> (64 - 10);
}
static_assert(state_machine::shard_count == 1u << 10);

errc state_machine::apply(std::uint64_t index, const command_view& cmd) {
  assert(index == applied_index_ + 1);
  applied_index_ = index;
  switch (cmd.type) {
    case command_type::noop:
    case command_type::open_session:  // sessions are the store's (core/state/sessions.hpp)
      return errc::ok;
    case command_type::in_session:  // decode_command() unwraps it
      return errc::internal;
    case command_type::set:
      put(cmd.key, cmd.value);
      return errc::ok;
    case command_type::del:
      return erase(cmd.key) ? errc::ok : errc::not_found;
    case command_type::bulk_set:
      cmd.for_each_pair([this](std::string_view k, std::string_view v) { put(k, v); });
      return errc::ok;
  }
  return errc::internal;
}

std::optional<std::string_view> state_machine::get(std::string_view key) const {
  const auto& m = shards_[shard_of(key)].entries;
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->e->value();
}

void state_machine::put(std::string_view key, std::string_view value) {
  auto s = shard_of(key);
  before_mutation(s, key);
  auto& sh = shards_[s];
  auto it = sh.entries.find(key);
  if (it == sh.entries.end()) {
    sh.entries.insert(slot{entry::make(key, value)});
    ++key_count_;
    sh.bytes += key.size() + value.size();
    data_bytes_ += key.size() + value.size();
    return;
  }
  auto* old = it->e;
  sh.bytes = sh.bytes - old->value_len + value.size();
  data_bytes_ = data_bytes_ - old->value_len + value.size();
  if (old->value_len == value.size()) {
    std::memcpy(const_cast<char*>(old->value().data()), value.data(), value.size());  // same size: in place
  } else {
    it->e = entry::make(key, value);  // same key, so the slot's hash is unchanged
    entry::destroy(old);
  }
}

bool state_machine::erase(std::string_view key) {
  auto s = shard_of(key);
  auto& sh = shards_[s];
  auto it = sh.entries.find(key);
  if (it == sh.entries.end()) return false;
  before_mutation(s, key);  // only reads the shard: `it` stays valid
  auto* e = it->e;
  sh.bytes -= e->key_len + e->value_len;
  data_bytes_ -= e->key_len + e->value_len;
  --key_count_;
  sh.entries.erase(it);
  entry::destroy(e);
  return true;
}

void state_machine::reserve(std::uint64_t keys) {
  auto per_shard = keys / shard_count + keys / shard_count / 8 + 16;
  for (auto& sh : shards_) sh.entries.reserve(per_shard);
}

void state_machine::restore_pair(std::string_view key, std::string_view value) { put(key, value); }

void state_machine::begin_capture(chunk_sink sink) {
  assert(!capturing());
  sink_ = std::move(sink);
  captured_.assign(shard_count, false);
  capture_cursor_ = 0;
}

bool state_machine::capture_step() {
  while (capture_cursor_ < shard_count && captured_[capture_cursor_]) ++capture_cursor_;
  if (capture_cursor_ == shard_count) {
    sink_ = nullptr;
    return false;
  }
  capture_shard(capture_cursor_++);
  return true;
}

void state_machine::before_mutation(std::size_t s, std::string_view key) {
  if (!capturing() || captured_[s]) return;
  auto& sh = shards_[s];
  auto [saved, inserted] = sh.before.try_emplace(as_absl(key));
  if (!inserted) return;  // the first write since the capture began saved it already
  auto it = sh.entries.find(key);
  if (it != sh.entries.end()) saved->second = std::string(it->e->value());
}

void state_machine::capture_shard(std::size_t s) {
  captured_[s] = true;
  auto& sh = shards_[s];
  chunk c;
  c.pairs.reserve(sh.bytes + 8 * sh.entries.size());
  auto emit = [&c](std::string_view k, std::string_view v) {
    append_pair(c.pairs, k, v);
    ++c.count;
  };
  for (const auto& s : sh.entries) {
    auto k = s.e->key();
    auto saved = sh.before.empty() ? sh.before.end() : sh.before.find(as_absl(k));
    if (saved == sh.before.end()) {
      emit(k, s.e->value());
    } else if (saved->second) {
      emit(k, *saved->second);  // overwritten since the capture began
    }  // else: created since the capture began
  }
  for (const auto& [k, v] : sh.before) {
    if (v && !sh.entries.contains(std::string_view(k))) emit(k, *v);  // deleted since the capture began
  }
  sh.before = {};
  if (c.count > 0) sink_(std::move(c));
}

}  // namespace kv

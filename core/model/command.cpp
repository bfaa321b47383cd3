#include "core/model/command.hpp"

#include "core/base/bytes.hpp"

namespace kv {

void append_pair(std::string& out, std::string_view key, std::string_view value) {
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(key.size()));
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(value.size()));
  out.append(key);
  out.append(value);
}

bool valid_pairs(std::string_view bytes, std::uint32_t count) noexcept {
  byte_reader in(bytes);
  for (std::uint32_t i = 0; i < count && in.ok(); ++i) {
    auto klen = in.fixed<std::uint32_t>();
    auto vlen = in.fixed<std::uint32_t>();
    in.bytes(static_cast<std::size_t>(klen) + vlen);
  }
  return in.ok() && in.remaining() == 0;
}

std::string encode_noop() { return std::string(1, static_cast<char>(command_type::noop)); }

std::string encode_set(std::string_view key, std::string_view value) {
  std::string out;
  out.reserve(1 + 4 + key.size() + value.size());
  out.push_back(static_cast<char>(command_type::set));
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(key.size()));
  out.append(key);
  out.append(value);
  return out;
}

std::string encode_del(std::string_view key) {
  std::string out;
  out.reserve(1 + key.size());
  out.push_back(static_cast<char>(command_type::del));
  out.append(key);
  return out;
}

std::string encode_incr(std::string_view key, std::int64_t delta) {
  std::string out;
  out.reserve(1 + 8 + key.size());
  out.push_back(static_cast<char>(command_type::incr));
  append_fixed(out, delta);
  out.append(key);
  return out;
}

std::string encode_bulk_set(std::span<const kv_pair> pairs) {
  std::size_t size = 1 + 4;
  for (const auto& p : pairs) size += 8 + p.key.size() + p.value.size();
  std::string out;
  out.reserve(size);
  out.push_back(static_cast<char>(command_type::bulk_set));
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(pairs.size()));
  for (const auto& p : pairs) append_pair(out, p.key, p.value);
  return out;
}

std::string encode_open_session() { return std::string(1, static_cast<char>(command_type::open_session)); }

std::string encode_txn_command(std::string_view txn, std::uint64_t now) {
  std::string out;
  out.reserve(1 + 8 + txn.size());
  out.push_back(static_cast<char>(now == 0 ? command_type::txn : command_type::txn_at));
  if (now != 0) append_fixed(out, now);
  out.append(txn);
  return out;
}

std::string encode_expire(std::uint64_t now, std::span<const std::string_view> keys) {
  std::string out(1, static_cast<char>(command_type::expire));
  append_fixed(out, now);
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(keys.size()));
  for (auto k : keys) {
    append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(k.size()));
    out.append(k);
  }
  return out;
}

std::string encode_compact(std::uint64_t revision) {
  std::string out(1, static_cast<char>(command_type::compact));
  append_fixed(out, revision);
  return out;
}

std::string encode_lease_grant(std::uint64_t id, std::int64_t ttl_seconds) {
  std::string out(1, static_cast<char>(command_type::lease_grant));
  append_fixed(out, id);
  append_fixed(out, ttl_seconds);
  return out;
}

std::string encode_lease_revoke(std::uint64_t id) {
  std::string out(1, static_cast<char>(command_type::lease_revoke));
  append_fixed(out, id);
  return out;
}

std::string encode_lease_checkpoint(std::span<const lease_remaining> checkpoints) {
  std::string out(1, static_cast<char>(command_type::lease_checkpoint));
  append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(checkpoints.size()));
  for (const auto& c : checkpoints) {
    append_fixed(out, c.id);
    append_fixed(out, c.remaining_ms);
  }
  return out;
}

void change_list::add(bool deleted, std::string_view key, std::string_view value) {
  if (bytes_.empty()) {
    bytes_.push_back(static_cast<char>(command_type::changes));
    append_fixed<std::uint32_t>(bytes_, 0);
  }
  bytes_.push_back(deleted ? 1 : 0);
  append_fixed<std::uint32_t>(bytes_, static_cast<std::uint32_t>(key.size()));
  append_fixed<std::uint32_t>(bytes_, static_cast<std::uint32_t>(value.size()));
  bytes_.append(key);
  bytes_.append(value);
  ++count_;
  put_fixed<std::uint32_t>(bytes_.data() + 1, count_);
}

void change_list::put(std::string_view key, std::string_view value) { add(false, key, value); }
void change_list::erase(std::string_view key) { add(true, key, {}); }

void change_list::clear() {
  bytes_.clear();
  count_ = 0;
}

namespace {

bool valid_keys(std::string_view bytes, std::uint32_t count) noexcept {
  byte_reader in(bytes);
  for (std::uint32_t i = 0; i < count && in.ok(); ++i) {
    auto klen = in.fixed<std::uint32_t>();
    if (klen == 0) return false;
    in.bytes(klen);
  }
  return in.ok() && in.remaining() == 0;
}

bool valid_changes(std::string_view bytes, std::uint32_t count) noexcept {
  byte_reader in(bytes);
  for (std::uint32_t i = 0; i < count && in.ok(); ++i) {
    in.fixed<std::uint8_t>();
    auto klen = in.fixed<std::uint32_t>();
    auto vlen = in.fixed<std::uint32_t>();
    in.bytes(static_cast<std::size_t>(klen) + vlen);
  }
  return in.ok() && in.remaining() == 0;
}

}  // namespace

std::string encode_in_session(const session_ref& ref, std::string_view command) {
  std::string out;
  out.reserve(1 + 24 + command.size());
  out.push_back(static_cast<char>(command_type::in_session));
  append_fixed(out, ref.session);
  append_fixed(out, ref.seq);
  append_fixed(out, ref.first_unacked);
  out.append(command);
  return out;
}

result<command_view> decode_command(std::string_view bytes) {
  byte_reader in(bytes);
  command_view c;
  c.type = static_cast<command_type>(in.fixed<std::uint8_t>());
  if (c.type == command_type::in_session) {
    session_ref ref;
    ref.session = in.fixed<std::uint64_t>();
    ref.seq = in.fixed<std::uint64_t>();
    ref.first_unacked = in.fixed<std::uint64_t>();
    if (!in.ok() || ref.session == 0) return errc::corruption;
    auto inner = decode_command(in.rest());
    if (!inner) return inner;
    if (inner->type != command_type::set && inner->type != command_type::del &&
        inner->type != command_type::bulk_set && inner->type != command_type::incr &&
        inner->type != command_type::txn &&
        inner->type != command_type::lease_grant && inner->type != command_type::lease_revoke) {
      return errc::corruption;
    }
    inner->session = ref;
    return inner;
  }
  switch (c.type) {
    case command_type::noop:
    case command_type::open_session:
      break;
    case command_type::set: {
      auto klen = in.fixed<std::uint32_t>();
      c.key = in.bytes(klen);
      c.value = in.rest();
      break;
    }
    case command_type::del:
      c.key = in.rest();
      break;
    case command_type::incr:
      c.delta = in.fixed<std::int64_t>();
      c.key = in.rest();
      if (c.key.empty()) return errc::corruption;  // no key to add to: never proposed
      break;
    case command_type::bulk_set: {
      c.count = in.fixed<std::uint32_t>();
      c.pairs = in.rest();
      if (!valid_pairs(c.pairs, c.count)) return errc::corruption;
      break;
    }
    case command_type::txn:
      c.txn = in.rest();
      break;
    case command_type::txn_at:
      c.type = command_type::txn;
      c.now = in.fixed<std::uint64_t>();
      c.txn = in.rest();
      if (c.now == 0) return errc::corruption;
      break;
    case command_type::expire:
      c.now = in.fixed<std::uint64_t>();
      c.count = in.fixed<std::uint32_t>();
      c.pairs = in.rest();
      if (!in.ok() || !valid_keys(c.pairs, c.count)) return errc::corruption;
      break;
    case command_type::compact:
      c.revision = in.fixed<std::uint64_t>();
      break;
    case command_type::changes:
      c.count = in.fixed<std::uint32_t>();
      c.pairs = in.rest();
      if (!valid_changes(c.pairs, c.count)) return errc::corruption;
      break;
    case command_type::lease_grant:
      c.lease = in.fixed<std::uint64_t>();
      c.ttl = in.fixed<std::int64_t>();
      break;
    case command_type::lease_revoke:
      c.lease = in.fixed<std::uint64_t>();
      break;
    case command_type::lease_checkpoint:
      c.count = in.fixed<std::uint32_t>();
      c.pairs = in.rest();
      if (c.pairs.size() != static_cast<std::size_t>(c.count) * 16) return errc::corruption;
      break;
    default:
      return errc::corruption;
  }
  if (!in.ok() || bytes.empty()) return errc::corruption;
  const bool fixed_size = c.type == command_type::noop || c.type == command_type::open_session ||
                          c.type == command_type::compact || c.type == command_type::lease_grant ||
                          c.type == command_type::lease_revoke;
  if (fixed_size && in.remaining() != 0) {
    return errc::corruption;
  }
  return c;
}

}  // namespace kv

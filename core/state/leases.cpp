#include "core/state/leases.hpp"

#include "core/base/bytes.hpp"

#include <fmt/format.h>

namespace kv {

result<std::uint64_t> lease_table::grant(std::uint64_t id, std::int64_t ttl_seconds) {
  if (ttl_seconds < min_ttl_seconds || ttl_seconds > max_ttl_seconds) {
    return error_info{make_error_code(errc::bad_request),
                      fmt::format("a lease's TTL is {} to {} seconds, not {}", min_ttl_seconds, max_ttl_seconds,
                                  ttl_seconds),
                      {}};
  }
  if (id == 0) {
    id = next_id_;  // above every id granted: free
  } else if (leases_.contains(id)) {
    return error_info{make_error_code(errc::bad_request), fmt::format("lease {} already exists", id), {}};
  }
  lease l;
  l.ttl_seconds = ttl_seconds;
  leases_.emplace(id, std::move(l));
  if (id >= next_id_) next_id_ = id + 1;
  return id;
}

std::optional<std::vector<std::string>> lease_table::revoke(std::uint64_t id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  std::vector<std::string> keys(it->second.keys.begin(), it->second.keys.end());
  for (const auto& k : keys) key_lease_.erase(k);
  leases_.erase(it);
  return keys;
}

bool lease_table::checkpoint(std::uint64_t id, std::int64_t remaining_ms) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return false;
  it->second.remaining_ms = std::max<std::int64_t>(remaining_ms, 0);
  return true;
}

void lease_table::attach(std::string_view key, std::uint64_t id) {
  if (id == 0) return detach(key);
  auto target = leases_.find(id);
  if (target == leases_.end()) return;  // the caller checked: a lease revoked in between
  auto it = key_lease_.find(key);
  if (it != key_lease_.end()) {
    if (it->second == id) return;
    leases_.at(it->second).keys.erase(it->first);
    it->second = id;
  } else {
    it = key_lease_.emplace(std::string(key), id).first;
  }
  target->second.keys.insert(it->first);
}

void lease_table::detach(std::string_view key) {
  if (key_lease_.empty()) return;  // the common case: no key has a lease
  auto it = key_lease_.find(key);
  if (it == key_lease_.end()) return;
  leases_.at(it->second).keys.erase(it->first);
  key_lease_.erase(it);
}

void lease_table::detach(const key_range& range) {
  if (key_lease_.empty()) return;
  if (range.end.empty()) return detach(range.key);
  auto it = key_lease_.lower_bound(range.key);
  while (it != key_lease_.end() && contains(range, it->first)) {
    leases_.at(it->second).keys.erase(it->first);
    it = key_lease_.erase(it);
  }
}

const lease_table::lease* lease_table::find(std::uint64_t id) const {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}

std::uint64_t lease_table::lease_of(std::string_view key) const {
  auto it = key_lease_.find(key);
  return it == key_lease_.end() ? 0 : it->second;
}

std::string lease_table::encode() const {
  std::string out;
  append_fixed<std::uint64_t>(out, next_id_);
  append_fixed<std::uint64_t>(out, leases_.size());
  for (const auto& [id, l] : leases_) {
    append_fixed<std::uint64_t>(out, id);
    append_fixed<std::int64_t>(out, l.ttl_seconds);
    append_fixed<std::int64_t>(out, l.remaining_ms);
    append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(l.keys.size()));
    for (const auto& k : l.keys) {
      append_fixed<std::uint32_t>(out, static_cast<std::uint32_t>(k.size()));
      out.append(k);
    }
  }
  return out;
}

bool lease_table::decode(std::string_view bytes) {
  byte_reader in(bytes);
  lease_table t;
  t.next_id_ = in.fixed<std::uint64_t>();
  auto count = in.fixed<std::uint64_t>();
  if (!in.ok() || count > in.remaining() / 28) return false;  // a lease takes 28 bytes at least
  for (std::uint64_t i = 0; i < count; ++i) {
    auto id = in.fixed<std::uint64_t>();
    lease l;
    l.ttl_seconds = in.fixed<std::int64_t>();
    l.remaining_ms = in.fixed<std::int64_t>();
    auto keys = in.fixed<std::uint32_t>();
    if (!in.ok() || id == 0 || id >= t.next_id_ || keys > in.remaining() / 4) return false;
    for (std::uint32_t k = 0; k < keys; ++k) {
      auto key = in.bytes(in.fixed<std::uint32_t>());
      if (!in.ok() || !t.key_lease_.emplace(std::string(key), id).second) return false;  // a key in two leases
      l.keys.emplace(key);
    }
    if (!t.leases_.emplace(id, std::move(l)).second) return false;
  }
  if (in.remaining() != 0) return false;
  *this = std::move(t);
  return true;
}

}  // namespace kv

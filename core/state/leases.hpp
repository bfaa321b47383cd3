#pragma once
// Leases, the replicated half of etcd v3's lessor: which leases exist, their granted TTL, the
// remaining TTL last checkpointed, and the keys attached to each. Everything here changes only
// by applying log entries, so every member holds the same table at the same index; nothing here
// reads a clock: deciding that a lease expired is left to the leader, which is to revoke it
// through the log as etcd's lessor does. A revoke deletes the lease's keys in one write, on every
// member at the same revision (docs/storage.md).
//
// Keys: a put with a lease attaches its key to the lease (moving it from any other); a put
// without one, or a delete, detaches it, as in etcd. A key belongs to at most one lease.
//
// Ids: a grant names its lease, or takes 0 and gets the lowest id above every id granted so far
// (deterministic, so every member picks the same one). Id 0 means "no lease" everywhere.
//
// Threading: not thread-safe; owned by the state machine, on the node's event-loop thread.

#include "core/base/error.hpp"
#include "core/model/key_range.hpp"

#include <absl/container/btree_map.h>
#include <absl/container/btree_set.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kv {

class lease_table {
 public:
  // etcd's bounds: a TTL is 1 second to about 285 years.
  static constexpr std::int64_t min_ttl_seconds = 1;
  static constexpr std::int64_t max_ttl_seconds = 9'000'000'000;

  struct lease {
    std::int64_t ttl_seconds = 0;   // as granted
    std::int64_t remaining_ms = 0;  // the last checkpoint of the TTL left; 0: none (a full TTL)
    absl::btree_set<std::string> keys;
  };

  // Creates lease `id` (0: the next free id) with `ttl_seconds`; its id. errc::bad_request if
  // the id is taken or the TTL is out of bounds (the message says which); nothing changes then.
  result<std::uint64_t> grant(std::uint64_t id, std::int64_t ttl_seconds);

  // Removes lease `id` and returns its keys, in key order, for the caller to delete in one write;
  // nullopt if there is no such lease.
  std::optional<std::vector<std::string>> revoke(std::uint64_t id);

  // Records the TTL lease `id` has left (0: clear the record, a keepalive renewed it). False if
  // there is no such lease.
  bool checkpoint(std::uint64_t id, std::int64_t remaining_ms);

  // Attaches `key` to lease `id`, which must exist (check with find()); detaches it from any
  // other. `id` 0 detaches it.
  void attach(std::string_view key, std::uint64_t id);
  // A key deleted, or put without a lease.
  void detach(std::string_view key);
  // Every key in `range` deleted.
  void detach(const key_range& range);

  const lease* find(std::uint64_t id) const;
  // The lease `key` is attached to; 0 if none.
  std::uint64_t lease_of(std::string_view key) const;
  // The leases, by id.
  const absl::btree_map<std::uint64_t, lease>& leases() const noexcept { return leases_; }
  std::size_t size() const noexcept { return leases_.size(); }
  bool empty() const noexcept { return leases_.empty(); }
  // Keys attached to some lease.
  std::size_t attached_keys() const noexcept { return key_lease_.size(); }

  // The table as a snapshot stores it:
  //   u64 next_id | u64 count | count x (u64 id | i64 ttl_seconds | i64 remaining_ms |
  //   u32 keys | keys x (u32 len | key))
  std::string encode() const;
  // Replaces the table with `bytes` (encode()'s); false, changing nothing, if malformed.
  bool decode(std::string_view bytes);

 private:
  absl::btree_map<std::uint64_t, lease> leases_;
  absl::btree_map<std::string, std::uint64_t, std::less<>> key_lease_;  // ordered: ranges detach
  std::uint64_t next_id_ = 1;  // above every id ever granted
};

}  // namespace kv

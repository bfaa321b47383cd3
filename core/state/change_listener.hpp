#pragma once
// Something told of each key an applied write changes, with what kind of write changed it: what
// Redis's keyspace notifications name (io/server/pubsub.hpp). Unlike an apply_observer it is not
// part of the state: it hears only the writes applied while it listens (not recovery's replay,
// nor what a snapshot installed), on every node as that node applies them.
//
// The store calls it on the store's thread, before it answers the write's client; it must not
// call back into the store.

#include <cstdint>
#include <string_view>

namespace kv {

// The kind of write that changed a key.
enum class change_cause : std::uint8_t {
  write,         // a set, del, bulk_set or transaction
  expiry,        // the leader's delete of a key whose TTL passed (an expire command)
  lease_revoke,  // a lease revoked or expired, deleting its keys
};

class change_listener {
 public:
  virtual ~change_listener() = default;
  // `key` was put (deleted false) or deleted, in the order the write changed its keys.
  virtual void key_changed(change_cause cause, bool deleted, std::string_view key) = 0;
};

}  // namespace kv

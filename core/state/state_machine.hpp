#pragma once
// The key-value state machine: what committed log entries are applied to.
//
// Keys are spread over `shard_count` hash maps. Sharding bounds the work of any one step:
// a rehash touches one shard, and a snapshot captures one shard at a time.
//
// Point-in-time capture (for snapshots while writes continue): begin_capture() fixes the image
// at the current applied index, and capture_step() serializes one shard at a time. A write to a
// shard not captured yet first saves the value its key had when the capture began (copy on
// write, per key), and the shard's capture reads those saved values. So the captured chunks
// together are exactly the state at the capture's index, and a write during a capture costs one
// extra copy of one value, never the serialization of a shard.
//
// Threading: not thread-safe; owned by the node's event-loop thread.

#include "core/model/command.hpp"
#include "core/base/error.hpp"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kv {

class state_machine {
 public:
  static constexpr std::size_t shard_count = 1024;

  state_machine();
  state_machine(const state_machine&) = delete;
  state_machine& operator=(const state_machine&) = delete;
  state_machine(state_machine&&) = default;
  state_machine& operator=(state_machine&&) = default;

  // Applies `cmd`, the command of log entry `index` (which must be applied_index() + 1).
  // Returns errc::ok, or errc::not_found for a delete of a missing key.
  errc apply(std::uint64_t index, const command_view& cmd);

  // The value of `key`, valid until the next mutation.
  std::optional<std::string_view> get(std::string_view key) const;

  std::uint64_t applied_index() const noexcept { return applied_index_; }
  std::uint64_t key_count() const noexcept { return key_count_; }
  // Sum of the sizes of all keys and values.
  std::uint64_t data_bytes() const noexcept { return data_bytes_; }

  // Sizes the shards for about `keys` keys in all, so that loading them does not rehash.
  void reserve(std::uint64_t keys);

  // Restoring from a snapshot: insert pairs, then declare the index the image was taken at.
  void restore_pair(std::string_view key, std::string_view value);
  void restore_index(std::uint64_t index) noexcept { applied_index_ = index; }

  // A serialized shard: `count` pairs in the encoding of append_pair().
  struct chunk {
    std::uint32_t count = 0;
    std::string pairs;
  };
  using chunk_sink = std::function<void(chunk)>;

  // Starts a capture at applied_index(); `sink` receives every non-empty shard once.
  void begin_capture(chunk_sink sink);
  // Captures the next shard not yet captured. Returns false once every shard is captured,
  // which also ends the capture.
  bool capture_step();
  bool capturing() const noexcept { return static_cast<bool>(sink_); }

 private:
  // A key and its value in one heap block, so that a lookup touches one allocation:
  // u32 key_len | u32 value_len | key | value.
  struct entry {
    std::uint32_t key_len;
    std::uint32_t value_len;
    static entry* make(std::string_view key, std::string_view value);
    static void destroy(entry* e) noexcept;
    std::string_view key() const noexcept { return {reinterpret_cast<const char*>(this + 1), key_len}; }
    std::string_view value() const noexcept {
      return {reinterpret_cast<const char*>(this + 1) + key_len, value_len};
    }
  };
  // A set slot: the entry may be replaced by one with the same key (an overwrite) in place.
  struct slot {
    mutable entry* e;
  };
  // Hashing and equality on the key, for slots and for plain keys alike.
  struct slot_hash {
    using is_transparent = void;
    std::size_t operator()(const slot& s) const noexcept { return (*this)(s.e->key()); }
    std::size_t operator()(std::string_view k) const noexcept {
      return absl::Hash<absl::string_view>{}(absl::string_view(k.data(), k.size()));
    }
  };
  struct slot_eq {
    using is_transparent = void;
    static std::string_view key(const slot& s) noexcept { return s.e->key(); }
    static std::string_view key(std::string_view k) noexcept { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept {
      return key(a) == key(b);
    }
  };
  using map = absl::flat_hash_set<slot, slot_hash, slot_eq>;
  struct shard {
    shard() = default;
    shard(shard&&) = default;
    ~shard();
    map entries;
    std::uint64_t bytes = 0;
    // While a capture runs and this shard is not captured yet: the value each key written since
    // the capture began had at its start (nullopt: the key did not exist).
    absl::flat_hash_map<std::string, std::optional<std::string>> before;
  };

  std::size_t shard_of(std::string_view key) const noexcept;
  // Saves the current value of `key` in shard `s` if a capture still needs it.
  void before_mutation(std::size_t s, std::string_view key);
  void capture_shard(std::size_t s);
  void put(std::string_view key, std::string_view value);
  bool erase(std::string_view key);

  std::vector<shard> shards_;
  std::uint64_t applied_index_ = 0;
  std::uint64_t key_count_ = 0;
  std::uint64_t data_bytes_ = 0;

  chunk_sink sink_;
  std::vector<bool> captured_;
  std::size_t capture_cursor_ = 0;
};

}  // namespace kv

#pragma once
// The key-value state machine: what committed log entries are applied to.
//
// Keys are spread over `shard_count` hash maps. Sharding bounds the work of any one step:
// a rehash touches one shard, and a snapshot captures one shard at a time.
//
// Point-in-time capture (for snapshots while writes continue): begin_capture() fixes the image
// at the current applied index. From then on each shard is serialized exactly once, either by
// capture_step() or, if a write reaches the shard first, just before that write mutates it. So
// the captured chunks together are exactly the state at the capture's index, and no write waits
// longer than the serialization of one shard.
//
// Threading: not thread-safe; owned by the node's event-loop thread.

#include "core/command.hpp"
#include "core/error.hpp"

#include <absl/container/flat_hash_map.h>

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

  // Applies `cmd`, the command of log entry `index` (which must be applied_index() + 1).
  // Returns errc::ok, or errc::not_found for a delete of a missing key.
  errc apply(std::uint64_t index, const command_view& cmd);

  // The value of `key`, valid until the next mutation.
  std::optional<std::string_view> get(std::string_view key) const;

  std::uint64_t applied_index() const noexcept { return applied_index_; }
  std::uint64_t key_count() const noexcept { return key_count_; }
  // Sum of the sizes of all keys and values.
  std::uint64_t data_bytes() const noexcept { return data_bytes_; }

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
  using map = absl::flat_hash_map<std::string, std::string>;
  struct shard {
    map entries;
    std::uint64_t bytes = 0;
  };

  std::size_t shard_of(std::string_view key) const noexcept;
  // Serializes shard `s` to the capture sink if a capture is running and has not taken it yet.
  void before_mutation(std::size_t s);
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

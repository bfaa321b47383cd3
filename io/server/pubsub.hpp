#pragma once
// Redis's publish/subscribe, without the sockets: who listens to which channel or pattern, and
// Redis's keyspace-notification settings (notify-keyspace-events). resp_connection and the server
// do the delivering; this decides who gets what.
//
// A subscriber is a RESP client id. A message published to a channel goes to every subscriber of
// that channel (a `message`) and, once for each of its patterns that match the channel, to every
// subscriber of a pattern (a `pmessage`): a client subscribed to both gets it twice, as in Redis.
//
// Threading: not thread-safe; owned by the server, on its executor.

#include "io/resp/glob.hpp"

#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_map.h>
#include <absl/strings/string_view.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kv {


class pubsub_registry {
 public:
  using subscriber = std::uint64_t;

  // Each returns whether the subscription changed (a subscriber already subscribed, or not
  // subscribed, changes nothing), as Redis's confirmations count either way.
  bool subscribe(subscriber s, std::string_view channel);
  bool unsubscribe(subscriber s, std::string_view channel);
  bool psubscribe(subscriber s, std::string_view pattern);
  bool punsubscribe(subscriber s, std::string_view pattern);
  // Drops every subscription of `s` (a closed connection).
  void forget(subscriber s);

  // The channels and patterns of `s`, in byte order (UNSUBSCRIBE and PUNSUBSCRIBE without
  // arguments go through them in this order).
  std::vector<std::string> channels_of(subscriber s) const;
  std::vector<std::string> patterns_of(subscriber s) const;
  // Channels plus patterns of `s`: the count subscribe confirmations carry.
  std::size_t subscriptions(subscriber s) const noexcept;

  // Calls deliver(subscriber, pattern) for each receiver of a message on `channel`: pattern null
  // for a channel subscriber, the matching pattern for a pattern subscriber. Returns the number
  // of calls (PUBLISH's answer). `deliver` must not change the registry.
  template <typename F>
  std::size_t publish(std::string_view channel, F&& deliver) const;

  // PUBSUB CHANNELS: the channels with at least one subscriber that match `pattern` (all
  // without one), in no particular order. PUBSUB NUMSUB, NUMPAT.
  std::vector<std::string> active_channels(std::optional<std::string_view> pattern) const;
  std::size_t subscribers_of(std::string_view channel) const noexcept;
  std::size_t pattern_count() const noexcept { return patterns_.size(); }
  // Whether nobody subscribes to anything: publishing costs nothing then.
  bool empty() const noexcept { return by_subscriber_.empty(); }

 private:
  struct subscriptions_of_one {
    absl::btree_set<std::string> channels;
    absl::btree_set<std::string> patterns;
  };
  using subscriber_set = absl::btree_set<subscriber>;

  // Removes `s` from `key`'s set in `map`, and the key once nobody is left.
  static void leave(absl::flat_hash_map<std::string, subscriber_set>& map, std::string_view key, subscriber s);
  void forget_if_idle(subscriber s);

  absl::flat_hash_map<std::string, subscriber_set> channels_;
  absl::flat_hash_map<std::string, subscriber_set> patterns_;
  absl::flat_hash_map<subscriber, subscriptions_of_one> by_subscriber_;
};

template <typename F>
std::size_t pubsub_registry::publish(std::string_view channel, F&& deliver) const {
  std::size_t n = 0;
  if (auto it = channels_.find(absl::string_view(channel.data(), channel.size())); it != channels_.end()) {
    for (auto s : it->second) {
      deliver(s, static_cast<const std::string*>(nullptr));
      ++n;
    }
  }
  for (const auto& [pattern, subscribers] : patterns_) {
    if (!resp::glob_match(pattern, channel)) continue;
    for (auto s : subscribers) {
      deliver(s, &pattern);
      ++n;
    }
  }
  return n;
}

// notify-keyspace-events: which keyspace notifications a node publishes, as Redis's flags.
struct keyspace_events {
  enum : std::uint32_t {
    keyspace = 1u << 0,  // K: __keyspace@0__:<key>, the event as message
    keyevent = 1u << 1,  // E: __keyevent@0__:<event>, the key as message
    generic = 1u << 2,   // g: del, expire, ...
    string = 1u << 3,    // $
    list = 1u << 4,      // l
    set = 1u << 5,       // s
    hash = 1u << 6,      // h
    zset = 1u << 7,      // z
    expired = 1u << 8,   // x
    evicted = 1u << 9,   // e
    stream = 1u << 10,   // t
    key_miss = 1u << 11, // m
    module = 1u << 12,   // d
    new_key = 1u << 13,  // n
    all = generic | string | list | set | hash | zset | expired | evicted | stream | module,  // A
  };
  std::uint32_t flags = 0;

  // Redis's parse of the setting (keyspaceEventsStringToFlags); nullopt for a character that
  // names no class. As in Redis, neither K nor E: nothing is published.
  static std::optional<keyspace_events> parse(std::string_view text);
  // As CONFIG GET shows it (keyspaceEventsFlagsToString).
  std::string text() const;
  // Whether an event of `event_class` is published at all.
  bool wants(std::uint32_t event_class) const noexcept {
    return (flags & (keyspace | keyevent)) != 0 && (flags & event_class) != 0;
  }
};

}  // namespace kv

#include "io/server/pubsub.hpp"

#include <utility>

namespace kv {

namespace {

// This abseil's maps look up by absl::string_view, which is not std::string_view here.
absl::string_view view(std::string_view s) noexcept { return {s.data(), s.size()}; }

}  // namespace

// ---- the registry -----------------------------------------------------------------------------

bool pubsub_registry::subscribe(subscriber s, std::string_view channel) {
  auto& mine = by_subscriber_[s];
  if (!mine.channels.emplace(std::string(channel)).second) return false;
  channels_[view(channel)].insert(s);
  return true;
}

bool pubsub_registry::psubscribe(subscriber s, std::string_view pattern) {
  auto& mine = by_subscriber_[s];
  if (!mine.patterns.emplace(std::string(pattern)).second) return false;
  patterns_[view(pattern)].insert(s);
  return true;
}

bool pubsub_registry::unsubscribe(subscriber s, std::string_view channel) {
  auto it = by_subscriber_.find(s);
  if (it == by_subscriber_.end() || it->second.channels.erase(std::string(channel)) == 0) return false;
  leave(channels_, channel, s);
  forget_if_idle(s);
  return true;
}

bool pubsub_registry::punsubscribe(subscriber s, std::string_view pattern) {
  auto it = by_subscriber_.find(s);
  if (it == by_subscriber_.end() || it->second.patterns.erase(std::string(pattern)) == 0) return false;
  leave(patterns_, pattern, s);
  forget_if_idle(s);
  return true;
}

void pubsub_registry::forget(subscriber s) {
  auto it = by_subscriber_.find(s);
  if (it == by_subscriber_.end()) return;
  for (const auto& c : it->second.channels) leave(channels_, c, s);
  for (const auto& p : it->second.patterns) leave(patterns_, p, s);
  by_subscriber_.erase(it);
}

void pubsub_registry::leave(absl::flat_hash_map<std::string, subscriber_set>& map, std::string_view key,
                            subscriber s) {
  auto it = map.find(view(key));
  if (it == map.end()) return;
  it->second.erase(s);
  if (it->second.empty()) map.erase(it);
}

void pubsub_registry::forget_if_idle(subscriber s) {
  auto it = by_subscriber_.find(s);
  if (it != by_subscriber_.end() && it->second.channels.empty() && it->second.patterns.empty()) {
    by_subscriber_.erase(it);
  }
}

std::vector<std::string> pubsub_registry::channels_of(subscriber s) const {
  auto it = by_subscriber_.find(s);
  if (it == by_subscriber_.end()) return {};
  return {it->second.channels.begin(), it->second.channels.end()};
}

std::vector<std::string> pubsub_registry::patterns_of(subscriber s) const {
  auto it = by_subscriber_.find(s);
  if (it == by_subscriber_.end()) return {};
  return {it->second.patterns.begin(), it->second.patterns.end()};
}

std::size_t pubsub_registry::subscriptions(subscriber s) const noexcept {
  if (by_subscriber_.empty()) return 0;  // asked before every command of a connection
  auto it = by_subscriber_.find(s);
  return it == by_subscriber_.end() ? 0 : it->second.channels.size() + it->second.patterns.size();
}

std::vector<std::string> pubsub_registry::active_channels(std::optional<std::string_view> pattern) const {
  std::vector<std::string> out;
  for (const auto& [channel, subscribers] : channels_) {
    if (!pattern || resp::glob_match(*pattern, channel)) out.push_back(channel);
  }
  return out;
}

std::size_t pubsub_registry::subscribers_of(std::string_view channel) const noexcept {
  auto it = channels_.find(view(channel));
  return it == channels_.end() ? 0 : it->second.size();
}

// ---- notify-keyspace-events -------------------------------------------------------------------

std::optional<keyspace_events> keyspace_events::parse(std::string_view text) {
  keyspace_events e;
  for (char c : text) {
    switch (c) {
      case 'A': e.flags |= all; break;
      case 'g': e.flags |= generic; break;
      case '$': e.flags |= string; break;
      case 'l': e.flags |= list; break;
      case 's': e.flags |= set; break;
      case 'h': e.flags |= hash; break;
      case 'z': e.flags |= zset; break;
      case 'x': e.flags |= expired; break;
      case 'e': e.flags |= evicted; break;
      case 'K': e.flags |= keyspace; break;
      case 'E': e.flags |= keyevent; break;
      case 't': e.flags |= stream; break;
      case 'm': e.flags |= key_miss; break;
      case 'd': e.flags |= module; break;
      case 'n': e.flags |= new_key; break;
      default: return std::nullopt;
    }
  }
  return e;
}

std::string keyspace_events::text() const {
  std::string out;
  if ((flags & all) == all) {
    out += 'A';
  } else {
    // Redis's order; `n` only here, as Redis shows it.
    constexpr std::pair<std::uint32_t, char> classes[] = {
        {generic, 'g'}, {string, '$'}, {list, 'l'},    {set, 's'},    {hash, 'h'},   {zset, 'z'},
        {expired, 'x'}, {evicted, 'e'}, {stream, 't'}, {module, 'd'}, {new_key, 'n'},
    };
    for (auto [flag, c] : classes) {
      if ((flags & flag) != 0) out += c;
    }
  }
  if ((flags & keyspace) != 0) out += 'K';
  if ((flags & keyevent) != 0) out += 'E';
  if ((flags & key_miss) != 0) out += 'm';
  return out;
}

}  // namespace kv

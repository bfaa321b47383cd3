#include "core/watch/watch_hub.hpp"

#include "core/model/txn.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

namespace kv {

void written_ranges(const command_view& cmd, std::vector<key_range>& out) {
  switch (cmd.type) {
    case command_type::set:
    case command_type::del:
    case command_type::incr:
      out.push_back(key_range{cmd.key, {}});
      return;
    case command_type::bulk_set:
      cmd.for_each_pair([&](std::string_view k, std::string_view) { out.push_back(key_range{k, {}}); });
      return;
    case command_type::changes:  // what a lease_revoke deleted, as the store hands it
      cmd.for_each_change([&](bool, std::string_view k, std::string_view) { out.push_back(key_range{k, {}}); });
      return;
    case command_type::txn: {
      auto t = decode_txn(cmd.txn);
      if (!t) return;  // refused at apply: it changed nothing
      for (const auto* ops : {&t->then_ops, &t->else_ops}) {
        for (const auto& op : *ops) {
          if (op.type == txn_op_type::delete_range) out.push_back(key_range{op.key, op.end});
          if (op.type == txn_op_type::put || op.type == txn_op_type::incr) out.push_back(key_range{op.key, {}});
        }
      }
      return;
    }
    default:
      return;
  }
}

result<std::uint64_t> watch_hub::watch(watch_options o, watch_sink sink) {
  if (o.start_revision != 0 && o.start_revision < ks_.compacted()) {
    return error_info{make_error_code(errc::compacted),
                      fmt::format("revision {} has been compacted; the oldest revision a watch can start at is {}",
                                  o.start_revision, ks_.compacted()),
                      {}};
  }
  follow_keyspace();
  const auto id = next_id_++;
  auto& w = watchers_[id];
  w.next = o.start_revision == 0 ? ks_.revision() + 1 : o.start_revision;
  w.options = std::move(o);
  w.sink = std::move(sink);
  w.entry.id = id;
  w.entry.key = w.options.key;
  w.entry.end = w.options.end;
  enter(w, w.next > ks_.revision() ? settled(w) : phase::catching_up);  // a past start replays history first
  return id;
}

bool watch_hub::cancel(std::uint64_t id) {
  auto* w = find(id);
  if (w == nullptr) return false;
  leave(*w);
  watchers_.erase(id);
  return true;
}

void watch_hub::resume(std::uint64_t id) {
  if (auto* w = find(id); w != nullptr && w->at == phase::paused) move(*w, phase::catching_up);
}

void watch_hub::restarted() {
  lose_sync();
  told_ = ks_.revision();
  wake();
}

bool watch_hub::catching_up() const noexcept {
  return !catching_.empty() || (told_ != ks_.revision() && !watchers_.empty());
}

std::uint64_t watch_hub::caught_up(std::uint64_t id) const noexcept {
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return 0;
  const auto& w = it->second;
  return w.at == phase::synced ? told_ : std::min(w.next - 1, told_);
}

void watch_hub::applied(std::uint64_t revision, std::span<const key_range> written) {
  if (revision <= told_) return;  // told already (or follow_keyspace() passed it)
  if (revision > told_ + 1) {     // writes the hub was not told of: the synced watchers replay them
    lose_sync();
    told_ = revision - 1;
  }
  wake();
  told_ = revision;  // the synced watchers are handed `revision` below; their next is the one after
  if (index_.empty()) return;
  changes_.clear();
  for (const auto& r : written) {
    auto c = ks_.changes(r, revision, revision);
    if (c) changes_.insert(changes_.end(), c->begin(), c->end());
  }
  if (written.size() > 1) {
    // Overlapping ranges name a key twice; one write changes a key once. (One range's changes
    // come in key order, each key once.)
    auto by_key = [](const key_event& a, const key_event& b) { return a.kv.key < b.kv.key; };
    std::sort(changes_.begin(), changes_.end(), by_key);
    changes_.erase(std::unique(changes_.begin(), changes_.end(),
                               [](const key_event& a, const key_event& b) { return a.kv.key == b.kv.key; }),
                   changes_.end());
  }
  // (watcher id, change) pairs, the watcher found again by id when its turn comes, so that
  // nothing a sink does leaves a dangling pointer here.
  matches_.clear();
  for (std::size_t i = 0; i < changes_.size(); ++i) {
    index_.for_each_holding(changes_[i].kv.key, [&](std::uint64_t id) { matches_.emplace_back(id, i); });
  }
  std::sort(matches_.begin(), matches_.end());  // by watcher, and each one's changes in key order
  for (auto m = matches_.begin(); m != matches_.end();) {
    const auto id = m->first;
    auto* w = find(id);
    out_.clear();
    for (; m != matches_.end() && m->first == id; ++m) {
      if (w != nullptr) offer(*w, changes_[m->second]);
    }
    if (w != nullptr && w->at == phase::synced && !hand(*w)) move(*w, phase::paused);
  }
}

bool watch_hub::step(std::size_t max_watchers) {
  follow_keyspace();
  // The ids first: a sink's ended() may watch or cancel, changing catching_.
  stepping_.clear();
  const auto count = std::min(max_watchers, catching_.size());
  for (auto it = catching_.upper_bound(last_stepped_); stepping_.size() < count; ++it) {
    if (it == catching_.end()) it = catching_.begin();
    stepping_.push_back(*it);
  }
  for (const auto id : stepping_) {
    last_stepped_ = id;
    if (auto* w = find(id); w != nullptr && w->at == phase::catching_up) replay(*w);
  }
  return catching_up();
}

void watch_hub::replay(watcher& w) {
  if (w.next <= ks_.revision()) {
    const auto to = std::min(ks_.revision(), w.next + catch_up_window - 1);
    auto c = ks_.changes(w.range(), w.next, to);
    if (!c) {
      end(w, c.failure());
      return;
    }
    w.next = to + 1;
    out_.clear();
    for (const auto& e : *c) offer(w, e);
    if (!hand(w)) {
      move(w, phase::paused);
      return;
    }
  }
  if (w.next > ks_.revision()) move(w, settled(w));
}

watch_hub::watcher* watch_hub::find(std::uint64_t id) noexcept {
  auto it = watchers_.find(id);
  return it == watchers_.end() ? nullptr : &it->second;
}

void watch_hub::move(watcher& w, phase to) {
  leave(w);
  enter(w, to);
}

void watch_hub::leave(watcher& w) {
  switch (w.at) {
    case phase::synced:
      index_.erase(w.entry);
      w.next = told_ + 1;
      return;
    case phase::waiting:
      waiting_.erase({w.next, w.entry.id});
      return;
    case phase::catching_up:
      catching_.erase(w.entry.id);
      return;
    case phase::paused:
      return;
  }
}

void watch_hub::enter(watcher& w, phase to) {
  w.at = to;
  switch (to) {
    case phase::synced:
      assert(w.next == told_ + 1);
      index_.insert(w.entry);
      return;
    case phase::waiting:
      assert(w.next > told_ + 1);
      waiting_.emplace(w.next, w.entry.id);
      return;
    case phase::catching_up:
      catching_.insert(w.entry.id);
      return;
    case phase::paused:
      return;
  }
}

watch_hub::phase watch_hub::settled(const watcher& w) const noexcept {
  assert(told_ == ks_.revision() && w.next > told_);
  return w.next == told_ + 1 ? phase::synced : phase::waiting;
}

void watch_hub::lose_sync() {
  if (index_.empty()) return;
  for (auto& [id, w] : watchers_) {
    if (w.at == phase::synced) move(w, phase::catching_up);
  }
}

void watch_hub::wake() {
  while (!waiting_.empty() && waiting_.begin()->first <= told_ + 1) {
    auto& w = *find(waiting_.begin()->second);
    move(w, w.next == told_ + 1 ? phase::synced : phase::catching_up);
  }
}

void watch_hub::follow_keyspace() {
  if (told_ == ks_.revision()) return;
  lose_sync();
  told_ = ks_.revision();
  wake();
}

void watch_hub::offer(const watcher& w, const key_event& e) {
  assert(contains(w.range(), e.kv.key));
  if (e.deleted ? w.options.no_delete : w.options.no_put) return;
  out_.push_back(e);
  if (!w.options.prev_kv) out_.back().prev.reset();
}

bool watch_hub::hand(watcher& w) {
  if (out_.empty()) return true;
  return w.sink.events(out_);
}

void watch_hub::end(watcher& w, const error_info& why) {
  leave(w);
  auto sink = std::move(w.sink);
  watchers_.erase(w.entry.id);
  if (sink.ended) sink.ended(why);
}

}  // namespace kv

#include "core/watch/watch_hub.hpp"

#include "core/model/txn.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kv {

void written_ranges(const command_view& cmd, std::vector<key_range>& out) {
  switch (cmd.type) {
    case command_type::set:
    case command_type::del:
      out.push_back(key_range{cmd.key, {}});
      return;
    case command_type::bulk_set:
      cmd.for_each_pair([&](std::string_view k, std::string_view) { out.push_back(key_range{k, {}}); });
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
  watcher w;
  if (o.start_revision == 0) {
    w.next = ks_.revision() + 1;
  } else if (o.start_revision < ks_.compacted()) {
    return error_info{make_error_code(errc::compacted),
                      fmt::format("revision {} has been compacted; the oldest revision a watch can start at is {}",
                                  o.start_revision, ks_.compacted()),
                      {}};
  } else {
    w.next = o.start_revision;
  }
  w.synced = w.next > ks_.revision();  // a past start replays history first
  w.options = std::move(o);
  w.sink = std::move(sink);
  const auto id = next_id_++;
  watchers_.emplace(id, std::move(w));
  return id;
}

bool watch_hub::cancel(std::uint64_t id) { return watchers_.erase(id) != 0; }

void watch_hub::resume(std::uint64_t id) {
  if (auto it = watchers_.find(id); it != watchers_.end()) it->second.paused = false;
}

void watch_hub::restarted() {
  for (auto& [id, w] : watchers_) w.synced = false;
}

std::uint64_t watch_hub::caught_up(std::uint64_t id) const noexcept {
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return 0;
  return std::min(it->second.next - 1, ks_.revision());
}

bool watch_hub::catching_up() const noexcept {
  return std::any_of(watchers_.begin(), watchers_.end(),
                     [](const auto& entry) { return !entry.second.synced && !entry.second.paused; });
}

void watch_hub::applied(std::uint64_t revision, std::span<const key_range> written) {
  if (watchers_.empty()) return;
  scratch_.clear();
  for (const auto& r : written) {
    auto c = ks_.changes(r, revision, revision);
    if (c) scratch_.insert(scratch_.end(), c->begin(), c->end());
  }
  // Overlapping ranges name a key twice; one write changes a key once.
  std::sort(scratch_.begin(), scratch_.end(), [](const key_event& a, const key_event& b) { return a.kv.key < b.kv.key; });
  scratch_.erase(std::unique(scratch_.begin(), scratch_.end(),
                             [](const key_event& a, const key_event& b) { return a.kv.key == b.kv.key; }),
                 scratch_.end());
  for (auto& [id, w] : watchers_) {
    if (!w.synced || w.next > revision) continue;  // catching up, or starting later
    if (w.next < revision) {                         // a write it was not handed: replay it
      w.synced = false;
      continue;
    }
    w.next = revision + 1;
    if (!deliver(w, scratch_)) {
      w.paused = true;
      w.synced = false;
    }
  }
}

bool watch_hub::step(std::size_t max_watchers) {
  std::size_t stepped = 0;
  for (auto it = watchers_.begin(); it != watchers_.end() && stepped < max_watchers;) {
    auto& w = it->second;
    const auto id = it->first;
    ++it;  // end() erases the watcher
    if (w.synced || w.paused) continue;
    ++stepped;
    if (w.next > ks_.revision()) {
      w.synced = true;
      continue;
    }
    const auto to = std::min(ks_.revision(), w.next + catch_up_window - 1);
    auto c = ks_.changes(w.range(), w.next, to);
    if (!c) {
      end(id, c.failure());
      continue;
    }
    w.next = to + 1;
    if (!deliver(w, *c)) {
      w.paused = true;
    } else if (w.next > ks_.revision()) {
      w.synced = true;
    }
  }
  return catching_up();
}

bool watch_hub::deliver(watcher& w, std::span<const key_event> all) {
  std::vector<key_event> out;
  const auto range = w.range();
  for (const auto& e : all) {
    if (!contains(range, e.kv.key)) continue;
    if (e.deleted ? w.options.no_delete : w.options.no_put) continue;
    out.push_back(e);
    if (!w.options.prev_kv) out.back().prev.reset();
  }
  if (out.empty()) return true;
  return w.sink.events(out);
}

void watch_hub::end(std::uint64_t id, const error_info& why) {
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return;
  auto sink = std::move(it->second.sink);
  watchers_.erase(it);
  if (sink.ended) sink.ended(why);
}

}  // namespace kv

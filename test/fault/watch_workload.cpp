#include "fault/watch_workload.hpp"

#include "core/model/key_range.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kv::test {

namespace {

const std::vector<std::string>& keys_watched() {
  static const std::vector<std::string> keys{"w/",    "w/a/0", "w/a/1", "w/a/2", "w/a/3", "w/b/0",
                                             "w/b/1", "w/b/2", "w/b/3", "w/hot", "w/hot", "w/hot"};
  return keys;
}
// Next to the watched prefix "w/" on both sides ("w." before it, "w0" its prefix_end) and farther.
const std::vector<std::string>& keys_not_watched() {
  static const std::vector<std::string> keys{"w.x", "w0", "x/0", "x/1", "v"};
  return keys;
}

std::string pick_key(std::mt19937_64& rng) {
  const auto& keys = std::bernoulli_distribution(0.15)(rng) ? keys_not_watched() : keys_watched();
  return keys[std::uniform_int_distribution<std::size_t>(0, keys.size() - 1)(rng)];
}

// `n` distinct keys, none under `excluded` (a prefix; empty: none excluded).
std::vector<std::string> distinct_keys(std::mt19937_64& rng, std::size_t n, const std::string& excluded = {}) {
  std::vector<std::string> out;
  while (out.size() < n) {
    auto k = pick_key(rng);
    if (!excluded.empty() && k.starts_with(excluded)) continue;
    if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(std::move(k));
  }
  return out;
}

template <typename T>
void settle(write_attempt& a, const result<T>& r, std::uint64_t revision, bool exact) {
  if (r) {
    a.outcome = write_outcome::acknowledged;
    a.revision = revision;
    a.exact_revision = exact;
    return;
  }
  a.error = r.message();
  if (a.kind == write_kind::del && r.is(errc::not_found)) {
    a.outcome = write_outcome::not_found;
  } else if (r.is(errc::unavailable) || r.is(errc::timed_out)) {
    a.outcome = write_outcome::unknown;
  } else {
    a.outcome = write_outcome::refused;
  }
}

watch_spec prefix_spec(std::string prefix, std::uint64_t start) {
  watch_spec s;
  s.end = prefix_end(prefix);
  s.key = std::move(prefix);
  s.start_revision = start;
  return s;
}
watch_spec key_spec(std::string key, std::uint64_t start) {
  watch_spec s;
  s.key = std::move(key);
  s.start_revision = start;
  return s;
}

}  // namespace

const char* to_string(write_kind k) {
  switch (k) {
    case write_kind::set: return "set";
    case write_kind::del: return "del";
    case write_kind::bulk_set: return "bulk_set";
    case write_kind::txn: return "txn";
    case write_kind::delete_range: return "delete_range";
  }
  return "?";
}

std::string write_attempt::text() const {
  std::string what;
  for (const auto& [k, v] : puts) what += fmt::format(" {}={}", k, v);
  if (!else_puts.empty()) {
    what += " else";
    for (const auto& [k, v] : else_puts) what += fmt::format(" {}={}", k, v);
  }
  if (!delete_key.empty()) what += fmt::format(" delete [{}, {})", delete_key, delete_end);
  return fmt::format("writer {} write {} ({}{})", writer, seq, to_string(kind), what);
}

write_attempt plan_write(std::mt19937_64& rng, int writer, std::uint64_t seq) {
  write_attempt a;
  a.writer = writer;
  a.seq = seq;
  int n = 0;
  auto value = [&] { return fmt::format("c{}-{}-{}", writer, seq, n++); };
  const auto draw = std::uniform_int_distribution<int>(0, 99)(rng);
  if (draw < 35) {
    a.kind = write_kind::set;
    a.puts.emplace_back(pick_key(rng), value());
  } else if (draw < 50) {
    a.kind = write_kind::del;
    a.delete_key = pick_key(rng);
  } else if (draw < 65) {
    a.kind = write_kind::bulk_set;
    for (auto& k : distinct_keys(rng, std::uniform_int_distribution<std::size_t>(2, 4)(rng))) {
      a.puts.emplace_back(std::move(k), value());
    }
  } else if (draw < 90) {
    a.kind = write_kind::txn;
    const bool with_delete = std::bernoulli_distribution(0.5)(rng);
    const std::string deleted = "w/a/";
    compare c;
    c.key = "w/hot";
    c.target = compare_target::version;
    c.op = compare_op::greater;
    c.number = 0;
    a.t.compares.push_back(c);
    for (auto& k : distinct_keys(rng, std::uniform_int_distribution<std::size_t>(1, 3)(rng),
                                 with_delete ? deleted : std::string())) {
      a.puts.emplace_back(std::move(k), value());
      a.t.then_ops.push_back(make_put(a.puts.back().first, a.puts.back().second));
    }
    if (with_delete) {
      a.delete_key = deleted;
      a.delete_end = prefix_end(deleted);
      a.t.then_ops.push_back(make_delete_range(a.delete_key, a.delete_end));
    }
    for (auto& k : distinct_keys(rng, std::uniform_int_distribution<std::size_t>(1, 2)(rng))) {
      a.else_puts.emplace_back(std::move(k), value());
      a.t.else_ops.push_back(make_put(a.else_puts.back().first, a.else_puts.back().second));
    }
  } else {
    a.kind = write_kind::delete_range;
    static const std::vector<std::string> prefixes{"w/a/", "w/b/", "x/"};
    a.delete_key = prefixes[std::uniform_int_distribution<std::size_t>(0, prefixes.size() - 1)(rng)];
    a.delete_end = prefix_end(a.delete_key);
  }
  return a;
}

asio::awaitable<write_attempt> send(client& c, write_attempt a) {
  switch (a.kind) {
    case write_kind::set: {
      auto r = co_await c.set(a.puts.front().first, a.puts.front().second);
      settle(a, r, r ? r->revision : 0, false);
      break;
    }
    case write_kind::del: {
      auto r = co_await c.del(a.delete_key);
      settle(a, r, r ? r->revision : 0, false);
      break;
    }
    case write_kind::bulk_set: {
      auto r = co_await c.bulk_set(a.puts);
      settle(a, r, r ? r->revision : 0, false);
      break;
    }
    case write_kind::txn: {
      auto r = co_await c.txn(a.t);
      if (r) {
        a.then_ran = r->succeeded;
        for (const auto& op : r->results) {
          if (op.type == txn_op_type::delete_range) a.deleted += op.count;
        }
      }
      settle(a, r, r ? r->revision : 0, true);
      break;
    }
    case write_kind::delete_range: {
      auto r = co_await c.delete_range(a.delete_key, a.delete_end);
      if (r) a.deleted = r->deleted;
      settle(a, r, r ? r->revision : 0, true);
      break;
    }
  }
  co_return a;
}

asio::awaitable<void> write_until(client& c, int writer, std::uint64_t seed, const bool& stop,
                                  std::vector<write_attempt>& out, std::uint64_t& highest) {
  std::mt19937_64 rng(seed);
  for (std::uint64_t seq = 1; !stop; ++seq) {
    auto a = co_await send(c, plan_write(rng, writer, seq));
    if (a.outcome == write_outcome::acknowledged) highest = std::max(highest, a.revision);
    out.push_back(std::move(a));
  }
}

void watcher::take(const watch_batch& b, long long ms) {
  ++batches;
  auto broke = [&](const std::string& what) {
    if (broken.empty()) broken = fmt::format("batch {} (received at +{} ms): {}", batches, ms, what);
  };
  if (!b.events.empty() && b.revision <= delivered) {
    broke(fmt::format("revision {} is not after the previous batch's {}", b.revision, delivered));
  }
  if (b.revision < delivered) broke(fmt::format("progress went back from {} to {}", delivered, b.revision));
  std::uint64_t last = 0;
  for (const auto& e : b.events) {
    const auto r = e.kv.mod_revision;
    if (r <= delivered) {
      broke(fmt::format("event {}@{} is not after the previous batch's revision {}", e.kv.key, r, delivered));
    }
    if (r < last) broke(fmt::format("event {}@{} comes after one at revision {}", e.kv.key, r, last));
    last = std::max(last, r);
    events.push_back(e);
    received_ms.push_back(ms);
  }
  if (b.revision < last) broke(fmt::format("revision {} is below its last event's {}", b.revision, last));
  delivered = std::max(delivered, b.revision);
}

watch_spec every_key_spec(std::uint64_t start) {
  watch_spec s;
  s.key = std::string(1, '\0');
  s.end = std::string(1, '\0');
  s.start_revision = start;
  s.prev_kv = true;
  return s;
}

bool in_range(const watch_spec& s, const std::string& key) {
  if (s.end.empty()) return key == s.key;
  if (s.end == std::string(1, '\0')) return key >= s.key;
  return key >= s.key && key < s.end;
}

std::unique_ptr<watcher> make_watcher(std::size_t number, std::uint64_t home, std::string what, watch_spec spec) {
  auto w = std::make_unique<watcher>();
  w->name = fmt::format("watcher {} (node {}: {})", number, home, what);
  w->home = home;
  w->after = spec.start_revision == 0 ? 0 : spec.start_revision - 1;
  w->from_now = spec.start_revision == 0;
  w->spec = std::move(spec);
  return w;
}

watchers first_watchers(const std::vector<std::uint64_t>& members) {
  watchers out;
  for (auto id : members) {
    out.push_back(make_watcher(out.size(), id, "w/ from revision 1", prefix_spec("w/", 1)));
    out.push_back(make_watcher(out.size(), id, "w/hot from revision 1", key_spec("w/hot", 1)));
    if (id % 3 == 1) {
      auto s = prefix_spec("w/", 1);
      s.no_delete = true;
      out.push_back(make_watcher(out.size(), id, "puts of w/ from revision 1", std::move(s)));
    } else if (id % 3 == 2) {
      auto s = prefix_spec("w/", 1);
      s.no_put = true;
      s.prev_kv = true;
      out.push_back(make_watcher(out.size(), id, "deletes of w/ with prev_kv from revision 1", std::move(s)));
    } else {
      out.push_back(make_watcher(out.size(), id, "every key with prev_kv from revision 1", every_key_spec(1)));
    }
  }
  return out;
}

watchers later_watchers(const std::vector<std::uint64_t>& members, std::size_t numbered_from, std::uint64_t past) {
  watchers out;
  for (auto id : members) {
    out.push_back(make_watcher(numbered_from + out.size(), id, "w/ from now", prefix_spec("w/", 0)));
    auto s = prefix_spec("w/a/", past);
    s.prev_kv = true;
    out.push_back(make_watcher(numbered_from + out.size(), id, fmt::format("w/a/ with prev_kv from revision {}", past),
                               std::move(s)));
  }
  return out;
}

}  // namespace kv::test

#include "fault/watch_history.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace kv::test {

using protocol::watch_event;

std::string describe(const watch_event& e) {
  auto out = e.deleted ? fmt::format("del {}@{}", e.kv.key, e.kv.mod_revision)
                       : fmt::format("put {}={}@{} (created {}, version {})", e.kv.key, e.kv.value, e.kv.mod_revision,
                                     e.kv.create_revision, e.kv.version);
  if (e.prev) out += fmt::format(" [was {}@{}]", e.prev->value, e.prev->mod_revision);
  return out;
}

void problems::add(std::string p) {
  if (count_++ < 20) text_ += "  " + p + "\n";
}

std::string problems::text() const {
  return count_ <= 20 ? text_ : text_ + fmt::format("  ... {} in all\n", count_);
}

history index_history(std::vector<watch_event> events, problems& found) {
  history h;
  h.events = std::move(events);
  for (std::size_t i = 0; i < h.events.size(); ++i) {
    const auto& e = h.events[i];
    auto [it, first] = h.revisions.try_emplace(e.kv.mod_revision, i, i);
    if (!first && it->second.second != i) {
      found.add(fmt::format("revision {} is split: {}", e.kv.mod_revision, describe(e)));
    }
    it->second.second = i + 1;
    if (!e.deleted && !h.puts.emplace(std::make_pair(e.kv.key, e.kv.value), i).second) {
      found.add("the value of " + describe(e) + " was put twice");
    }
  }
  return h;
}

void check_replay(const history& h, std::uint64_t last, const std::vector<kv_version>& final_keys, problems& found) {
  std::map<std::string, kv_version> keys;
  std::uint64_t expected = 2;
  for (const auto& [revision, span] : h.revisions) {
    if (revision != expected) {
      found.add(fmt::format("revision {} follows {}: a gap in the history", revision, expected - 1));
    }
    expected = revision + 1;
    std::set<std::string> changed;
    for (auto i = span.first; i < span.second; ++i) {
      const auto& e = h.events[i];
      if (!changed.insert(e.kv.key).second) found.add("two changes of one key in one revision: " + describe(e));
      auto it = keys.find(e.kv.key);
      std::optional<kv_version> was;
      if (it != keys.end()) was = it->second;
      if (e.prev != was) {
        found.add(fmt::format("{}: the version replaced was {}", describe(e), was ? was->value : "none"));
      }
      if (e.deleted) {
        if (!was) found.add("a delete of a key that did not exist: " + describe(e));
        if (!e.kv.value.empty() || e.kv.create_revision != 0 || e.kv.version != 0) {
          found.add("a malformed delete: " + describe(e));
        }
        if (it != keys.end()) keys.erase(it);
        continue;
      }
      const auto create = was ? was->create_revision : revision;
      const auto version = was ? was->version + 1 : 1;
      if (e.kv.create_revision != create || e.kv.version != version) {
        found.add(fmt::format("{}: expected created {}, version {}", describe(e), create, version));
      }
      keys[e.kv.key] = e.kv;
    }
  }
  if (expected != last + 1) {
    found.add(fmt::format("the history ends at revision {}, the keyspace is at {}", expected - 1, last));
  }
  std::vector<kv_version> replayed;
  for (const auto& [k, v] : keys) replayed.push_back(v);
  if (replayed != final_keys) {
    std::size_t i = 0;
    while (i < replayed.size() && i < final_keys.size() && replayed[i] == final_keys[i]) ++i;
    auto text = [](const std::vector<kv_version>& v, std::size_t i) {
      return i < v.size() ? fmt::format("{}={}@{} (created {}, version {})", v[i].key, v[i].value, v[i].mod_revision,
                                        v[i].create_revision, v[i].version)
                          : std::string("nothing");
    };
    found.add(fmt::format("the replayed keyspace differs from the cluster's at key {}: replayed {}, the cluster has {}",
                          i, text(replayed, i), text(final_keys, i)));
  }
}

void check_writes(const history& h, const std::vector<write_attempt>& writes, problems& found) {
  std::set<std::pair<std::string, std::string>> sent_puts;
  std::vector<std::pair<std::string, std::string>> sent_deletes;  // [key, end) (end empty: one key)
  for (const auto& a : writes) {
    for (const auto& p : a.puts) sent_puts.insert(p);
    for (const auto& p : a.else_puts) sent_puts.insert(p);
    if (!a.delete_key.empty()) sent_deletes.emplace_back(a.delete_key, a.delete_end);
  }
  for (const auto& e : h.events) {
    if (!e.deleted && !sent_puts.contains(std::make_pair(e.kv.key, e.kv.value))) {
      found.add("a put no writer sent: " + describe(e));
    }
    if (e.deleted && std::none_of(sent_deletes.begin(), sent_deletes.end(), [&](const auto& d) {
          return d.second.empty() ? e.kv.key == d.first : e.kv.key >= d.first && e.kv.key < d.second;
        })) {
      found.add("a delete no writer sent: " + describe(e));
    }
  }

  std::map<int, std::uint64_t> seen_by;  // writer -> the highest revision it was answered with
  for (const auto& a : writes) {
    if (a.outcome != write_outcome::acknowledged) continue;
    const auto after = seen_by[a.writer];
    seen_by[a.writer] = std::max(after, a.revision);
    auto problem = [&](const std::string& what) {
      found.add(a.text() + fmt::format(", answered at revision {}: ", a.revision) + what);
    };
    std::optional<std::uint64_t> at;  // the revision the history has it at
    const auto& puts = a.applied_puts();
    if (!puts.empty()) {
      std::set<std::string> put_keys;
      for (const auto& p : puts) {
        auto it = h.puts.find(p);
        if (it == h.puts.end()) {
          problem(fmt::format("{}={} is not in the history", p.first, p.second));
          continue;
        }
        const auto r = h.events[it->second].kv.mod_revision;
        if (at && *at != r) problem(fmt::format("split over revisions {} and {}", *at, r));
        at = r;
        put_keys.insert(p.first);
      }
      if (!at) continue;
      std::uint64_t deletes = 0;
      const bool may_delete = !a.delete_key.empty() && a.then_ran;  // a txn whose then branch ran
      const auto [first, last] = h.revisions.at(*at);
      for (auto i = first; i < last; ++i) {
        const auto& e = h.events[i];
        const bool its_delete = e.deleted && may_delete && e.kv.key >= a.delete_key && e.kv.key < a.delete_end;
        if (its_delete) ++deletes;
        if (e.deleted ? !its_delete : !put_keys.contains(e.kv.key)) problem("its revision also has " + describe(e));
      }
      if (deletes != a.deleted) problem(fmt::format("it deleted {} keys, the history has {}", a.deleted, deletes));
    } else if (a.kind == write_kind::del) {
      // The lone delete of its key between what the writer had seen and its answer.
      for (auto it = h.revisions.upper_bound(after); it != h.revisions.end() && it->first <= a.revision; ++it) {
        const auto& e = h.events[it->second.first];
        if (it->second.second - it->second.first == 1 && e.deleted && e.kv.key == a.delete_key) at = it->first;
      }
      if (!at) problem("no delete of its key in the history between the revisions its writer saw");
    } else if (a.deleted > 0) {  // a delete_range
      at = a.revision;
      auto span = h.revisions.find(a.revision);
      std::uint64_t deletes = 0;
      if (span != h.revisions.end()) {
        for (auto i = span->second.first; i < span->second.second; ++i) {
          const auto& e = h.events[i];
          if (e.deleted && e.kv.key >= a.delete_key && e.kv.key < a.delete_end) {
            ++deletes;
          } else {
            problem("its revision also has " + describe(e));
          }
        }
      }
      if (deletes != a.deleted) problem(fmt::format("it deleted {} keys, the history has {}", a.deleted, deletes));
    }
    if (!at) continue;
    if (*at <= after) {
      problem(fmt::format("the history has it at revision {}, before its writer had seen {}", *at, after));
    }
    if (a.exact_revision ? *at != a.revision : *at > a.revision) {
      problem(fmt::format("the history has it at revision {}", *at));
    }
  }
}

std::vector<watch_event> expected_for(const history& h, const watcher& w, std::uint64_t last) {
  std::vector<watch_event> out;
  for (const auto& e : h.events) {
    const auto r = e.kv.mod_revision;
    if (r <= w.after || r > last || !in_range(w.spec, e.kv.key)) continue;
    if (e.deleted ? w.spec.no_delete : w.spec.no_put) continue;
    out.push_back(e);
    if (!w.spec.prev_kv) out.back().prev.reset();
  }
  return out;
}

std::optional<std::string> first_difference(const std::vector<watch_event>& want, const watcher& w) {
  const auto& got = w.events;
  std::size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  if (i == want.size() && i == got.size()) return std::nullopt;
  auto out = fmt::format("{} was sent {} events, its range has {}; they differ at event {}: ", w.name, got.size(),
                         want.size(), i);
  if (i < want.size() && i < got.size()) {
    out +=
        fmt::format("expected {}, got {} (received at +{} ms)", describe(want[i]), describe(got[i]), w.received_ms[i]);
  } else if (i < want.size()) {
    out += fmt::format("expected {}, got nothing more (missing)", describe(want[i]));
  } else {
    out += fmt::format("expected nothing more, got {} (received at +{} ms)", describe(got[i]), w.received_ms[i]);
  }
  if (i > 0) out += fmt::format("; the event before: {}", describe(got[i - 1]));
  return out;
}

}  // namespace kv::test

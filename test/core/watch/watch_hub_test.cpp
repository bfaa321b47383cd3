// Watches against a reference history: random writes (puts, puts twice in one write, delete-
// ranges), some of which the hub is not told of, compactions, keyspace replacements from a
// snapshot's capture, and watchers that start at random revisions (past, now, future) on random
// ranges with random filters, whose sinks fill up at random and resume later; now and then a
// crowd of watchers on one key and the prefixes around it, so that watchers share the hub's
// index entries. Every watcher must receive exactly the reference's changes of its range from
// its start revision, in order, each revision in one call; one that falls behind a compaction
// must end with errc::compacted after a prefix of them. After every step, each watcher's
// caught_up() must be the revision through which it has every change: no less than its last
// change's, no more than the revision before its first missing one, and never going back.
// KV_WATCH_SEED=N replays one seed; KV_WATCH_SEEDS=N runs seeds 1..N (default 200).

#include "core/watch/watch_hub.hpp"

#include "core/model/command.hpp"
#include "core/model/txn.hpp"
#include "support/seeds.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using kv::key_range;
using kv::keyspace;

struct ref_version {
  std::string value;
  std::uint64_t create = 0, mod = 0, version = 0;
  bool operator==(const ref_version&) const = default;
};

struct ref_event {
  std::uint64_t revision = 0;
  std::string key;
  bool deleted = false;
  ref_version now;  // a put's version
  std::optional<ref_version> prev;
  bool operator==(const ref_event&) const = default;
};

// The live keys and every change ever made, in revision order and key order within a revision.
struct reference {
  std::map<std::string, ref_version> live;
  std::vector<ref_event> history;
  std::uint64_t revision = 1;
  std::map<std::string, ref_event> pending;  // the write under way, by key

  void put(const std::string& k, const std::string& v) {
    const auto w = revision + 1;
    if (auto it = pending.find(k); it != pending.end()) {  // put twice in one write
      it->second.now.value = v;
      ++it->second.now.version;
      live[k] = it->second.now;
      return;
    }
    ref_event e;
    e.revision = w;
    e.key = k;
    e.now.value = v;
    e.now.create = e.now.mod = w;
    e.now.version = 1;
    if (auto it = live.find(k); it != live.end()) {
      e.prev = it->second;
      e.now.create = it->second.create;
      e.now.version = it->second.version + 1;
    }
    live[k] = e.now;
    pending[k] = e;
  }
  void del(const key_range& r) {
    const auto w = revision + 1;
    for (auto it = live.begin(); it != live.end();) {
      if (!kv::contains(r, it->first)) {
        ++it;
        continue;
      }
      auto& e = pending[it->first];
      e.revision = w;
      e.key = it->first;
      e.deleted = true;
      e.prev = it->second;
      it = live.erase(it);
    }
  }
  void end() {
    if (pending.empty()) return;
    ++revision;
    for (auto& [k, e] : pending) history.push_back(std::move(e));
    pending.clear();
  }
};

ref_version version_of(const kv::key_value& kv) {
  ref_version v;
  v.value = kv.value;
  v.create = kv.create_revision;
  v.mod = kv.mod_revision;
  v.version = kv.version;
  return v;
}

// What one watcher asked for and what its sink received.
struct watcher_record {
  std::uint64_t id = 0;
  kv::watch_options options;
  std::uint64_t start = 0;  // the first revision it must see
  std::vector<ref_event> got;
  std::set<std::uint64_t> revisions_seen;  // in earlier calls
  bool split = false;                      // a revision's changes came in two calls
  bool full = false;                       // its sink said "no more" and waits for resume
  std::uint64_t fill_odds = 5;             // its sink is full after one call in fill_odds
  std::optional<kv::error_info> ended;  // by the hub
  bool cancelled = false;               // by the test
  // Progress: the last caught_up(), and how many of the changes it must have (in the first
  // `history_seen` of the reference's history) by then.
  std::uint64_t caught_up = 0;
  std::size_t history_seen = 0;
  std::size_t owed = 0;
};

// Whether `w` must receive `e`.
bool wanted(const watcher_record& w, const ref_event& e) {
  if (e.revision < w.start || !kv::contains(key_range{w.options.key, w.options.end}, e.key)) return false;
  return !(e.deleted ? w.options.no_delete : w.options.no_put);
}

class runner {
 public:
  explicit runner(std::uint64_t seed) : rng_(seed), seed_(seed), ks_(std::make_unique<keyspace>()), hub_(*ks_) {}

  void run(int steps) {
    for (step_ = 0; step_ < steps; ++step_) {
      auto dice = pick(100);
      if (dice < 45) {
        one_write();
      } else if (dice < 53) {
        add_watcher();
      } else if (dice < 55) {
        add_crowd();
      } else if (dice < 62) {
        compact();
      } else if (dice < 65) {
        restart_from_capture();
      } else if (dice < 80) {
        hub_.step(1 + pick(4));
      } else if (dice < 90) {
        resume_one();
      } else if (dice < 93) {
        cancel_one();
      } else {
        one_write();
      }
      check_progress();
    }
    // Let every watcher catch up, then compare.
    for (auto& w : watchers_) {
      if (w.full) {
        w.full = false;
        hub_.resume(w.id);
      }
    }
    while (hub_.step(1000)) {
    }
    check_progress();
    for (const auto& w : watchers_) {
      check(w);
      if (!w.ended && !w.cancelled) {
        BOOST_TEST(hub_.caught_up(w.id) == ks_->revision(), where() << ": watcher " << w.id << " caught up");
      }
    }
  }

 private:
  std::uint64_t pick(std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_); }
  std::string where() const { return fmt::format("seed {} step {} (replay: KV_WATCH_SEED={})", seed_, step_, seed_); }

  std::string random_key() {
    static const char alphabet[] = {'a', 'b', 'c'};
    std::string k;
    auto len = 1 + pick(3);
    for (std::uint64_t i = 0; i < len; ++i) k.push_back(alphabet[pick(3)]);
    return k;
  }
  void random_range(std::string& a, std::string& b) {
    static const std::string zero(1, '\0');
    a = random_key();
    switch (pick(4)) {
      case 0: b.clear(); break;
      case 1: b = kv::prefix_end(a); break;
      case 2: a = zero; b = zero; break;
      default: b = a + "c"; break;
    }
  }

  void one_write() {
    ks_->begin_write();
    std::vector<std::string> put_keys;
    std::vector<std::pair<std::string, std::string>> ranges;
    const auto ops = 1 + pick(4);
    for (std::uint64_t i = 0; i < ops; ++i) {
      if (pick(3) != 0) {
        // Sometimes the same key twice, as a bulk_set may.
        auto k = !put_keys.empty() && pick(5) == 0 ? put_keys.back() : random_key();
        bool deleted_here = false;
        for (const auto& [a, b] : ranges) deleted_here = deleted_here || kv::contains(key_range{a, b}, k);
        if (deleted_here) continue;  // transactions refuse a put into a range they delete
        auto v = fmt::format("v{}", pick(1000));
        ks_->put(k, v);
        ref_.put(k, v);
        put_keys.push_back(k);
      } else {
        std::string a, b;
        random_range(a, b);
        bool covers_put = false;
        for (const auto& k : put_keys) covers_put = covers_put || kv::contains(key_range{a, b}, k);
        if (covers_put) continue;  // ... and a delete of a key they put
        ks_->delete_range(key_range{a, b});
        ref_.del(key_range{a, b});
        ranges.emplace_back(a, b);
      }
    }
    const auto before = ks_->revision();
    const auto rev = ks_->end_write();
    ref_.end();
    BOOST_REQUIRE_MESSAGE(rev == ref_.revision, where() << ": revision " << rev << " != " << ref_.revision);
    if (rev == before) return;  // nothing changed: no revision, nothing to tell
    if (pick(20) == 0) return;  // not told (the node tells the hub nothing while it has no watchers)
    std::vector<key_range> written;
    if (pick(6) == 0) {
      written.push_back(key_range{everything_, everything_});  // a superset is fine
    } else {
      for (const auto& k : put_keys) written.push_back(key_range{k, {}});
      for (const auto& [a, b] : ranges) written.push_back(key_range{a, b});
    }
    hub_.applied(rev, written);
  }

  std::uint64_t past_revision() { return ks_->compacted() + pick(ks_->revision() - ks_->compacted() + 1); }

  void add_watcher() {
    kv::watch_options o;
    random_range(o.key, o.end);
    switch (pick(4)) {
      case 0: o.start_revision = 0; break;
      case 1: o.start_revision = ks_->revision() + 1 + pick(3); break;  // the future
      default: o.start_revision = past_revision(); break;
    }
    o.no_put = pick(6) == 0;
    o.no_delete = !o.no_put && pick(6) == 0;
    o.prev_kv = pick(2) == 0;
    if (pick(10) == 0 && ks_->compacted() > 1) {  // below the compacted revision: refused
      auto refused_options = o;
      refused_options.start_revision = ks_->compacted() - 1;
      auto refused = hub_.watch(refused_options, {});
      BOOST_TEST(refused.is(kv::errc::compacted), where());
    }
    start_watch(std::move(o), 5);
  }

  // Watchers of one key, of prefixes of it and of random ranges, most from the next write on
  // and with sinks that seldom fill: many synced watchers share the key in the hub's index.
  void add_crowd() {
    const auto key = random_key();
    const auto n = 5 + pick(20);
    for (std::uint64_t i = 0; i < n; ++i) {
      kv::watch_options o;
      switch (pick(5)) {
        case 0:
          o.key = key.substr(0, 1 + pick(key.size()));
          o.end = kv::prefix_end(o.key);
          break;
        case 1: random_range(o.key, o.end); break;
        default: o.key = key; break;
      }
      o.start_revision = pick(4) == 0 ? past_revision() : 0;
      o.prev_kv = pick(2) == 0;
      start_watch(std::move(o), 50);
    }
  }

  void start_watch(kv::watch_options o, std::uint64_t fill_odds) {
    watchers_.emplace_back();
    auto& w = watchers_.back();
    w.options = std::move(o);
    w.fill_odds = fill_odds;
    w.start = w.options.start_revision == 0 ? ks_->revision() + 1 : w.options.start_revision;
    const auto index = watchers_.size() - 1;
    kv::watch_sink sink;
    sink.events = [this, index](std::span<const kv::key_event> events) {
      auto& me = watchers_[index];
      BOOST_REQUIRE_MESSAGE(!me.full, where() << ": events to a full sink");
      BOOST_REQUIRE_MESSAGE(!me.ended && !me.cancelled, where() << ": events after the end");
      std::set<std::uint64_t> here;
      for (const auto& e : events) {
        ref_event r;
        r.revision = e.kv.mod_revision;
        r.key = e.kv.key;
        r.deleted = e.deleted;
        if (!e.deleted) r.now = version_of(e.kv);
        if (e.prev) r.prev = version_of(*e.prev);
        me.got.push_back(std::move(r));
        here.insert(e.kv.mod_revision);
      }
      for (auto rev : here) me.split = me.split || me.revisions_seen.contains(rev);
      me.revisions_seen.insert(here.begin(), here.end());
      me.full = pick(me.fill_odds) == 0;
      return !me.full;
    };
    sink.ended = [this, index](const kv::error_info& why) { watchers_[index].ended = why; };
    auto id = hub_.watch(w.options, std::move(sink));
    BOOST_REQUIRE_MESSAGE(id.ok(), where() << ": watch: " << id.message());
    watchers_[index].id = *id;
  }

  void compact() {
    if (ks_->compacted() >= ks_->revision()) return;
    ks_->compact(ks_->compacted() + 1 + pick(ks_->revision() - ks_->compacted()));
  }

  // The keyspace replaced by a copy of itself restored from a capture, as when a follower
  // installs a snapshot: the hub then replays to every watcher from the restored history.
  void restart_from_capture() {
    struct owned {
      std::string key;
      std::vector<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t, std::string>> versions;
    };
    std::vector<owned> captured;
    ks_->begin_capture([&](const kv::captured_key& k) {
      owned o{std::string(k.key), {}};
      for (const auto& v : k.versions)
        o.versions.emplace_back(v.create_revision, v.mod_revision, v.version, std::string(v.value));
      captured.push_back(std::move(o));
    });
    while (ks_->capture_step(1 + pick(4))) {
    }
    keyspace restored;
    for (const auto& o : captured) {
      kv::captured_key k;
      k.key = o.key;
      for (const auto& [c, m, v, value] : o.versions) k.versions.push_back({c, m, v, value});
      restored.restore_key(k);
    }
    restored.restore_revisions(ks_->revision(), ks_->compacted());
    *ks_ = std::move(restored);
    hub_.restarted();
  }

  void resume_one() {
    for (auto& w : watchers_) {
      if (w.full && !w.ended && !w.cancelled && pick(2) == 0) {
        w.full = false;
        hub_.resume(w.id);
        return;
      }
    }
  }

  void cancel_one() {
    if (watchers_.empty()) return;
    auto& w = watchers_[pick(watchers_.size())];
    if (w.ended || w.cancelled) return;
    BOOST_TEST(hub_.cancel(w.id), where());
    w.cancelled = true;
  }

  // Fails only when it must: the checks run for every watcher at every step.
  void check_progress() {
    std::size_t live = 0;
    for (auto& w : watchers_) {
      const auto c = hub_.caught_up(w.id);
      auto who = [&] { return fmt::format("{}: watcher {} caught up to {}", where(), w.id, c); };
      if (w.ended || w.cancelled) {
        if (c != 0) BOOST_FAIL(who() << " after its end");
        continue;
      }
      ++live;
      if (c < w.caught_up) BOOST_FAIL(who() << ", back from " << w.caught_up);
      if (c > ks_->revision()) BOOST_FAIL(who() << ", beyond the keyspace's " << ks_->revision());
      if (!w.got.empty() && c < w.got.back().revision) {
        BOOST_FAIL(who() << ", before its last change's " << w.got.back().revision);
      }
      for (; w.history_seen < ref_.history.size() && ref_.history[w.history_seen].revision <= c; ++w.history_seen) {
        if (wanted(w, ref_.history[w.history_seen])) ++w.owed;
      }
      if (w.got.size() != w.owed) {
        BOOST_FAIL(who() << " with " << w.got.size() << " changes, of the " << w.owed << " through it");
      }
      w.caught_up = c;
    }
    if (hub_.watchers() != live) {
      BOOST_FAIL(where() << ": the hub has " << hub_.watchers() << " watchers, not " << live);
    }
  }

  void check(const watcher_record& w) {
    const auto who = fmt::format("{}: watcher {} on [{:?}, {:?}) from {}", where(), w.id, w.options.key,
                                 w.options.end, w.start);
    BOOST_TEST(!w.split, who << ": a revision's changes came in two calls");
    std::vector<ref_event> want;
    for (const auto& e : ref_.history) {
      if (!wanted(w, e)) continue;
      want.push_back(e);
      if (!w.options.prev_kv) want.back().prev.reset();
    }
    if (w.ended || w.cancelled) {
      BOOST_REQUIRE_MESSAGE(w.got.size() <= want.size(), who << ": more changes than happened");
      want.resize(w.got.size());  // a prefix, then the end
      if (w.ended) {
        BOOST_TEST((w.ended->code == make_error_code(kv::errc::compacted)), who << ": ended by " << w.ended->message);
      }
    } else {
      BOOST_REQUIRE_MESSAGE(w.got.size() == want.size(),
                            who << ": " << w.got.size() << " changes, want " << want.size());
    }
    for (std::size_t i = 0; i < want.size(); ++i) {
      const auto& g = w.got[i];
      const auto& e = want[i];
      BOOST_REQUIRE_MESSAGE(g.revision == e.revision && g.key == e.key && g.deleted == e.deleted,
                            who << ": change " << i << " is " << g.key << "@" << g.revision << ", want " << e.key
                                << "@" << e.revision);
      if (!e.deleted) BOOST_TEST((g.now == e.now), who << ": change " << i << "'s version");
      // What a change at the compacted revision replaced may be gone (keyspace::changes).
      if (g.prev || !e.prev || e.revision > ks_->compacted()) {
        BOOST_TEST((g.prev == e.prev), who << ": change " << i << "'s previous version");
      }
    }
  }

  const std::string everything_ = std::string(1, '\0');
  std::mt19937_64 rng_;
  std::uint64_t seed_;
  int step_ = 0;
  std::unique_ptr<keyspace> ks_;
  kv::watch_hub hub_;
  reference ref_;
  std::vector<watcher_record> watchers_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(watch_model)

BOOST_AUTO_TEST_CASE(every_watcher_sees_its_ranges_history_once_and_in_order) {
  kv::test::for_each_seed("KV_WATCH_SEED", "KV_WATCH_SEEDS", 200, [](std::uint64_t seed) { runner(seed).run(500); });
}

BOOST_AUTO_TEST_CASE(written_ranges_name_what_each_command_may_change) {
  auto ranges_of = [](const std::string& bytes) {
    auto cmd = kv::decode_command(bytes);
    BOOST_REQUIRE(cmd.ok());
    std::vector<key_range> out;
    kv::written_ranges(*cmd, out);
    std::vector<std::pair<std::string, std::string>> owned;
    for (const auto& r : out) owned.emplace_back(r.key, r.end);
    return owned;
  };
  using ranges = std::vector<std::pair<std::string, std::string>>;
  BOOST_TEST((ranges_of(kv::encode_set("k", "v")) == ranges{{"k", ""}}));
  BOOST_TEST((ranges_of(kv::encode_del("k")) == ranges{{"k", ""}}));
  std::vector<kv::kv_pair> pairs{{"a", "1"}, {"b", "2"}};
  BOOST_TEST((ranges_of(kv::encode_bulk_set(pairs)) == ranges{{"a", ""}, {"b", ""}}));
  kv::txn t;
  t.then_ops.push_back({kv::txn_op_type::put, 0, "p", {}, "v", 0, 0, 0});
  t.then_ops.push_back({kv::txn_op_type::range, 0, "r", "s", {}, 0, 0, 0});  // reads change nothing
  t.else_ops.push_back({kv::txn_op_type::delete_range, 0, "d", "e", {}, 0, 0, 0});
  t.else_ops.push_back({kv::txn_op_type::incr, 0, "n", {}, {}, 0, 0, 1});
  BOOST_TEST((ranges_of(kv::encode_txn_command(kv::encode_txn(t))) == ranges{{"p", ""}, {"d", "e"}, {"n", ""}}));
  BOOST_TEST(ranges_of(kv::encode_compact(5)).empty());
  BOOST_TEST(ranges_of(kv::encode_open_session()).empty());
  // A session's write names the ranges of the write it wraps.
  BOOST_TEST((ranges_of(kv::encode_in_session({7, 1, 1}, kv::encode_set("k", "v"))) == ranges{{"k", ""}}));
}

BOOST_AUTO_TEST_SUITE_END()

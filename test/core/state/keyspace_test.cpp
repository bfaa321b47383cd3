// The multi-version keyspace against a plain reference model (every version of every key in a
// std::map, never freed), over thousands of random writes, compactions, reads at past revisions
// and snapshot captures interleaved with writes and restored into a fresh keyspace.
// KV_KEYSPACE_SEED=N replays one seed; KV_KEYSPACE_SEEDS=N runs seeds 1..N (default 200).

#include "core/state/keyspace.hpp"
#include "support/seeds.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using kv::key_range;
using kv::keyspace;

struct ref_version {
  std::uint64_t create = 0, mod = 0, version = 0;  // version 0: tombstone
  std::string value;
  std::uint64_t expires = 0;
};

// The reference: every version of every key, oldest first; reads pick the newest version at or
// below the revision. Ranges are decided key by key, independently of keyspace::bounds.
struct model {
  std::map<std::string, std::vector<ref_version>> keys;
  std::uint64_t revision = 1;
  std::uint64_t compacted = 1;
  std::uint64_t write = 0;  // the revision of the write under way
  bool changed = false;

  static bool in_range(const std::string& k, const key_range& r) {
    const bool to_end = r.end == std::string_view("\0", 1);
    if (to_end && r.key == std::string_view("\0", 1)) return true;
    if (to_end) return k >= r.key;
    if (r.end.empty()) return k == r.key;
    return k >= r.key && k < r.end;
  }
  const ref_version* at(const std::string& k, std::uint64_t rev) const {
    auto it = keys.find(k);
    if (it == keys.end()) return nullptr;
    const ref_version* found = nullptr;
    for (const auto& v : it->second)
      if (v.mod <= rev) found = &v;
    return found == nullptr || found->version == 0 ? nullptr : found;
  }
  void begin() {
    write = revision + 1;
    changed = false;
  }
  std::optional<ref_version> put(const std::string& k, const std::string& v, std::uint64_t expires = 0) {
    changed = true;
    auto& vs = keys[k];
    std::optional<ref_version> prev;
    ref_version n{write, write, 1, v, expires};
    if (!vs.empty() && vs.back().version != 0) {
      prev = vs.back();
      n.create = vs.back().create;
      n.version = vs.back().version + 1;
    }
    if (!vs.empty() && vs.back().mod == write) {
      vs.back() = n;
    } else {
      vs.push_back(n);
    }
    return prev;
  }
  std::vector<std::pair<std::string, ref_version>> del(const key_range& r) {
    std::vector<std::pair<std::string, ref_version>> out;
    for (auto it = keys.begin(); it != keys.end();) {
      auto& vs = it->second;
      if (!in_range(it->first, r) || vs.back().version == 0) {
        ++it;
        continue;
      }
      changed = true;
      out.emplace_back(it->first, vs.back());
      if (vs.back().mod == write) {
        if (vs.size() == 1) {
          it = keys.erase(it);
          continue;
        }
        vs.back() = ref_version{0, write, 0, {}, 0};
      } else {
        vs.push_back(ref_version{0, write, 0, {}, 0});
      }
      ++it;
    }
    return out;
  }
  // Deletes `k` if it is live and expired at `now`.
  bool erase_expired(const std::string& k, std::uint64_t now) {
    auto it = keys.find(k);
    if (it == keys.end() || it->second.back().version == 0) return false;
    const auto expires = it->second.back().expires;
    if (expires == 0 || expires > now) return false;
    del(key_range{k, {}});
    return true;
  }
  void end() {
    if (changed) ++revision;
  }
  std::uint64_t live_keys() const {
    std::uint64_t n = 0;
    for (const auto& [k, vs] : keys) n += vs.back().version != 0;
    return n;
  }
};

struct owned_key {
  std::string key;
  std::vector<ref_version> versions;
};

class runner {
 public:
  explicit runner(std::uint64_t seed) : rng_(seed), seed_(seed) {}

  void run(int steps) {
    for (int step = 0; step < steps; ++step) {
      step_ = step;
      auto dice = pick(100);
      if (dice < 45) {
        one_write();
      } else if (dice < 52) {
        compact();
      } else if (dice < 57) {
        capture_and_restore();
      } else if (dice < 80) {
        check_reads(ks_, model_.compacted, model_.revision);
      } else {
        check_changes(ks_, model_.compacted, model_.revision);
      }
      if (step % 50 == 0) check_everything(ks_, model_.compacted, model_.revision);
    }
    check_everything(ks_, model_.compacted, model_.revision);
    // Compacting everything frees every old version and every tombstone.
    if (model_.compacted < model_.revision) {
      ks_.compact(model_.revision);
      model_.compacted = model_.revision;
    }
    BOOST_TEST(ks_.history_versions() == 0u, where());
    check_everything(ks_, model_.compacted, model_.revision);
    // Tombstones at the compacted revision stay (their deletes are changes from it); the next
    // compaction past them frees them.
    ks_.begin_write();
    model_.begin();
    ks_.put("after", "x");
    model_.put("after", "x");
    ks_.end_write();
    model_.end();
    if (!ks_.capturing()) {
      ks_.compact(model_.revision);
      model_.compacted = model_.revision;
      BOOST_TEST(ks_.tombstones() == 0u, where());
      BOOST_TEST(ks_.history_versions() == 0u, where());
    }
    check_everything(ks_, model_.compacted, model_.revision);
  }

 private:
  std::uint64_t pick(std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_); }
  std::string where() const { return fmt::format("seed {} step {} (replay: KV_KEYSPACE_SEED={})", seed_, step_, seed_); }

  std::string random_key() {
    static const char alphabet[] = {'a', 'b', '\0', '\xff'};
    std::string k;
    auto len = 1 + pick(3);
    for (std::uint64_t i = 0; i < len; ++i) k.push_back(alphabet[pick(4)]);
    return k;
  }
  // A range in any of etcd's forms, sometimes empty or reversed.
  key_range random_range(std::string& a, std::string& b) {
    static const std::string zero(1, '\0');
    a = random_key();
    switch (pick(5)) {
      case 0: b.clear(); break;          // one key
      case 1: b = zero; break;           // from a to the end
      case 2: b = kv::prefix_end(a); break;  // the prefix a
      case 3: a = zero; b = zero; break;  // everything
      default: b = random_key(); break;  // [a, b), maybe empty
    }
    return key_range{a, b};
  }

  void one_write() {
    ks_.begin_write();
    model_.begin();
    auto ops = 1 + pick(4);
    std::vector<std::string> put_keys;
    for (std::uint64_t i = 0; i < ops; ++i) {
      const auto dice = pick(6);
      if (dice == 0) {
        // Expiry: the keyspace's own erase, one key at a time.
        auto k = random_key();
        const auto now = pick(120);
        const bool erased = ks_.erase_expired(k, now);
        BOOST_REQUIRE_MESSAGE(erased == model_.erase_expired(k, now), where() << ": erase_expired of '" << k << "'");
        if (erased && std::find(put_keys.begin(), put_keys.end(), k) != put_keys.end()) murky_.emplace(model_.write, k);
      } else if (dice < 4) {
        auto k = random_key();
        put_keys.push_back(k);
        // Sometimes a long value, which moves the key's newest block (it outgrows the allocation).
        auto v = pick(5) == 0 ? std::string(16 + pick(300), 'x') : fmt::format("v{}", pick(1000));
        const std::uint64_t expires = pick(3) == 0 ? 1 + pick(100) : 0;
        auto prev = ks_.put(k, v, expires);
        auto want = model_.put(k, v, expires);
        BOOST_REQUIRE_MESSAGE(prev.has_value() == want.has_value(), where() << ": put's previous version");
        if (prev) {
          BOOST_TEST(prev->value == want->value, where());
          BOOST_TEST(prev->mod_revision == want->mod, where());
          BOOST_TEST(prev->version == want->version, where());
        }
      } else {
        std::string a, b;
        auto r = random_range(a, b);
        std::vector<std::string> deleted;
        auto n = ks_.delete_range(r, [&](const kv::key_value& kv) { deleted.emplace_back(kv.key); });
        auto want = model_.del(r);
        BOOST_REQUIRE_MESSAGE(n == want.size(), where() << ": delete_range count " << n << " != " << want.size());
        for (const auto& k : put_keys)
          if (model::in_range(k, r)) murky_.emplace(model_.write, k);
        for (std::size_t j = 0; j < want.size(); ++j) BOOST_TEST(deleted[j] == want[j].first, where());
      }
    }
    auto rev = ks_.end_write();
    model_.end();
    BOOST_REQUIRE_MESSAGE(rev == model_.revision, where() << ": revision " << rev << " != " << model_.revision);
    if (ks_.capturing() && !batched_ && pick(2) == 0) ks_.capture_step(1 + pick(8));
  }

  void compact() {
    if (model_.compacted >= model_.revision) {
      BOOST_TEST(ks_.check_compact(model_.revision).code == kv::errc::compacted, where());
      return;
    }
    BOOST_TEST(ks_.check_compact(model_.revision + 1).code == kv::errc::future_revision, where());
    BOOST_TEST(ks_.check_compact(model_.compacted).code == kv::errc::compacted, where());
    auto rev = model_.compacted + 1 + pick(model_.revision - model_.compacted);
    BOOST_REQUIRE(!ks_.check_compact(rev).code);
    ks_.compact(rev);
    model_.compacted = rev;
  }

  // Captures while writes and compactions go on, restores the capture into a new keyspace and
  // checks it against the model at the capture's revisions. Sometimes the restored keyspace
  // replaces the live one (a restart from a snapshot).
  // Half of the captures are batched (keyspace::pin_batch): a batch is encoded some writes after
  // it was pinned, as another thread would, and released then.
  void capture_and_restore() {
    if (ks_.capturing()) return;
    std::vector<owned_key> captured;
    auto sink = [&](const kv::captured_key& k) {
      owned_key o{std::string(k.key), {}};
      for (const auto& v : k.versions) {
        o.versions.push_back({v.create_revision, v.mod_revision, v.version, std::string(v.value), v.expires});
      }
      captured.push_back(std::move(o));
    };
    const bool batched = pick(2) == 0;
    batched_ = batched;
    if (batched) {
      ks_.begin_batched_capture();
    } else {
      ks_.begin_capture(sink);
    }
    const auto rev = ks_.capture_revision();
    const auto compacted = ks_.capture_compacted();
    const bool quiet = pick(3) == 0;  // no writes during the capture
    std::deque<keyspace::capture_batch> pinned;
    bool all_pinned = false;
    while (ks_.capturing()) {
      if (!quiet) {
        if (pick(3) == 0) one_write();
        if (pick(8) == 0) compact();
      }
      if (!batched) {
        if (ks_.capturing()) ks_.capture_step(1 + pick(6));
        continue;
      }
      if (!all_pinned && (pinned.empty() || pick(2) == 0)) {
        keyspace::capture_batch b;
        if (ks_.pin_batch(b, 1 + pick(6))) {
          pinned.push_back(std::move(b));
        } else {
          all_pinned = true;
        }
      } else if (!pinned.empty()) {
        keyspace::encode(pinned.front(), sink);
        pinned.pop_front();
        ks_.release_batch();
      }
      BOOST_REQUIRE(ks_.pinned_batches() == pinned.size());
      if (all_pinned && pinned.empty()) ks_.end_batched_capture();
    }
    batched_ = false;
    keyspace restored;
    // Restore in a shuffled order: restore_key() must not depend on key order.
    std::shuffle(captured.begin(), captured.end(), rng_);
    for (const auto& o : captured) {
      kv::captured_key k;
      k.key = o.key;
      for (const auto& v : o.versions) k.versions.push_back({v.create, v.mod, v.version, v.value, v.expires});
      restored.restore_key(k);
    }
    restored.restore_revisions(rev, compacted);
    BOOST_TEST(restored.revision() == rev, where());
    BOOST_TEST(restored.compacted() == compacted, where());
    check_everything(restored, compacted, rev);  // the model keeps every version: check them all
    check_changes(restored, compacted, rev);
    if (quiet) ks_ = std::move(restored);
  }

  // Reads at a few random revisions in [lo, hi] and refusals outside it.
  void check_reads(const keyspace& ks, std::uint64_t lo, std::uint64_t hi) {
    if (lo > 1) BOOST_TEST(ks.check_revision(lo - 1).code == kv::errc::compacted, where());
    BOOST_TEST(ks.check_revision(hi + 1).code == kv::errc::future_revision, where());
    for (int i = 0; i < 3; ++i) check_range_at(ks, lo + pick(hi - lo + 1));
  }

  void check_range_at(const keyspace& ks, std::uint64_t rev) {
    std::string a, b;
    auto r = random_range(a, b);
    kv::range_options o;
    o.revision = pick(4) == 0 && rev == ks.revision() ? 0 : rev;
    o.limit = pick(3) == 0 ? 1 + pick(5) : 0;
    o.keys_only = pick(4) == 0;
    o.count_only = pick(6) == 0;
    o.descending = pick(3) == 0;
    auto got = ks.range(r, o);
    BOOST_REQUIRE_MESSAGE(got.ok(), where() << ": range at " << rev << ": " << got.message());
    std::vector<std::pair<std::string, const ref_version*>> want;
    for (const auto& [k, vs] : model_.keys) {
      if (!model::in_range(k, r)) continue;
      if (const auto* v = model_.at(k, rev)) want.emplace_back(k, v);
    }
    if (o.descending) std::reverse(want.begin(), want.end());
    BOOST_REQUIRE_MESSAGE(got->count == want.size(), where() << ": count at " << rev);
    BOOST_TEST(got->revision == rev, where());
    std::size_t expect_n = o.count_only ? 0 : (o.limit ? std::min<std::size_t>(o.limit, want.size()) : want.size());
    BOOST_REQUIRE_MESSAGE(got->kvs.size() == expect_n, where() << ": returned " << got->kvs.size() << " of " << expect_n);
    BOOST_TEST(got->more == (!o.count_only && expect_n < want.size()), where());
    for (std::size_t i = 0; i < expect_n; ++i) {
      const auto& g = got->kvs[i];
      const auto& [k, v] = want[i];
      BOOST_REQUIRE_MESSAGE(g.key == k, where() << ": key " << i << " at revision " << rev);
      BOOST_TEST(g.value == (o.keys_only ? std::string() : v->value), where());
      BOOST_TEST(g.create_revision == v->create, where());
      BOOST_TEST(g.mod_revision == v->mod, where());
      BOOST_TEST(g.version == v->version, where());
    }
  }

  // The changes to a random range over random revisions in [lo, hi], against the model's
  // versions: each version in the window is one change; the version before it, if live, is what
  // it replaced. Also the refusals just outside [lo, hi].
  void check_changes(const keyspace& ks, std::uint64_t lo, std::uint64_t hi) {
    if (lo > 1) BOOST_TEST(ks.changes(key_range{"a", {}}, lo - 1, hi).is(kv::errc::compacted), where());
    BOOST_TEST(ks.changes(key_range{"a", {}}, lo, hi + 1).is(kv::errc::future_revision), where());
    std::string a, b;
    auto r = random_range(a, b);
    const auto from = lo + pick(hi - lo + 1);
    const auto to = pick(4) == 0 ? hi : from + pick(hi - from + 1);
    auto got = ks.changes(r, from, to);
    BOOST_REQUIRE_MESSAGE(got.ok(), where() << ": changes " << from << ".." << to << ": " << got.message());
    struct want_event {
      std::string key;
      const ref_version* v;
      const ref_version* prev;
    };
    std::vector<want_event> want;
    for (const auto& [k, vs] : model_.keys) {
      if (!model::in_range(k, r)) continue;
      for (std::size_t i = 0; i < vs.size(); ++i) {
        if (vs[i].mod < from || vs[i].mod > to) continue;
        const ref_version* prev = i > 0 && vs[i - 1].version != 0 ? &vs[i - 1] : nullptr;
        want.push_back({k, &vs[i], prev});
      }
    }
    std::stable_sort(want.begin(), want.end(), [](const want_event& x, const want_event& y) { return x.v->mod < y.v->mod; });
    // A key put and then deleted in one write (no command does that: transactions refuse it) was
    // absent before and after; whether it shows as a delete depends on compaction's progress.
    std::erase_if(want, [&](const want_event& w) { return murky_.contains({w.v->mod, w.key}); });
    std::erase_if(*got, [&](const kv::key_event& e) {
      return murky_.contains({e.kv.mod_revision, std::string(e.kv.key)});
    });
    if (got->size() != want.size()) {
      for (const auto& g : *got) fmt::print(stderr, "got {:?} {} {}\n", g.kv.key, g.kv.mod_revision, g.deleted);
      for (const auto& w : want) fmt::print(stderr, "want {:?} {} {}\n", w.key, w.v->mod, w.v->version);
      fmt::print(stderr, "compacted {} capturing {}\n", ks.compacted(), ks.capturing());
    }
    BOOST_REQUIRE_MESSAGE(got->size() == want.size(),
                          where() << ": " << got->size() << " changes " << from << ".." << to << ", want " << want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      const auto& g = (*got)[i];
      const auto& w = want[i];
      BOOST_REQUIRE_MESSAGE(g.kv.key == w.key && g.kv.mod_revision == w.v->mod,
                            where() << ": change " << i << " of " << from << ".." << to);
      BOOST_TEST(g.deleted == (w.v->version == 0), where());
      if (!g.deleted) {
        BOOST_TEST(g.kv.value == w.v->value, where());
        BOOST_TEST(g.kv.create_revision == w.v->create, where());
        BOOST_TEST(g.kv.version == w.v->version, where());
      }
      // The version a change at the compacted revision replaced may have been freed.
      if (w.prev == nullptr || w.v->mod > ks.compacted()) {
        BOOST_REQUIRE_MESSAGE(g.prev.has_value() == (w.prev != nullptr), where() << ": change " << i << "'s prev");
      }
      if (g.prev && w.prev) {
        BOOST_TEST(g.prev->value == w.prev->value, where());
        BOOST_TEST(g.prev->mod_revision == w.prev->mod, where());
        BOOST_TEST(g.prev->version == w.prev->version, where());
      }
    }
  }

  // Every key at every readable revision, and the live counts.
  void check_everything(const keyspace& ks, std::uint64_t lo, std::uint64_t hi) {
    for (auto rev = lo; rev <= hi; ++rev) {
      std::size_t visible = 0;
      for (const auto& [k, vs] : model_.keys) {
        const auto* want = model_.at(k, rev);
        auto got = ks.get(k, rev);
        BOOST_REQUIRE_MESSAGE(got.has_value() == (want != nullptr),
                              where() << ": key '" << k << "' at revision " << rev << (want ? " missing" : " present"));
        if (!want) continue;
        ++visible;
        BOOST_REQUIRE_MESSAGE(got->value == want->value && got->mod_revision == want->mod &&
                                  got->create_revision == want->create && got->version == want->version,
                              where() << ": key '" << k << "' at revision " << rev);
      }
      static const std::string zero(1, '\0');
      kv::range_options o;
      o.revision = rev;
      o.count_only = true;
      auto all = ks.range(key_range{zero, zero}, o);
      BOOST_REQUIRE(all.ok());
      BOOST_REQUIRE_MESSAGE(all->count == visible, where() << ": keys at revision " << rev);
    }
    if (hi == model_.revision) BOOST_TEST(ks.key_count() == model_.live_keys(), where());
    check_hash_order(ks, hi);
  }

  // The hash order (SCAN's) of `ks`, whose current revision is `rev`, against the model's live
  // keys then: a walk in pages of random sizes returns each once, in (position, key) order, each
  // page's cursor past its keys; a page from a random position starts at the first key there.
  void check_hash_order(const keyspace& ks, std::uint64_t rev) {
    std::vector<std::pair<std::uint64_t, std::string>> want;
    for (const auto& [k, vs] : model_.keys) {
      if (model_.at(k, rev) != nullptr) want.emplace_back(keyspace::hash_position(k), k);
    }
    std::sort(want.begin(), want.end());
    std::vector<std::pair<std::uint64_t, std::string>> got;
    std::uint64_t cursor = 0;
    do {
      const std::size_t count = 1 + pick(6);
      const auto remaining = want.size() - std::min(want.size(), got.size());
      auto page = ks.scan(cursor, count);
      BOOST_REQUIRE_MESSAGE(page.kvs.size() >= std::min(count, remaining), where() << ": a short hash page");
      for (std::size_t i = 0; i < page.kvs.size(); ++i) {
        const auto position = keyspace::hash_position(page.kvs[i].key);
        BOOST_REQUIRE_MESSAGE(position >= cursor && (page.next == 0 || position < page.next),
                              where() << ": a key outside its page");
        // Past `count`, only keys whose position ties with the last counted one.
        if (i >= count) BOOST_REQUIRE(position == keyspace::hash_position(page.kvs[count - 1].key));
        got.emplace_back(position, std::string(page.kvs[i].key));
      }
      cursor = page.next;
    } while (cursor != 0 && got.size() <= want.size());
    BOOST_REQUIRE_MESSAGE(got == want, where() << ": the hash order has " << got.size() << " keys, want " << want.size());
    const std::uint64_t from = rng_() >> 1;
    auto page = ks.scan(from, 1);
    auto first = std::lower_bound(want.begin(), want.end(), std::make_pair(from, std::string()));
    BOOST_REQUIRE(page.kvs.empty() == (first == want.end()));
    if (!page.kvs.empty()) BOOST_TEST(page.kvs.front().key == first->second, where());
  }

  std::mt19937_64 rng_;
  std::uint64_t seed_;
  int step_ = 0;
  keyspace ks_;
  bool batched_ = false;  // the capture under way is batched
  model model_;
  std::set<std::pair<std::uint64_t, std::string>> murky_;  // (revision, key): put, then deleted, in one write
};

}  // namespace

BOOST_AUTO_TEST_SUITE(keyspace_model)

BOOST_AUTO_TEST_CASE(random_histories_match_the_reference) {
  kv::test::for_each_seed("KV_KEYSPACE_SEED", "KV_KEYSPACE_SEEDS", 200, [](std::uint64_t seed) { runner(seed).run(600); });
}

BOOST_AUTO_TEST_CASE(prefix_end_follows_etcd) {
  BOOST_TEST(kv::prefix_end("abc") == "abd");
  BOOST_TEST(kv::prefix_end("a\xff") == "b");
  BOOST_TEST(kv::prefix_end("\xff\xff") == std::string(1, '\0'));
  BOOST_TEST(kv::prefix_end("") == std::string(1, '\0'));
}

BOOST_AUTO_TEST_CASE(revisions_versions_and_compaction_errors) {
  keyspace ks;
  BOOST_TEST(ks.revision() == 1u);
  ks.begin_write();
  BOOST_TEST(!ks.put("k", "a").has_value());
  BOOST_TEST(ks.end_write() == 2u);
  ks.begin_write();
  auto prev = ks.put("k", "b");
  BOOST_REQUIRE(prev.has_value());
  BOOST_TEST(prev->value == "a");
  BOOST_TEST(ks.end_write() == 3u);
  auto now = ks.get("k");
  BOOST_REQUIRE(now.has_value());
  BOOST_TEST(now->create_revision == 2u);
  BOOST_TEST(now->mod_revision == 3u);
  BOOST_TEST(now->version == 2u);
  // A delete of nothing takes no revision.
  ks.begin_write();
  BOOST_TEST(ks.delete_range(key_range{"x", {}}) == 0u);
  BOOST_TEST(ks.end_write() == 3u);
  ks.begin_write();
  BOOST_TEST(ks.delete_range(key_range{"k", {}}) == 1u);
  BOOST_TEST(ks.end_write() == 4u);
  BOOST_TEST(!ks.get("k").has_value());
  BOOST_TEST(ks.get("k", 3)->value == "b");
  ks.begin_write();
  ks.put("k", "c");
  ks.end_write();
  BOOST_TEST(ks.get("k")->version == 1u);  // a delete ends the key; it starts again
  BOOST_TEST(ks.get("k")->create_revision == 5u);
  ks.compact(4);
  auto e = ks.check_revision(3);
  BOOST_TEST((e.code == kv::errc::compacted));
  BOOST_TEST(e.message == "revision 3 has been compacted; the oldest readable revision is 4");
  BOOST_TEST(ks.check_revision(6).message == "revision 6 is in the future; the current revision is 5");
  BOOST_TEST(!ks.range(key_range{"k", {}}, kv::range_options{.revision = 3}).ok());
  // Reads at 4 and later no longer need the old values; the tombstone, which the put at 5
  // replaced, goes with the compaction past 5.
  BOOST_TEST(ks.history_versions() == 1u);
  BOOST_TEST(!ks.get("k", 4).has_value());
  BOOST_TEST(ks.get("k", 5)->value == "c");
  ks.begin_write();
  ks.put("other", "x");
  ks.end_write();
  ks.compact(6);
  BOOST_TEST(ks.history_versions() == 0u);
  BOOST_TEST(ks.get("k")->value == "c");
  // A deleted key whose history is compacted away leaves nothing behind.
  ks.begin_write();
  ks.delete_range(key_range{"k", {}});
  ks.end_write();
  BOOST_TEST(ks.history_versions() == 1u);
  ks.compact(7);
  BOOST_TEST(ks.history_versions() == 0u);
  BOOST_TEST(ks.key_count() == 1u);
  BOOST_TEST(ks.range(key_range{std::string(1, '\0'), std::string(1, '\0')}, {})->kvs.size() == 1u);
}

// Compacting past many deletes frees their versions a bounded step at a time; meanwhile reads
// at the compacted revision and later, and the changes from it, are as they will be after.
BOOST_AUTO_TEST_CASE(compaction_frees_history_in_bounded_steps) {
  keyspace ks;
  const std::size_t keys = 3 * keyspace::trim_budget + 5;
  ks.begin_write();
  for (std::size_t i = 0; i < keys; ++i) ks.put(fmt::format("k{:06}", i), "v");
  ks.end_write();  // 2
  ks.begin_write();
  ks.delete_range(key_range{"k", "l"});
  ks.end_write();  // 3
  ks.begin_write();
  ks.put("other", "x");
  ks.end_write();  // 4
  BOOST_TEST(ks.history_versions() == keys);
  ks.compact(4);
  BOOST_TEST(ks.trim_pending());
  BOOST_TEST(ks.history_versions() == keys - keyspace::compact_trim);
  int steps = 0;
  while (ks.trim_pending()) {
    BOOST_TEST(ks.range(key_range{"k", "l"}, {})->count == 0u);
    BOOST_TEST(ks.changes(key_range{std::string(1, '\0'), std::string(1, '\0')}, 4, 4)->size() == 1u);
    BOOST_TEST(ks.check_revision(3).code == kv::make_error_code(kv::errc::compacted));
    ks.trim_step();
    ++steps;
  }
  BOOST_TEST(steps >= 3);
  BOOST_TEST(ks.history_versions() == 0u);
  BOOST_TEST(ks.tombstones() == 0u);
  BOOST_TEST(ks.key_count() == 1u);
}

// erase_expired deletes a key only while its expiry is due, with one lookup.
// The prefetch hints change nothing, whether the key is there or not, and the hash the first
// stage returns is the key's (the same for the same key, whatever the set holds).
BOOST_AUTO_TEST_CASE(prefetch_hints_change_nothing) {
  keyspace ks;
  ks.begin_write();
  for (int i = 0; i < 1000; ++i) ks.put("key" + std::to_string(i), "v" + std::to_string(i));
  ks.end_write();
  const auto revision = ks.revision();
  const auto hash = ks.prefetch_slots("key7");
  BOOST_TEST(ks.prefetch_slots("key7") == hash);
  BOOST_TEST(ks.prefetch_slots("key8") != hash);
  ks.prefetch_head(hash);
  ks.prefetch_head(ks.prefetch_slots("absent"));
  for (std::size_t h = 0; h < 4096; ++h) ks.prefetch_head(h * 0x9e3779b97f4a7c15ull);  // any hash at all
  BOOST_TEST(ks.revision() == revision);
  BOOST_TEST(ks.key_count() == 1000u);
  BOOST_TEST(ks.get("key7")->value == "v7");
  BOOST_TEST(!ks.get("absent").has_value());
  keyspace empty;
  empty.prefetch_head(empty.prefetch_slots("x"));  // an index with no slots yet
  BOOST_TEST(empty.key_count() == 0u);
}

BOOST_AUTO_TEST_CASE(erase_expired_deletes_only_due_keys) {
  keyspace ks;
  ks.begin_write();
  ks.put("due", "1", 100);
  ks.put("later", "2", 300);
  ks.put("never", "3");
  ks.end_write();
  BOOST_TEST(ks.expiring_keys() == 2u);
  BOOST_TEST(ks.next_expiry() == 100u);
  ks.begin_write();
  std::vector<std::string> seen;
  auto note = [&](const kv::key_value& kv) { seen.emplace_back(kv.key); };
  BOOST_TEST(ks.erase_expired("due", 200, note));
  BOOST_TEST(!ks.erase_expired("later", 200, note));
  BOOST_TEST(!ks.erase_expired("never", 200, note));
  BOOST_TEST(!ks.erase_expired("absent", 200, note));
  BOOST_TEST(ks.end_write() == 3u);
  BOOST_TEST((seen == std::vector<std::string>{"due"}));
  BOOST_TEST(!ks.get("due").has_value());
  BOOST_TEST(ks.get("due", 2)->value == "1");
  BOOST_TEST(ks.expiring_keys() == 1u);
  BOOST_TEST(ks.next_expiry() == 300u);
  // A key created and expired in one write leaves nothing.
  ks.begin_write();
  ks.put("brief", "x", 50);
  BOOST_TEST(ks.erase_expired("brief", 60));
  ks.end_write();
  BOOST_TEST(!ks.get("brief").has_value());
  BOOST_TEST(ks.changes(key_range{"brief", {}}, 1, ks.revision())->empty());
}

BOOST_AUTO_TEST_CASE(changes_name_each_put_and_delete_with_what_it_replaced) {
  keyspace ks;
  auto write = [&](auto&& f) {
    ks.begin_write();
    f();
    return ks.end_write();
  };
  write([&] { ks.put("k", "1"); });                             // 2
  write([&] { ks.put("k", "2"); ks.put("other", "o"); });       // 3
  write([&] { ks.delete_range(key_range{"k", {}}); });         // 4
  write([&] { ks.put("k", "3"); });                             // 5
  auto all = ks.changes(key_range{std::string(1, '\0'), std::string(1, '\0')}, 1, 5);
  BOOST_REQUIRE(all.ok());
  BOOST_REQUIRE(all->size() == 5u);
  const auto& c = *all;
  BOOST_TEST((c[0].kv.key == "k" && c[0].kv.mod_revision == 2u && !c[0].deleted && !c[0].prev));
  BOOST_TEST((c[1].kv.key == "k" && c[1].kv.mod_revision == 3u && c[1].kv.version == 2u && c[1].prev->value == "1"));
  BOOST_TEST((c[2].kv.key == "other" && c[2].kv.mod_revision == 3u));  // one write: key order
  BOOST_TEST((c[3].kv.key == "k" && c[3].deleted && c[3].kv.mod_revision == 4u && c[3].prev->value == "2"));
  BOOST_TEST((c[4].kv.key == "k" && c[4].kv.version == 1u && c[4].kv.create_revision == 5u && !c[4].prev));
  BOOST_TEST(ks.changes(key_range{"k", {}}, 4, 4)->size() == 1u);
  // Compacting at the delete keeps the delete: a watch may start at the compacted revision.
  ks.compact(4);
  auto from4 = ks.changes(key_range{"k", {}}, 4, 5);
  BOOST_REQUIRE(from4.ok());
  BOOST_REQUIRE(from4->size() == 2u);
  BOOST_TEST((*from4)[0].deleted);
  auto before = ks.changes(key_range{"k", {}}, 3, 5);
  BOOST_TEST(before.is(kv::errc::compacted));
  BOOST_TEST(before.message() ==
             "the changes at revision 3 have been compacted; the oldest revision whose changes are kept is 4");
  BOOST_TEST(ks.changes(key_range{"k", {}}, 4, 6).message() == "revision 6 is in the future; the current revision is 5");
}

BOOST_AUTO_TEST_SUITE_END()

// The state machine's transactions against a plain reference model: random sequences of puts,
// deletes, delete-ranges, transactions (compares, ranges at past revisions, incr, TTLs set, kept,
// changed and read), plain incr commands (held to the model of a transaction of one incr op),
// expire commands on a moving cluster clock, compactions and read-only
// transactions, with snapshots taken while writes go on and restored into a fresh state machine
// that replays the commands after the snapshot (as recovery does). Every answer (branch,
// revision, each op's result, or the refusal's code) must match the model's, every key's expiry
// and the clock too, and the changes a transaction reports (what the search index follows) must
// rebuild the live keys.
// KV_TXN_SEED=N replays one seed; KV_TXN_SEEDS=N runs seeds 1..N (default 2000).

#include "core/base/bytes.hpp"
#include "core/model/command.hpp"
#include "core/model/txn.hpp"
#include "core/snapshot/snapshot.hpp"
#include "core/state/state_machine.hpp"
#include "support/seeds.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace kv;

namespace {

struct ref_version {
  std::uint64_t create = 0, mod = 0, version = 0;  // version 0: tombstone
  std::string value;
  std::uint64_t expires = 0;
};

bool in_range(const std::string& k, std::string_view key, std::string_view end) {
  if (end.empty()) return k == key;
  if (end == std::string_view("\0", 1)) return k >= key;
  return k >= key && k < end;
}

// Every version of every key, never freed; reads pick the newest version at or below a revision.
struct model {
  std::map<std::string, std::vector<ref_version>> keys;
  std::uint64_t revision = 1;
  std::uint64_t compacted = 1;
  std::uint64_t clock = 0;  // the largest stamp applied
  bool writing = false;
  bool changed = false;

  std::uint64_t read_revision() const { return writing && changed ? revision + 1 : revision; }

  const ref_version* at(const std::string& k, std::uint64_t rev) const {
    auto it = keys.find(k);
    if (it == keys.end()) return nullptr;
    const ref_version* found = nullptr;
    for (const auto& v : it->second) {
      if (v.mod <= rev) found = &v;
    }
    return found == nullptr || found->version == 0 ? nullptr : found;
  }
  const ref_version* current(const std::string& k) const { return at(k, read_revision()); }

  std::optional<ref_version> put(const std::string& k, const std::string& v, std::uint64_t expires = 0) {
    auto prev = current(k);
    std::optional<ref_version> old;
    if (prev != nullptr) old = *prev;
    auto& vs = keys[k];
    const auto rev = revision + 1;
    if (!vs.empty() && vs.back().mod == rev) vs.pop_back();  // written twice in one write
    ref_version n{old ? old->create : rev, rev, old ? old->version + 1 : 1, v, expires};
    vs.push_back(n);
    changed = true;
    return old;
  }
  std::vector<std::pair<std::string, ref_version>> erase(std::string_view key, std::string_view end) {
    std::vector<std::pair<std::string, ref_version>> gone;
    for (auto& [k, vs] : keys) {
      if (!in_range(k, key, end)) continue;
      auto prev = current(k);
      if (prev == nullptr) continue;
      gone.emplace_back(k, *prev);
      const auto rev = revision + 1;
      if (!vs.empty() && vs.back().mod == rev) vs.pop_back();
      vs.push_back({0, rev, 0, {}});
      changed = true;
    }
    return gone;
  }
  std::vector<std::pair<std::string, ref_version>> live(std::string_view key, std::string_view end,
                                                        std::uint64_t rev) const {
    std::vector<std::pair<std::string, ref_version>> out;
    for (const auto& [k, vs] : keys) {
      if (!in_range(k, key, end)) continue;
      if (auto v = at(k, rev)) out.emplace_back(k, *v);
    }
    return out;
  }
  errc check_revision(std::uint64_t rev) const {
    if (rev != 0 && rev < compacted) return errc::compacted;
    if (rev > revision) return errc::future_revision;
    return errc::ok;
  }
};

kv_version version_of(const std::string& k, const ref_version& v, bool with_value = true) {
  return kv_version{k, with_value ? v.value : std::string(), v.create, v.mod, v.version};
}

struct expected {
  errc code = errc::ok;
  txn_reply reply;
};

bool compare_holds(const model& m, const compare_view& c) {
  auto test = [&](const ref_version* v) {
    if (v == nullptr && c.target == compare_target::value) return false;
    ref_version zero;
    if (v == nullptr) v = &zero;
    auto cmp = [&](auto a, auto b) {
      switch (c.op) {
        case compare_op::equal: return a == b;
        case compare_op::not_equal: return a != b;
        case compare_op::less: return a < b;
        case compare_op::greater: return a > b;
      }
      return false;
    };
    switch (c.target) {
      case compare_target::value: return cmp(std::string_view(v->value), c.value);
      case compare_target::version: return cmp(v->version, c.number);
      case compare_target::create_revision: return cmp(v->create, c.number);
      case compare_target::mod_revision: return cmp(v->mod, c.number);
    }
    return false;
  };
  auto kvs = m.live(c.key, c.end, m.read_revision());
  if (kvs.empty()) return test(nullptr);
  for (const auto& [k, v] : kvs) {
    if (!test(&v)) return false;
  }
  return true;
}

op_result model_range(const model& m, const txn_op_view& op) {
  op_result r;
  r.type = txn_op_type::range;
  auto kvs = m.live(op.key, op.end, op.revision == 0 ? m.read_revision() : op.revision);
  if ((op.flags & op_descending) != 0) std::reverse(kvs.begin(), kvs.end());
  r.count = kvs.size();
  if ((op.flags & op_count_only) == 0) {
    for (const auto& [k, v] : kvs) {
      if (op.limit != 0 && r.kvs.size() >= op.limit) break;
      r.kvs.push_back(version_of(k, v, (op.flags & op_keys_only) == 0));
    }
    r.more = r.count > r.kvs.size();
  }
  return r;
}

// `now`: the transaction's stamp (a write) or the reader's clock (a read); 0: none.
expected model_txn(model& m, const txn_view& t, bool write, std::uint64_t now) {
  expected e;
  if (write) m.clock = std::max(m.clock, now);
  if (now == 0) now = m.clock;
  bool ok = true;
  for (const auto& c : t.compares) ok = ok && compare_holds(m, c);
  const auto& ops = ok ? t.then_ops : t.else_ops;
  for (const auto& op : ops) {
    if (op.type == txn_op_type::range) {
      if (auto c = m.check_revision(op.revision); c != errc::ok) return {c, {}};
    }
    if (op.type == txn_op_type::incr) {
      auto cur = m.current(std::string(op.key));
      std::int64_t n = 0;
      if (cur != nullptr) {
        auto p = parse_int64(cur->value);
        if (!p) return {errc::bad_request, {}};
        n = *p;
      }
      std::int64_t sum;
      if (__builtin_add_overflow(n, op.delta, &sum)) return {errc::bad_request, {}};
    }
  }
  e.reply.succeeded = ok;
  m.writing = write;
  m.changed = false;
  for (const auto& op : ops) {
    op_result r;
    r.type = op.type;
    switch (op.type) {
      case txn_op_type::put: {
        std::uint64_t expires = 0;
        if ((op.flags & op_ttl) != 0) expires = now + static_cast<std::uint64_t>(op.ttl_ms);
        if ((op.flags & op_keep_ttl) != 0) {
          auto cur = m.current(std::string(op.key));
          expires = cur != nullptr ? cur->expires : 0;
        }
        auto prev = m.put(std::string(op.key), std::string(op.value), expires);
        if (prev && (op.flags & op_prev_kv) != 0) r.kvs.push_back(version_of(std::string(op.key), *prev));
        break;
      }
      case txn_op_type::range:
        r = model_range(m, op);
        break;
      case txn_op_type::delete_range: {
        auto gone = m.erase(op.key, op.end);
        r.count = gone.size();
        if ((op.flags & op_prev_kv) != 0) {
          for (const auto& [k, v] : gone) r.kvs.push_back(version_of(k, v));
        }
        break;
      }
      case txn_op_type::incr: {
        auto cur = m.current(std::string(op.key));
        r.value = (cur != nullptr ? *parse_int64(cur->value) : 0) + op.delta;
        m.put(std::string(op.key), std::to_string(r.value), cur != nullptr ? cur->expires : 0);
        break;
      }
      case txn_op_type::expire: {
        auto cur = m.current(std::string(op.key));
        if (cur != nullptr && (op.ttl_ms != 0 || cur->expires != 0)) {
          auto value = cur->value;
          m.put(std::string(op.key), value, op.ttl_ms == 0 ? 0 : now + static_cast<std::uint64_t>(op.ttl_ms));
          r.value = 1;
        }
        break;
      }
      case txn_op_type::ttl: {
        auto cur = m.current(std::string(op.key));
        r.value = cur == nullptr ? -2
                  : cur->expires == 0 ? -1
                                      : static_cast<std::int64_t>(cur->expires > now ? cur->expires - now : 0);
        break;
      }
    }
    e.reply.results.push_back(std::move(r));
  }
  if (m.changed) ++m.revision;
  m.writing = false;
  m.changed = false;
  e.reply.revision = m.revision;
  return e;
}

// ---- random input ----------------------------------------------------------------------------

struct generator {
  std::mt19937_64 rng;
  const model& m;

  std::uint64_t pick(std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng); }
  bool chance(int percent) { return pick(100) < static_cast<std::uint64_t>(percent); }

  std::string key() {
    static const char* keys[] = {"a", "b", "c", "d", "p/1", "p/2", "p/3", "p/33", "q", "z"};
    return keys[pick(10)];
  }
  std::string value() {
    static const char* values[] = {"", "x", "hello", "0", "1", "7", "-3", "9223372036854775806", "01", "abc"};
    return values[pick(10)];
  }
  // A range end for `k`: none, a prefix end, every key from k, or another key.
  std::string end(const std::string& k) {
    switch (pick(5)) {
      case 0: return prefix_end(k);
      case 1: return std::string("\0", 1);
      case 2: return key();
      default: return {};
    }
  }
  std::uint64_t revision() {
    if (chance(60)) return 0;
    const auto lo = m.compacted > 1 ? m.compacted - 1 : 1;
    return lo + pick(m.revision + 2 - lo);
  }
  txn_op op(bool writes) {
    auto k = key();
    if (writes && chance(25)) {
      switch (pick(3)) {
        case 0: return make_put_ttl(k, value(), static_cast<std::int64_t>(pick(3)) * 40, chance(50));  // 0: keep
        case 1: return make_expire(k, chance(25) ? 0 : 1 + static_cast<std::int64_t>(pick(200)));
        default: return make_ttl(k);
      }
    }
    if (!writes && chance(20)) return make_ttl(k);
    switch (writes ? pick(4) : 1) {
      case 0: return make_put(k, value(), chance(50));
      case 1: {
        auto o = make_range(k, end(k), pick(4), revision());
        o.flags = static_cast<std::uint8_t>(pick(8) << 1);  // keys_only, count_only, descending
        return o;
      }
      case 2: return make_delete_range(k, end(k), chance(50));
      default: return make_incr(k, delta());
    }
  }
  std::int64_t delta() {
    static const std::int64_t deltas[] = {1, -1, 5, std::numeric_limits<std::int64_t>::max(),
                                          std::numeric_limits<std::int64_t>::min()};
    return deltas[pick(5)];
  }
  kv::txn transaction(bool writes) {
    kv::txn t;
    for (auto n = pick(3); n > 0; --n) {
      compare c;
      c.key = key();
      if (chance(20)) c.end = end(c.key);
      c.target = static_cast<compare_target>(pick(4));
      c.op = static_cast<compare_op>(pick(4));
      if (c.target == compare_target::value) {
        c.value = value();
      } else {
        c.number = pick(m.revision + 2);
      }
      t.compares.push_back(std::move(c));
    }
    for (auto n = 1 + pick(3); n > 0; --n) t.then_ops.push_back(op(writes));
    for (auto n = pick(3); n > 0; --n) t.else_ops.push_back(op(writes));
    return t;
  }
};

// ---- checks ----------------------------------------------------------------------------------

std::string describe(const txn_reply& r) {
  std::string s = fmt::format("rev {} {} [", r.revision, r.succeeded ? "then" : "else");
  for (const auto& o : r.results) {
    s += fmt::format(" {}(count {} more {} value {} kvs", to_string(o.type), o.count, o.more, o.value);
    for (const auto& kv : o.kvs) {
      s += fmt::format(" {}={}@{}/{}/{}", kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version);
    }
    s += ")";
  }
  return s + " ]";
}

bool same(const txn_reply& a, const txn_reply& b) {
  if (a.revision != b.revision || a.succeeded != b.succeeded || a.results.size() != b.results.size()) return false;
  for (std::size_t i = 0; i < a.results.size(); ++i) {
    const auto& x = a.results[i];
    const auto& y = b.results[i];
    if (x.type != y.type || x.kvs != y.kvs || x.count != y.count || x.more != y.more || x.value != y.value) {
      return false;
    }
  }
  return true;
}

// Every version readable at every readable revision, as the state machine and the model see it.
std::string dump(const state_machine& sm) {
  std::string s = fmt::format("rev {} compacted {} clock {}\n", sm.revision(), sm.compacted_revision(), sm.clock());
  for (auto rev = sm.compacted_revision(); rev <= sm.revision(); ++rev) {
    range_options o;
    o.revision = rev;
    auto a = sm.keys().range(key_range{std::string_view("\0", 1), std::string_view("\0", 1)}, o);
    if (!a) return s + "error " + a.message();
    for (const auto& kv : a->kvs) {
      s += fmt::format("{}: {}={}@{}/{}/{} expires {}\n", rev, kv.key, kv.value, kv.create_revision, kv.mod_revision,
                       kv.version, kv.expires);
    }
  }
  return s;
}

std::string dump(const model& m) {
  std::string s = fmt::format("rev {} compacted {} clock {}\n", m.revision, m.compacted, m.clock);
  for (auto rev = m.compacted; rev <= m.revision; ++rev) {
    for (const auto& [k, v] : m.live(std::string_view("\0", 1), std::string_view("\0", 1), rev)) {
      s += fmt::format("{}: {}={}@{}/{}/{} expires {}\n", rev, k, v.value, v.create, v.mod, v.version, v.expires);
    }
  }
  return s;
}

// A snapshot of `sm` through the snapshot file's codec, with `during` run between capture steps
// (writes going on while the snapshot is written).
std::string snapshot_of(state_machine& sm, const std::function<void()>& during) {
  std::string out = snapshot::encode_header(sm.applied_index(), 1, sm.key_count());
  std::uint64_t pairs = 0;
  std::uint64_t chunks = 0;
  std::string body;
  sm.begin_capture([&](state_machine::chunk c) {
    pairs += c.count;
    ++chunks;
    body += snapshot::encode_chunk(c);
  });
  out += snapshot::encode_revisions(sm.capture_revision(), sm.capture_compacted(), sm.capture_clock());
  while (sm.capture_step()) during();
  out += body;
  out += snapshot::encode_footer(pairs, chunks);
  return out;
}

// What the runs exercised, so that a generator that stopped producing TTLs fails the test.
struct coverage {
  std::uint64_t expired = 0;     // keys an expire command deleted
  std::uint64_t ttl_left = 0;    // ttl answers with time left
  std::uint64_t restored_expiry = 0;  // snapshots restored holding a key with a TTL
  std::uint64_t incr_kept_ttl = 0;    // plain incrs of a key with a TTL
  std::uint64_t incr_refused = 0;     // plain incrs refused (not an integer, an overflow)
};
coverage covered;

void run_seed(std::uint64_t seed, int steps) {
  model m;
  state_machine sm;
  generator gen{std::mt19937_64(seed), m};
  std::map<std::string, std::string> followed;  // what the changes (and plain commands) say the live keys are
  std::vector<std::string> log;                 // every command applied, in index order
  std::string reply;
  change_list changes;
  int refused_at_admission = 0;

  auto apply = [&](const std::string& bytes) {
    log.push_back(bytes);
    auto cmd = decode_command(bytes);
    BOOST_REQUIRE(cmd.ok());
    changes.clear();
    reply.clear();
    return sm.apply(sm.applied_index() + 1, *cmd, &reply, &changes);
  };
  auto follow = [&](const command_view& c) {
    if (c.type == command_type::set) followed[std::string(c.key)] = c.value;
    if (c.type == command_type::del) followed.erase(std::string(c.key));
    if (c.type == command_type::changes) {
      c.for_each_change([&](bool deleted, std::string_view k, std::string_view v) {
        if (deleted) {
          followed.erase(std::string(k));
        } else {
          followed[std::string(k)] = v;
        }
      });
    }
  };

  std::uint64_t now = 1;  // the leader's clock: stamps never go backwards
  auto step = [&](int i) {
    const auto what = gen.pick(100);
    auto context = [&] { return fmt::format("seed {} step {}", seed, i); };
    now += gen.pick(30);
    if (what < 6) {  // the leader deletes keys it found due, some of them rewritten since
      std::vector<std::string> names;
      const auto& ks = sm.keys();
      for (auto k : ks.due(now, 1 + gen.pick(4))) names.emplace_back(k);
      if (gen.chance(30)) names.push_back(gen.key());  // not due, or absent: must stay
      std::vector<std::string_view> views(names.begin(), names.end());
      // due() is every live key expiring by `now`, earliest first: check it against the model.
      std::vector<std::pair<std::uint64_t, std::string>> want_due;
      for (const auto& [k, v] : m.live(std::string_view("\0", 1), std::string_view("\0", 1), m.revision)) {
        if (v.expires != 0 && v.expires <= now) want_due.emplace_back(v.expires, k);
      }
      BOOST_REQUIRE_MESSAGE(ks.due(now, 1000).size() == want_due.size(), context() << ": due keys differ");
      BOOST_REQUIRE_MESSAGE(ks.expiring_keys() == [&] {
        std::size_t n = 0;
        for (const auto& [k, v] : m.live(std::string_view("\0", 1), std::string_view("\0", 1), m.revision)) n += v.expires != 0;
        return n;
      }(), context() << ": expiring key count differs");
      BOOST_REQUIRE_MESSAGE(apply(encode_expire(now, views)) == errc::ok, context());
      m.clock = std::max(m.clock, now);
      m.writing = true;
      m.changed = false;
      std::uint64_t deleted = 0;
      for (const auto& k : names) {
        auto cur = m.current(k);
        if (cur == nullptr || cur->expires == 0 || cur->expires > now) continue;
        m.erase(k, {});
        ++deleted;
      }
      if (m.changed) ++m.revision;
      m.writing = false;
      covered.expired += deleted;
      BOOST_REQUIRE_MESSAGE(reply.size() == 16 && get_fixed<std::uint64_t>(reply.data()) == m.revision &&
                                get_fixed<std::uint64_t>(reply.data() + 8) == deleted,
                            context() << ": expire's answer");
      if (!changes.empty()) follow(*decode_command(changes.command()));
    } else if (what < 10) {  // a plain set
      auto k = gen.key();
      auto v = gen.value();
      BOOST_REQUIRE_MESSAGE(apply(encode_set(k, v)) == errc::ok, context());
      m.writing = true;
      m.put(k, v);
      m.writing = false;
      ++m.revision;
      follow(*decode_command(log.back()));
    } else if (what < 15) {  // a plain del
      auto k = gen.key();
      auto code = apply(encode_del(k));
      m.writing = true;
      m.changed = false;
      auto gone = m.erase(k, {});
      if (m.changed) ++m.revision;
      m.writing = false;
      BOOST_REQUIRE_MESSAGE((code == (gone.empty() ? errc::not_found : errc::ok)), context());
      follow(*decode_command(log.back()));
    } else if (what < 20) {  // a plain incr: the model's answer is a transaction of one incr op's
      auto k = gen.key();
      const auto delta = gen.delta();
      auto code = apply(encode_incr(k, delta));
      kv::txn t;
      t.then_ops.push_back(make_incr(k, delta));
      auto one = encode_txn(t);
      auto want = model_txn(m, *decode_txn(one), true, 0);
      BOOST_REQUIRE_MESSAGE((code == want.code), context() << ": incr " << k << " by " << delta << ": code "
                                                            << static_cast<int>(code) << " (" << reply << ")");
      if (code != errc::ok) {
        ++covered.incr_refused;
        BOOST_REQUIRE_MESSAGE(changes.empty(), context() << ": a refused incr reported changes");
        return;
      }
      const auto value = want.reply.results.at(0).value;
      BOOST_REQUIRE_MESSAGE(reply.size() == 16 && get_fixed<std::uint64_t>(reply.data()) == want.reply.revision &&
                                get_fixed<std::int64_t>(reply.data() + 8) == value,
                            context() << ": incr's answer");
      covered.incr_kept_ttl += m.current(k)->expires != 0;
      follow(*decode_command(changes.command()));
    } else if (what < 24) {  // compact
      auto rev = gen.pick(m.revision + 2);
      auto code = apply(encode_compact(rev));
      errc want = rev <= m.compacted ? errc::compacted : rev > m.revision ? errc::future_revision : errc::ok;
      BOOST_REQUIRE_MESSAGE((code == want), context() << ": compact " << rev << " gave " << static_cast<int>(code));
      if (want == errc::ok) m.compacted = rev;
    } else {  // a transaction: a write, or (a third of them) a read
      const bool writes = gen.pick(3) != 0;
      auto t = gen.transaction(writes);
      auto bytes = encode_txn(t);
      auto view = decode_txn(bytes);
      BOOST_REQUIRE_MESSAGE(view.has_value(), context() << ": encoded txn does not decode");
      txn_limits limits;
      limits.max_ops = 4;
      if (check_txn(*view, limits).code) {
        ++refused_at_admission;
        return;
      }
      errc code;
      // The leader stamps what needs its clock; a reader passes its own estimate.
      const std::uint64_t stamp = uses_clock(*view) || gen.chance(20) ? now : 0;
      if (writes) {
        code = apply(encode_txn_command(bytes, stamp));
      } else {
        code = sm.read(*view, reply, stamp);
      }
      auto want = model_txn(m, *view, writes, stamp);
      BOOST_REQUIRE_MESSAGE((code == want.code), context() << ": code " << static_cast<int>(code) << " want "
                                                            << static_cast<int>(want.code) << " (" << reply << ")");
      if (code != errc::ok) return;
      auto got = decode_reply(reply);
      BOOST_REQUIRE_MESSAGE(got.has_value(), context() << ": reply does not decode");
      BOOST_REQUIRE_MESSAGE(same(*got, want.reply),
                            context() << "\n got  " << describe(*got) << "\n want " << describe(want.reply));
      if (writes && !changes.empty()) follow(*decode_command(changes.command()));
      for (const auto& r : got->results) covered.ttl_left += r.type == txn_op_type::ttl && r.value > 0;
    }
  };

  for (int i = 0; i < steps; ++i) {
    if (gen.chance(3) && !sm.capturing()) {
      // A snapshot while writes go on, restored and caught up by replaying the log after it.
      const auto from = log.size();
      int during_step = i;
      auto bytes = snapshot_of(sm, [&] {
        if (gen.chance(50)) step(++during_step);
      });
      state_machine restored;
      snapshot::decode(bytes, "snap", restored);
      for (std::size_t j = from; j < log.size(); ++j) {
        auto cmd = decode_command(log[j]);
        restored.apply(restored.applied_index() + 1, *cmd);
      }
      BOOST_REQUIRE_MESSAGE(dump(restored) == dump(sm), "seed " << seed << ": restored state differs");
      covered.restored_expiry += restored.keys().expiring_keys() != 0;
      sm = std::move(restored);
      i = during_step;
      continue;
    }
    step(i);
  }
  BOOST_REQUIRE_MESSAGE(dump(sm) == dump(m), "seed " << seed << ": final state differs\n"
                                                     << dump(sm) << "--- model\n" << dump(m));
  std::map<std::string, std::string> live;
  for (const auto& [k, v] : m.live(std::string_view("\0", 1), std::string_view("\0", 1), m.revision)) {
    live[k] = v.value;
  }
  BOOST_REQUIRE_MESSAGE(followed == live, "seed " << seed << ": the changes do not rebuild the live keys");
  BOOST_TEST(refused_at_admission < steps);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(txn_model)

BOOST_AUTO_TEST_CASE(random_transactions_match_the_model) {
  kv::test::for_each_seed("KV_TXN_SEED", "KV_TXN_SEEDS", 2000, [](std::uint64_t seed) { run_seed(seed, 600); });
  BOOST_TEST_MESSAGE("expired " << covered.expired << ", ttl answers with time left " << covered.ttl_left
                                << ", snapshots restored with TTLs " << covered.restored_expiry
                                << ", plain incrs keeping a TTL " << covered.incr_kept_ttl << ", refused "
                                << covered.incr_refused);
  BOOST_TEST(covered.expired > 0);
  BOOST_TEST(covered.ttl_left > 0);
  BOOST_TEST(covered.restored_expiry > 0);
  BOOST_TEST(covered.incr_kept_ttl > 0);
  BOOST_TEST(covered.incr_refused > 0);
}

BOOST_AUTO_TEST_SUITE_END()

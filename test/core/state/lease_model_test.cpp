// Leases in the state machine against a plain reference: random grants (named and automatic
// ids, bad TTLs), revokes, checkpoints, and writes of every kind (set, del, bulk_set, txn puts with
// and without a lease, delete-ranges, incr, puts naming a lease that does not exist). After each
// command the answer, the live keys and the whole lease table (ids, TTLs, checkpoints, keys) must
// match the reference; a revoke must delete exactly its lease's keys in one revision and report
// them as changes; and the state, through a snapshot's codec, must restore to the same leases.
// KV_LEASE_SEED=N replays one seed; KV_LEASE_SEEDS=N runs seeds 1..N (default 500).

#include "core/base/bytes.hpp"
#include "core/model/command.hpp"
#include "core/model/txn.hpp"
#include "core/snapshot/snapshot.hpp"
#include "core/state/state_machine.hpp"
#include "support/seeds.hpp"

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace kv;

namespace {

struct ref_lease {
  std::int64_t ttl = 0;
  std::int64_t remaining = 0;
  std::set<std::string> keys;
};

struct reference {
  std::map<std::string, std::string> live;
  std::map<std::string, std::uint64_t> key_lease;
  std::map<std::uint64_t, ref_lease> leases;
  std::uint64_t next_id = 1;
  std::uint64_t revision = 1;

  void detach(const std::string& k) {
    auto it = key_lease.find(k);
    if (it == key_lease.end()) return;
    leases[it->second].keys.erase(k);
    key_lease.erase(it);
  }
  void attach(const std::string& k, std::uint64_t id) {
    detach(k);
    if (id == 0) return;
    key_lease[k] = id;
    leases[id].keys.insert(k);
  }
};

std::string key_name(std::mt19937_64& rng) { return fmt::format("k{}", rng() % 24); }

// The lease table as the reference sees it, for comparison and messages.
std::string describe(const std::map<std::uint64_t, ref_lease>& leases) {
  std::string out;
  for (const auto& [id, l] : leases) {
    out += fmt::format("{}(ttl {}, left {}):", id, l.ttl, l.remaining);
    for (const auto& k : l.keys) out += " " + k;
    out += "; ";
  }
  return out;
}

std::string describe(const lease_table& t) {
  std::map<std::uint64_t, ref_lease> leases;
  for (const auto& [id, l] : t.leases()) {
    ref_lease r;
    r.ttl = l.ttl_seconds;
    r.remaining = l.remaining_ms;
    r.keys.insert(l.keys.begin(), l.keys.end());
    leases[id] = r;
  }
  return describe(leases);
}

// The state through the snapshot file's codec, restored into a fresh state machine.
void check_snapshot_round_trip(state_machine& sm, const reference& ref) {
  std::string body;
  std::uint64_t pairs = 0;
  std::uint64_t chunks = 0;
  std::string out = snapshot::encode_header(sm.applied_index(), 1, sm.key_count());
  sm.begin_capture([&](state_machine::chunk c) {
    pairs += c.count;
    ++chunks;
    body += snapshot::encode_chunk(c);
  });
  out += snapshot::encode_revisions(sm.capture_revision(), sm.capture_compacted(), sm.capture_clock());
  while (sm.capture_step()) {
  }
  out += body;
  if (!sm.leases().empty()) out += snapshot::encode_leases(sm.leases().encode());
  out += snapshot::encode_footer(pairs, chunks);
  state_machine restored;
  snapshot::decode(out, "snap", restored);
  BOOST_REQUIRE_EQUAL(describe(restored.leases()), describe(ref.leases));
  for (const auto& [k, id] : ref.key_lease) BOOST_REQUIRE_EQUAL(restored.leases().lease_of(k), id);
}

void run_seed(std::uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  state_machine sm;
  reference ref;
  std::uint64_t index = 0;
  std::string reply;
  change_list changes;
  auto apply = [&](const std::string& command) {
    auto cmd = decode_command(command);
    BOOST_REQUIRE(cmd.ok());
    reply.clear();
    changes.clear();
    return sm.apply(++index, *cmd, &reply, &changes);
  };
  auto some_lease = [&]() -> std::uint64_t {
    if (ref.leases.empty() || rng() % 8 == 0) return 1 + rng() % (ref.next_id + 2);  // maybe absent
    auto it = ref.leases.begin();
    std::advance(it, static_cast<long>(rng() % ref.leases.size()));
    return it->first;
  };
  for (int step = 0; step < steps; ++step) {
    BOOST_TEST_CONTEXT("seed " << seed << " step " << step) {
      const auto what = rng() % 12;
      if (what == 0) {  // grant
        std::uint64_t id = rng() % 3 == 0 ? 1 + rng() % 12 : 0;
        std::int64_t ttl = rng() % 10 == 0 ? 0 : static_cast<std::int64_t>(1 + rng() % 100);
        auto e = apply(encode_lease_grant(id, ttl));
        const bool refused = ttl < 1 || (id != 0 && ref.leases.contains(id));
        BOOST_REQUIRE_EQUAL(e == errc::bad_request, refused);
        if (refused) continue;
        BOOST_REQUIRE((e == errc::ok));
        if (id == 0) id = ref.next_id;
        BOOST_REQUIRE_EQUAL(get_fixed<std::uint64_t>(reply.data()), id);
        ref.leases[id].ttl = ttl;
        ref.next_id = std::max(ref.next_id, id + 1);
      } else if (what == 1) {  // revoke
        const auto id = some_lease();
        auto e = apply(encode_lease_revoke(id));
        auto it = ref.leases.find(id);
        BOOST_REQUIRE_EQUAL(e == errc::not_found, it == ref.leases.end());
        if (it == ref.leases.end()) continue;
        std::set<std::string> deleted;
        auto cmd = decode_command(changes.command());
        if (!it->second.keys.empty()) {
          BOOST_REQUIRE(cmd.ok());
          cmd->for_each_change([&](bool d, std::string_view k, std::string_view) {
            BOOST_REQUIRE(d);
            deleted.emplace(k);
          });
          ++ref.revision;
        }
        BOOST_REQUIRE(deleted == it->second.keys);
        BOOST_REQUIRE_EQUAL(get_fixed<std::uint64_t>(reply.data()), ref.revision);
        for (const auto& k : it->second.keys) {
          ref.live.erase(k);
          ref.key_lease.erase(k);
        }
        ref.leases.erase(it);
      } else if (what == 2) {  // checkpoint
        const auto id = some_lease();
        const auto left = static_cast<std::int64_t>(rng() % 5000);
        lease_remaining c;
        c.id = id;
        c.remaining_ms = left;
        BOOST_REQUIRE((apply(encode_lease_checkpoint(std::span(&c, 1))) == errc::ok));
        if (auto it = ref.leases.find(id); it != ref.leases.end()) it->second.remaining = left;
      } else if (what <= 5) {  // a put in a txn, with a lease or not
        const auto k = key_name(rng);
        const auto id = rng() % 3 == 0 ? 0 : some_lease();
        txn t;
        t.then_ops.push_back(make_put(k, "v", false, id));
        auto e = apply(encode_txn_command(encode_txn(t)));
        if (id != 0 && !ref.leases.contains(id)) {
          BOOST_REQUIRE((e == errc::not_found));
          BOOST_REQUIRE(reply.find(fmt::format("lease {} not found", id)) != std::string::npos);
          continue;
        }
        BOOST_REQUIRE((e == errc::ok));
        ref.live[k] = "v";
        ref.attach(k, id);
        ++ref.revision;
      } else if (what == 6) {  // set
        const auto k = key_name(rng);
        BOOST_REQUIRE((apply(encode_set(k, "s")) == errc::ok));
        ref.live[k] = "s";
        ref.detach(k);
        ++ref.revision;
      } else if (what == 7) {  // del
        const auto k = key_name(rng);
        auto e = apply(encode_del(k));
        BOOST_REQUIRE_EQUAL(e == errc::not_found, !ref.live.contains(k));
        if (ref.live.erase(k) != 0) ++ref.revision;
        ref.detach(k);
      } else if (what == 8) {  // bulk_set
        std::vector<kv_pair> pairs;
        for (int i = 0; i < 3; ++i) {
          kv_pair p;
          p.key = key_name(rng);
          p.value = "b";
          pairs.push_back(p);
        }
        BOOST_REQUIRE((apply(encode_bulk_set(pairs)) == errc::ok));
        for (const auto& p : pairs) {
          ref.live[p.key] = "b";
          ref.detach(p.key);
        }
        ++ref.revision;
      } else if (what == 9) {  // delete-range
        auto a = key_name(rng);
        auto b = key_name(rng);
        if (b < a) std::swap(a, b);
        txn t;
        t.then_ops.push_back(make_delete_range(a, b));
        BOOST_REQUIRE((apply(encode_txn_command(encode_txn(t))) == errc::ok));
        bool any = false;
        for (auto it = ref.live.lower_bound(a); it != ref.live.end() && it->first < b;) {
          ref.detach(it->first);
          it = ref.live.erase(it);
          any = true;
        }
        if (any) ++ref.revision;
      } else if (what == 10) {  // incr
        const auto k = key_name(rng);
        txn t;
        t.then_ops.push_back(make_incr(k, 1));
        auto e = apply(encode_txn_command(encode_txn(t)));
        auto it = ref.live.find(k);
        const bool counter = it == ref.live.end() || parse_int64(it->second).has_value();
        BOOST_REQUIRE_EQUAL(e == errc::ok, counter);
        if (!counter) continue;
        ref.live[k] = std::to_string((it == ref.live.end() ? 0 : *parse_int64(it->second)) + 1);
        ref.detach(k);
        ++ref.revision;
      } else {
        check_snapshot_round_trip(sm, ref);
      }
      BOOST_REQUIRE_EQUAL(sm.revision(), ref.revision);
      BOOST_REQUIRE_EQUAL(describe(sm.leases()), describe(ref.leases));
      BOOST_REQUIRE_EQUAL(sm.leases().attached_keys(), ref.key_lease.size());
      BOOST_REQUIRE_EQUAL(sm.key_count(), ref.live.size());
      for (const auto& [k, v] : ref.live) BOOST_REQUIRE_EQUAL(sm.get(k).value_or("<absent>"), v);
    }
  }
  check_snapshot_round_trip(sm, ref);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lease_model)

BOOST_AUTO_TEST_CASE(leases_match_a_reference_through_every_kind_of_write) {
  kv::test::for_each_seed("KV_LEASE_SEED", "KV_LEASE_SEEDS", 500, [](std::uint64_t seed) { run_seed(seed, 300); });
}

BOOST_AUTO_TEST_CASE(a_malformed_lease_table_is_refused) {
  lease_table t;
  BOOST_REQUIRE(t.grant(5, 10).ok());
  t.attach("a", 5);
  auto bytes = t.encode();
  lease_table back;
  BOOST_REQUIRE(back.decode(bytes));
  BOOST_TEST(back.lease_of("a") == 5u);
  for (std::size_t n = 0; n < bytes.size(); ++n) BOOST_TEST(!back.decode(std::string_view(bytes).substr(0, n)));
  BOOST_TEST(back.lease_of("a") == 5u);  // a refused table changes nothing
  // A key in two leases.
  BOOST_REQUIRE(t.grant(6, 10).ok());
  auto two = t.encode();
  auto at = two.rfind(std::string("\x00\x00\x00\x00", 4));  // lease 6's key count, last
  BOOST_REQUIRE(at != std::string::npos);
  two.replace(at, 4, std::string("\x01\x00\x00\x00\x01\x00\x00\x00" "a", 9));
  BOOST_TEST(!back.decode(two));
}

BOOST_AUTO_TEST_SUITE_END()

#include "fault/linearizability_workloads.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <random>

namespace kv::test {

namespace {

using namespace std::chrono_literals;

// `endpoints` rotated so that the one of member `first` (1-based) comes first.
std::vector<std::string> rotated(std::vector<std::string> endpoints, std::size_t first) {
  std::rotate(endpoints.begin(), endpoints.begin() + static_cast<long>((first - 1) % endpoints.size()),
              endpoints.end());
  return endpoints;
}

client::options options_for(const client_context& c) {
  client::options o;
  o.endpoints = rotated(c.endpoints, c.home);
  o.request_timeout = c.settings.request_timeout;
  o.connect_timeout = 300ms;
  o.leader_wait = c.settings.leader_wait;
  return o;
}

client::options writer_options(const client_context& c) {
  auto o = options_for(c);
  o.exactly_once = c.id % 2 == 0;
  return o;
}

// The reads of one client: through a client preferring its home node, made anew every 50 reads
// so that reads keep landing on followers after a failover.
class reader_client {
 public:
  reader_client(asio::any_io_executor ex, client::options o) : ex_(std::move(ex)), options_(std::move(o)) {}
  ~reader_client() { close(); }
  reader_client(const reader_client&) = delete;
  reader_client& operator=(const reader_client&) = delete;

  client& next() {
    if (!client_ || ++reads_ % 50 == 0) client_.emplace(ex_, options_);
    return *client_;
  }
  void close() {
    if (client_) client_->close();
  }

 private:
  asio::any_io_executor ex_;
  client::options options_;
  std::optional<client> client_;
  int reads_ = 0;
};

void count(client_stats& stats, const operation& o) {
  ++(o.outcome == op_outcome::ok ? stats.ok : o.outcome == op_outcome::failed ? stats.failed : stats.unknown);
  if (o.kind == op_kind::txn && o.outcome == op_outcome::ok && !o.guards.empty()) {
    ++(o.succeeded ? stats.succeeded : stats.guards_failed);
  }
}

std::optional<std::string> value_of(const op_result& range) {
  if (range.kvs.empty()) return std::nullopt;
  return range.kvs.front().value;
}

// ---- compare-and-set ------------------------------------------------------------------------

// cas(key, expected -> value), reading the key when it fails.
kv::txn cas_txn(const std::string& key, const std::optional<std::string>& expected, const std::string& value) {
  kv::txn t;
  compare c;
  c.key = key;
  if (expected) {
    c.target = compare_target::value;
    c.value = *expected;
  } else {
    c.target = compare_target::version;
    c.number = 0;
  }
  t.compares.push_back(c);
  t.then_ops.push_back(make_put(key, value));
  t.else_ops.push_back(make_range(key));
  return t;
}

std::size_t invoke_cas(history_recorder& h, int client_id, const std::string& key,
                       const std::optional<std::string>& expected, const std::string& value) {
  std::vector<key_state> guards{{key, expected}};
  std::vector<key_state> writes{{key, value}};
  return h.invoke_txn(client_id, std::move(guards), std::move(writes), {key});
}

// ---- transfers --------------------------------------------------------------------------------

std::int64_t balance_of(const std::string& value) {
  std::int64_t b = 0;
  std::from_chars(value.data(), value.data() + value.size(), b);
  return b;
}

// A transfer planned from an mget of `keys`: moves `amount` from the first key to the last,
// and rewrites the middle one (if any) with a new tag, all guarded by what the mget read.
struct transfer {
  kv::txn t;
  std::vector<key_state> guards;
  std::vector<key_state> writes;
};

transfer plan_transfer(const std::vector<std::string>& keys, const txn_reply& read, std::int64_t amount,
                       bool on_mod_revision, const std::string& tag) {
  transfer out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& kvs = read.results[i].kvs;
    compare c;
    c.key = keys[i];
    if (kvs.empty()) {
      c.target = compare_target::version;  // absent
    } else if (on_mod_revision) {
      c.target = compare_target::mod_revision;
      c.number = kvs.front().mod_revision;
    } else {
      c.target = compare_target::value;
      c.value = kvs.front().value;
    }
    out.t.compares.push_back(c);
    out.guards.push_back({keys[i], value_of(read.results[i])});
    std::int64_t balance = kvs.empty() ? 0 : balance_of(kvs.front().value);
    if (i == 0) balance -= amount;
    if (i + 1 == keys.size()) balance += amount;
    auto value = fmt::format("{} {}", balance, tag);
    out.t.then_ops.push_back(make_put(keys[i], value));
    out.t.else_ops.push_back(make_range(keys[i]));
    out.writes.push_back({keys[i], std::move(value)});
  }
  return out;
}

std::size_t invoke_mget(history_recorder& h, int client_id, const std::vector<std::string>& keys) {
  return h.invoke_txn(client_id, std::vector<key_state>(), std::vector<key_state>(), keys);
}

kv::txn mget_txn(const std::vector<std::string>& keys) {
  kv::txn t;
  for (const auto& k : keys) t.then_ops.push_back(make_range(k));
  return t;
}

// Two distinct accounts, or (one time in four) all three in a random order.
std::vector<std::string> pick_accounts(std::mt19937_64& rng, const workload_settings& s) {
  auto all = accounts(s);
  std::shuffle(all.begin(), all.end(), rng);
  if (all.size() > 2 && std::bernoulli_distribution(0.25)(rng)) all.resize(3);
  else all.resize(std::min<std::size_t>(all.size(), 2));
  return all;
}

// Every account created with the opening balance, if none exists.
transfer opening(const workload_settings& s) {
  transfer out;
  for (const auto& key : accounts(s)) {
    compare c;
    c.key = key;
    c.target = compare_target::version;
    out.t.compares.push_back(c);
    auto value = fmt::format("{} open", s.opening_balance);
    out.t.then_ops.push_back(make_put(key, value));
    out.guards.push_back({key, std::nullopt});
    out.writes.push_back({key, std::move(value)});
  }
  return out;
}

// The kvs of every range result of `r`.
std::vector<kv_version> kvs_of(const txn_reply& r) {
  std::vector<kv_version> out;
  for (const auto& res : r.results) {
    if (res.type == txn_op_type::range) out.insert(out.end(), res.kvs.begin(), res.kvs.end());
  }
  return out;
}

}  // namespace

void client_stats::add(const client_stats& other) {
  ok += other.ok;
  failed += other.failed;
  unknown += other.unknown;
  succeeded += other.succeeded;
  guards_failed += other.guards_failed;
  for (const auto& [endpoint, n] : other.reads_by_endpoint) reads_by_endpoint[endpoint] += n;
}

void transfer_audit::problem(const std::string& what) {
  if (++problem_count_ <= 10) problems_ += what + "\n";
}

void transfer_audit::saw(const std::vector<kv_version>& kvs, const std::string& where) {
  for (const auto& kv : kvs) {
    auto [at, fresh] = value_at_.emplace(std::make_pair(kv.key, kv.mod_revision), kv.value);
    if (!fresh && at->second != kv.value) {
      problem(fmt::format("{}: {} at mod_revision {} holds \"{}\", earlier \"{}\"", where, kv.key, kv.mod_revision,
                          kv.value, at->second));
    }
    auto [rev, first] = revision_of_.emplace(std::make_pair(kv.key, kv.value), kv.mod_revision);
    if (!first && rev->second != kv.mod_revision) {
      problem(fmt::format("{}: {} = \"{}\" has mod_revision {}, earlier {} (written twice?)", where, kv.key, kv.value,
                          kv.mod_revision, rev->second));
    }
  }
}

void transfer_audit::saw_every_account(const std::vector<kv_version>& kvs, std::size_t accounts,
                                       const std::string& where) {
  ++audits_;
  std::int64_t sum = 0;
  for (const auto& kv : kvs) sum += balance_of(kv.value);
  if (kvs.size() != accounts || sum != total_) {
    std::string found;
    for (const auto& kv : kvs) found += fmt::format(" {}=\"{}\"", kv.key, kv.value);
    problem(fmt::format("{}: {} accounts adding up to {}, not {}:{}", where, kvs.size(), sum, total_, found));
  }
}

std::string register_key(int k) { return fmt::format("k{}", k); }
std::string cas_key(int k) { return fmt::format("c{}", k); }
std::string account_key(int k) { return fmt::format("a{}", k); }

std::vector<std::string> accounts(const workload_settings& s) {
  std::vector<std::string> out;
  for (int k = 0; k < s.keys; ++k) out.push_back(account_key(k));
  return out;
}

asio::awaitable<void> run_register_client(client_context c) {
  auto ex = co_await asio::this_coro::executor;
  std::mt19937_64 rng(c.seed);
  auto& h = *c.history;
  client writer(ex, writer_options(c));
  reader_client reader(ex, options_for(c));
  for (int n = 0; !*c.stop; ++n) {
    auto key = register_key(std::uniform_int_distribution<int>(0, c.settings.keys - 1)(rng));
    const int dice = std::uniform_int_distribution<int>(0, 99)(rng);
    std::size_t op = 0;
    if (dice < 45) {
      auto value = fmt::format("c{}-{}", c.id, n);
      op = h.invoke(c.id, op_kind::set, key, value);
      h.complete_write(op, co_await writer.set(key, value));
    } else if (dice < 50) {
      op = h.invoke(c.id, op_kind::del, key);
      h.complete_write(op, co_await writer.del(key));
    } else {
      auto& r = reader.next();
      op = h.invoke(c.id, op_kind::get, key);
      auto answer = co_await r.get(key);
      h.complete_get(op, answer);
      if (answer || answer.is(errc::not_found)) ++c.stats->reads_by_endpoint[r.endpoint()];
    }
    count(*c.stats, h.ops()[op]);
  }
  writer.close();
  reader.close();
}

asio::awaitable<void> run_cas_client(client_context c) {
  auto ex = co_await asio::this_coro::executor;
  std::mt19937_64 rng(c.seed);
  auto& h = *c.history;
  client writer(ex, writer_options(c));
  reader_client reader(ex, options_for(c));
  std::map<std::string, std::optional<std::string>> last;  // what this client saw last, by key
  for (int n = 0; !*c.stop; ++n) {
    auto key = cas_key(std::uniform_int_distribution<int>(0, c.settings.keys - 1)(rng));
    const int dice = std::uniform_int_distribution<int>(0, 99)(rng);
    auto value = fmt::format("c{}-{}", c.id, n);
    std::size_t op = 0;
    if (dice < 35) {
      auto& r = reader.next();
      op = h.invoke(c.id, op_kind::get, key);
      auto answer = co_await r.get(key);
      h.complete_get(op, answer);
      if (answer || answer.is(errc::not_found)) {
        ++c.stats->reads_by_endpoint[r.endpoint()];
        last[key] = answer ? std::optional<std::string>(*answer) : std::nullopt;
      }
    } else if (dice < 80) {
      op = invoke_cas(h, c.id, key, last[key], value);
      h.complete_txn(op, co_await writer.txn(cas_txn(key, last[key], value)));
      const auto& o = h.ops()[op];
      if (o.outcome == op_outcome::ok) last[key] = o.succeeded ? std::optional<std::string>(value) : o.reads.at(0).value;
    } else if (dice < 95) {
      op = h.invoke(c.id, op_kind::set, key, value);
      h.complete_write(op, co_await writer.set(key, value));
      if (h.ops()[op].outcome == op_outcome::ok) last[key] = value;
    } else {
      op = h.invoke(c.id, op_kind::del, key);
      h.complete_write(op, co_await writer.del(key));
      if (h.ops()[op].outcome == op_outcome::ok) last[key] = std::nullopt;
    }
    count(*c.stats, h.ops()[op]);
  }
  writer.close();
  reader.close();
}

asio::awaitable<void> run_transfer_client(client_context c) {
  auto ex = co_await asio::this_coro::executor;
  std::mt19937_64 rng(c.seed);
  auto& h = *c.history;
  auto& audit = *c.audit;
  client writer(ex, writer_options(c));
  reader_client reader(ex, options_for(c));
  for (int n = 0; !*c.stop; ++n) {
    const bool audit_all = std::uniform_int_distribution<int>(0, 99)(rng) < 30;
    const auto keys = audit_all ? accounts(c.settings) : pick_accounts(rng, c.settings);
    const auto amount = std::uniform_int_distribution<std::int64_t>(1, 20)(rng);
    auto& r = reader.next();
    auto op = invoke_mget(h, c.id, keys);
    auto read = co_await r.txn(mget_txn(keys));
    h.complete_txn(op, read);
    count(*c.stats, h.ops()[op]);
    if (!read) continue;
    ++c.stats->reads_by_endpoint[r.endpoint()];
    const auto where = fmt::format("#{} client {}", op, c.id);
    audit.saw(kvs_of(*read), where);
    if (audit_all) {
      audit.saw_every_account(kvs_of(*read), keys.size(), where);
      continue;
    }
    auto plan = plan_transfer(keys, *read, amount, n % 2 == 0, fmt::format("c{}-{}", c.id, n));
    op = h.invoke_txn(c.id, plan.guards, plan.writes, keys);
    auto answer = co_await writer.txn(std::move(plan.t));
    h.complete_txn(op, answer);
    count(*c.stats, h.ops()[op]);
    if (answer) audit.saw(kvs_of(*answer), fmt::format("#{} client {}", op, c.id));
  }
  writer.close();
  reader.close();
}

asio::awaitable<result<txn_reply>> open_accounts(client& writer, workload_settings s, history_recorder& h) {
  auto plan = opening(s);
  auto op = h.invoke_txn(-1, plan.guards, plan.writes);
  auto r = co_await writer.txn(std::move(plan.t));
  h.complete_txn(op, r);
  co_return r;
}

asio::awaitable<result<txn_reply>> read_accounts(client& reader, workload_settings s, int client_id,
                                                 history_recorder& h, transfer_audit& audit) {
  const auto keys = accounts(s);
  auto op = invoke_mget(h, client_id, keys);
  auto r = co_await reader.txn(mget_txn(keys));
  h.complete_txn(op, r);
  if (r) {
    const auto where = fmt::format("#{} client {}", op, client_id);
    audit.saw(kvs_of(*r), where);
    audit.saw_every_account(kvs_of(*r), keys.size(), where);
  }
  co_return r;
}

}  // namespace kv::test

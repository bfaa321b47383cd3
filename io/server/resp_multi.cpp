#include "io/server/resp_multi.hpp"

#include "io/server/resp_commands.hpp"

#include "core/model/txn.hpp"
#include "io/server/server.hpp"
#include "raft/replica/store.hpp"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <memory>
#include <map>
#include <limits>
#include <variant>

namespace kv {

namespace {

using namespace resp_detail;
using args_t = std::span<const std::string_view>;
using kind = resp_connection::kind;

// One queued command as ops of the transaction, and how to answer it from their results.
struct planned {
  std::vector<txn_op> ops;
  std::function<void(resp::reply&, std::span<const op_result>)> answer;
};

void answer_value(resp::reply& r, const op_result& res) {
  if (res.kvs.empty()) return r.null();
  r.bulk(res.kvs.front().value);
}

// A queued TTL of `n` seconds (`seconds`) or milliseconds, cut to the longest TTL as outside
// MULTI; nullopt for a time not in the future or one whose milliseconds overflow (Redis's error).
std::optional<std::int64_t> ttl_ms_of(std::int64_t n, bool seconds) {
  if (n <= 0 || (seconds && n > std::numeric_limits<std::int64_t>::max() / 1000)) return std::nullopt;
  return std::min(seconds ? n * 1000 : n, max_ttl_ms);
}

std::int64_t sum_counts(std::span<const op_result> results) {
  std::int64_t n = 0;
  for (const auto& res : results) n += static_cast<std::int64_t>(res.count);
  return n;
}

// The plan of a command, or why it cannot be queued (a Redis error text).
std::variant<planned, std::string> plan(const std::vector<std::string>& a) {
  planned p;
  const auto& name = a[0];
  auto integer = [](const std::string& s) { return parse_int64(s); };
  if (is(name, "get") && a.size() == 2) {
    p.ops.push_back(make_range(a[1]));
    p.answer = [](resp::reply& r, std::span<const op_result> res) { answer_value(r, res[0]); };
  } else if (is(name, "set") && (a.size() == 3 || a.size() == 4 || a.size() == 5)) {
    if (a.size() == 3) {
      p.ops.push_back(make_put(a[1], a[2]));
    } else if (a.size() == 4 && is(a[3], "keepttl")) {
      auto op = make_put(a[1], a[2]);
      op.flags |= op_keep_ttl;
      p.ops.push_back(std::move(op));
    } else if (a.size() == 5 && (is(a[3], "ex") || is(a[3], "px"))) {
      auto n = integer(a[4]);
      if (!n) return std::string("ERR value is not an integer or out of range");
      auto ms = ttl_ms_of(*n, is(a[3], "ex"));
      if (!ms) return std::string("ERR invalid expire time in 'set' command");
      p.ops.push_back(make_put_ttl(a[1], a[2], *ms));
    } else {
      return std::string("ERR SET inside MULTI takes only EX, PX or KEEPTTL in kvnode");
    }
    p.answer = [](resp::reply& r, std::span<const op_result>) { r.simple("OK"); };
  } else if ((is(name, "del") || is(name, "unlink")) && a.size() >= 2) {
    for (std::size_t i = 1; i < a.size(); ++i) p.ops.push_back(make_delete_range(a[i]));
    p.answer = [](resp::reply& r, std::span<const op_result> res) { r.integer(sum_counts(res)); };
  } else if ((is(name, "incr") || is(name, "decr")) && a.size() == 2) {
    p.ops.push_back(make_incr(a[1], is(name, "incr") ? 1 : -1));
    p.answer = [](resp::reply& r, std::span<const op_result> res) { r.integer(res[0].value); };
  } else if ((is(name, "incrby") || is(name, "decrby")) && a.size() == 3) {
    auto n = integer(a[2]);
    if (!n || (is(name, "decrby") && *n == std::numeric_limits<std::int64_t>::min())) {
      return std::string("ERR value is not an integer or out of range");
    }
    p.ops.push_back(make_incr(a[1], is(name, "incrby") ? *n : -*n));
    p.answer = [](resp::reply& r, std::span<const op_result> res) { r.integer(res[0].value); };
  } else if (is(name, "mget") && a.size() >= 2) {
    for (std::size_t i = 1; i < a.size(); ++i) p.ops.push_back(make_range(a[i]));
    p.answer = [](resp::reply& r, std::span<const op_result> res) {
      r.array(res.size());
      for (const auto& x : res) answer_value(r, x);
    };
  } else if (is(name, "mset") && a.size() >= 3 && a.size() % 2 == 1) {
    for (std::size_t i = 1; i + 1 < a.size(); i += 2) p.ops.push_back(make_put(a[i], a[i + 1]));
    p.answer = [](resp::reply& r, std::span<const op_result>) { r.simple("OK"); };
  } else if (is(name, "exists") && a.size() >= 2) {
    for (std::size_t i = 1; i < a.size(); ++i) {
      auto op = make_range(a[i]);
      op.flags = op_count_only;
      p.ops.push_back(std::move(op));
    }
    p.answer = [](resp::reply& r, std::span<const op_result> res) { r.integer(sum_counts(res)); };
  } else if ((is(name, "expire") || is(name, "pexpire")) && a.size() == 3) {
    auto n = integer(a[2]);
    if (!n) return std::string("ERR value is not an integer or out of range");
    auto ms = ttl_ms_of(*n, is(name, "expire"));
    if (!ms) return fmt::format("ERR {} inside MULTI takes a time in the future in kvnode", name);
    p.ops.push_back(make_expire(a[1], *ms));
    p.answer = [](resp::reply& r, std::span<const op_result> res) { r.integer(res[0].value); };
  } else if (is(name, "persist") && a.size() == 2) {
    p.ops.push_back(make_expire(a[1], 0));
    p.answer = [](resp::reply& r, std::span<const op_result> res) { r.integer(res[0].value); };
  } else if ((is(name, "ttl") || is(name, "pttl")) && a.size() == 2) {
    p.ops.push_back(make_ttl(a[1]));
    const bool ms = is(name, "pttl");
    p.answer = [ms](resp::reply& r, std::span<const op_result> res) { r.integer(ttl_answer(res[0].value, ms)); };
  } else if ((is(name, "expiretime") || is(name, "pexpiretime")) && a.size() == 2) {
    p.ops.push_back(make_ttl(a[1]));
    const bool ms = is(name, "pexpiretime");
    p.answer = [ms](resp::reply& r, std::span<const op_result> res) {
      r.integer(expiretime_answer(res[0].value, ms));
    };
  } else if (is(name, "getex") && a.size() >= 2 && a.size() <= 4) {
    p.ops.push_back(make_range(a[1]));
    if (a.size() == 3 && is(a[2], "persist")) {
      p.ops.push_back(make_expire(a[1], 0));
    } else if (a.size() == 4 && (is(a[2], "ex") || is(a[2], "px"))) {
      auto n = integer(a[3]);
      if (!n) return std::string("ERR value is not an integer or out of range");
      const bool seconds = is(a[2], "ex");
      if (*n <= 0 || *n > (seconds ? max_ttl_ms / 1000 : max_ttl_ms)) {
        return std::string("ERR invalid expire time in 'getex' command");
      }
      p.ops.push_back(make_expire(a[1], seconds ? *n * 1000 : *n));
    } else if (a.size() != 2) {
      return std::string("ERR GETEX inside MULTI takes only EX, PX or PERSIST in kvnode");
    }
    p.answer = [](resp::reply& r, std::span<const op_result> res) { answer_value(r, res[0]); };
  } else if (is(name, "ping") && a.size() <= 2) {
    std::string message = a.size() == 2 ? a[1] : std::string();
    p.answer = [message](resp::reply& r, std::span<const op_result>) {
      if (message.empty()) return r.simple("PONG");
      r.bulk(message);
    };
  } else {
    return fmt::format("ERR '{}' cannot run inside MULTI on kvnode (docs/redis.md)", name);
  }
  return p;
}

// ---- a transaction that writes a key more than once ----------------------------------------

// Whether the ops write some key twice (puts, incrs, deletes and expires all write), which a
// kvnode transaction refuses (etcd's rule) and Redis's MULTI does all the time (INCR then EXPIRE).
bool writes_a_key_twice(const std::vector<txn_op>& ops) {
  absl::flat_hash_map<std::string_view, int> writes;
  for (const auto& op : ops) {
    if (op.type != txn_op_type::range && op.type != txn_op_type::ttl && ++writes[op.key] > 1) return true;
  }
  return false;
}

// A key as the queued commands leave it, starting from this node's state.
struct simulated_key {
  key_state read;            // as read (look_up): its mod_revision is the transaction's compare
  bool live = false;
  std::string value;
  std::int64_t left_ms = -1;  // its TTL, counted from now; -1 none
  bool stored_ttl = false;    // the TTL it had when read, unchanged (written back with op_keep_ttl)
  bool written = false;
};

// Runs `ops` (one key each, as the queued commands make them) against `keys`, filled from `st` as
// they are first met, in order, as the transaction would; their results, or Redis's error.
std::variant<std::vector<op_result>, std::string> simulate(const kv::store& st, const std::vector<txn_op>& ops,
                                                          std::map<std::string, simulated_key>& keys,
                                                          std::vector<std::string>& order) {
  std::vector<op_result> results;
  for (const auto& op : ops) {
    auto [it, fresh] = keys.try_emplace(op.key);
    auto& k = it->second;
    if (fresh) {
      order.push_back(op.key);
      k.read = look_up(st, op.key);
      k.live = k.read.live;
      k.value = k.read.value;
      k.left_ms = k.read.left_ms;
      k.stored_ttl = k.read.live;
    }
    op_result r;
    r.type = op.type;
    switch (op.type) {
      case txn_op_type::range:
        r.count = k.live ? 1 : 0;
        if (k.live && (op.flags & op_count_only) == 0) r.kvs.push_back(kv_version{op.key, k.value, 0, 0, 0});
        break;
      case txn_op_type::put:
        k.stored_ttl = k.stored_ttl && k.live && (op.flags & op_keep_ttl) != 0;
        if ((op.flags & op_ttl) != 0) {
          k.left_ms = op.ttl_ms;
        } else if ((op.flags & op_keep_ttl) == 0 || !k.live) {
          k.left_ms = -1;
        }
        k.live = true;
        k.value = op.value;
        k.written = true;
        break;
      case txn_op_type::delete_range:
        r.count = k.live ? 1 : 0;
        k.live = false;
        k.stored_ttl = false;
        k.left_ms = -1;
        k.written = true;
        break;
      case txn_op_type::incr: {
        std::int64_t n = 0;
        if (k.live) {
          auto parsed = parse_int64(k.value);
          if (!parsed) return std::string(not_integer);
          n = *parsed;
        }
        if ((op.delta > 0 && n > std::numeric_limits<std::int64_t>::max() - op.delta) ||
            (op.delta < 0 && n < std::numeric_limits<std::int64_t>::min() - op.delta)) {
          return std::string("ERR increment or decrement would overflow");
        }
        if (!k.live) k.left_ms = -1;  // a new key; an incr keeps a live key's TTL
        k.stored_ttl = k.stored_ttl && k.live;
        k.live = true;
        k.value = std::to_string(n + op.delta);
        r.value = n + op.delta;
        k.written = true;
        break;
      }
      case txn_op_type::expire:
        if (!k.live) {
          r.value = 0;
        } else if (op.ttl_ms == 0) {  // PERSIST: 1 if it took a TTL away
          r.value = k.left_ms >= 0 ? 1 : 0;
          if (k.left_ms >= 0) k.written = true;
          k.left_ms = -1;
          k.stored_ttl = false;
        } else {
          r.value = 1;
          k.left_ms = op.ttl_ms;
          k.stored_ttl = false;
          k.written = true;
        }
        break;
      case txn_op_type::ttl:
        r.value = !k.live ? -2 : k.left_ms;
        break;
    }
    results.push_back(std::move(r));
  }
  return results;
}

// EXEC by simulation: the queued commands run against this node's state in order, and one
// transaction writes each key's final state, if the watched keys and every key read are still as
// they were (else it is decided again: a watched key that changed then answers the null array).
// A TTL the commands left alone is kept exactly; one they set counts from the write.
void exec_by_simulation(resp_connection& c, kv::txn t, std::vector<planned> plans) {
  auto shared_plans = std::make_shared<std::vector<planned>>(std::move(plans));
  run_optimistic(c, [t = std::move(t), plans = shared_plans](const kv::store& st) {
    for (const auto& w : t.compares) {
      auto now = st.state().keys().get(w.key);
      if ((now ? now->mod_revision : 0) != w.number) {
        return answer_only([](resp::reply& r) { r.null_array(); });  // a watched key changed, as in Redis
      }
    }
    std::map<std::string, simulated_key> keys;
    std::vector<std::string> order;
    auto outcome = simulate(st, t.then_ops, keys, order);
    if (auto* error = std::get_if<std::string>(&outcome)) {
      return answer_only([error = *error](resp::reply& r) { r.error(error); });  // nothing applied
    }
    decision d;
    d.answer = [plans, results = std::get<0>(std::move(outcome))](resp::reply& r) {
      r.array(plans->size());
      std::size_t at = 0;
      for (const auto& p : *plans) {
        p.answer(r, std::span<const op_result>(results).subspan(at, p.ops.size()));
        at += p.ops.size();
      }
    };
    kv::txn write;
    write.compares = t.compares;
    for (const auto& key : order) {
      const auto& k = keys.at(key);
      write.compares.push_back(unchanged(key, k.read.mod_revision));
      if (!k.written) continue;
      if (!k.live) {
        if (k.read.mod_revision != 0) write.then_ops.push_back(make_delete_range(key));
      } else if (k.stored_ttl) {
        auto put = make_put(key, k.value);
        put.flags |= op_keep_ttl;
        write.then_ops.push_back(std::move(put));
      } else if (k.left_ms > 0) {
        write.then_ops.push_back(make_put_ttl(key, k.value, k.left_ms));
      } else {
        write.then_ops.push_back(make_put(key, k.value));
      }
    }
    if (!write.then_ops.empty()) d.write = std::move(write);
    return d;
  });
}

void reset(resp_connection::multi_state& m) {
  m.active = false;
  m.failed = false;
  m.queued.clear();
  m.watched.clear();  // EXEC and DISCARD unwatch every key, as in Redis
}

}  // namespace

void resp_multi(resp_connection& c, args_t) {
  if (c.multi.active) return c.reply_now().error("ERR MULTI calls can not be nested");
  c.multi.active = true;
  c.reply_now().simple("OK");
}

void resp_discard(resp_connection& c, args_t) {
  if (!c.multi.active) return c.reply_now().error("ERR DISCARD without MULTI");
  reset(c.multi);
  c.reply_now().simple("OK");
}

void resp_unwatch(resp_connection& c, args_t) {
  c.multi.watched.clear();
  c.reply_now().simple("OK");
}

void resp_watch(resp_connection& c, args_t a) {
  if (c.multi.active) return c.reply_now().error("ERR WATCH inside MULTI is not allowed");
  auto& st = c.srv().replica();
  std::vector<std::string> keys(a.begin() + 1, a.end());
  // The keys' revisions once this node is current: what EXEC compares against.
  auto note = [&st](resp_connection& conn, const std::vector<std::string>& ks) {
    for (const auto& k : ks) {
      auto v = st.state().keys().get(k);
      conn.multi.watched.emplace_back(k, v ? v->mod_revision : 0);
    }
  };
  if (c.read_only || st.reads_are_local()) {
    note(c, keys);
    return c.reply_now().simple("OK");
  }
  auto ticket = c.later(kind::read);
  read_barrier(c, [self = c.shared_from_this(), ticket, keys = std::move(keys), note](result<std::uint64_t> r) {
    std::string out;
    resp::reply rep(out, self->protocol());
    if (!r) {
      refusal(rep, r.failure());
    } else {
      note(*self, keys);
      rep.simple("OK");
    }
    self->finish(ticket, std::move(out));
  });
}

void resp_queue(resp_connection& c, args_t a) {
  std::vector<std::string> command(a.begin(), a.end());
  auto p = plan(command);
  if (auto* error = std::get_if<std::string>(&p)) {
    c.multi.failed = true;
    return c.reply_now().error(*error);
  }
  c.multi.queued.push_back(std::move(command));
  c.reply_now().simple("QUEUED");
}

void resp_exec(resp_connection& c, args_t) {
  if (!c.multi.active) return c.reply_now().error("ERR EXEC without MULTI");
  if (c.multi.failed) {
    reset(c.multi);
    return c.reply_now().error("EXECABORT Transaction discarded because of previous errors.");
  }
  kv::txn t;
  for (const auto& [key, revision] : c.multi.watched) {
    compare same;
    same.key = key;
    same.target = compare_target::mod_revision;
    same.number = revision;
    t.compares.push_back(std::move(same));
  }
  std::vector<planned> plans;
  for (const auto& command : c.multi.queued) {
    plans.push_back(std::get<planned>(plan(command)));
    for (auto& op : plans.back().ops) t.then_ops.push_back(op);
  }
  reset(c.multi);
  if (t.then_ops.empty() && t.compares.empty()) {
    // Nothing to run (only PINGs): answered at once.
    auto r = c.reply_now();
    r.array(plans.size());
    for (const auto& p : plans) p.answer(r, {});
    return;
  }
  if (writes_a_key_twice(t.then_ops)) return exec_by_simulation(c, std::move(t), std::move(plans));
  if (t.then_ops.empty()) t.then_ops.push_back(make_range(t.compares.front().key));  // a txn needs an op
  auto answer = [plans = std::move(plans)](resp::reply& r, const txn_reply& x) {
    if (!x.succeeded) return r.null_array();  // a watched key changed: nothing ran, as in Redis
    r.array(plans.size());
    std::size_t at = 0;
    for (const auto& p : plans) {
      p.answer(r, std::span<const op_result>(x.results).subspan(at, p.ops.size()));
      at += p.ops.size();
    }
  };
  if (read_only(t)) return read_txn(c, std::move(t), std::move(answer));
  write_txn(c, t, std::move(answer));
}

}  // namespace kv

namespace kv::resp_detail {

void add_multi_commands(command_table& t) {
  t.insert({
      {"multi", {1, kind::other, resp_multi}},
      {"exec", {1, kind::exclusive, resp_exec}},
      {"discard", {1, kind::other, resp_discard}},
      {"watch", {-2, kind::read, resp_watch, 1, -1, 1}},
      {"unwatch", {1, kind::other, resp_unwatch}},
  });
}

}  // namespace kv::resp_detail

// The Redis commands that move a key, test it, or give it a TTL: RENAME, RENAMENX, COPY, GETEX,
// MSETNX, EXPIRETIME, PEXPIRETIME, and EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with Redis 7's
// NX | XX | GT | LT.
//
// Each is one kvnode transaction. Those that decide from what a key holds (RENAME, RENAMENX and
// COPY copy a value and its TTL; EXPIRE's options compare TTLs) are optimistic: once this node's
// state is current they read the keys, decide, and write with compares on the mod_revisions read,
// deciding again if another write came between. A TTL read so counts from the read on the cluster
// clock, and the write's from the leader's stamp: a moved or copied TTL runs long by the time
// between the two (milliseconds), never short. A key past its TTL whose delete has not committed
// yet counts as absent to them, as it does to Redis.

#include "io/server/resp_commands.hpp"

#include "core/model/txn.hpp"
#include "io/server/server.hpp"
#include "raft/replica/store.hpp"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace kv {

namespace {

using namespace resp_detail;

constexpr auto int64_max = std::numeric_limits<std::int64_t>::max();
constexpr auto int64_min = std::numeric_limits<std::int64_t>::min();

std::string invalid_expire_time(std::string_view command) {
  return fmt::format("ERR invalid expire time in '{}' command", lower(command));
}

// `key` set to `from`'s value and TTL (none: a put clears the TTL `key` had, as Redis's copy does).
txn_op put_copy(std::string key, const key_state& from) {
  if (from.left_ms > 0) return make_put_ttl(std::move(key), from.value, from.left_ms);
  return make_put(std::move(key), from.value);
}

// ---- RENAME, RENAMENX, COPY -----------------------------------------------------------------

// RENAME key newkey (`nx`: RENAMENX): the value and TTL move; newkey's own TTL goes, as in Redis.
void rename_with(resp_connection& c, args_t a, bool nx) {
  run_optimistic(c, [src = std::string(a[1]), dst = std::string(a[2]), nx](const kv::store& st) {
    auto from = look_up(st, src);
    if (!from.live) return answer_only([](resp::reply& r) { r.error("ERR no such key"); });
    if (src == dst) return answer_only([nx](resp::reply& r) { nx ? r.integer(0) : r.simple("OK"); });
    auto to = look_up(st, dst);
    if (nx && to.live) return answer_only([](resp::reply& r) { r.integer(0); });
    kv::txn t;
    t.compares.push_back(unchanged(src, from.mod_revision));
    if (nx) t.compares.push_back(unchanged(dst, to.mod_revision));
    t.then_ops.push_back(make_delete_range(src));
    t.then_ops.push_back(put_copy(dst, from));
    decision d;
    d.write = std::move(t);
    d.answer = [nx](resp::reply& r) { nx ? r.integer(1) : r.simple("OK"); };
    return d;
  });
}
void rename(resp_connection& c, args_t a) { rename_with(c, a, false); }
void renamenx(resp_connection& c, args_t a) { rename_with(c, a, true); }

// COPY source destination [DB destination-db] [REPLACE]. kvnode has one database, 0: any other is
// out of range, as SELECT answers.
void copy(resp_connection& c, args_t a) {
  bool replace = false;
  for (std::size_t i = 3; i < a.size(); ++i) {
    if (is(a[i], "replace")) {
      replace = true;
    } else if (is(a[i], "db") && i + 1 < a.size()) {
      auto db = integer_arg(a[++i]);
      if (!db) return c.reply_now().error(not_integer);
      if (*db < std::numeric_limits<std::int32_t>::min() || *db > std::numeric_limits<std::int32_t>::max()) {
        return c.reply_now().error("ERR value is out of range, value must between -2147483648 and 2147483647");
      }
      if (*db != 0) return c.reply_now().error("ERR DB index is out of range");
    } else {
      return c.reply_now().error(syntax_error);
    }
  }
  if (a[1] == a[2]) return c.reply_now().error("ERR source and destination objects are the same");
  run_optimistic(c, [src = std::string(a[1]), dst = std::string(a[2]), replace](const kv::store& st) {
    auto from = look_up(st, src);
    if (!from.live) return answer_only([](resp::reply& r) { r.integer(0); });
    auto to = look_up(st, dst);
    if (!replace && to.live) return answer_only([](resp::reply& r) { r.integer(0); });
    kv::txn t;
    t.compares.push_back(unchanged(src, from.mod_revision));
    if (!replace) t.compares.push_back(unchanged(dst, to.mod_revision));
    t.then_ops.push_back(put_copy(dst, from));
    decision d;
    d.write = std::move(t);
    d.answer = [](resp::reply& r) { r.integer(1); };
    return d;
  });
}

// ---- GETEX, MSETNX, EXPIRETIME ----------------------------------------------------------------

// GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]: the value, and the key's TTL changed in
// the same transaction. As in Redis, a bad option is a syntax error whatever the key, but a bad
// time is an error only for a key that exists (nil otherwise).
void getex(resp_connection& c, args_t a) {
  std::string_view unit;  // ex, px, exat, pxat, persist; empty: none
  std::string_view time;
  for (std::size_t i = 2; i < a.size(); ++i) {
    const bool timed = is(a[i], "ex") || is(a[i], "px") || is(a[i], "exat") || is(a[i], "pxat");
    if (is(a[i], "persist") && (unit.empty() || unit == "persist")) {
      unit = "persist";
    } else if (timed && (unit.empty() || is(a[i], unit)) && i + 1 < a.size()) {
      unit = is(a[i], "ex") ? "ex" : is(a[i], "px") ? "px" : is(a[i], "exat") ? "exat" : "pxat";
      time = a[++i];
    } else {
      return c.reply_now().error(syntax_error);
    }
  }
  kv::txn t;
  t.then_ops.push_back(make_range(std::string(a[1])));
  auto value = [](resp::reply& r, const txn_reply& x) {
    const auto& kvs = x.results.at(0).kvs;
    if (kvs.empty()) return r.null();
    r.bulk(kvs.front().value);
  };
  if (unit.empty()) return read_txn(c, std::move(t), value);
  if (unit == "persist") {
    t.then_ops.push_back(make_expire(std::string(a[1]), 0));
    return write_txn(c, t, value);
  }
  // The time as Redis checks it: a positive integer, within int64 as milliseconds since 1970.
  const bool seconds = unit == "ex" || unit == "exat";
  const bool absolute = unit == "exat" || unit == "pxat";
  const auto now = unix_ms_now();
  auto n = integer_arg(time);
  std::string error;
  if (!n) {
    error = not_integer;
  } else if (*n <= 0 || (seconds && *n > int64_max / 1000) ||
             (!absolute && (seconds ? *n * 1000 : *n) > int64_max - now)) {
    error = invalid_expire_time("getex");
  }
  if (!error.empty()) {
    return read_txn(c, std::move(t), [error](resp::reply& r, const txn_reply& x) {
      if (x.results.at(0).kvs.empty()) return r.null();
      r.error(error);
    });
  }
  std::int64_t ms = seconds ? *n * 1000 : *n;
  if (absolute) ms -= now;
  if (ms <= 0) {
    t.then_ops.push_back(make_delete_range(std::string(a[1])));  // a time already past deletes, as in Redis
  } else {
    t.then_ops.push_back(make_expire(std::string(a[1]), std::min(ms, max_ttl_ms)));
  }
  write_txn(c, t, value);
}

// MSETNX key value [key value ...]: every key set, or none if any exists (1 or 0). A key given
// twice takes its last value, as in Redis.
void msetnx(resp_connection& c, args_t a) {
  auto pairs = distinct_pairs(c, a);
  if (!pairs) return;
  kv::txn t;
  for (const auto& [key, value] : *pairs) {
    compare absent;
    absent.key = std::string(key);
    absent.target = compare_target::version;
    absent.number = 0;
    t.compares.push_back(std::move(absent));
    t.then_ops.push_back(make_put(std::string(key), std::string(value)));
  }
  write_txn(c, t, [](resp::reply& r, const txn_reply& x) { r.integer(x.succeeded ? 1 : 0); });
}

// EXPIRETIME and PEXPIRETIME: when the key expires, in Unix seconds (rounded as Redis does) or
// milliseconds; -1 without a TTL, -2 for no key. kvnode's TTLs run on the cluster clock, so the
// time is this node's wall clock plus what the TTL has left.
void expiretime_with(resp_connection& c, args_t a, bool ms) {
  kv::txn t;
  t.then_ops.push_back(make_ttl(std::string(a[1])));
  read_txn(c, std::move(t), [ms](resp::reply& r, const txn_reply& x) {
    r.integer(expiretime_answer(x.results.at(0).value, ms));
  });
}
void expiretime(resp_connection& c, args_t a) { expiretime_with(c, a, false); }
void pexpiretime(resp_connection& c, args_t a) { expiretime_with(c, a, true); }

// ---- EXPIRE and its family --------------------------------------------------------------------

// Redis 7's conditions on the TTL a key has.
struct expire_conditions {
  bool nx = false;  // only a key without a TTL
  bool xx = false;  // only a key with one
  bool gt = false;  // only a later expiry (a key without a TTL never expires: none is later)
  bool lt = false;  // only an earlier expiry (any is earlier than none)
  bool any() const { return nx || xx || gt || lt; }
};

std::variant<expire_conditions, std::string> parse_conditions(args_t a) {
  expire_conditions f;
  for (std::size_t i = 3; i < a.size(); ++i) {
    if (is(a[i], "nx")) {
      f.nx = true;
    } else if (is(a[i], "xx")) {
      f.xx = true;
    } else if (is(a[i], "gt")) {
      f.gt = true;
    } else if (is(a[i], "lt")) {
      f.lt = true;
    } else {
      return fmt::format("ERR Unsupported option {}", a[i]);
    }
  }
  if (f.nx && (f.xx || f.gt || f.lt)) {
    return std::string("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (f.gt && f.lt) return std::string("ERR GT and LT options at the same time are not compatible");
  return f;
}

// Whether a key whose TTL has `left_ms` (-1: none) takes `ttl_ms` (<= 0: already past) under `f`.
bool conditions_hold(const expire_conditions& f, std::int64_t left_ms, std::int64_t ttl_ms) {
  if (f.nx && left_ms != -1) return false;
  if (f.xx && left_ms == -1) return false;
  if (f.gt && (left_ms == -1 || ttl_ms <= left_ms)) return false;
  if (f.lt && left_ms != -1 && ttl_ms >= left_ms) return false;
  return true;
}

// The TTL's op: a time already past deletes the key, as Redis does.
txn_op expire_op(std::string key, std::int64_t ttl_ms) {
  if (ttl_ms <= 0) return make_delete_range(std::move(key));
  return make_expire(std::move(key), std::min(ttl_ms, max_ttl_ms));
}

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX | XX | GT | LT]: 1 if the key exists (and
// its conditions held) and now has that TTL, or was deleted for a time already past; else 0.
// Without conditions it is one write; with them, an optimistic transaction on the key's TTL.
void expire_with(resp_connection& c, args_t a, std::string_view unit) {
  auto parsed = parse_conditions(a);
  if (auto* error = std::get_if<std::string>(&parsed)) return c.reply_now().error(*error);
  const auto conditions = std::get<expire_conditions>(parsed);
  auto n = integer_arg(a[2]);
  if (!n) return c.reply_now().error(not_integer);
  const bool seconds = unit == "ex" || unit == "exat";
  const bool absolute = unit == "exat" || unit == "pxat";
  if (seconds && (*n > int64_max / 1000 || *n < int64_min / 1000)) {
    return c.reply_now().error(invalid_expire_time(a[0]));
  }
  const std::int64_t ms = seconds ? *n * 1000 : *n;
  const auto now = unix_ms_now();
  if (!absolute && ms > int64_max - now) return c.reply_now().error(invalid_expire_time(a[0]));
  const std::int64_t ttl_ms = !absolute ? ms : ms <= now ? 0 : ms - now;
  if (!conditions.any()) {
    kv::txn t;
    t.then_ops.push_back(expire_op(std::string(a[1]), ttl_ms));
    return write_txn(c, t, [deletes = ttl_ms <= 0](resp::reply& r, const txn_reply& x) {
      const auto& res = x.results.at(0);
      r.integer(deletes ? (res.count != 0 ? 1 : 0) : res.value);
    });
  }
  run_optimistic(c, [key = std::string(a[1]), conditions, ttl_ms](const kv::store& st) {
    auto k = look_up(st, key);
    if (!k.live || !conditions_hold(conditions, k.left_ms, ttl_ms)) {
      return answer_only([](resp::reply& r) { r.integer(0); });
    }
    kv::txn t;
    t.compares.push_back(unchanged(key, k.mod_revision));
    t.then_ops.push_back(expire_op(key, ttl_ms));
    decision d;
    d.write = std::move(t);
    d.answer = [](resp::reply& r) { r.integer(1); };
    return d;
  });
}
// Without conditions EXPIRE is a write like any other; with them it reads first (see optimistic).
kind expire_kind(args_t a) { return a.size() > 3 ? kind::exclusive : kind::write; }
void expire(resp_connection& c, args_t a) { expire_with(c, a, "ex"); }
void pexpire(resp_connection& c, args_t a) { expire_with(c, a, "px"); }
void expireat(resp_connection& c, args_t a) { expire_with(c, a, "exat"); }
void pexpireat(resp_connection& c, args_t a) { expire_with(c, a, "pxat"); }

}  // namespace

namespace resp_detail {

void add_key_commands(command_table& t) {
  t.insert({
      {"rename", {3, kind::exclusive, rename, 1, 2, 1}},
      {"renamenx", {3, kind::exclusive, renamenx, 1, 2, 1}},
      {"copy", {-3, kind::exclusive, copy, 1, 2, 1}},
      {"getex", {-2, kind::write, getex, 1, 1, 1}},
      {"msetnx", {-3, kind::write, msetnx, 1, -1, 2}},
      {"expiretime", {2, kind::read, expiretime, 1, 1, 1}},
      {"pexpiretime", {2, kind::read, pexpiretime, 1, 1, 1}},
      {"expire", {-3, kind::write, expire, 1, 1, 1, expire_kind}},
      {"pexpire", {-3, kind::write, pexpire, 1, 1, 1, expire_kind}},
      {"expireat", {-3, kind::write, expireat, 1, 1, 1, expire_kind}},
      {"pexpireat", {-3, kind::write, pexpireat, 1, 1, 1, expire_kind}},
  });
}

}  // namespace resp_detail

}  // namespace kv

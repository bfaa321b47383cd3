// Redis 7.0's commands of the types kvnode does not hold, so that none is a crash or a silent
// wrong answer: on a string key Redis answers them WRONGTYPE, and so does kvnode (every kvnode
// key is a string); on a missing key Redis would create or read a value of that type, which
// kvnode cannot, so it answers Redis's unknown-command error (see docs/redis.md).

#include "io/server/resp_commands.hpp"

#include "core/model/txn.hpp"

#include <algorithm>
#include <string>

namespace kv {

namespace {

using namespace resp_detail;

// A command by its name, its Redis arity, and the argument Redis reads first as a key of its
// type (0: none at a fixed place, as XREAD's after STREAMS): not a key it only overwrites
// (SUNIONSTORE's destination), which Redis does not type-check.
struct other_type_command {
  std::string_view name;
  int arity;
  int key;
  std::string_view group;
};

// Generated from redis-server 7.0.15's COMMAND INFO and COMMAND DOCS: the groups list, hash, set,
// sorted-set, stream, hyperloglog and geo. (The bitmap commands work on strings in Redis:
// kvnode answers those unknown.)
constexpr other_type_command table[] = {
    {"blmove", 6, 1, "list"},
    {"blmpop", -5, 3, "list"},
    {"blpop", -3, 1, "list"},
    {"brpop", -3, 1, "list"},
    {"brpoplpush", 4, 1, "list"},
    {"bzmpop", -5, 3, "sorted-set"},
    {"bzpopmax", -3, 1, "sorted-set"},
    {"bzpopmin", -3, 1, "sorted-set"},
    {"geoadd", -5, 1, "geo"},
    {"geodist", -4, 1, "geo"},
    {"geohash", -2, 1, "geo"},
    {"geopos", -2, 1, "geo"},
    {"georadius", -6, 1, "geo"},
    {"georadius_ro", -6, 1, "geo"},
    {"georadiusbymember", -5, 1, "geo"},
    {"georadiusbymember_ro", -5, 1, "geo"},
    {"geosearch", -7, 1, "geo"},
    {"geosearchstore", -8, 2, "geo"},
    {"hdel", -3, 1, "hash"},
    {"hexists", 3, 1, "hash"},
    {"hget", 3, 1, "hash"},
    {"hgetall", 2, 1, "hash"},
    {"hincrby", 4, 1, "hash"},
    {"hincrbyfloat", 4, 1, "hash"},
    {"hkeys", 2, 1, "hash"},
    {"hlen", 2, 1, "hash"},
    {"hmget", -3, 1, "hash"},
    {"hmset", -4, 1, "hash"},
    {"hrandfield", -2, 1, "hash"},
    {"hscan", -3, 1, "hash"},
    {"hset", -4, 1, "hash"},
    {"hsetnx", 4, 1, "hash"},
    {"hstrlen", 3, 1, "hash"},
    {"hvals", 2, 1, "hash"},
    {"lindex", 3, 1, "list"},
    {"linsert", 5, 1, "list"},
    {"llen", 2, 1, "list"},
    {"lmove", 5, 1, "list"},
    {"lmpop", -4, 2, "list"},
    {"lpop", -2, 1, "list"},
    {"lpos", -3, 1, "list"},
    {"lpush", -3, 1, "list"},
    {"lpushx", -3, 1, "list"},
    {"lrange", 4, 1, "list"},
    {"lrem", 4, 1, "list"},
    {"lset", 4, 1, "list"},
    {"ltrim", 4, 1, "list"},
    {"pfadd", -2, 1, "hyperloglog"},
    {"pfcount", -2, 1, "hyperloglog"},
    {"pfdebug", 3, 2, "hyperloglog"},
    {"pfmerge", -2, 1, "hyperloglog"},
    {"pfselftest", 1, 0, "hyperloglog"},
    {"rpop", -2, 1, "list"},
    {"rpoplpush", 3, 1, "list"},
    {"rpush", -3, 1, "list"},
    {"rpushx", -3, 1, "list"},
    {"sadd", -3, 1, "set"},
    {"scard", 2, 1, "set"},
    {"sdiff", -2, 1, "set"},
    {"sdiffstore", -3, 2, "set"},
    {"sinter", -2, 1, "set"},
    {"sintercard", -3, 2, "set"},
    {"sinterstore", -3, 1, "set"},
    {"sismember", 3, 1, "set"},
    {"smembers", 2, 1, "set"},
    {"smismember", -3, 1, "set"},
    {"smove", 4, 1, "set"},
    {"spop", -2, 1, "set"},
    {"srandmember", -2, 1, "set"},
    {"srem", -3, 1, "set"},
    {"sscan", -3, 1, "set"},
    {"sunion", -2, 1, "set"},
    {"sunionstore", -3, 2, "set"},
    {"xack", -4, 1, "stream"},
    {"xadd", -5, 1, "stream"},
    {"xautoclaim", -6, 1, "stream"},
    {"xclaim", -6, 1, "stream"},
    {"xdel", -3, 1, "stream"},
    {"xgroup", -2, 0, "stream"},
    {"xinfo", -2, 0, "stream"},
    {"xlen", 2, 1, "stream"},
    {"xpending", -3, 1, "stream"},
    {"xrange", -4, 1, "stream"},
    {"xread", -4, 0, "stream"},
    {"xreadgroup", -7, 0, "stream"},
    {"xrevrange", -4, 1, "stream"},
    {"xsetid", -3, 1, "stream"},
    {"xtrim", -4, 1, "stream"},
    {"zadd", -4, 1, "sorted-set"},
    {"zcard", 2, 1, "sorted-set"},
    {"zcount", 4, 1, "sorted-set"},
    {"zdiff", -3, 2, "sorted-set"},
    {"zdiffstore", -4, 3, "sorted-set"},
    {"zincrby", 4, 1, "sorted-set"},
    {"zinter", -3, 2, "sorted-set"},
    {"zintercard", -3, 2, "sorted-set"},
    {"zinterstore", -4, 3, "sorted-set"},
    {"zlexcount", 4, 1, "sorted-set"},
    {"zmpop", -4, 2, "sorted-set"},
    {"zmscore", -3, 1, "sorted-set"},
    {"zpopmax", -2, 1, "sorted-set"},
    {"zpopmin", -2, 1, "sorted-set"},
    {"zrandmember", -2, 1, "sorted-set"},
    {"zrange", -4, 1, "sorted-set"},
    {"zrangebylex", -4, 1, "sorted-set"},
    {"zrangebyscore", -4, 1, "sorted-set"},
    {"zrangestore", -5, 2, "sorted-set"},
    {"zrank", 3, 1, "sorted-set"},
    {"zrem", -3, 1, "sorted-set"},
    {"zremrangebylex", 4, 1, "sorted-set"},
    {"zremrangebyrank", 4, 1, "sorted-set"},
    {"zremrangebyscore", 4, 1, "sorted-set"},
    {"zrevrange", -4, 1, "sorted-set"},
    {"zrevrangebylex", -4, 1, "sorted-set"},
    {"zrevrangebyscore", -4, 1, "sorted-set"},
    {"zrevrank", 3, 1, "sorted-set"},
    {"zscan", -3, 1, "sorted-set"},
    {"zscore", 3, 1, "sorted-set"},
    {"zunion", -3, 2, "sorted-set"},
    {"zunionstore", -4, 3, "sorted-set"},
};

const other_type_command* find_other(std::string_view name) {
  const auto n = lower(name);
  auto it = std::lower_bound(std::begin(table), std::end(table), n,
                             [](const other_type_command& o, const std::string& x) { return o.name < x; });
  return it != std::end(table) && it->name == n ? it : nullptr;
}

bool arity_ok(int arity, std::size_t n) {
  return arity >= 0 ? n == static_cast<std::size_t>(arity) : n >= static_cast<std::size_t>(-arity);
}

}  // namespace

namespace resp_detail {

kind other_type_command_kind(args_t a) {
  const auto* o = find_other(a.front());
  return o != nullptr && arity_ok(o->arity, a.size()) && o->key > 0 && static_cast<std::size_t>(o->key) < a.size()
             ? kind::read
             : kind::other;
}

bool run_other_type_command(resp_connection& c, args_t a) {
  const auto* o = find_other(a.front());
  if (o == nullptr) return false;
  if (!arity_ok(o->arity, a.size())) {
    auto r = c.reply_now();
    wrong_arity(r, a.front());
    return true;
  }
  auto unknown = unknown_command(a);
  if (o->key <= 0 || static_cast<std::size_t>(o->key) >= a.size()) {
    c.reply_now().error(unknown);
    return true;
  }
  std::string wrong_type = o->group == "hyperloglog"
                               ? "WRONGTYPE Key is not a valid HyperLogLog string value."
                               : "WRONGTYPE Operation against a key holding the wrong kind of value";
  kv::txn t;
  auto op = make_range(std::string(a[static_cast<std::size_t>(o->key)]));
  op.flags = op_count_only;
  t.then_ops.push_back(std::move(op));
  read_txn(c, std::move(t), [unknown, wrong_type](resp::reply& r, const txn_reply& x) {
    r.error(x.results.at(0).count != 0 ? wrong_type : unknown);
  });
  return true;
}

}  // namespace resp_detail

}  // namespace kv

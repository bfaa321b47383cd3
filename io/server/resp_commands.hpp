#pragma once
// The Redis commands kvnode answers, each a small function from a command's arguments to its
// reply, run by resp_connection. Redis 7's command reference is the bar for every reply and error
// text; where kvnode differs, docs/redis.md says so.

#include "core/base/error.hpp"
#include "core/model/query.hpp"
#include "core/model/txn.hpp"
#include "io/resp/reply.hpp"
#include "io/server/resp_connection.hpp"

#include <absl/container/flat_hash_map.h>
#include <asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>
#include <string_view>
#include <variant>

namespace kv {

class store;

// What the commands' files share (resp_commands.cpp, resp_multi.cpp, ...).
namespace resp_detail {
using args_t = std::span<const std::string_view>;
using kind = resp_connection::kind;

// One command: how it is called and what runs it.
struct command_spec {
  int arity;  // Redis's: n exactly n arguments (the name included), -n at least n
  kind k;
  void (*run)(resp_connection&, args_t);
  // Where its keys are, as COMMAND reports them: the first and last key's positions (last -1:
  // to the end) and the step between keys; 0, 0, 0 when it takes none.
  int first_key = 0;
  int last_key = 0;
  int step = 0;
  // For a command whose kind depends on its arguments: that kind (`k` otherwise).
  kind (*kind_of)(args_t) = nullptr;
};
// Every command by its lower-case name. Each file of commands adds its own.
using command_table = absl::flat_hash_map<std::string, command_spec>;
void add_multi_commands(command_table& t);          // resp_multi.cpp
void add_key_commands(command_table& t);            // resp_keys.cpp
void add_search_commands(command_table& t);         // resp_search.cpp
void add_scan_commands(command_table& t);           // resp_scan.cpp
void add_pubsub_commands(command_table& t);         // resp_pubsub.cpp
void add_introspection_commands(command_table& t);  // resp_introspect.cpp
// In RESP2 a connection with subscriptions runs only (P)(UN)SUBSCRIBE, PING, QUIT and RESET: for
// any other command `a`, answers Redis's refusal and returns true (resp_pubsub.cpp).
bool refused_while_subscribed(resp_connection& c, std::span<const std::string_view> a);
// The table.
const command_table& commands();

constexpr std::string_view not_integer = "ERR value is not an integer or out of range";
constexpr std::string_view syntax_error = "ERR syntax error";

// Formats a transaction's answer.
using formatter = std::function<void(resp::reply&, const txn_reply&)>;
// `s` in lower case.
std::string lower(std::string_view s);
// Whether `arg` is `word` (lower case), ignoring case, as Redis matches command words.
bool is(std::string_view arg, std::string_view word);
// Redis's error for a command called with the wrong number of arguments.
void wrong_arity(resp::reply& r, std::string_view name);
// Redis's error for a command it does not know (`a`: the command, its name first).
std::string unknown_command(args_t a);
// Redis 7.0's commands of the types kvnode does not hold (lists, hashes, sets, sorted sets,
// streams, HyperLogLogs, geo; resp_other_types.cpp). Such a command called as Redis takes it,
// on a key that exists (a string: kvnode holds nothing else) is answered with Redis's WRONGTYPE
// error, as Redis answers it on a string; otherwise (no such key, or not a key Redis reads
// first) with Redis's unknown-command error. False if `a` is not such a command.
bool run_other_type_command(resp_connection& c, args_t a);
// What such a command needs of the connection's order (a read of its key); other if not one.
kind other_type_command_kind(args_t a);
// A kvnode refusal as a Redis error: the texts Redis gives where the case is the same.
void refusal(resp::reply& r, const error_info& e);
// Commands over many keys are one transaction each, so at most max-txn-ops keys: true (having
// answered Redis's way of refusing) if `keys` is more.
bool too_many_keys(resp_connection& c, std::size_t keys);
// MSET's and MSETNX's `key value ...` (after the name) as pairs in order, each key once with the
// last value given for it (as Redis: a transaction writes each key once); nullopt once the error
// (arity, too many keys) is answered.
std::optional<std::vector<std::pair<std::string_view, std::string_view>>> distinct_pairs(resp_connection& c,
                                                                                          args_t a);
// Redis's string2ll for a command's integer argument.
std::optional<std::int64_t> integer_arg(std::string_view s);
// The wall clock in Unix milliseconds (EXPIREAT's and PXAT's times are on it).
std::int64_t unix_ms_now();
// The bytes of a reply `fill` writes, in the connection's protocol (for resp_connection::finish).
std::string make_reply(resp_connection& c, auto&& fill) {
  std::string out;
  resp::reply r(out, c.protocol());
  fill(r);
  return out;
}
// Runs `t`, which writes, through the log: proposed here if this node leads, else forwarded to
// the leader (write_forwarder.hpp); `done` gets the transaction's answer once it is applied.
using write_answer = std::function<void(result<txn_reply>)>;
void submit_write(resp_connection& c, const kv::txn& t, write_answer done);
// A linearizable read's barrier (store::read_barrier), retried while no leader confirms it (an
// election) for up to a few seconds, so that reads on any node ride out a failover as forwarded
// writes do.
using read_barrier_done = std::function<void(result<std::uint64_t>)>;
void read_barrier(resp_connection& c, read_barrier_done done);
// The same, for a coroutine.
asio::awaitable<result<std::uint64_t>> read_barrier(store& st);
// Whether a read may be served from this node's state at once: the connection said READONLY,
// or this node alone is the cluster.
bool reads_now(resp_connection& c);
// Answers with `serve(connection, reply)` from this node's state once it is current: at once when
// reads_now(), else after read_barrier().
template <typename Serve>
void read_state(resp_connection& c, Serve serve) {
  if (reads_now(c)) {
    auto r = c.reply_now();
    return serve(c, r);
  }
  auto ticket = c.later(kind::read);
  read_barrier(c, [self = c.shared_from_this(), ticket, serve = std::move(serve)](result<std::uint64_t> done) {
    self->finish(ticket, make_reply(*self, [&](resp::reply& r) {
      if (!done) return refusal(r, done.failure());
      serve(*self, r);
    }));
  });
}
// Runs `t` through the log (a write, see submit_write) and answers with `f` once it is applied.
void write_txn(resp_connection& c, const kv::txn& t, formatter f);
// Answers `t`, which only reads, with `f`: linearizable, or from this node's state (READONLY).
void read_txn(resp_connection& c, kv::txn t, formatter f);

// Commands that decide from what keys hold (APPEND, RENAME, EXPIRE GT, ...) run as optimistic
// transactions: once this node's state is current `decide` reads the keys and returns a
// transaction whose compares are the mod_revisions it read (unchanged()); if they fail (another
// write came between) it decides again, up to 100 times. Such a command is of kind exclusive: it
// starts once the connection's earlier commands are answered (so it reads their writes), and
// later ones wait for it (so none of theirs goes before its own).
// A key as Redis would see it in this node's applied state now.
struct key_state {
  bool live = false;               // present, and its TTL (if any) not yet run out
  std::string value;               // when live
  std::uint64_t mod_revision = 0;  // for a compare: 0 if absent (a key past its TTL keeps its own)
  std::int64_t left_ms = -1;       // when live: what its TTL has left on the cluster clock; -1 none
};
key_state look_up(const kv::store& st, std::string_view key);
// A compare that holds while `key` is as read: its mod_revision (0: absent) unchanged.
compare unchanged(std::string key, std::uint64_t mod_revision);
// What one attempt decided from the keys as read.
struct decision {
  std::optional<kv::txn> write;              // nullopt: nothing to write, answer at once
  std::function<void(resp::reply&)> answer;  // the reply, once `write` applied with its compares holding
};
// A decision to answer at once, writing nothing.
decision answer_only(std::function<void(resp::reply&)> answer);
using decide_fn = std::function<decision(const kv::store&)>;
void run_optimistic(resp_connection& c, decide_fn decide);

// TTL's answer (seconds, rounded as Redis does) or PTTL's (`in_ms`) from the milliseconds left.
std::int64_t ttl_answer(std::int64_t left_ms, bool in_ms);
// EXPIRETIME's answer (Unix seconds, rounded as Redis does) or PEXPIRETIME's (`in_ms`) from the
// milliseconds left: this node's wall clock plus them (-1 and -2 as they are).
std::int64_t expiretime_answer(std::int64_t left_ms, bool in_ms);
// A RediSearch query (FT.SEARCH's) as kvnode's text query (mode and terms; the rest left at its
// defaults), or the Redis error to answer when kvnode's query language cannot say it
// (resp_search.cpp).
std::variant<search::text_query, std::string> parse_search_query(std::string_view q);
}  // namespace resp_detail

// The command `args` (its name first) looked up once: what runs it (nullptr: no such command),
// and what it needs of the connection's order (see resp_connection.hpp): its writes, its reads,
// or neither (answered at once).
struct resp_command_ref {
  const resp_detail::command_spec* spec;
  resp_connection::kind k;
};
resp_command_ref look_up_resp_command(std::span<const std::string_view> args);

// Runs the command `args`, looked up as `ref`, on `c`; its reply is given at once (reply_now) or
// later (a ticket). Arguments are views valid during the call only.
void run_resp_command(resp_connection& c, const resp_command_ref& ref, std::span<const std::string_view> args);

}  // namespace kv

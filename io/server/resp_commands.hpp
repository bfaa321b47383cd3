#pragma once
// The Redis commands kvnode answers, each a small function from a command's arguments to its
// reply, run by resp_connection. Redis 7's command reference is the bar for every reply and error
// text; where kvnode differs, docs/redis.md says so.

#include "core/base/error.hpp"
#include "core/model/txn.hpp"
#include "io/resp/reply.hpp"
#include "io/server/resp_connection.hpp"

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kv {

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
};
// Every command by its lower-case name. Each file of commands adds its own.
using command_table = absl::flat_hash_map<std::string, command_spec>;
void add_multi_commands(command_table& t);          // resp_multi.cpp
void add_introspection_commands(command_table& t);  // resp_introspect.cpp
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
// Runs `t` through the log (a write) and answers with `f` once it is applied.
void write_txn(resp_connection& c, const kv::txn& t, formatter f);
// Answers `t`, which only reads, with `f`: linearizable, or from this node's state (READONLY).
void read_txn(resp_connection& c, kv::txn t, formatter f);
// TTL's answer (seconds, rounded as Redis does) or PTTL's (`in_ms`) from the milliseconds left.
std::int64_t ttl_answer(std::int64_t left_ms, bool in_ms);
}  // namespace resp_detail

// What `args` (a command, its name first) needs of the connection's order (see
// resp_connection.hpp): its writes, its reads, or neither (answered at once).
resp_connection::kind resp_command_kind(std::span<const std::string_view> args);

// Runs the command `args` on `c`; its reply is given at once (reply_now) or later (a ticket).
// Arguments are views valid during the call only.
void run_resp_command(resp_connection& c, std::span<const std::string_view> args);

}  // namespace kv

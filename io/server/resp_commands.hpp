#pragma once
// The Redis commands kvnode answers, each a small function from a command's arguments to its
// reply, run by resp_connection. Redis 7's command reference is the bar for every reply and error
// text; where kvnode differs, docs/redis.md says so.

#include "core/base/error.hpp"
#include "core/model/txn.hpp"
#include "io/resp/reply.hpp"
#include "io/server/resp_connection.hpp"

#include <cstdint>
#include <functional>

#include <span>
#include <string_view>

namespace kv {

// What the commands' files share (resp_commands.cpp, resp_multi.cpp).
namespace resp_detail {
// Formats a transaction's answer.
using formatter = std::function<void(resp::reply&, const txn_reply&)>;
// Whether `arg` is `word` (lower case), ignoring case, as Redis matches command words.
bool is(std::string_view arg, std::string_view word);
// A kvnode refusal as a Redis error: the texts Redis gives where the case is the same.
void refusal(resp::reply& r, const error_info& e);
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

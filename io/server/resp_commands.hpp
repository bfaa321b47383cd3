#pragma once
// The Redis commands kvnode answers, each a small function from a command's arguments to its
// reply, run by resp_connection. Redis 7's command reference is the bar for every reply and error
// text; where kvnode differs, docs/redis.md says so.

#include "io/server/resp_connection.hpp"

#include <span>
#include <string_view>

namespace kv {

// What `args` (a command, its name first) needs of the connection's order (see
// resp_connection.hpp): its writes, its reads, or neither (answered at once).
resp_connection::kind resp_command_kind(std::span<const std::string_view> args);

// Runs the command `args` on `c`; its reply is given at once (reply_now) or later (a ticket).
// Arguments are views valid during the call only.
void run_resp_command(resp_connection& c, std::span<const std::string_view> args);

}  // namespace kv

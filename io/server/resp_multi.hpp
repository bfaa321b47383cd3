#pragma once
// Redis transactions over RESP: MULTI queues commands, EXEC runs them as one kvnode transaction
// whose compares are the WATCHed keys' mod_revisions, so the whole of it is atomic and isolated
// on every node, and it runs only if no watched key changed since WATCH (Redis's optimistic
// locking). What differs from Redis (docs/redis.md): the commands a kvnode transaction can carry
// are queued, others are refused while queuing (EXEC then discards the transaction, as after any
// queuing error); and a command that fails when EXEC applies (INCR of a non-integer) fails the
// whole transaction, nothing applied, where Redis runs the others.

#include "io/server/resp_connection.hpp"

#include <span>
#include <string_view>

namespace kv {

// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
void resp_multi(resp_connection& c, std::span<const std::string_view> args);
void resp_exec(resp_connection& c, std::span<const std::string_view> args);
void resp_discard(resp_connection& c, std::span<const std::string_view> args);
void resp_watch(resp_connection& c, std::span<const std::string_view> args);
void resp_unwatch(resp_connection& c, std::span<const std::string_view> args);

// While MULTI is active, every other command comes here: queued (+QUEUED) or refused.
void resp_queue(resp_connection& c, std::span<const std::string_view> args);

}  // namespace kv

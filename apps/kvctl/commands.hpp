#pragma once
// kvctl's commands: each parses its arguments, sends its requests through the client, prints the
// answer with the chosen printer and returns the exit status.
//
// Exit statuses: 0 ok; 1 not found (get or del of one KEY that does not exist) or a cas whose
// compare failed; 2 usage error (nothing was sent); 3 server or network error. An error goes to
// standard error as one line; with either output format, standard output holds the node's answer
// whenever there is one (exit status 0 or 1).

#include "apps/kvctl/notation.hpp"
#include "apps/kvctl/printer.hpp"
#include "io/client/client.hpp"

#include <asio/awaitable.hpp>

#include <string>
#include <vector>

namespace kv::kvctl {

inline constexpr int exit_ok = 0;
inline constexpr int exit_not_found = 1;  // also: a cas whose compare failed
inline constexpr int exit_usage = 2;
inline constexpr int exit_failed = 3;

// Prints a usage error as one line and exits with exit_usage.
[[noreturn]] void usage_error(const std::string& message);

// What the command line asks for besides the command and its arguments.
struct invocation {
  kv::client::options client;
  byte_notation notation = byte_notation::text;
  output_format format = output_format::simple;
};

// Runs `args` (the command and its arguments) through `c`; returns the exit status. `c` and `inv`
// must outlive the coroutine.
asio::awaitable<int> run_command(kv::client& c, const invocation& inv, std::vector<std::string> args);

}  // namespace kv::kvctl

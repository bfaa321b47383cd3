#pragma once
// The arguments of kvctl's get, del, put, set, incr, expire, persist and ttl, as the command line
// gives them and as txn's input gives its ops: parsed into the transaction op they ask for, and
// how to print it. Pure functions: words in, an op or a usage error out (errc::bad_request, with a
// message that starts with the command's name).
//
// Options follow etcdctl's names and may come before, between or after the operands:
// "--name VALUE", "--name=VALUE", or "--name" for a flag; "--" ends the options. A word starting
// with one dash ("-5") is an operand.

#include "apps/kvctl/notation.hpp"
#include "core/base/error.hpp"
#include "core/model/txn.hpp"
#include "io/client/client.hpp"

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kv::kvctl {

struct option_spec {
  std::string_view name;  // with its dashes: "--limit"
  bool takes_value = false;
};

// A command's words, sorted.
struct words {
  std::vector<std::pair<std::string, std::string>> options;  // (name, value), in order; "" for a flag
  std::vector<std::string> operands;
};

// Sorts `args` into options named in `specs` and operands; errc::bad_request for an unknown
// option, a flag given a value or an option missing its value.
result<words> split_words(std::string_view command, const std::vector<std::string>& args,
                          std::span<const option_spec> specs);

// The refusal kvctl's parsers return for a command line or an input it cannot take
// (errc::bad_request with `message`).
error_info usage(std::string message);

// A non-negative integer option or operand; `what` names it in the error.
result<std::uint64_t> parse_count(std::string_view command, std::string_view what, std::string_view text);

// Where an op's words come from: some options only make sense on the command line.
enum class op_source : std::uint8_t {
  command_line,
  txn_input,
};

// get KEY [END] [--prefix|--from-key] [--limit N] [--rev R] [--order ascend|descend]
//     [--keys-only] [--count-only] and, on the command line, [--print-value-only] [--raw] [--stale]
struct get_args {
  kv::txn_op op;            // a range op
  bool one_key = true;      // no END, --prefix or --from-key: one key named
  bool value_only = false;  // --print-value-only
  bool raw = false;         // --raw: the value's bytes and nothing else (one key)
  bool stale = false;       // --stale: served from the contacted node's state
};
result<get_args> parse_get(const std::vector<std::string>& args, byte_notation notation, op_source source);

// del KEY [END] [--prefix|--from-key] [--prev-kv]
struct del_args {
  kv::txn_op op;  // a delete_range op
  bool one_key = true;
};
result<del_args> parse_del(const std::vector<std::string>& args, byte_notation notation);

// watch KEY [END] [--prefix|--from-key] [--rev R] [--prev-kv] [--no-put|--no-delete]
//       [--progress-notify]
result<watch_spec> parse_watch(const std::vector<std::string>& args, byte_notation notation);

// put KEY VALUE [--prev-kv] [--ttl DURATION | --keep-ttl] (txn's input only: the command line's
// is `set`). Without --ttl or --keep-ttl a put clears the key's TTL, as Redis's SET does.
result<kv::txn_op> parse_put(const std::vector<std::string>& args, byte_notation notation);

// set KEY VALUE [--lease ID] [--ttl DURATION | --keep-ttl]
struct set_args {
  kv::txn_op op;            // a put op; its value is empty when from_input
  bool from_input = false;  // VALUE "-": the value is standard input, which the command reads
};
result<set_args> parse_set(const std::vector<std::string>& args, byte_notation notation);

// A TTL as a duration ("30s", "1500ms", "2m"): whole milliseconds, from 1 ms to kv::max_ttl_ms.
// `what` names the option or operand in the error ("--ttl", "DURATION").
result<std::int64_t> parse_ttl_ms(std::string_view command, std::string_view what, std::string_view text);

// expire KEY DURATION: an expire op giving KEY a TTL of DURATION (Redis's EXPIRE / PEXPIRE).
result<kv::txn_op> parse_expire(const std::vector<std::string>& args, byte_notation notation);

// persist KEY: an expire op removing KEY's TTL (Redis's PERSIST).
result<kv::txn_op> parse_persist(const std::vector<std::string>& args, byte_notation notation);

// How `ttl` prints what a key has left.
enum class ttl_unit : std::uint8_t {
  seconds,       // rounded to the nearest second, as Redis's TTL
  milliseconds,  // --ms, as Redis's PTTL
};

// ttl KEY and, on the command line, [--ms]
struct ttl_args {
  kv::txn_op op;  // a ttl op
  ttl_unit unit = ttl_unit::seconds;
};
result<ttl_args> parse_ttl(const std::vector<std::string>& args, byte_notation notation, op_source source);

// incr KEY [BY]: BY a decimal 64-bit integer (default 1), possibly negative.
result<kv::txn_op> parse_incr(const std::vector<std::string>& args, byte_notation notation);

// A lease id as etcdctl writes them: hexadecimal, at least 1.
result<std::uint64_t> parse_lease_id(std::string_view command, std::string_view text);

// Helpers for the other commands' operands. A key: at least one byte.
result<std::string> parse_key(std::string_view command, byte_notation notation, std::string_view text);
result<std::string> parse_value(byte_notation notation, std::string_view text);

}  // namespace kv::kvctl

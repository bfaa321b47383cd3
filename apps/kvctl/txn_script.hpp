#pragma once
// txn's input, in etcdctl txn's non-interactive syntax, parsed into a transaction. A pure
// function: text in, a transaction or a usage error out (errc::bad_request, the message naming
// the line: "txn: line 3: ...").
//
//   compares, one a line     TARGET("KEY") OP "OPERAND"
//   a blank line
//   ops, one a line          run if every compare holds
//   a blank line
//   ops, one a line          run otherwise
//
// - TARGET is value (or val), version (ver), create (c) or mod (m): create is a key's
//   create_revision and mod its mod_revision, as etcdctl spells them. OP is = != < or >. The
//   OPERAND of version, create and mod is a non-negative integer, in quotes as etcdctl wants it.
//   KEY and OPERAND are double-quoted, with Go's backslash escapes (\" \\ \n \t \xff \u00e9 ...).
// - An op is `put KEY VALUE [--prev-kv] [--ttl DURATION | --keep-ttl]`, `get KEY [END] [options]`
//   (get's range options: --prefix --from-key --limit --rev --order --keys-only --count-only),
//   `del KEY [END] [--prefix|--from-key] [--prev-kv]`, or kvnode's `incr KEY [BY]`,
//   `expire KEY DURATION`, `persist KEY` and `ttl KEY` (its answer in milliseconds, as PTTL).
//   Its words are separated by spaces; a word may be "double-quoted" (with the escapes) or
//   'single-quoted' (as it is).
// - A line of spaces only is blank. The input may end in place of a blank line; after the third
//   section's blank line, only blank lines may follow.
// - With --hex (byte_notation::hex) keys, ends, values and value operands are hexadecimal once
//   unquoted.

#include "apps/kvctl/notation.hpp"
#include "core/base/error.hpp"
#include "core/model/txn.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kv::kvctl {

result<kv::txn> parse_txn_script(std::string_view text, byte_notation notation);

// The words of one op line: split at spaces, quotes removed (errc::bad_request for an
// unterminated quote, a bad escape, or a quote that does not end its word).
result<std::vector<std::string>> split_op_line(std::string_view line);

// A double-quoted string with Go's escapes, starting at text[pos]; moves pos past it.
result<std::string> unquote(std::string_view text, std::size_t& pos);

}  // namespace kv::kvctl

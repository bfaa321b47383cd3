#pragma once
// The arguments of kvctl's search and similar, parsed into the query they ask for. Pure
// functions: words in, a query or a usage error out (errc::bad_request, with a message that
// starts with the command's name). Options as op_args.hpp describes them.
//
// --min-index R waits until the node's index has applied revision R (the revision set, put,
// del, txn and -w json print), as the product's answers all name revisions; --min-revision R is
// the same option under its older name. The client and the protocol can also wait for a log
// index (min_point::index); kvctl no longer offers that.

#include "apps/kvctl/notation.hpp"
#include "core/base/error.hpp"
#include "core/model/query.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace kv::kvctl {

// search WORD... [--or|--phrase] [--limit N] [--offset N] [--prefix P] [--min-index R] [--stale]
struct search_args {
  search::text_query query;
  std::uint64_t min_revision = 0;  // 0: no wait
  bool stale = false;              // --stale: the contacted node's index as it is
};
result<search_args> parse_search(const std::vector<std::string>& args, byte_notation notation);

// similar TEXT [--top K] [--threshold T] [--min-index R] [--stale]
struct similar_args {
  search::similar_query query;
  std::uint64_t min_revision = 0;
  bool stale = false;
};
result<similar_args> parse_similar(const std::vector<std::string>& args);

}  // namespace kv::kvctl

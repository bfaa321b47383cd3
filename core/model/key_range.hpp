#pragma once
// Ranges of keys in etcd v3's conventions, as reads, deletes and compares name them (the
// keyspace in core/state, the transactions of core/model/txn.hpp, and clients).

#include <string>
#include <string_view>

namespace kv {

// The range [key, end) in etcd's conventions: an empty `end` is the single key `key`; an `end`
// of "\0" (one zero byte) is every key >= key; and a `key` of "\0" with an `end` of "\0" is every
// key. prefix_end(p) is the end that makes [p, end) every key starting with p.
struct key_range {
  std::string_view key;
  std::string_view end;
};

// The end of the range of keys starting with `prefix`: the prefix with its last byte below 0xff
// incremented (and the 0xff bytes after it dropped); "\0" (every key >= prefix) for an empty
// prefix or one of 0xff bytes only.
std::string prefix_end(std::string_view prefix);

// Whether `key` is in `r`.
bool contains(const key_range& r, std::string_view key) noexcept;

}  // namespace kv

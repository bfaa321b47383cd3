#pragma once
// Redis's glob-style patterns (KEYS, SCAN's MATCH), over byte strings: Redis 7.0's
// stringmatchlen (util.c), whose rules differ from fnmatch(3)'s, and which reads keys and
// patterns with NUL bytes in them (fnmatch stops at the first):
//
// - `*` any bytes, `?` one byte, `\x` the byte x;
// - `[abc]`, `[^abc]` (not), `[a-z]` (a range, either way round: `[z-a]` is the same), `[\]]`;
//   an unclosed `[` takes the rest of the pattern as its set;
// - bytes compare as signed chars, as Redis's do on x86 (a range over bytes >= 0x80 follows that).
//
// Like Redis's, the matcher gives up (no match) past 1000 nested `*`, and stops retrying a `*`
// once the rest of the pattern matched nowhere, so that no pattern takes exponential time.

#include <string_view>

namespace kv::resp {

bool glob_match(std::string_view pattern, std::string_view s) noexcept;

}  // namespace kv::resp

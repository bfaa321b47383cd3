#include "io/resp/glob.hpp"

#include <utility>

namespace kv::resp {

namespace {

// Redis 7.0's stringmatchlen_impl without its nocase mode; the pattern's bounds are checked where
// Redis reads the NUL byte that ends its strings (which is neither '*', '\\' nor ']').
bool match(const char* p, std::size_t plen, const char* s, std::size_t slen, bool& skip_longer, int nesting) {
  if (nesting > 1000) return false;
  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*':
        while (plen > 1 && p[1] == '*') {
          ++p;
          --plen;
        }
        if (plen == 1) return true;
        while (slen > 0) {
          if (match(p + 1, plen - 1, s, slen, skip_longer, nesting + 1)) return true;
          if (skip_longer) return false;
          ++s;
          --slen;
        }
        // The rest matched from nowhere in the rest of the string: no longer match of an earlier
        // `*` can help either.
        skip_longer = true;
        return false;
      case '?':
        ++s;
        --slen;
        break;
      case '[': {
        ++p;
        --plen;
        const bool negate = plen > 0 && p[0] == '^';
        if (negate) {
          ++p;
          --plen;
        }
        bool found = false;
        while (true) {
          if (plen == 0) {
            --p;
            ++plen;
            break;
          }
          if (p[0] == '\\' && plen >= 2) {
            ++p;
            --plen;
            if (p[0] == s[0]) found = true;
          } else if (p[0] == ']') {
            break;
          } else if (plen >= 3 && p[1] == '-') {
            int start = p[0];
            int end = p[2];
            if (start > end) std::swap(start, end);
            const int c = s[0];
            p += 2;
            plen -= 2;
            if (c >= start && c <= end) found = true;
          } else if (p[0] == s[0]) {
            found = true;
          }
          ++p;
          --plen;
        }
        if (negate) found = !found;
        if (!found) return false;
        ++s;
        --slen;
        break;
      }
      case '\\':
        if (plen >= 2) {
          ++p;
          --plen;
        }
        [[fallthrough]];
      default:
        if (p[0] != s[0]) return false;
        ++s;
        --slen;
        break;
    }
    ++p;
    --plen;
    if (slen == 0) {
      while (plen > 0 && p[0] == '*') {
        ++p;
        --plen;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view s) noexcept {
  bool skip_longer = false;
  return match(pattern.data(), pattern.size(), s.data(), s.size(), skip_longer, 0);
}

}  // namespace kv::resp

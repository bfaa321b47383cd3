#include "core/model/key_range.hpp"

namespace kv {

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();  // 0xff cannot be incremented: the prefix's end is the next shorter one's
  }
  return std::string(1, '\0');  // every key (an empty prefix, or all 0xff bytes)
}

bool contains(const key_range& r, std::string_view key) noexcept {
  if (r.end.empty()) return key == r.key;
  if (r.end == std::string_view("\0", 1)) return key >= r.key;
  return key >= r.key && key < r.end;
}

}  // namespace kv

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

}  // namespace kv

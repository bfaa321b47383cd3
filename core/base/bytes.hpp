#pragma once
// Fixed-width little-endian encoding for on-disk and on-wire formats.

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace kv {

static_assert(std::endian::native == std::endian::little, "kvnode's formats assume a little-endian host");

template <typename T>
inline void put_fixed(char* out, T v) noexcept {
  std::memcpy(out, &v, sizeof v);
}

template <typename T>
inline T get_fixed(const char* in) noexcept {
  T v;
  std::memcpy(&v, in, sizeof v);
  return v;
}

template <typename T>
inline void append_fixed(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Reads fixed-width fields from a buffer without running past its end. Every read sets
// ok() to false instead of overrunning; callers check ok() once at the end.
class byte_reader {
 public:
  explicit byte_reader(std::string_view data) noexcept : data_(data) {}

  template <typename T>
  T fixed() noexcept {
    if (data_.size() < sizeof(T)) {
      ok_ = false;
      data_ = {};
      return T{};
    }
    T v = get_fixed<T>(data_.data());
    data_.remove_prefix(sizeof(T));
    return v;
  }

  std::string_view bytes(std::size_t n) noexcept {
    if (data_.size() < n) {
      ok_ = false;
      data_ = {};
      return {};
    }
    auto v = data_.substr(0, n);
    data_.remove_prefix(n);
    return v;
  }

  std::string_view rest() noexcept { return std::exchange(data_, {}); }
  std::size_t remaining() const noexcept { return data_.size(); }
  bool ok() const noexcept { return ok_; }

 private:
  std::string_view data_;
  bool ok_ = true;
};

}  // namespace kv

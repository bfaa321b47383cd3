#pragma once
// A heap buffer whose start and capacity are multiples of `block_bytes`, as O_DIRECT requires
// of the memory a write reads from (and of the write's offset and length).

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace kv::io {

class aligned_buffer {
 public:
  // The alignment of buffers, offsets and lengths of direct I/O: the largest logical block
  // size of common devices, so it suits 512-byte and 4 KiB devices alike.
  static constexpr std::size_t block_bytes = 4096;

  static constexpr std::size_t round_up(std::size_t n) noexcept { return (n + block_bytes - 1) / block_bytes * block_bytes; }
  static constexpr std::size_t round_down(std::size_t n) noexcept { return n / block_bytes * block_bytes; }

  aligned_buffer() = default;

  char* data() noexcept { return data_.get(); }
  const char* data() const noexcept { return data_.get(); }
  std::size_t capacity() const noexcept { return capacity_; }

  // Makes room for at least `bytes` (rounded up to whole blocks); the contents are not kept.
  // Throws std::bad_alloc.
  void reserve(std::size_t bytes) {
    if (bytes <= capacity_) return;
    auto size = round_up(bytes);
    void* p = std::aligned_alloc(block_bytes, size);
    if (p == nullptr) throw std::bad_alloc();
    data_.reset(static_cast<char*>(p));
    capacity_ = size;
  }

 private:
  struct free_memory {
    void operator()(char* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<char, free_memory> data_;
  std::size_t capacity_ = 0;
};

}  // namespace kv::io

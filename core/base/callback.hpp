#pragma once
// callback<R(Args...)>: a move-only std::function. Callables up to `inline_bytes` (a shared_ptr
// and a few integers) are stored inline, so handing a continuation to the store allocates
// nothing.

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace kv {

template <typename Signature>
class callback;

template <typename R, typename... Args>
class callback<R(Args...)> {
 public:
  static constexpr std::size_t inline_bytes = 48;

  callback() noexcept = default;

  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, callback>>>
  callback(F&& f) {  // NOLINT: implicit, like std::function
    using fn = std::decay_t<F>;
    if constexpr (sizeof(fn) <= inline_bytes && alignof(fn) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<fn>) {
      ::new (static_cast<void*>(storage_)) fn(std::forward<F>(f));
      ops_ = &inline_ops<fn>;
    } else {
      *reinterpret_cast<fn**>(storage_) = new fn(std::forward<F>(f));
      ops_ = &heap_ops<fn>;
    }
  }

  callback(callback&& o) noexcept : ops_(o.ops_) {
    if (ops_) ops_->move(storage_, o.storage_);
    o.ops_ = nullptr;
  }

  callback& operator=(callback&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = o.ops_;
      if (ops_) ops_->move(storage_, o.storage_);
      o.ops_ = nullptr;
    }
    return *this;
  }

  callback(const callback&) = delete;
  callback& operator=(const callback&) = delete;
  ~callback() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  R operator()(Args... args) { return ops_->call(storage_, std::forward<Args>(args)...); }

 private:
  struct operations {
    R (*call)(void*, Args&&...);
    void (*move)(void* dst, void* src) noexcept;  // move-constructs dst from src, destroys src
    void (*destroy)(void*) noexcept;
  };

  template <typename F>
  static constexpr operations inline_ops{
      [](void* p, Args&&... a) -> R { return (*static_cast<F*>(p))(std::forward<Args>(a)...); },
      [](void* dst, void* src) noexcept {
        ::new (dst) F(std::move(*static_cast<F*>(src)));
        static_cast<F*>(src)->~F();
      },
      [](void* p) noexcept { static_cast<F*>(p)->~F(); },
  };

  template <typename F>
  static constexpr operations heap_ops{
      [](void* p, Args&&... a) -> R { return (**static_cast<F**>(p))(std::forward<Args>(a)...); },
      [](void* dst, void* src) noexcept { *static_cast<F**>(dst) = *static_cast<F**>(src); },
      [](void* p) noexcept { delete *static_cast<F**>(p); },
  };

  void reset() noexcept {
    if (ops_) ops_->destroy(storage_);
    ops_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char storage_[inline_bytes];
  const operations* ops_ = nullptr;
};

}  // namespace kv

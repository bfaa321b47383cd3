#pragma once
// Private to raft/replica: the coroutine form of a callback-style call of the store.

#include "core/base/error.hpp"
#include "io/sys/completion.hpp"

#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdint>
#include <utility>

namespace kv::replica_detail {

// Calls `submit` with a callback and yields what the callback is given. `submit` runs before
// the first suspension, so what it captures by reference from the caller's frame is alive.
template <typename Submit>
asio::awaitable<result<std::uint64_t>> await_callback(Submit submit) {
  co_return co_await io::async_park<result<std::uint64_t>>(
      [&](io::completion<void(result<std::uint64_t>)> c) {
        submit([c = std::move(c)](result<std::uint64_t> r) mutable { c(std::move(r)); });
      },
      asio::use_awaitable);
}

}  // namespace kv::replica_detail

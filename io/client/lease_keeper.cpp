#include "io/client/lease_keeper.hpp"

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace kv {

namespace {
constexpr std::chrono::milliseconds retry_pause{100};
}  // namespace

lease_keeper::lease_keeper(client& c, std::uint64_t lease, std::int64_t ttl_seconds)
    : client_(c),
      lease_(lease),
      ttl_(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::seconds(ttl_seconds))),
      guaranteed_until_(clock::now() + ttl_),
      next_at_(clock::now() + ttl_ / 3),
      timer_(c.executor_) {}

void lease_keeper::stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<result<std::int64_t>> lease_keeper::next() {
  const auto cancelled = error_info{std::make_error_code(std::errc::operation_canceled), "the keeper was stopped", {}};
  for (;;) {
    if (stopped_) co_return cancelled;
    timer_.expires_at(next_at_);
    std::error_code ignored;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (stopped_) co_return cancelled;
    const auto sent = clock::now();
    auto r = co_await client_.keep_alive(lease_);
    if (r) {
      ttl_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::seconds(*r));
      guaranteed_until_ = sent + ttl_;
      next_at_ = sent + ttl_ / 3;
      co_return r;
    }
    if (r.is(errc::not_found) || clock::now() >= guaranteed_until_) co_return r;
    next_at_ = std::min(clock::now() + retry_pause, guaranteed_until_);  // unknown: try again
  }
}

}  // namespace kv

// search::node_index, the query routing: a query is answered on the caller's thread if that is
// cheap and the index is free, else on a short-query or a long-query thread by cost; one that
// asks for a min_index the index has not reached waits on the index thread's waiting list. The
// answer always resumes the caller on its own executor.

#include "index/node/node_index.hpp"

#include "core/base/units.hpp"
#include "index/node/thread_loop.hpp"

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <shared_mutex>

namespace kv::search {

namespace {

// Lowers the calling thread's priority by `nice` (Linux: nice values are per thread).
void lower_this_threads_priority(int nice) {
  errno = 0;
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  const int now = ::getpriority(PRIO_PROCESS, tid);
  if (now == -1 && errno != 0) return;
  if (::setpriority(PRIO_PROCESS, tid, std::min(19, now + nice)) != 0) {
    spdlog::warn("search index: cannot lower a query thread's priority: {}", std::strerror(errno));
  }
}

// Resumes the caller with `r` on the caller's own executor, whichever thread answered.
template <typename Handler>
void reply_to_caller(Handler handler, result<search_answer> r) {
  auto ex = asio::get_associated_executor(handler);
  asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable { std::move(handler)(std::move(r)); });
}


error_info failure(errc code, std::string message) { return error_info{make_error_code(code), std::move(message), {}}; }

}  // namespace

// One per core, at least two, in each pool. More threads than cores let the queries of a pool
// share the CPU, but that costs more in switches and caches than the waits it saves
// (docs/benchmarks.md, "Figures behind design rules").
unsigned node_index::automatic_query_threads() { return std::clamp(std::thread::hardware_concurrency(), 2u, 16u); }

void node_index::query_pool::start(unsigned count, int nice, const char* what) {
  for (unsigned i = 0; i < count; ++i) {
    threads.emplace_back([this, nice, what] {
      lower_this_threads_priority(nice);
      detail::run_or_terminate(ctx, what);
    });
  }
}

void node_index::query_pool::stop() {
  work.reset();
  for (auto& t : threads) t.join();
  threads.clear();
}


void node_index::finish_waiter(std::uint64_t id, errc why) {
  auto it = waiting_.find(id);
  if (it == waiting_.end()) return;  // finished already (its deadline and the index raced)
  auto finish = std::move(it->second.finish);
  waiting_.erase(it);
  finish(why);
}


void node_index::finish_ready_waiters(std::uint64_t applied) {
  std::vector<std::uint64_t> ready;
  for (const auto& [id, w] : waiting_) {
    if (w.min_index <= applied) ready.push_back(id);
  }
  for (auto id : ready) finish_waiter(id, errc::ok);
}

// The caller's coroutine suspends in async_initiate; the query is answered there (cheap, see
// try_answer_here) or posted to a query thread (through the index thread if it must wait
// for min_index), and its answer posted back to the caller's executor. (Not co_spawn onto the
// index thread's executor: asio 1.22 may start such a coroutine on the calling thread.) None of
// these functions is a coroutine: g++ 12 may destroy a coroutine parameter moved into a lambda
// twice.
template <typename Answer>
asio::awaitable<result<search_answer>> node_index::when_applied(std::uint64_t min_index, Answer answer) {
  auto initiate = [this, min_index](auto handler, Answer answer) {
    if (auto r = try_answer_here(min_index, answer)) return reply_to_caller(std::move(handler), std::move(*r));
    auto run = [this, min_index, answer = std::move(answer), handler = std::move(handler)](errc why) mutable {
      answer_on_query_thread(why, min_index, std::move(answer), std::move(handler));
    };
    // The index has published that far: no need to wait.
    if (applied_index_.load(std::memory_order_acquire) >= min_index) return run(errc::ok);
    // The index thread keeps the waiting list, and runs the query once the index is far
    // enough (or fails it on the deadline, or at stop).
    asio::post(ctx_, [this, min_index, run = std::move(run)]() mutable {
      if (stopping_ || index_.applied_index() >= min_index) return run(errc::ok);
      const auto id = next_waiter_++;
      auto timer = std::make_unique<asio::steady_timer>(ctx_, wait_timeout_);
      timer->async_wait([this, id](std::error_code ec) {
        if (!ec) finish_waiter(id, errc::timed_out);
      });
      waiting_.emplace(id, waiter{min_index, std::move(timer), std::move(run)});
    });
  };
  return asio::async_initiate<decltype(asio::use_awaitable), void(result<search_answer>)>(
      std::move(initiate), asio::use_awaitable, std::move(answer));
}

template <typename Answer>
std::optional<result<search_answer>> node_index::try_answer_here(std::uint64_t min_index, Answer& answer) {
  if (stopping_ || routing_.here_postings == 0) return std::nullopt;
  std::shared_lock lock(index_mu_, std::try_to_lock);
  if (!lock.owns_lock() || index_.applied_index() < min_index || !broken_.empty()) return std::nullopt;
  auto r = answer(routing_.here_postings);
  if (!r && r.is(errc::too_large)) return std::nullopt;  // over the budget (or a limit): on a query thread
  answered_here_.fetch_add(1, std::memory_order_relaxed);
  return r;
}

template <typename Answer, typename Handler>
void node_index::answer_on_query_thread(errc why, std::uint64_t min_index, Answer answer, Handler handler) {
  asio::post(short_queries_.ctx, [this, why, min_index, answer = std::move(answer),
                                  handler = std::move(handler)]() mutable {
    auto r = answer_now(why, min_index, answer, routing_.short_postings);
    if (r || !r.is(errc::too_large)) return reply_to_caller(std::move(handler), std::move(r));
    // Over the short budget (or a limit, which the long pool reports in full).
    asio::post(long_queries_.ctx, [this, why, min_index, answer = std::move(answer),
                                   handler = std::move(handler)]() mutable {
      answered_long_.fetch_add(1, std::memory_order_relaxed);
      reply_to_caller(std::move(handler), answer_now(why, min_index, answer, UINT64_MAX));
    });
  });
}

template <typename Answer>
result<search_answer> node_index::answer_now(errc why, std::uint64_t min_index, Answer& answer, std::uint64_t budget) {
  if (why == errc::unavailable || stopping_) return failure(errc::unavailable, "the node is shutting down");
  std::shared_lock lock(index_mu_);
  if (why == errc::timed_out) {
    return failure(errc::timed_out, fmt::format("the search index reached log index {}, not {}, within {}",
                                                index_.applied_index(), min_index, format_duration(wait_timeout_)));
  }
  if (!broken_.empty()) return failure(errc::internal, broken_);
  return answer(budget);
}

asio::awaitable<result<search_answer>> node_index::search(text_query q, std::uint64_t min_index) {
  return when_applied(min_index, [this, q = std::move(q)](std::uint64_t budget) { return index_.search(q, budget); });
}

asio::awaitable<result<search_answer>> node_index::similar(similar_query q, std::uint64_t min_index) {
  return when_applied(min_index, [this, q = std::move(q)](std::uint64_t budget) { return index_.similar(q, budget); });
}

}  // namespace kv::search

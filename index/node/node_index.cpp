#include "index/node/node_index.hpp"

#include "core/model/command.hpp"
#include "core/snapshot/snapshot.hpp"
#include "core/base/units.hpp"

#include <asio/post.hpp>
#include <asio/async_result.hpp>
#include <asio/associated_executor.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <cstdio>
#include <spdlog/spdlog.h>

namespace kv::search {

namespace {
// Queue items indexed per turn of the index thread before waiting queries get a turn.
constexpr std::size_t batch_items = 4096;
// The longest run of changes applied under one exclusive hold of the index (see drain()).
constexpr auto change_slice = std::chrono::milliseconds(2);
// Values of a snapshot handed to the index at once when it is rebuilt (put_many's batches).
constexpr std::size_t rebuild_batch_pairs = 1024;
// The index builds the n-grams of a batch on a helper thread (index_options::build_threads).
constexpr std::size_t index_build_threads = 2;

// For the log: "1.234 s", "12.3 MiB".
std::string seconds_since(std::chrono::steady_clock::time_point start) {
  return fmt::format("{:.3f} s", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}
std::string mib(std::uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1u << 20)); }

error_info failure(errc code, std::string message) { return error_info{make_error_code(code), std::move(message), {}}; }
}  // namespace

index_options options_of(const index_config& c) {
  index_options o;
  o.ngram_size = c.ngram_size;
  o.stop_words = c.stop_words ? *c.stop_words : default_stop_words();
  o.stemming_language = c.stemming;
  o.remove_diacritics = c.remove_diacritics;
  o.max_results = c.max_results;
  o.max_query_terms = c.max_query_terms;
  o.max_postings_scanned = c.max_postings_scanned;
  o.build_threads = index_build_threads;
  return o;
}

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

// A thread's loop: an exception escaping a handler is a bug; the node stops.
void run_or_terminate(asio::io_context& ctx, const char* what) {
  try {
    ctx.run();
  } catch (const std::exception& e) {
    spdlog::critical("{} failed: {}", what, e.what());
    std::terminate();
  }
}

// Resumes the caller with `r` on the caller's own executor, whichever thread answered.
template <typename Handler>
void reply_to_caller(Handler handler, result<search_answer> r) {
  auto ex = asio::get_associated_executor(handler);
  asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable { std::move(handler)(std::move(r)); });
}

}  // namespace

// One per core, at least two, in each pool. More threads than cores let the queries of a pool
// share the CPU, but that costs more in switches and caches than the waits it saves
// (docs/benchmarks.md, "Figures behind design rules").
unsigned node_index::automatic_query_threads() { return std::clamp(std::thread::hardware_concurrency(), 2u, 16u); }

void node_index::query_pool::start(unsigned count, int nice, const char* what) {
  for (unsigned i = 0; i < count; ++i) {
    threads.emplace_back([this, nice, what] {
      lower_this_threads_priority(nice);
      run_or_terminate(ctx, what);
    });
  }
}

void node_index::query_pool::stop() {
  work.reset();
  for (auto& t : threads) t.join();
  threads.clear();
}

node_index::node_index(index_options opts, std::chrono::milliseconds wait_timeout, std::filesystem::path dir,
                   std::uint64_t save_interval_bytes, query_routing routing)
    : wait_timeout_(wait_timeout),
      dir_(std::move(dir)),
      save_interval_bytes_(save_interval_bytes),
      routing_(routing),
      work_(ctx_.get_executor()),
      index_(std::move(opts)) {
  const unsigned threads = routing_.threads == 0 ? automatic_query_threads() : routing_.threads;
  short_queries_.start(threads, short_query_nice, "a short search query thread");
  long_queries_.start(threads, long_query_nice, "a long search query thread");
  thread_ = std::thread([this] { run_or_terminate(ctx_, "the search index thread"); });
}

node_index::~node_index() { stop(); }

void node_index::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  asio::post(ctx_, [this] {
    while (!waiting_.empty()) finish_waiter(waiting_.begin()->first, errc::unavailable);
  });
  work_.reset();
  thread_.join();
  // Short first: a query there may still move on to the long pool.
  short_queries_.stop();
  long_queries_.stop();
}

void node_index::restart_from(std::shared_ptr<const io::mapped_file> file, std::uint64_t index, std::uint64_t log_end) {
  enqueue(restart{std::move(file), index, log_end});
}

void node_index::applied(std::uint64_t index, std::string_view command) { enqueue(entry{index, std::string(command)}); }

void node_index::checkpoint(std::uint64_t index) {
  if (!dir_.empty()) enqueue(save_point{index});
}

void node_index::enqueue(item it) {
  std::lock_guard lock(mu_);
  if (const auto* p = std::get_if<save_point>(&it)) newest_save_point_ = std::max(newest_save_point_, p->index);
  queue_.push_back(std::move(it));
  if (!scheduled_) {
    scheduled_ = true;
    asio::post(ctx_, [this] { drain(); });
  }
}

void node_index::drain() {
  std::vector<item> batch;
  bool more = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() <= batch_items) {
      batch.swap(queue_);
      scheduled_ = false;
    } else {
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + batch_items));
      queue_.erase(queue_.begin(), queue_.begin() + batch_items);
      more = true;
    }
  }
  if (stopping_) return;
  // Changes are applied in runs under one exclusive hold of index_mu_, each run ending once it
  // has taken change_slice: queries waiting for the lock, or for what the run applied, get a
  // turn between runs. (Taking the
  // lock per entry would let back-to-back queries, each holding it shared, admit one entry per
  // query: the index would fall behind a stream of small writes.)
  std::unique_lock<rw_lock> lock(index_mu_, std::defer_lock);
  auto run_started = std::chrono::steady_clock::now();
  for (auto& it : batch) {
    // Saving takes time in proportion to the documents: answer the queries waiting for what is
    // indexed so far first.
    if (auto* p = std::get_if<save_point>(&it)) {
      if (lock.owns_lock()) lock.unlock();
      publish();
      process(*p);  // save() only reads: queries go on meanwhile
      continue;
    }
    if (lock.owns_lock() && std::chrono::steady_clock::now() - run_started >= change_slice) {
      lock.unlock();
      publish();  // the queries waiting for what this run applied need not wait for the batch
    }
    if (!lock.owns_lock()) {
      lock.lock();
      run_started = std::chrono::steady_clock::now();
    }
    std::visit([this](auto& i) { process(i); }, it);
  }
  if (lock.owns_lock()) lock.unlock();
  publish();
  if (more) {
    asio::post(ctx_, [this] { drain(); });
    return;
  }
  // Caught up (for now) with a good deal indexed since the last save: save, so that a restart
  // does not have to index all of it again.
  if (!dir_.empty() && save_interval_bytes_ > 0 && applied_since_save_ >= save_interval_bytes_ && broken_.empty()) {
    bool idle = false;
    {
      std::lock_guard lock(mu_);
      idle = queue_.empty();
    }
    if (idle) save("caught up");
  }
}

std::filesystem::path node_index::saved_path(std::uint64_t index) const {
  return dir_ / fmt::format("index-{:020}.idx", index);
}

bool node_index::load_saved(std::uint64_t index, std::uint64_t log_end) {
  if (dir_.empty()) return false;
  // Saved indexes at or past the snapshot, newest first.
  std::vector<std::uint64_t> saved;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir_, ec)) {
    const auto name = f.path().filename().string();
    std::uint64_t at = 0;
    // Only names saved_path() writes ("index-" and 20 digits ".idx").
    if (std::sscanf(name.c_str(), "index-%20" SCNu64, &at) != 1 || saved_path(at).filename() != name) continue;
    if (at >= index && at <= log_end) {
      saved.push_back(at);
    } else {
      spdlog::info("search index: not using the saved index {} (the snapshot is at {}, the log ends at {})",
                   f.path().string(), index, log_end);
    }
  }
  std::sort(saved.rbegin(), saved.rend());
  for (std::uint64_t at : saved) {
    const auto path = saved_path(at);
    const auto start = std::chrono::steady_clock::now();
    auto loaded = index_.load(path);
    if (!loaded || *loaded != at) {
      spdlog::warn("search index: cannot use the saved index {}: {}", path.string(),
                   loaded ? fmt::format("it is at log index {}, not {}", *loaded, at) : loaded.message());
      index_.clear();
      continue;
    }
    last_saved_ = at;
    applied_since_save_ = 0;
    spdlog::info("search index loaded from {} in {}: {} documents at log index {} (the snapshot is at {})",
                 path.string(), seconds_since(start), index_.documents(), at, index);
    return true;
  }
  if (!saved.empty()) spdlog::warn("search index: no saved index is usable; re-indexing the snapshot instead");
  return false;
}

void node_index::process(save_point& p) {
  if (index_.applied_index() != p.index || !broken_.empty()) {
    // Cannot happen: every entry up to the snapshot's index was queued before its save point.
    spdlog::warn("search index: not saved for the snapshot at {}: the index is at {}", p.index, index_.applied_index());
    return;
  }
  if (last_saved_ >= p.index) return;  // a save at or past the snapshot serves a restart from it
  {
    // A restart needs an index saved at or past the newest snapshot: while the index trails the
    // store (a bulk load), a save for a snapshot that a newer one already replaced is wasted
    // work (in proportion to the documents, with the index paused).
    std::lock_guard lock(mu_);
    if (newest_save_point_ > p.index) {
      spdlog::info("search index: not saved for the snapshot at {}: the snapshot at {} replaces it", p.index,
                   newest_save_point_);
      return;
    }
  }
  save(fmt::format("the snapshot at {}", p.index).c_str());
}

void node_index::save(const char* why) {
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t at = index_.applied_index();
  const auto path = saved_path(at);
  try {
    std::shared_lock lock(index_mu_);
    index_.save(path);
  } catch (const std::exception& e) {
    // Only costs time at the next restart (an older save or the snapshot is indexed from). The
    // next save after save_interval_bytes more, or at the next snapshot, not at once: a full
    // disk would fail every attempt.
    spdlog::error("search index: cannot save it to {}: {}", path.string(), e.what());
    applied_since_save_ = 0;
    return;
  }
  last_saved_ = at;
  applied_since_save_ = 0;
  ++saves_;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir_, ec)) {
    const auto name = f.path().filename().string();
    if (name.starts_with("index-") && f.path() != path) std::filesystem::remove(f.path(), ec);
  }
  spdlog::info("search index saved to {} in {} ({}; {} documents, {})", path.string(), seconds_since(start), why,
               index_.documents(), mib(std::filesystem::file_size(path, ec)));
}

void node_index::process(restart& r) {
  const auto start = std::chrono::steady_clock::now();
  index_.clear();
  broken_.clear();
  last_saved_ = 0;
  applied_since_save_ = 0;
  if (load_saved(r.index, r.log_end)) {
    r.file.reset();
    ++loads_;
    return;
  }
  if (r.file == nullptr) {  // a start without a snapshot: the log brings everything
    index_.set_applied_index(r.index);
    return;
  }
  const std::string name = fmt::format("the snapshot at index {}", r.index);
  try {
    // Views into the mapped file, which stays mapped until the rebuild is done.
    std::vector<pair_view> pairs;
    snapshot::decode_pairs(std::string_view(r.file->data().data(), r.file->size()), name,
                           [&](std::string_view key, std::string_view value) {
                             pairs.push_back({key, value});
                             if (pairs.size() < rebuild_batch_pairs) return;
                             index_.put_many(pairs);
                             pairs.clear();
                           });
    index_.put_many(pairs);
  } catch (const std::exception& e) {
    // The store checked this file before it loaded it; failing here is a bug or a disk gone bad.
    broken_ = fmt::format("the search index could not be rebuilt from {}: {}", name, e.what());
    spdlog::error("{}", broken_);
    index_.clear();
  }
  index_.set_applied_index(r.index);
  r.file.reset();  // unmaps a snapshot that may have been deleted since
  ++rebuilds_;
  const auto s = index_.stats();
  spdlog::info("search index rebuilt from the snapshot at index {} in {}: {} documents ({} not UTF-8, skipped), "
               "{} terms, {} n-grams, about {}",
               r.index, seconds_since(start), s.documents, s.skipped_non_utf8,
               s.terms, s.ngrams, mib(s.memory_bytes));
}

void node_index::process(entry& e) {
  if (e.index <= index_.applied_index()) return;  // covered by the snapshot or saved index it started from
  applied_since_save_ += e.command.size();
  if (e.command.empty()) {
    index_.set_applied_index(e.index);
    return;
  }
  auto cmd = decode_command(e.command);
  if (!cmd) {
    // The store applied this entry, so it decoded there: this cannot happen.
    spdlog::error("search index: log entry {} does not decode; skipping it", e.index);
    index_.set_applied_index(e.index);
    return;
  }
  index_.apply(e.index, *cmd);
}

void node_index::publish() {
  applied_index_.store(index_.applied_index(), std::memory_order_release);
  documents_.store(index_.documents(), std::memory_order_relaxed);
  skipped_.store(index_.skipped_non_utf8(), std::memory_order_relaxed);
  digest_.store(index_.digest(), std::memory_order_relaxed);
  const auto applied = index_.applied_index();
  std::vector<std::uint64_t> ready;
  for (const auto& [id, w] : waiting_) {
    if (w.min_index <= applied) ready.push_back(id);
  }
  for (auto id : ready) finish_waiter(id, errc::ok);
}

node_index::progress_t node_index::progress() const {
  progress_t p;
  p.applied_index = applied_index_.load(std::memory_order_relaxed);
  p.documents = documents_.load(std::memory_order_relaxed);
  p.skipped_non_utf8 = skipped_.load(std::memory_order_relaxed);
  p.digest = digest_.load(std::memory_order_relaxed);
  p.rebuilds = rebuilds_.load(std::memory_order_relaxed);
  p.loads = loads_.load(std::memory_order_relaxed);
  p.saves = saves_.load(std::memory_order_relaxed);
  p.answered_here = answered_here_.load(std::memory_order_relaxed);
  p.answered_long = answered_long_.load(std::memory_order_relaxed);
  return p;
}

void node_index::finish_waiter(std::uint64_t id, errc why) {
  auto it = waiting_.find(id);
  if (it == waiting_.end()) return;  // finished already (its deadline and the index raced)
  auto finish = std::move(it->second.finish);
  waiting_.erase(it);
  finish(why);
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

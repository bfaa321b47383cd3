#pragma once
// The node's index: keeps a search_index in step with the applied log and
// answers queries once the index has applied far enough.
//
// The store hands it every applied entry (as an apply_observer) and it queues a copy; the
// index is updated on a thread of its own (the index thread), so indexing never holds up the write path.
// The queue is unbounded: a burst of writes makes the index lag (status: index_lag), never the
// writes wait. A bulk_set is one entry and is indexed as a whole between two queries.
//
// Persistence: a node_index saves the index as it is at log index I to <data-dir>/index-<I>.idx
// (on its thread) and then removes older ones. It saves when the store takes a snapshot at S,
// once it has applied S (unless a newer snapshot is already queued, or a save at or past S
// exists), and when it has caught up with the store after applying save_interval_bytes of log
// since its last save. On restart (and when a leader's snapshot is installed) the store
// reports the snapshot at S it loaded (if any) and where its log ends: the node_index loads the
// newest sound index-<I>.idx with S <= I <= the log's end, skipping the entries up to I, or
// else rebuilds the index from the snapshot file
// itself, on its thread, while the store goes on replaying and serving; the entries after that
// follow from the queue. The index only ever applies committed entries, the committed log is
// the same on every node, and a log that holds entry I holds every committed entry up to it:
// so a saved index at I is valid on any node whose snapshot is at or before I and whose log
// reaches I. (A log that lost its tail in a crash is not trusted that far: the index is then
// rebuilt.)
//
// Threading: restart_from() and applied() are called on the store's thread; progress() on any
// thread. search() and similar() may be awaited from any executor. A query is first tried on
// the caller's thread, if the index is not being changed at that moment, has
// applied min_index and the query reads at most `routing.here_postings` postings: that skips two
// thread hand-offs (each a thread wake-up) for the common cheap query, and bounds by a posting
// count what the caller's thread (a node's server and Raft thread) can spend on it. Otherwise (or when the attempt exceeds the budget) the query runs on a query
// thread (a short or a long one, by cost), with the configured limits, once the index has applied
// min_index (the index thread keeps the waiting list), and resumes the caller on its own
// executor. Short and long queries run in pools of their own, so a short one does not queue
// behind a long one.
// index_mu_ (a reader-writer lock that prefers writers) keeps changes apart from queries: the
// index thread holds it exclusively while it changes the index (queued entries are applied
// in runs of about two milliseconds, a query turn between runs) and shared while it saves
// it; queries hold it shared; the caller's thread only try_locks it shared, which fails while a
// change waits, so queries cannot keep the index from changing.

#include "core/state/apply_observer.hpp"
#include "core/base/callback.hpp"
#include "core/base/error.hpp"
#include "core/model/query.hpp"
#include "index/node/rw_lock.hpp"
#include "index/node/settings.hpp"
#include "index/search_index.hpp"

#include <asio/awaitable.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace kv::search {

// The search_index options among `c`; the rest of `c` is node_index's (its constructor's
// arguments) or the node's (`enabled`).
index_options options_of(const index_config& c);

// Where a node_index answers the queries, by the posting entries they read (see Threading).
struct query_routing {
  // At most this many: on the caller's thread, if the index is free (a budget small enough that
  // Raft and writes on that thread do not notice it; [index] server-thread-postings; 0: never).
  std::uint64_t here_postings = 20'000;
  // At most this many: on a short-query thread; more: on a long-query thread. The two budgets'
  // times on the project's machine are in docs/benchmarks.md.
  std::uint64_t short_postings = 500'000;
  // Threads in each of the two pools (0: one per core, at least two; [index] query-threads).
  unsigned threads = 0;
};

class node_index final : public apply_observer {
 public:
  // `wait_timeout`: how long a query waits for its min_index before errc::timed_out. `dir`:
  // where saved indexes go (the node's data directory; empty: never saved).
  // Throws std::invalid_argument for bad options (see search_index).
  // `save_interval_bytes`: log applied since the last save after which a caught-up index saves
  // itself (0: only at snapshots).
  node_index(index_options opts, std::chrono::milliseconds wait_timeout, std::filesystem::path dir = {},
           std::uint64_t save_interval_bytes = 0, query_routing routing = {});
  ~node_index() override;
  node_index(const node_index&) = delete;
  node_index& operator=(const node_index&) = delete;

  void restart_from(std::shared_ptr<const io::mapped_file> file, std::uint64_t index, std::uint64_t log_end) override;
  void applied(std::uint64_t index, std::string_view command) override;
  void checkpoint(std::uint64_t index) override;

  // Answers `q` once the index has applied `min_index` (at once if it has). errc::timed_out
  // after wait_timeout, errc::unavailable once stopping, or the index's own errors.
  asio::awaitable<result<search_answer>> search(text_query q, std::uint64_t min_index);
  asio::awaitable<result<search_answer>> similar(similar_query q, std::uint64_t min_index);

  // The index's position, as of the last batch it finished.
  struct progress_t {
    std::uint64_t applied_index = 0;
    std::uint64_t documents = 0;
    std::uint64_t skipped_non_utf8 = 0;
    std::uint64_t digest = 0;
    std::uint64_t rebuilds = 0;  // snapshots the index was rebuilt from (values re-indexed)
    std::uint64_t loads = 0;     // saved indexes loaded instead of a rebuild
    std::uint64_t saves = 0;     // indexes saved (at snapshots, and after save_interval_bytes)
    std::uint64_t answered_here = 0;  // queries answered on the caller's thread (see Threading)
    std::uint64_t answered_long = 0;  // queries run on a long-query thread
  };
  progress_t progress() const;

  // Fails waiting queries with errc::unavailable and stops the thread; pending work is dropped.
  // Called by the destructor.
  void stop();

  // The threads of each query pool when query_routing::threads is 0.
  static unsigned automatic_query_threads();

 private:
  struct restart {
    std::shared_ptr<const io::mapped_file> file;  // null: no snapshot (index 0)
    std::uint64_t index;
    std::uint64_t log_end;
  };
  struct entry {
    std::uint64_t index;
    std::string command;
  };
  struct save_point {
    std::uint64_t index;
  };
  using item = std::variant<restart, entry, save_point>;

  void enqueue(item it);
  void drain();  // on the index thread: one batch of the queue
  void process(restart& r);
  void process(entry& e);
  void process(save_point& p);
  // Loads the newest sound saved index at or past `index` (a snapshot's) and at most `log_end`
  // (the node's log holds every entry it covers), if there is one.
  bool load_saved(std::uint64_t index, std::uint64_t log_end);
  std::filesystem::path saved_path(std::uint64_t index) const;
  // Saves the index (at its applied index) and removes the older saved files; `why` is for the log.
  void save(const char* why);
  void publish();
  // Runs `answer(index_)` on the caller's thread (try_answer_here) or on a query thread once the
  // index has applied `min_index` (or fails it on the deadline or at stop) and resumes the caller
  // on its own executor.
  template <typename Answer>
  asio::awaitable<result<search_answer>> when_applied(std::uint64_t min_index, Answer answer);
  // A query waiting for the index to reach its min_index.
  struct waiter {
    std::uint64_t min_index;
    std::unique_ptr<asio::steady_timer> deadline;
    callback<void(errc)> finish;  // errc::ok, timed_out or unavailable
  };
  void finish_waiter(std::uint64_t id, errc why);
  // The answer on the calling thread, if the index is free, at min_index and the query within
  // routing_.here_postings; else nothing.
  template <typename Answer>
  std::optional<result<search_answer>> try_answer_here(std::uint64_t min_index, Answer& answer);
  // On a query thread: the answer (within `budget` postings), or why there is none.
  template <typename Answer>
  result<search_answer> answer_now(errc why, std::uint64_t min_index, Answer& answer, std::uint64_t budget);
  // Runs the query on a short-query thread, or on a long-query one if it exceeds short_postings
  // there, and hands the answer to `handler` on its associated executor.
  template <typename Answer, typename Handler>
  void answer_on_query_thread(errc why, std::uint64_t min_index, Answer answer, Handler handler);

  std::chrono::milliseconds wait_timeout_;
  std::filesystem::path dir_;
  std::uint64_t save_interval_bytes_;
  query_routing routing_;
  std::uint64_t last_saved_ = 0;        // the applied index of the newest saved file (0: none)
  std::uint64_t applied_since_save_ = 0;  // command bytes applied since then (the index thread)
  asio::io_context ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  // Changed only on the index thread, holding index_mu_ exclusively; queried and saved
  // holding it shared. The index thread may read its counters (applied index, documents,
  // digest) without it.
  search_index index_;
  rw_lock index_mu_;  // also guards broken_
  // Threads that run queries at a lower priority (nice + `nice`) than the server's thread and
  // the index thread.
  struct query_pool {
    asio::io_context ctx;
    asio::executor_work_guard<asio::io_context::executor_type> work{ctx.get_executor()};
    std::vector<std::thread> threads;
    void start(unsigned count, int nice, const char* what);
    void stop();  // a query still queued answers unavailable
  };
  // Where the queries run that the caller's thread does not answer, by cost (shortest first, in
  // effect): those within routing_.short_postings on short_queries_ at nice +5, the rest on
  // long_queries_ at nice +15. The scheduler gives a nice +5 thread about nine times the CPU of
  // a nice +15 one, so a short query does not queue behind long ones and takes most of the CPU
  // they would use, and a nice 0 thread three times that of a nice +5 one, so Raft, writes,
  // indexing and the cheap queries the server's thread answers itself go first.
  static constexpr int short_query_nice = 5;
  static constexpr int long_query_nice = 15;
  query_pool short_queries_;
  query_pool long_queries_;

  // Queries waiting for the index to reach their min_index, by id (the index thread only).
  std::map<std::uint64_t, waiter> waiting_;
  std::uint64_t next_waiter_ = 1;
  std::string broken_;  // why the last rebuild failed; queries fail while it is set

  std::mutex mu_;  // guards queue_, scheduled_ and newest_save_point_
  std::vector<item> queue_;
  bool scheduled_ = false;
  std::uint64_t newest_save_point_ = 0;  // the index of the last save_point queued

  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> applied_index_{0};
  std::atomic<std::uint64_t> documents_{0};
  std::atomic<std::uint64_t> skipped_{0};
  std::atomic<std::uint64_t> digest_{0};
  std::atomic<std::uint64_t> rebuilds_{0};
  std::atomic<std::uint64_t> loads_{0};
  std::atomic<std::uint64_t> saves_{0};
  std::atomic<std::uint64_t> answered_here_{0};
  std::atomic<std::uint64_t> answered_long_{0};
  std::thread thread_;
};

}  // namespace kv::search

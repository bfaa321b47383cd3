#pragma once
// The node's index: keeps a search_index in step with the applied log on a thread of its own (the
// index thread), saves it, and answers queries once it has applied far enough. It has three jobs,
// one file each, behind this one class:
//
// The feed (feed.cpp). The store hands it every applied entry (as an apply_observer) and it
// queues a copy; the index thread applies the queue, so indexing never holds up the write path.
// The queue is unbounded: a burst of writes makes the index lag (status: index_lag), never the
// writes wait. A bulk_set is one entry and is indexed as a whole between two queries. On restart
// (and when a leader's snapshot is installed) the store reports the snapshot at S it loaded (if
// any) and where its log ends: the index thread loads the newest sound index-<I>.idx with
// S <= I <= the log's end, skipping the entries up to I, or else rebuilds the index from the
// snapshot file itself, while the store goes on replaying and serving; the entries after that
// follow from the queue. The index only ever applies committed entries, the committed log is the
// same on every node, and a log that holds entry I holds every committed entry up to it: so a
// saved index at I is valid on any node whose snapshot is at or before I and whose log reaches I.
// (A log that lost its tail in a crash is not trusted that far: the index is then rebuilt.)
//
// The saves (saves.cpp). The index as it is at log index I is saved to <dir>/index-<I>.idx (on
// the index thread), and the older files are then removed. It is saved when the store takes a
// snapshot at S, once the index has applied S (unless a newer snapshot is already queued, or a
// save at or past S exists), and when it has caught up with the store after applying
// save_interval_bytes of log since its last save.
//
// The query routing (query_routing.cpp). A query is first tried on the caller's thread, if the
// index is not being changed at that moment, has applied min_index and the query reads at most
// `routing.here_postings` postings: that skips two thread hand-offs (each a thread wake-up) for
// the common cheap query, and bounds by a posting count what the caller's thread (a node's server
// and Raft thread) can spend on it. Otherwise (or when the attempt exceeds the budget) the query
// runs on a query thread (a short or a long one, by cost), with the configured limits, once the
// index has applied min_index (the index thread keeps the waiting list), and resumes the caller
// on its own executor. Short and long queries run in pools of their own, so a short one does not
// queue behind a long one.
//
// Threading:
// - The store's thread calls restart_from(), applied() and checkpoint(): they only queue (mu_).
// - The index thread (ctx_, thread_) applies the queue, rebuilds or loads the index, saves it,
//   publishes the progress atomics and keeps the waiting list (waiting_ and its timers).
// - search() and similar() may be awaited from any executor; the caller's thread may answer the
//   query itself (try_answer_here), else a short-query thread and maybe then a long-query one
//   does (answer_now). progress() may be called from any thread; stop() by the owner.
// - index_mu_ (a reader-writer lock that prefers writers) keeps changes apart from queries: the
//   index thread holds it exclusively while it changes the index (queued entries are applied in
//   runs of about two milliseconds, a query turn between runs) and shared while it saves it;
//   queries hold it shared; the caller's thread only try_locks it shared, which fails while a
//   change waits, so queries cannot keep the index from changing.

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
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace kv::search {

// The search_index options among `c`; the rest of `c` is node_index's (its constructor's
// arguments) or the node's (`enabled`).
index_options options_of(const index_config& c);

// Where a node_index answers the queries, by the posting entries they read (see "The query routing" above).
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

  // apply_observer, on the store's thread: they queue the restart, the entry or the save point
  // and return (the feed, and the saves for checkpoint()).
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

  // Fails waiting queries with errc::unavailable and stops the index thread, then the query
  // threads; pending work is dropped.
  // Called by the destructor.
  void stop();

  // The threads of each query pool when query_routing::threads is 0.
  static unsigned automatic_query_threads();

 private:
  // ---- The feed (feed.cpp), on the index thread but for enqueue().
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

  void enqueue(item it);  // on the store's thread
  void drain();           // one batch of the queue
  void process(restart& r);
  void process(entry& e);
  // Publishes the index's position (the progress atomics) and lets the queries waiting for it go.
  void publish();

  // ---- The saves (saves.cpp), on the index thread.
  void process(save_point& p);
  // Saves once the queue is empty if save_interval_bytes have been applied since the last save.
  void save_if_caught_up();
  // Loads the newest sound saved index at or past `index` (a snapshot's) and at most `log_end`
  // (the node's log holds every entry it covers), if there is one.
  bool load_saved(std::uint64_t index, std::uint64_t log_end);
  std::filesystem::path saved_path(std::uint64_t index) const;
  // Saves the index (at its applied index) and removes the older saved files; `why` is for the log.
  void save(const char* why);

  // ---- The query routing (query_routing.cpp).
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
  // On the index thread: ends a waiter (if still waiting) with `why`.
  void finish_waiter(std::uint64_t id, errc why);
  // On the index thread: lets go the waiters whose min_index is at most `applied`.
  void finish_ready_waiters(std::uint64_t applied);
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

  // ---- State, and who may touch it. (Declared in this order for construction: ctx_ before
  // work_ and the waiters' timers.)
  // Set at construction, read-only after.
  std::chrono::milliseconds wait_timeout_;  // routing: a waiter's deadline
  std::filesystem::path dir_;               // saves: where index-<I>.idx go (empty: never saved)
  std::uint64_t save_interval_bytes_;       // saves
  query_routing routing_;                   // routing
  // The saves' record (the index thread only).
  std::uint64_t last_saved_ = 0;          // the applied index of the newest saved file (0: none)
  std::uint64_t applied_since_save_ = 0;  // command bytes applied since then
  // The index thread's loop.
  asio::io_context ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  // Changed only on the index thread, holding index_mu_ exclusively; queried and saved holding
  // it shared. The index thread may read its counters (applied index, documents, digest)
  // without it.
  search_index index_;
  rw_lock index_mu_;  // also guards broken_
  query_pool short_queries_;
  query_pool long_queries_;

  // Queries waiting for the index to reach their min_index, by id (the index thread only).
  std::map<std::uint64_t, waiter> waiting_;
  std::uint64_t next_waiter_ = 1;
  std::string broken_;  // why the last rebuild failed; queries fail while it is set

  // The feed's queue, between the store's thread and the index thread.
  std::mutex mu_;  // guards queue_, scheduled_ and newest_save_point_
  std::vector<item> queue_;
  bool scheduled_ = false;               // a drain() is posted to ctx_
  std::uint64_t newest_save_point_ = 0;  // the index of the last save_point queued (read by the saves)

  // Set by stop(); read on every thread: no new work starts once it is set.
  std::atomic<bool> stopping_{false};
  // The progress, for progress() on any thread. Stored by publish() on the index thread, but
  // rebuilds_, loads_, saves_ (the index thread, as they happen), answered_here_ (the caller's
  // thread) and answered_long_ (a long-query thread). Relaxed but applied_index_: publish()
  // stores it with release and when_applied() loads it with acquire to skip the waiting list.
  std::atomic<std::uint64_t> applied_index_{0};
  std::atomic<std::uint64_t> documents_{0};
  std::atomic<std::uint64_t> skipped_{0};
  std::atomic<std::uint64_t> digest_{0};
  std::atomic<std::uint64_t> rebuilds_{0};
  std::atomic<std::uint64_t> loads_{0};
  std::atomic<std::uint64_t> saves_{0};
  std::atomic<std::uint64_t> answered_here_{0};
  std::atomic<std::uint64_t> answered_long_{0};
  std::thread thread_;  // the index thread
};

}  // namespace kv::search

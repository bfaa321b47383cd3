// search::node_index, the feed: the entries the store applies are queued (on the store's
// thread) and applied to the index on the index thread, in runs under an exclusive hold of
// index_mu_; a restart (or an installed snapshot) loads a saved index or rebuilds the index from
// the snapshot file. After each run the progress is published and the queries waiting for it
// are let go.

#include "index/node/node_index.hpp"

#include "core/model/command.hpp"
#include "core/snapshot/snapshot.hpp"
#include "index/node/log_units.hpp"

#include <asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>

namespace kv::search {

namespace {
// Queue items indexed per turn of the index thread before waiting queries get a turn.
constexpr std::size_t batch_items = 4096;
// The longest run of changes applied under one exclusive hold of the index (see drain()).
constexpr auto change_slice = std::chrono::milliseconds(2);
// Values of a snapshot handed to the index at once when it is rebuilt (put_many's batches).
constexpr std::size_t rebuild_batch_pairs = 1024;
}  // namespace

void node_index::restart_from(std::shared_ptr<const io::mapped_file> file, std::uint64_t index, std::uint64_t log_end) {
  enqueue(restart{std::move(file), index, log_end});
}

void node_index::applied(std::uint64_t index, std::string_view command) { enqueue(entry{index, std::string(command)}); }

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
  save_if_caught_up();
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
               r.index, detail::seconds_since(start), s.documents, s.skipped_non_utf8,
               s.terms, s.ngrams, detail::mib(s.memory_bytes));
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
  finish_ready_waiters(index_.applied_index());
}

}  // namespace kv::search

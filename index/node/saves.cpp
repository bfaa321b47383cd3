// search::node_index, the saves: when the index is saved (at a snapshot's save point, once it
// has applied that far, unless a newer one is queued or a save at or past it exists; and when it
// has caught up after save_interval_bytes of log), how it is written to <dir>/index-<I>.idx and
// the older files removed, and which saved file a restart may load. All of it on the index
// thread.

#include "index/node/node_index.hpp"

#include "index/node/log_units.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <shared_mutex>

namespace kv::search {

void node_index::checkpoint(std::uint64_t index) {
  if (!dir_.empty()) enqueue(save_point{index});
}

// Caught up (for now) with a good deal indexed since the last save: save, so that a restart
// does not have to index all of it again.
void node_index::save_if_caught_up() {
  if (dir_.empty() || save_interval_bytes_ == 0 || applied_since_save_ < save_interval_bytes_ || !broken_.empty()) {
    return;
  }
  bool idle = false;
  {
    std::lock_guard lock(mu_);
    idle = queue_.empty();
  }
  if (idle) save("caught up");
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
                 path.string(), detail::seconds_since(start), index_.documents(), at, index);
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
  spdlog::info("search index saved to {} in {} ({}; {} documents, {})", path.string(),
               detail::seconds_since(start), why, index_.documents(),
               detail::mib(std::filesystem::file_size(path, ec)));
}

}  // namespace kv::search

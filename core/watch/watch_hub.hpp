#pragma once
// Watches: streams of the keyspace's changes to a key or a range, from a revision on, each change
// once and in revision order (etcd v3's watch). The hub keeps the node's watchers and feeds them
// from the writes the node applies; it knows nothing of connections: a watcher is a sink.
//
// A watcher is either synced or catching up:
// - Synced: it has every change up to the keyspace's revision, and applied() hands it the changes
//   of each new write as the node applies it (a follower applies only committed entries, so a
//   watcher never sees a change that is not committed).
// - Catching up: it started at a past revision, or its sink was full, or the keyspace was
//   replaced by a snapshot. step() replays its changes from the keyspace's history
//   (keyspace::changes), a window of revisions at a time, until it is synced again. A watcher
//   whose next revision was compacted away ends with errc::compacted, naming the compacted
//   revision (it can list the range there and watch again from the next revision).
//
// A sink gets the changes of one or more whole revisions per call, in revision order; it returns
// false when it wants no more for now (its connection's buffer is full): the watcher then waits
// for resume() and catches up from history, so a slow reader costs the node its own bounded
// buffer, never an unbounded queue.
//
// Threading: not thread-safe; on the node's event-loop thread, like the keyspace it reads.

#include "core/base/error.hpp"
#include "core/model/command.hpp"
#include "core/model/key_range.hpp"
#include "core/state/keyspace.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace kv {

struct watch_options {
  std::string key;  // the range, in etcd's conventions (core/model/key_range.hpp)
  std::string end;
  std::uint64_t start_revision = 0;  // the first revision to report; 0: the next write's
  bool no_put = false;               // filters
  bool no_delete = false;
  bool prev_kv = false;  // report the version each change replaced
};

struct watch_sink {
  // Changes of whole revisions, in revision order. Views are valid during the call. Returns
  // false to be sent nothing more until watch_hub::resume().
  std::function<bool(std::span<const key_event>)> events;
  // The watch is over; `why` says why (errc::compacted: its next revision was compacted).
  std::function<void(const error_info& why)> ended;
};

// The ranges a write command (core/model/command.hpp) may change, for watch_hub::applied():
// a set's or del's key, each key of a bulk_set, and every write op's key or range in either
// branch of a transaction (a superset: only one branch ran). Appended to `out`; views into
// `cmd`'s bytes. Nothing for commands that change no key (compact, open_session, noop).
void written_ranges(const command_view& cmd, std::vector<key_range>& out);

class watch_hub {
 public:
  // Revisions of history one step() replays for one watcher at most.
  static constexpr std::uint64_t catch_up_window = 1000;

  explicit watch_hub(const keyspace& ks) : ks_(ks) {}

  // Starts a watch; its id. A start revision below the keyspace's compacted revision is refused
  // (errc::compacted, naming it); one in the past is replayed by step(); one in the future waits.
  result<std::uint64_t> watch(watch_options o, watch_sink sink);
  // Ends a watch without calling its sink. False if there is no such watch.
  bool cancel(std::uint64_t id);
  // The watcher's sink takes changes again.
  void resume(std::uint64_t id);

  // The write at `revision` was applied, changing keys only inside `written` (a superset is
  // fine: only the changes at `revision` are reported). Call after every applied write.
  void applied(std::uint64_t revision, std::span<const key_range> written);
  // The keyspace was replaced (a snapshot installed, a restart): every watcher catches up.
  void restarted();
  // Replays history to watchers catching up, at most `max_watchers` of them, one window each.
  // Returns whether any watcher still catches up.
  bool step(std::size_t max_watchers = 64);

  // The revision through which watcher `id` has been handed every change of its range (capped at
  // the keyspace's revision); 0 if there is no such watcher. A progress notification reports it.
  std::uint64_t caught_up(std::uint64_t id) const noexcept;
  std::size_t watchers() const noexcept { return watchers_.size(); }
  bool catching_up() const noexcept;

 private:
  struct watcher {
    watch_options options;
    watch_sink sink;
    std::uint64_t next = 0;  // the next revision to report
    bool synced = false;
    bool paused = false;  // the sink is full
    key_range range() const noexcept { return key_range{options.key, options.end}; }
  };
  // Hands `w` the events among `all` its filters let through; false if its sink is full.
  bool deliver(watcher& w, std::span<const key_event> all);
  void end(std::uint64_t id, const error_info& why);

  const keyspace& ks_;
  std::map<std::uint64_t, watcher> watchers_;
  std::uint64_t next_id_ = 1;
  std::vector<key_event> scratch_;
};

}  // namespace kv

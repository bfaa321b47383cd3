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
// A watcher that starts at a future revision waits until the keyspace gets there.
//
// A sink gets the changes of one or more whole revisions per call, in revision order; it returns
// false when it wants no more for now (its connection's buffer is full): the watcher then waits
// for resume() and catches up from history, so a slow reader costs the node its own bounded
// buffer, never an unbounded queue.
//
// Cost (etcd's synced and unsynced watcher groups): synced watchers are indexed by the keys
// they watch (core/watch/watch_index.hpp), and a synced watcher's next revision is the hub's, so
// applied() reads the written ranges' changes and then costs about O(log n) per changed key
// plus the watchers that match, touching no other watcher. step() and catching_up() look only
// at the watchers catching up. A delivery allocates nothing per watcher.
//
// Threading: not thread-safe; on the node's event-loop thread, like the keyspace it reads.

#include "core/base/error.hpp"
#include "core/model/command.hpp"
#include "core/model/key_range.hpp"
#include "core/state/keyspace.hpp"
#include "core/watch/watch_index.hpp"

#include <absl/container/btree_set.h>
#include <absl/container/node_hash_map.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
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
  // false to be sent nothing more until watch_hub::resume(). It must not call the hub.
  std::function<bool(std::span<const key_event>)> events;
  // The watch is over; `why` says why (errc::compacted: its next revision was compacted). The
  // hub has forgotten the watcher by then, and may be called.
  std::function<void(const error_info& why)> ended;
};

// The ranges a write command (core/model/command.hpp) may change, for watch_hub::applied():
// a set's, del's or incr's key, each key of a bulk_set, every write op's key or range in either
// branch of a transaction (a superset: only one branch ran), and each key of a `changes` list
// (what a lease_revoke deleted: its command names only the lease). Appended to `out`; views into
// `cmd`'s bytes. Nothing for commands that change no key (compact, open_session, noop).
void written_ranges(const command_view& cmd, std::vector<key_range>& out);

class watch_hub {
 public:
  // Revisions of history one step() replays for one watcher at most.
  static constexpr std::uint64_t catch_up_window = 1000;

  explicit watch_hub(const keyspace& ks) : ks_(ks), told_(ks.revision()) {}
  watch_hub(const watch_hub&) = delete;
  watch_hub& operator=(const watch_hub&) = delete;

  // Starts a watch; its id. A start revision below the keyspace's compacted revision is refused
  // (errc::compacted, naming it); one in the past is replayed by step(); one in the future waits.
  result<std::uint64_t> watch(watch_options o, watch_sink sink);
  // Ends a watch without calling its sink. False if there is no such watch.
  bool cancel(std::uint64_t id);
  // The watcher's sink takes changes again.
  void resume(std::uint64_t id);

  // The write at `revision` was applied, changing keys only inside `written` (a superset is
  // fine: only the changes at `revision` are reported). Call after every applied write. If the
  // hub was not told of some write (as when it had no watchers), the watchers synced then
  // replay the writes they missed from history: applied() of a later revision, watch() and
  // step() find the gap, and catching_up() reports it.
  void applied(std::uint64_t revision, std::span<const key_range> written);
  // The keyspace was replaced (a snapshot installed, a restart): every watcher catches up.
  void restarted();
  // Replays history to watchers catching up, at most `max_watchers` of them, one window each,
  // in turns (a call starts after the watcher the last one stopped at, so none waits for all
  // the others to finish). Returns whether any watcher still catches up.
  bool step(std::size_t max_watchers = 64);

  std::size_t watchers() const noexcept { return watchers_.size(); }
  // Whether step() has work: a watcher catches up (its sink not full), or the hub was not told
  // of a write. O(1).
  bool catching_up() const noexcept;

  // The revision through which watcher `id` has been handed every change of its range (that its
  // filters let through), as etcd's progress notifications report it: for a synced watcher, the
  // keyspace's revision as far as the hub has been told (the last applied()); for one catching
  // up or whose sink is full, the revision before the next one it will be handed; for one
  // waiting for a future start revision, the last revision the hub was told of. It does not go
  // back while the watcher lasts (as the keyspace's revision does not), nor beyond the last
  // revision the hub was told of. 0 if there is no such watcher (revision 1, the empty
  // keyspace, has no changes to hand).
  std::uint64_t caught_up(std::uint64_t id) const noexcept;

  // The bytes of the hub's record of one watcher. Each watcher costs this, its strings' and
  // sink's heap blocks if they outgrow their inline buffers, and a few index slots.
  static constexpr std::size_t watcher_bytes() noexcept { return sizeof(watcher); }

 private:
  // Which group a watcher is in, and so which structure holds it.
  enum class phase : std::uint8_t {
    synced,       // in index_; its next revision is told_ + 1
    waiting,      // in waiting_: it starts beyond told_ + 1
    catching_up,  // in catching_: step() replays its history
    paused,       // in none: its sink is full; resume() makes it catch up
  };
  struct watcher {
    watch_options options;
    watch_sink sink;
    watch_index::entry entry;  // its id and views of options.key and options.end
    std::uint64_t next = 0;    // the next revision to report; told_ + 1 while synced
    phase at = phase::catching_up;
    key_range range() const noexcept { return key_range{options.key, options.end}; }
  };
  using watcher_map = absl::node_hash_map<std::uint64_t, watcher>;  // nodes keep their address

  watcher* find(std::uint64_t id) noexcept;
  // Moves `w` to phase `to`, out of its present phase's structure and into the new one's.
  void move(watcher& w, phase to);
  void leave(watcher& w);
  void enter(watcher& w, phase to);
  // The phase of a watcher with nothing of history left to replay (next > the keyspace's revision).
  phase settled(const watcher& w) const noexcept;
  // Every synced watcher catches up: the hub missed writes they needed.
  void lose_sync();
  // Waiting watchers whose start revision came: synced at told_ + 1, catching up if before it.
  void wake();
  // Moves told_ to the keyspace's revision if the hub was not told of every write (the synced
  // watchers lose sync: they missed those writes).
  void follow_keyspace();
  // Hands `w` the changes of its range from w.next on from history, one window of revisions,
  // and settles it once it has them all.
  void replay(watcher& w);
  // Adds `e`, a change of `w`'s range, to out_ if `w`'s filters let it through.
  void offer(const watcher& w, const key_event& e);
  // Hands out_ to `w`'s sink (nothing if it is empty); false if the sink is full.
  bool hand(watcher& w);
  void end(watcher& w, const error_info& why);

  const keyspace& ks_;
  watcher_map watchers_;
  std::uint64_t next_id_ = 1;
  // The keyspace's revision as far as the hub knows (the last applied(), or the keyspace's own
  // where the hub found it was not told of a write): synced watchers have every change through it.
  std::uint64_t told_;
  watch_index index_;                                           // the synced watchers
  absl::btree_set<std::pair<std::uint64_t, std::uint64_t>> waiting_;  // (start revision, id)
  absl::btree_set<std::uint64_t> catching_;                     // ids, stepped round-robin
  std::uint64_t last_stepped_ = 0;                              // the id step() stopped after
  // Scratch, kept for its capacity: applied()'s changes and (watcher id, change) matches, the
  // events handed to one sink, and the ids step() visits.
  std::vector<key_event> changes_;
  std::vector<std::pair<std::uint64_t, std::size_t>> matches_;
  std::vector<key_event> out_;
  std::vector<std::uint64_t> stepping_;
};

}  // namespace kv

#pragma once
// A deterministic simulation of a Raft cluster: every node's core in one process, driven by a
// seeded scheduler over a simulated network (drop, delay, reorder, duplicate, partitions,
// one-way included) and simulated disks (a crash loses whatever was not yet durable), with
// clients that propose, read, and ask leaders to hand over. Nodes snapshot their state machine
// (the applied entries) and compact at random; the simulated driver streams a sender's durable
// snapshot to a follower that needs one. The same seed replays the same run.
//
// After every step it checks the safety properties of the Raft paper (figure 3):
//   election safety   - at most one leader per term;
//   log matching      - logs that agree on (index, term) agree on everything before;
//   leader completeness - a committed entry is in the log of every later leader;
//   state machine safety - all nodes apply the same entry at each index (an installed
//                          snapshot holds exactly the committed entries it covers);
// plus: commit never goes back within a run of a node; reads are linearizable (a read index
// handed out is at least every commit index any node had when the read was asked); and at the
// end, with the network healed, every committed entry is applied everywhere.

#include "raft/node.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kv::raft::sim {

struct options {
  int nodes = 3;
  int steps = 3000;
  double drop = 0.05;         // chance a message is lost
  double duplicate = 0.02;    // chance a message is delivered twice
  double crash = 0.002;       // chance per step that a node crashes (restarted later)
  double partition = 0.003;   // chance per step the network is split (healed later)
  double propose = 0.3;       // chance per step a client proposes on whoever leads
  double read = 0.1;          // chance per step a client asks a random node for a read index
  double transfer = 0.004;    // chance per step the leader is asked to hand over to another node
  double compact = 0.02;      // chance per step and node that it snapshots and compacts its log
  std::size_t max_append_bytes = 1u << 20;  // small values split appends into one entry each
  int election_ticks = 10;
  double heal = 0.01;  // chance per step that a partition heals
};

// What a run did, summed over seeds to show the simulation exercised what it claims to check.
struct stats {
  std::uint64_t committed = 0;       // entries committed (and checked)
  std::uint64_t leaders = 0;         // terms with a leader
  std::uint64_t reads = 0;           // read indexes handed out (and checked)
  std::uint64_t transfers = 0;       // leadership transfers whose target led the next term
  std::uint64_t transfers_asked = 0;  // terms in which the leader was asked to transfer
  std::uint64_t snapshots = 0;       // snapshots a follower received and made durable
  stats& operator+=(const stats& o) {
    snapshots += o.snapshots;
    committed += o.committed;
    leaders += o.leaders;
    reads += o.reads;
    transfers += o.transfers;
    transfers_asked += o.transfers_asked;
    return *this;
  }
};

class cluster {
 public:
  cluster(std::uint64_t seed, options o) : rng_(seed), o_(o) {
    for (int i = 1; i <= o_.nodes; ++i) ids_.push_back(static_cast<node_id>(i));
    for (auto id : ids_) {
      nodes_[id].id = id;
      restart(id);
    }
  }

  // Runs the scheduled steps, then heals and settles. Throws std::logic_error naming the broken
  // property (with the step) on any violation.
  void run() {
    for (step_ = 0; step_ < o_.steps; ++step_) {
      random_event();
      check();
    }
    settle();
  }

  stats summary() const {
    stats s = counts_;
    s.committed = committed_.size();
    s.leaders = leaders_.size();
    s.transfers_asked = transfer_asked_.size();
    return s;
  }

 private:
  // A durable snapshot of a state machine: the applied entries through `index`.
  struct snapshot_file {
    index_t index = 0;
    term_t term = 0;
    std::vector<entry> entries;  // entry i at [i - 1]
  };
  using snapshot_ptr = std::shared_ptr<const snapshot_file>;

  struct disk_write {
    snapshot_ptr snapshot;  // if set, installed first: the log starts over after it
    std::optional<hard_state> state;
    std::vector<entry> entries;
    std::vector<message> after;
  };
  struct sim_node {
    node_id id = 0;
    bool up = true;
    int incarnation = 0;  // restarts so far: a report meant for an earlier process is dropped
    std::unique_ptr<node> core;
    // On disk, surviving crashes.
    hard_state durable_state;
    snapshot_ptr durable_snapshot = std::make_shared<const snapshot_file>();
    std::vector<entry> durable_log;  // entry i at [i - durable_snapshot->index - 1]
    std::deque<disk_write> disk;     // writes handed to the disk, not yet durable
    // In memory.
    std::vector<entry> applied;  // the state machine: entry i at [i - 1]
    snapshot_ptr received;       // the snapshot file its driver last stepped in
    index_t last_commit = 0;
  };
  struct in_flight {
    message m;
    int deliver_after = 0;  // steps
    // A snapshot transfer: the file, which sender process streams it, and whether it will fail.
    snapshot_ptr file = nullptr;
    int sender_incarnation = 0;
    bool lost = false;
  };

  [[noreturn]] void fail(const std::string& what) const {
    std::ostringstream s;
    s << "step " << step_ << ": " << what;
    throw std::logic_error(s.str());
  }

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

  void restart(node_id id) {
    auto& n = nodes_[id];
    n.up = true;
    ++n.incarnation;
    n.disk.clear();
    n.applied = n.durable_snapshot->entries;
    n.received.reset();
    n.last_commit = 0;
    config c;
    c.id = id;
    c.voters = ids_;
    c.election_ticks = o_.election_ticks;
    c.seed = rng_();
    c.max_entries_in_flight = 64;
    c.max_append_bytes = o_.max_append_bytes;
    const auto& snap = *n.durable_snapshot;
    n.core = std::make_unique<node>(c, n.durable_state, raft::log(snap.index, snap.term, n.durable_log));
    drain(id);
  }

  void crash(node_id id) {
    auto& n = nodes_[id];
    n.up = false;
    n.core.reset();
    n.disk.clear();  // unsynced writes are lost
  }

  // Moves everything the core wants done into the network, the disk queue and the applied list.
  void drain(node_id id) {
    auto& n = nodes_[id];
    while (n.up && n.core->has_ready()) {
      auto r = n.core->take_ready();
      for (auto& m : r.messages) post(std::move(m));
      snapshot_ptr install;
      if (r.snapshot) install = install_snapshot(n, *r.snapshot);
      for (auto& e : r.committed) apply(n, e);
      for (auto& rs : r.reads) check_read(rs);
      if (!install && !r.state && r.entries.empty() && !n.disk.empty()) {
        // Nothing to make durable: these messages only wait for the writes queued before them.
        for (auto& m : r.after_persist) n.disk.back().after.push_back(std::move(m));
      } else if (install || r.state || !r.entries.empty() || !r.after_persist.empty()) {
        n.disk.push_back(disk_write{install, r.state, std::move(r.entries), std::move(r.after_persist)});
      }
    }
  }

  void apply(sim_node& n, const entry& e) {
    if (e.index != n.applied.size() + 1) fail("node " + std::to_string(n.id) + " applied out of order");
    n.applied.push_back(e);
    auto [it, inserted] = committed_.emplace(e.index, e);
    if (!inserted && !(it->second == e)) {
      fail("state machine safety: index " + std::to_string(e.index) + " applied as two different entries");
    }
  }

  // The core asks for the snapshot its driver stepped in: it replaces the state machine now and
  // the durable state once the disk write completes. Returns the file for that write.
  snapshot_ptr install_snapshot(sim_node& n, const snapshot_meta& meta) {
    if (!n.received || n.received->index != meta.index || n.received->term != meta.term) {
      fail("node " + std::to_string(n.id) + " asked to install a snapshot its driver never stepped in");
    }
    for (const auto& e : n.received->entries) {
      auto it = committed_.find(e.index);
      if (it == committed_.end() || !(it->second == e)) {
        fail("state machine safety: a snapshot for node " + std::to_string(n.id) + " disagrees at index " +
             std::to_string(e.index));
      }
    }
    n.applied = n.received->entries;
    return n.received;
  }

  // A node snapshots its state machine through some applied (and durable) index, then tells its
  // core to drop the log up to there. Not while a snapshot install is on its way to disk.
  void compact(node_id id) {
    auto& n = nodes_[id];
    if (!n.up) return;
    for (const auto& w : n.disk)
      if (w.snapshot) return;
    const index_t from = n.durable_snapshot->index;
    const index_t upto = std::min<index_t>(n.applied.size(), from + n.durable_log.size());
    if (upto <= from) return;
    const index_t k = from + 1 + pick(upto - from);
    if (!(n.durable_log[k - from - 1] == n.applied[k - 1])) fail("a durable entry differs from the applied one");
    auto file = std::make_shared<snapshot_file>();
    file->index = k;
    file->term = n.applied[k - 1].term;
    file->entries.assign(n.applied.begin(), n.applied.begin() + static_cast<std::ptrdiff_t>(k));
    n.durable_snapshot = std::move(file);
    n.durable_log.erase(n.durable_log.begin(), n.durable_log.begin() + static_cast<std::ptrdiff_t>(k - from));
    n.core->compact(k);
  }

  // The operator asks the leader to hand over to another node.
  void request_transfer() {
    auto l = some_leader();
    if (!l) return;
    auto to = ids_[pick(ids_.size())];
    if (to == *l) return;
    auto& n = nodes_[*l];
    if (auto e = n.core->transfer_leadership(to); e != errc::ok) {
      fail("transfer to " + std::to_string(to) + " refused: " + make_error_code(e).message());
    }
    transfer_asked_[n.core->term()] = to;
    drain(*l);
  }

  // A client asks a random node for a read index and notes how far commits had got by then.
  void request_read() {
    auto id = ids_[pick(ids_.size())];
    auto& n = nodes_[id];
    if (!n.up) return;
    index_t floor = highest_commit_;
    for (auto other : ids_)
      if (nodes_[other].up) floor = std::max(floor, nodes_[other].core->log().committed());
    auto context = next_read_++;
    read_floor_[context] = floor;
    n.core->read_index(context);
    drain(id);
  }

  void check_read(const read_state& rs) {
    auto it = read_floor_.find(rs.context);
    if (it == read_floor_.end()) fail("a read answered that nobody asked");
    if (rs.ok && rs.index < it->second) {
      fail("linearizability: read " + std::to_string(rs.context) + " got index " + std::to_string(rs.index) +
           " though index " + std::to_string(it->second) + " was committed when it was asked");
    }
    if (rs.ok) ++counts_.reads;  // the network duplicates messages: a read may be answered twice
  }

  void post(message m) {
    if (m.type == message_type::snapshot) return post_snapshot(std::move(m));
    if (blocked_.count({m.from, m.to})) return;
    if (chance(o_.drop)) return;
    int delay = static_cast<int>(pick(4));
    if (chance(o_.duplicate)) network_.push_back(in_flight{.m = m, .deliver_after = delay + static_cast<int>(pick(8))});
    network_.push_back(in_flight{.m = std::move(m), .deliver_after = delay});
  }

  // The sender's driver streams its durable snapshot, which may be newer than the one its core
  // named; a transfer that fails is reported to the sender when it would have arrived.
  void post_snapshot(message m) {
    const auto& from = nodes_[m.from];
    auto file = from.durable_snapshot;
    if (file->index < m.snapshot_index) fail("a core asked for a snapshot newer than its durable one");
    m.snapshot_index = file->index;
    m.snapshot_term = file->term;
    const bool lost = blocked_.count({m.from, m.to}) || chance(o_.drop);
    const int delay = static_cast<int>(pick(8));
    network_.push_back(in_flight{.m = std::move(m),
                                 .deliver_after = delay,
                                 .file = std::move(file),
                                 .sender_incarnation = from.incarnation,
                                 .lost = lost});
  }

  void deliver_snapshot(const in_flight& f) {
    auto& to = nodes_[f.m.to];
    const bool ok = !f.lost && to.up;
    if (ok) {
      to.received = f.file;
      to.core->step(f.m);
      drain(to.id);
    }
    auto& from = nodes_[f.m.from];
    if (from.up && from.incarnation == f.sender_incarnation) {
      from.core->report_snapshot(f.m.to, ok);
      drain(from.id);
    }
  }

  void complete_disk_write(node_id id) {
    auto& n = nodes_[id];
    auto w = std::move(n.disk.front());
    n.disk.pop_front();
    if (w.snapshot) {
      n.durable_snapshot = w.snapshot;
      n.durable_log.clear();
      ++counts_.snapshots;
    }
    if (w.state) n.durable_state = *w.state;
    const index_t base = n.durable_snapshot->index;
    for (const auto& e : w.entries) {
      if (e.index <= base) fail("a write of an entry the snapshot covers");
      n.durable_log.resize(e.index - base - 1);  // a later entry replaces the suffix, as the WAL does
      n.durable_log.push_back(e);
    }
    for (auto& m : w.after) post(std::move(m));
    if (!w.entries.empty()) n.core->persisted(w.entries.back().index, w.entries.back().term);
    drain(id);
  }

  // One unit of simulated time: nodes tick now and then, due messages arrive (in random order),
  // disks finish writes now and then, and faults strike.
  void random_event() {
    for (auto id : ids_) {
      auto& n = nodes_[id];
      if (!n.up) {
        if (chance(0.02)) restart(id);
        continue;
      }
      if (chance(0.3)) {
        n.core->tick();
        drain(id);
      }
      if (!n.disk.empty() && chance(0.5)) complete_disk_write(id);
      if (chance(o_.compact)) compact(id);
    }
    for (auto& f : network_) --f.deliver_after;
    while (deliver_one()) {
    }
    // Clients write to whoever believes it leads, stale leaders cut off from the rest included:
    // their entries are the ones a later leader must overwrite.
    for (auto id : ids_) {
      auto& n = nodes_[id];
      if (n.up && n.core->current_role() == role::leader && chance(o_.propose)) {
        auto r = n.core->propose("cmd-" + std::to_string(next_command_++));
        if (!r && !(r.is(errc::unavailable) && n.core->transfer_target() != 0)) {
          fail("a leader refused a proposal: " + r.message());
        }
        drain(id);
      }
    }
    if (chance(o_.transfer)) request_transfer();
    if (chance(o_.read)) request_read();
    // Faults aim at leaders more often than not: that is where consensus bugs hide.
    if (chance(o_.crash)) {
      auto l = some_leader();
      crash(l && chance(0.7) ? *l : ids_[pick(ids_.size())]);
    }
    if (chance(o_.partition)) split();
    if (!blocked_.empty() && chance(o_.heal)) blocked_.clear();
  }

  // Delivers one due message, picked at random among them (reordering). False if none is due.
  bool deliver_one() {
    std::vector<std::size_t> due;
    for (std::size_t i = 0; i < network_.size(); ++i)
      if (network_[i].deliver_after <= 0) due.push_back(i);
    if (due.empty()) return false;
    auto i = due[pick(due.size())];  // any due message: reordering
    auto f = std::move(network_[i]);
    network_.erase(network_.begin() + static_cast<std::ptrdiff_t>(i));
    if (f.file) {
      deliver_snapshot(f);
      return true;
    }
    auto& m = f.m;
    auto& to = nodes_[m.to];
    if (!to.up) return true;
    to.core->step(m);
    drain(m.to);
    return true;
  }

  std::optional<node_id> some_leader() const {
    for (auto id : ids_) {
      const auto& n = nodes_.at(id);
      if (n.up && n.core->current_role() == role::leader) return id;
    }
    return std::nullopt;
  }

  // Cuts the cluster in two: often a leader with at most one follower on its side, otherwise at
  // random; sometimes in one direction only.
  void split() {
    blocked_.clear();
    std::set<node_id> side;
    if (auto l = some_leader(); l && chance(0.6)) {
      side.insert(*l);
      if (chance(0.5)) side.insert(ids_[pick(ids_.size())]);
    } else {
      for (auto id : ids_)
        if (chance(0.5)) side.insert(id);
    }
    bool one_way = chance(0.3);
    for (auto a : ids_)
      for (auto b : ids_)
        if (side.count(a) && !side.count(b)) {
          blocked_.insert({a, b});
          if (!one_way) blocked_.insert({b, a});
        }
  }

  void trace_roles() {
    static const bool on = std::getenv("KV_RAFT_TRACE") != nullptr;
    if (!on || step_ % 50 != 0) return;
    std::string line = "step " + std::to_string(step_) + ":";
    for (auto id : ids_) {
      const auto& n = nodes_[id];
      line += " " + std::to_string(id) + "=" +
              (n.up ? std::string(to_string(n.core->current_role())) + "/t" + std::to_string(n.core->term()) + "/c" +
                          std::to_string(n.core->log().committed()) + "/l" + std::to_string(n.core->log().last_index())
                    : std::string("down"));
    }
    line += " net=" + std::to_string(network_.size()) + " blocked=" + std::to_string(blocked_.size());
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  void check() {
    trace_roles();
    for (auto id : ids_) {
      auto& n = nodes_[id];
      if (!n.up) continue;
      n.core->check();
      const auto& core = *n.core;
      if (core.log().committed() < n.last_commit) fail("commit index went back on node " + std::to_string(id));
      n.last_commit = core.log().committed();
      highest_commit_ = std::max(highest_commit_, n.last_commit);
      if (core.current_role() == role::leader) {
        auto [it, inserted] = leaders_.emplace(core.term(), id);
        if (!inserted && it->second != id) {
          fail("election safety: nodes " + std::to_string(it->second) + " and " + std::to_string(id) +
               " both lead term " + std::to_string(core.term()));
        }
        // Leader completeness: every entry committed before this leader's term is in its log
        // (or its snapshot, whose entries were checked when applied or installed). Checked when
        // the leader is first seen; later entries it appends itself.
        if (!inserted) continue;
        if (auto t = transfer_asked_.find(core.term() - 1); t != transfer_asked_.end() && t->second == id) {
          ++counts_.transfers;
        }
        const auto& lg = core.log();
        for (auto c = committed_.lower_bound(lg.snapshot_index()); c != committed_.end(); ++c) {
          const auto& [index, e] = *c;
          if (e.term <= core.term() && lg.term(index) != e.term) {
            fail("leader completeness: leader " + std::to_string(id) + " of term " + std::to_string(core.term()) +
                 " lacks committed entry " + std::to_string(index));
          }
        }
      }
    }
    // Log matching, pairwise, above both snapshots (every few steps: it reads whole logs).
    if (step_ % 16 != 0) return;
    for (std::size_t a = 0; a < ids_.size(); ++a) {
      for (std::size_t b = a + 1; b < ids_.size(); ++b) {
        const auto& x = nodes_[ids_[a]];
        const auto& y = nodes_[ids_[b]];
        if (!x.up || !y.up) continue;
        const auto& lx = x.core->log();
        const auto& ly = y.core->log();
        const index_t lo = std::max(lx.snapshot_index(), ly.snapshot_index());
        const index_t top = std::min(lx.last_index(), ly.last_index());
        if (lo > top) continue;
        index_t agree = top + 1;  // the highest index where they agree, if any
        for (index_t i = top + 1; i-- > lo;) {
          if (lx.term(i) == ly.term(i)) {
            agree = i;
            break;
          }
        }
        if (agree > top) continue;
        for (index_t i = lo; i <= agree; ++i) {
          if (lx.term(i) != ly.term(i)) {
            fail("log matching: nodes " + std::to_string(x.id) + " and " + std::to_string(y.id) + " agree at " +
                 std::to_string(agree) + " but differ at " + std::to_string(i));
          }
        }
      }
    }
  }

  // Heals everything and runs until every node has applied every committed entry.
  void settle() {
    blocked_.clear();
    o_.drop = 0;
    o_.duplicate = 0;
    for (auto id : ids_)
      if (!nodes_[id].up) restart(id);
    for (int round = 0; round < 20000; ++round, ++step_) {
      for (auto id : ids_) {
        auto& n = nodes_[id];
        while (!n.disk.empty()) complete_disk_write(id);
        n.core->tick();
        drain(id);
      }
      for (int delivered = 0; !network_.empty(); ++delivered) {
        if (delivered > 200000) fail("message storm: the network never quiets down");
        for (auto& f : network_) f.deliver_after = 0;
        deliver_one();
        for (auto id : ids_)
          while (!nodes_[id].disk.empty()) complete_disk_write(id);
      }
      check();
      bool done = true;
      index_t top = committed_.empty() ? 0 : committed_.rbegin()->first;
      for (auto id : ids_) done = done && nodes_[id].applied.size() >= top && nodes_[id].core->log().committed() >= top;
      bool has_leader = false;
      for (auto id : ids_) has_leader = has_leader || nodes_[id].core->current_role() == role::leader;
      if (done && has_leader && round > 50) return;
    }
    fail("the healed cluster did not apply every committed entry everywhere");
  }

  std::mt19937_64 rng_;
  options o_;
  std::vector<node_id> ids_;
  std::map<node_id, sim_node> nodes_;
  std::vector<in_flight> network_;
  std::set<std::pair<node_id, node_id>> blocked_;
  std::map<term_t, node_id> leaders_;
  std::map<index_t, entry> committed_;  // every entry any node applied
  std::uint64_t next_command_ = 1;
  index_t highest_commit_ = 0;                // the highest commit index any node has had
  std::uint64_t next_read_ = 1;
  std::map<std::uint64_t, index_t> read_floor_;  // read context -> highest commit when asked
  std::map<term_t, node_id> transfer_asked_;  // term -> the node its leader was asked to hand over to
  stats counts_;
  int step_ = 0;
};

}  // namespace kv::raft::sim

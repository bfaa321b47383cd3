#pragma once
// A cluster of kvnode processes on loopback for multi-process tests: each member has its own
// data directory, client port and peer port, and can be killed, paused, resumed and restarted.
//
// Partitions: a cluster built with member_addresses::distinct puts each member on a loopback
// address of its own (127.x.y.zN for member N, unique to this process and cluster), for its
// client port, its peer port and the connections it opens to its peers (kvnode binds those to
// its peer address). A `partitions` object then cuts traffic between members with nftables
// rules (see `firewall`); test clients connect from 127.0.0.1 and are never cut.
//
// Coroutine helpers at the end (member_status, wait_for_leader, wait_converged) ask members
// for their status through the client library.

#include "io/client/client.hpp"
#include "support/process.hpp"

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace kv::test {

// Where the members of a cluster listen.
enum class member_addresses : std::uint8_t {
  shared,    // all on 127.0.0.1 (the default)
  distinct,  // each member on an address of its own, so that firewall rules can tell them apart
};

class cluster_member {
 public:
  cluster_member(std::uint64_t id, const std::filesystem::path& dir, std::string host = "127.0.0.1")
      : id_(id), dir_(dir), host_(std::move(host)) {}
  ~cluster_member() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  std::uint64_t id() const { return id_; }
  const std::string& host() const { return host_; }
  unsigned short peer_port() const { return peer_port_; }
  std::string endpoint() const { return fmt::format("{}:{}", host_, client_port_); }
  std::string peer_endpoint() const { return fmt::format("{}:{}", host_, peer_port_); }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path config_path() const { return dir_ / "kv.toml"; }
  std::string log() const { return slurp(dir_ / "stderr"); }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // True once the process has exited (killed from outside the test, say); it is then reaped and
  // no longer running().
  bool exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  }

  void start() {
    pid_ = spawn({binary("kvnode").string(), "--config", config_path().string()}, dir_ / "stdout", dir_ / "stderr");
    wait_listening(host_, client_port_, pid_, [this] { return log(); });
  }
  void kill9() { signal_and_reap(SIGKILL); }
  int stop() { return signal_and_reap(SIGTERM); }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  friend class cluster;
  int signal_and_reap(int sig) {
    ::kill(pid_, SIGCONT);
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::uint64_t id_;
  std::filesystem::path dir_;
  std::string host_;
  unsigned short client_port_ = free_port();
  unsigned short peer_port_ = free_port();
  pid_t pid_ = -1;
};

class cluster {
 public:
  // `extra_toml` is appended to every member's configuration (a [storage] section, say);
  // `cluster_keys` go into its [cluster] section.
  // `addresses`: see member_addresses.
  explicit cluster(int size = 3, std::string extra_toml = {}, std::string cluster_keys = {},
                   member_addresses addresses = member_addresses::shared) {
    if (addresses == member_addresses::distinct && size > 9) {
      throw std::invalid_argument("member_addresses::distinct supports at most 9 members");
    }
    const auto base = addresses == member_addresses::distinct ? next_loopback_base() : std::string();
    for (int i = 1; i <= size; ++i) {
      auto dir = dir_ / fmt::format("node{}", i);
      std::filesystem::create_directories(dir);
      auto host = base.empty() ? std::string("127.0.0.1") : fmt::format("{}{}", base, i);
      members_.push_back(std::make_unique<cluster_member>(static_cast<std::uint64_t>(i), dir, host));
    }
    std::string list;
    for (const auto& m : members_) {
      list += fmt::format("  {{ id = {}, peer = \"{}\", client = \"{}\" }},\n", m->id(), m->peer_endpoint(),
                          m->endpoint());
    }
    for (const auto& m : members_) {
      std::ofstream(m->config_path()) << fmt::format(
          "[node]\nid = {}\ndata-dir = \"{}\"\n[server]\nlisten = \"{}\"\n[cluster]\nmembers = [\n{}]\n{}\n{}\n"
          "[log]\nlevel = \"debug\"\n",
          m->id(), m->data_dir().string(), m->endpoint(), list, cluster_keys, extra_toml);
    }
    for (auto& m : members_) m->start();
  }

  cluster_member& member(std::uint64_t id) { return *members_.at(id - 1); }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& m : members_) out.push_back(m->endpoint());
    return out;
  }
  std::size_t size() const { return members_.size(); }
  // The ids of every member, 1 .. size().
  std::vector<std::uint64_t> ids() const {
    std::vector<std::uint64_t> out;
    for (const auto& m : members_) out.push_back(m->id());
    return out;
  }
  // Every member's log, for failure messages.
  std::string logs() const {
    std::string out;
    for (const auto& m : members_) out += fmt::format("---- node {} ----\n{}\n", m->id(), m->log());
    return out;
  }

 private:
  // For a new cluster with distinct addresses, "127.x.y.z" without its last digit: member N
  // is 127.x.y.zN. x.y come from this process's id, z from a count of the clusters it made, so
  // that concurrent test processes (and clusters) share neither addresses nor firewall rules.
  // At most 9 members.
  static std::string next_loopback_base() {
    static std::atomic<unsigned> made{0};
    const auto slot = static_cast<unsigned>(::getpid()) % 32000;
    return fmt::format("127.{}.{}.{}", 1 + slot / 256, slot % 256, made++ % 24 + 1);
  }

  temp_dir dir_;
  std::vector<std::unique_ptr<cluster_member>> members_;
};

// One nftables table of this process (`inet kvtest_<pid>_<n>`) with a chain on the output hook,
// holding drop rules for partition tests; deleted by the destructor, also when a test fails.
// Tables left behind by test processes that died are deleted when a new one is made. Rules
// change atomically (one `nft -f` transaction each). Needs root and the nft tool: check
// unusable_reason() first and skip the test if it says why not.
class firewall {
 public:
  // Why nft cannot be used here (not root, not installed, not permitted), or "" if it can.
  static const std::string& unusable_reason() {
    static const std::string reason = probe();
    return reason;
  }

  firewall() : table_(fmt::format("kvtest_{}_{}", ::getpid(), count()++)) {
    delete_orphans();
    nft(fmt::format("add table inet {0}\nadd chain inet {0} out {{ type filter hook output priority 0; policy accept; }}\n",
                    table_));
  }
  ~firewall() {
    try {
      nft(fmt::format("delete table inet {}\n", table_));
    } catch (...) {  // a destructor must not throw; an orphan is deleted by the next firewall
    }
  }
  firewall(const firewall&) = delete;
  firewall& operator=(const firewall&) = delete;

  // Replaces every rule by `rules` (nft rule statements, e.g. "ip saddr 127.0.0.2 drop").
  void set_rules(const std::vector<std::string>& rules) {
    std::string script = fmt::format("flush chain inet {} out\n", table_);
    for (const auto& r : rules) script += fmt::format("add rule inet {} out {}\n", table_, r);
    nft(script);
  }
  const std::string& table() const { return table_; }

 private:
  static std::atomic<unsigned>& count() {
    static std::atomic<unsigned> n{0};
    return n;
  }

  static std::string nft_path() {
    for (const char* p : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/usr/local/sbin/nft"}) {
      if (::access(p, X_OK) == 0) return p;
    }
    return {};
  }

  static command_result run_nft(const std::vector<std::string>& args, const std::string& script = {}) {
    std::vector<std::string> argv{nft_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, script, std::chrono::seconds(10));
  }

  static void nft(const std::string& script) {
    auto r = run_nft({"-f", "-"}, script);
    if (r.exit_code != 0) throw std::runtime_error("nft failed (" + r.err + ") on:\n" + script);
  }

  static std::string probe() {
    if (::geteuid() != 0) return "partition tests need root (nftables rules)";
    if (nft_path().empty()) return "partition tests need nft (apt-get install nftables)";
    const auto table = fmt::format("kvtest_probe_{}", ::getpid());
    auto r = run_nft({"-f", "-"}, fmt::format("add table inet {0}\ndelete table inet {0}\n", table));
    if (r.exit_code != 0) return "nft cannot create a table here: " + r.err;
    return {};
  }

  // Deletes kvtest_<pid>_<n> tables whose process is gone.
  static void delete_orphans() {
    auto r = run_nft({"list", "tables"});
    std::istringstream lines(r.out);
    std::string family, name, word;
    while (lines >> word >> family >> name) {
      if (word != "table" || name.rfind("kvtest_", 0) != 0) continue;
      auto pid = std::atoi(name.c_str() + 7);
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
        run_nft({"delete", "table", family, name});
      }
    }
  }

  std::string table_;
};

// Network partitions between the members of a cluster built with member_addresses::distinct.
// Cuts are one-way and add up; each call changes the rules in one step. heal() removes them all
// (so does the destructor).
class partitions {
 public:
  explicit partitions(cluster& cl) : cl_(cl) {
    for (auto id : cl.ids()) {
      if (cl.member(id).host() == "127.0.0.1") {
        throw std::logic_error("partitions need a cluster with member_addresses::distinct");
      }
    }
  }

  // Drops every packet from `from` to `to`. Over TCP this soon stops traffic both ways on the
  // connections between them (acknowledgements from `from` are lost too).
  void drop_packets(std::uint64_t from, std::uint64_t to) {
    add_packet_drop(from, to);
    apply();
  }

  // Raft messages from `from` never reach `to`, while `to`'s messages reach `from`: drops the
  // connection `from` opens to `to`'s peer port, both ways (each connection carries messages
  // one way), and nothing else.
  void drop_messages(std::uint64_t from, std::uint64_t to) {
    const auto port = cl_.member(to).peer_port();
    rules_.push_back(fmt::format("ip saddr {} ip daddr {} tcp dport {} drop", host(from), host(to), port));
    rules_.push_back(fmt::format("ip saddr {} ip daddr {} tcp sport {} drop", host(to), host(from), port));
    names_.push_back(fmt::format("messages {} -> {}", from, to));
    apply();
  }

  // Cuts `id` off from every other member, both ways.
  void isolate(std::uint64_t id) {
    for (auto other : cl_.ids()) {
      if (other == id) continue;
      add_packet_drop(id, other);
      add_packet_drop(other, id);
    }
    apply();
  }

  void heal() {
    rules_.clear();
    names_.clear();
    apply();
  }

  // The cuts in place, e.g. "packets 1 -> 2, packets 2 -> 1" ("none" when healed).
  std::string describe() const {
    std::string out;
    for (const auto& n : names_) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "none" : out;
  }

 private:
  const std::string& host(std::uint64_t id) { return cl_.member(id).host(); }
  void add_packet_drop(std::uint64_t from, std::uint64_t to) {
    rules_.push_back(fmt::format("ip saddr {} ip daddr {} drop", host(from), host(to)));
    names_.push_back(fmt::format("packets {} -> {}", from, to));
  }
  void apply() { fw_.set_rules(rules_); }

  cluster& cl_;
  firewall fw_;
  std::vector<std::string> rules_;
  std::vector<std::string> names_;
};

// ---- coroutine helpers ----------------------------------------------------------------------

inline asio::awaitable<void> wait_a_while(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// Options for a client that asks one member directly and gives up quickly.
inline client::options direct_options(std::string endpoint) {
  client::options o;
  o.endpoints.assign(1, std::move(endpoint));
  o.request_timeout = std::chrono::milliseconds(1000);
  o.connect_timeout = std::chrono::milliseconds(500);
  o.leader_wait = std::chrono::milliseconds(0);
  return o;
}

// The status of one member, asked directly (no redirects).
inline asio::awaitable<result<node_status>> member_status(const cluster_member& m) {
  client c(co_await asio::this_coro::executor, direct_options(m.endpoint()));
  auto s = co_await c.status();
  c.close();
  co_return s;
}

// Waits until one of `among` (running ones) says it leads and the other running ones of `among`
// follow it; returns its id. Throws after `limit`.
inline asio::awaitable<std::uint64_t> wait_for_leader(cluster& cl, std::vector<std::uint64_t> among,
                                                      std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::string last_seen;  // what each member said in the last round, for the failure message
  while (std::chrono::steady_clock::now() < deadline) {
    std::uint64_t leader = 0;
    bool agreed = true;
    last_seen.clear();
    for (auto id : among) {
      auto& m = cl.member(id);
      if (!m.running()) continue;
      auto s = co_await member_status(m);
      if (!s) {
        agreed = false;
        last_seen += fmt::format("node {}: {}\n", id, s.message());
        continue;
      }
      last_seen += fmt::format("node {}: {} in term {}, leader {}\n", id, s->text("role"), s->number("term"),
                               s->number("leader_id"));
      if (s->text("role") == "leader") {
        if (leader != 0) agreed = false;
        leader = id;
      }
      if (s->number("leader_id") == 0) agreed = false;
      if (leader != 0 && s->number("leader_id") != leader) agreed = false;
    }
    if (leader != 0 && agreed) co_return leader;
    co_await wait_a_while(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("no leader agreed on within the limit; last seen:\n" + last_seen + cl.logs());
}

inline asio::awaitable<std::uint64_t> wait_for_leader(cluster& cl) {
  co_return co_await wait_for_leader(cl, cl.ids(), std::chrono::seconds(10));
}

// Waits until every running member has applied the same index as it has committed.
inline asio::awaitable<void> wait_converged(cluster& cl, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    std::set<std::uint64_t> applied;
    bool all = true;
    for (auto id : cl.ids()) {
      if (!cl.member(id).running()) continue;
      auto s = co_await member_status(cl.member(id));
      if (!s || s->number("applied_index") != s->number("commit_index")) {
        all = false;
        break;
      }
      applied.insert(s->number("applied_index"));
    }
    if (all && applied.size() == 1) co_return;
    co_await wait_a_while(std::chrono::milliseconds(50));
  }
  throw std::runtime_error(std::string("the cluster did not converge:\n") + cl.logs());
}

}  // namespace kv::test

#pragma once
// Network partitions between the members of a harness cluster built with
// member_addresses::distinct (harness/cluster.hpp), made with nftables rules on loopback.
// Needs root and the nft tool: firewall::unusable_reason() says why they cannot be used here.

#include "harness/cluster.hpp"
#include "harness/process.hpp"

#include <fmt/format.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kv::harness {

// One nftables table of this process (`inet kvtest_<pid>_<n>`) with a chain on the output hook,
// holding drop rules for partition tests; deleted by the destructor, also when a test fails.
// Tables left behind by test processes that died are deleted when a new one is made. Rules
// change atomically (one `nft -f` transaction each). Needs root and the nft tool: check
// unusable_reason() first, and skip the test (see support/skip.hpp) if it says why not.
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

}  // namespace kv::harness

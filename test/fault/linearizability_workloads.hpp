#pragma once
// The clients of the linearizability fault tests (fault/linearizability_histories.hpp). Each
// runs operations against a cluster until told to stop, one at a time, and records them in a
// history (support/history.hpp). Writes go through a client of every node, in exactly-once
// sessions for even ids (resent after a lost answer) and without for odd ones (an unknown
// outcome then); reads go through another client that prefers node `home`, made anew every 50
// reads so that reads keep landing on followers. Values are unique per write.
//
// - registers: set, get and del on k0, k1, ...
// - compare-and-set: get, set, del and cas on c0, c1, ...: a transaction `if value(c) ==
//   expected (version(c) == 0 for absent) then put(c, new) else range(c)`, expecting what the
//   client saw last.
// - transfers: accounts a0, a1, ... hold "<balance> <tag>"; a client reads two or three of them
//   (mget, one revision) and moves an amount between them in one transaction guarded by what it
//   read (their mod_revisions or their values, in turn), reading them in the else branch; or
//   reads every account (an audit, which must find the opening total).
//
// A compare on mod_revision is recorded as a compare on the value the client read with it: the
// same thing while every (key, mod_revision) holds one value and each value has one
// mod_revision, which transfer_audit checks on every answer.

#include "io/client/client.hpp"
#include "support/history.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kv::test {

struct workload_settings {
  int clients = 6;
  int keys = 3;  // per kind of client
  std::chrono::milliseconds duration{20000};
  std::chrono::milliseconds request_timeout{1000};
  std::chrono::milliseconds leader_wait{1000};
  std::int64_t opening_balance = 100;  // per account
};

struct client_stats {
  int ok = 0;
  int failed = 0;
  int unknown = 0;
  int succeeded = 0;      // transactions with a guard answered ok: whose guards held
  int guards_failed = 0;  // ... whose guards did not
  std::map<std::string, int> reads_by_endpoint;  // answered linearizable reads, by the node asked

  void add(const client_stats& other);
};

// What the answers of a transfer workload show besides linearizability: each audit's total,
// and that (key, mod_revision) and values correspond one to one.
class transfer_audit {
 public:
  explicit transfer_audit(std::int64_t total) : total_(total) {}
  // The keys an answer reported.
  void saw(const std::vector<kv_version>& kvs, const std::string& where);
  // An answer that read every account: their balances must add up to the total.
  void saw_every_account(const std::vector<kv_version>& kvs, std::size_t accounts, const std::string& where);
  int audits() const { return audits_; }
  const std::string& problems() const { return problems_; }

 private:
  void problem(const std::string& what);

  std::int64_t total_;
  int audits_ = 0;
  int problem_count_ = 0;
  std::string problems_;  // the first few
  std::map<std::pair<std::string, std::uint64_t>, std::string> value_at_;     // (key, mod_revision) -> value
  std::map<std::pair<std::string, std::string>, std::uint64_t> revision_of_;  // (key, value) -> mod_revision
};

// What every client of a run is given; the pointers outlive the clients.
struct client_context {
  int id = 0;
  std::size_t home = 1;  // the member (1-based) its reads prefer
  std::vector<std::string> endpoints;
  workload_settings settings;
  std::uint64_t seed = 0;
  const bool* stop = nullptr;
  history_recorder* history = nullptr;
  client_stats* stats = nullptr;
  transfer_audit* audit = nullptr;  // transfers only
};

std::string register_key(int k);
std::string cas_key(int k);
std::string account_key(int k);
std::vector<std::string> accounts(const workload_settings& s);

asio::awaitable<void> run_register_client(client_context c);
asio::awaitable<void> run_cas_client(client_context c);
asio::awaitable<void> run_transfer_client(client_context c);

// Opens every account with the opening balance, in one transaction (recorded as client -1).
asio::awaitable<result<txn_reply>> open_accounts(client& writer, workload_settings s, history_recorder& h);

// One read of every account at one revision (recorded as client `client_id`), audited.
asio::awaitable<result<txn_reply>> read_accounts(client& reader, workload_settings s, int client_id,
                                                 history_recorder& h, transfer_audit& audit);

}  // namespace kv::test

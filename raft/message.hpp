#pragma once
// The vocabulary of the Raft core: log entries, hard state, and the messages nodes exchange.
// Plain data: the core produces and consumes these and never touches a socket or a disk.

#include <cstdint>
#include <string>
#include <vector>

namespace kv::raft {

using node_id = std::uint64_t;  // 0 means "none"
using term_t = std::uint64_t;
using index_t = std::uint64_t;

struct entry {
  term_t term = 0;
  index_t index = 0;
  std::string data;  // an encoded command; empty for the leader's no-op
  friend bool operator==(const entry&, const entry&) = default;
};

// What must be durable before a node answers anyone (Raft §5.2, §5.4).
struct hard_state {
  term_t term = 0;
  node_id vote = 0;
  index_t commit = 0;
  friend bool operator==(const hard_state&, const hard_state&) = default;
};

enum class message_type : std::uint8_t {
  pre_vote,              // "would you vote for me in term+1?" (thesis §9.6); changes no term
  pre_vote_response,
  vote,                  // RequestVote
  vote_response,
  append,                // AppendEntries; also the heartbeat (no entries)
  append_response,
  timeout_now,           // leadership transfer: start an election now (thesis §3.10)
  read_index,            // follower -> leader: "what index must I reach to read?" (thesis §6.4)
  read_index_response,   // commit = that index; reject if the receiver is not the leader
  snapshot,              // InstallSnapshot: the state through (snapshot_index, snapshot_term); the
                         // driver streams the data and steps this in once it has all of it
};

const char* to_string(message_type t) noexcept;

struct message {
  message_type type = message_type::append;
  node_id from = 0;
  node_id to = 0;
  term_t term = 0;  // the sender's term (pre_vote: the term it would campaign in)

  // vote / pre_vote: the candidate's last log position.
  index_t last_index = 0;
  term_t last_term = 0;
  // vote: a campaign the leader asked for (timeout_now); voters ignore their leader lease.
  bool leader_transfer = false;

  // snapshot: the last entry the snapshot covers.
  index_t snapshot_index = 0;
  term_t snapshot_term = 0;

  // append: entries after (prev_index, prev_term), and the leader's commit index.
  index_t prev_index = 0;
  term_t prev_term = 0;
  std::vector<entry> entries;
  index_t commit = 0;

  // responses
  bool reject = false;
  index_t match = 0;       // append_response, accepted: the last index now matching the leader
  index_t hint_index = 0;  // append_response, rejected: where the leader should look next
  term_t hint_term = 0;    //   ...and the follower's term at that index (0: its log is shorter)

  // append / append_response: the read round a heartbeat confirms leadership for;
  // read_index / read_index_response: the requester's tag for the read.
  std::uint64_t context = 0;
};

}  // namespace kv::raft

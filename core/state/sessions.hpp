#pragma once
// Client sessions for exactly-once writes (Raft thesis §6.3). A client opens a session (a log
// entry; its index is the session id) and numbers its writes 1, 2, 3...; each write carries
// (session, seq) and the lowest seq the client still waits for. Applying a write whose seq was
// applied before returns the outcome recorded then instead of applying it again, so a client
// may resend a write after a timeout or a failover without it taking effect twice.
//
// Everything here changes only as log entries are applied, identically on every node, and is
// part of snapshots. Sessions expire deterministically: when opening one would exceed
// max_sessions, the session used least recently (by log index) is dropped; its client's next
// write is answered session_expired.

#include "core/base/error.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace kv {

class session_table {
 public:
  // The outcome of an applied write, as its client was (or will be) answered.
  struct outcome {
    std::uint64_t index = 0;  // the write's log index
    errc code = errc::ok;     // ok, not_found for a delete of a missing key, or why it was refused
    std::string reply;        // a transaction's answer, or a refusal's message
    friend bool operator==(const outcome&, const outcome&) = default;
  };

  enum class verdict : std::uint8_t {
    apply,      // a new write: apply it, then record() its outcome
    duplicate,  // applied before: answer with the recorded outcome
    expired,    // no such session (never opened, or expired)
    stale,      // below what the client said it still waits for: it was answered already
  };

  explicit session_table(std::size_t max_sessions = 100'000) : max_sessions_(max_sessions) {}

  // Opens session `id` (the index of its open_session entry).
  void open(std::uint64_t id);
  // Decides what to do with write `seq` of session `id`, applied at log index `index`;
  // `first_unacked` lets the table forget outcomes the client no longer needs. For a duplicate,
  // `previous` receives the recorded outcome.
  verdict check(std::uint64_t id, std::uint64_t seq, std::uint64_t first_unacked, std::uint64_t index,
                outcome& previous);
  void record(std::uint64_t id, std::uint64_t seq, outcome o);

  std::size_t size() const noexcept { return sessions_.size(); }
  std::size_t max_sessions() const noexcept { return max_sessions_; }

  // The table as bytes (for snapshots), and back. decode returns false for malformed bytes; it
  // reads the encoding of earlier versions too (without replies).
  std::string encode() const;
  bool decode(std::string_view bytes);

  friend bool operator==(const session_table& a, const session_table& b) {
    return a.sessions_ == b.sessions_;
  }

 private:
  // At most this many outcomes are kept per session (the client's pipeline depth).
  static constexpr std::size_t max_outcomes = 4096;

  struct session {
    std::uint64_t last_used = 0;  // log index of its latest write (or its opening)
    std::uint64_t floor = 1;      // seqs below were answered and forgotten
    std::map<std::uint64_t, outcome> outcomes;  // seq -> outcome, for seqs >= floor
    friend bool operator==(const session&, const session&) = default;
  };

  void touch(std::uint64_t id, session& s, std::uint64_t index);

  std::size_t max_sessions_;
  std::map<std::uint64_t, session> sessions_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> by_use_;  // (last_used, id), oldest first
};

}  // namespace kv

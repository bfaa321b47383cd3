#pragma once
// kvnode's error codes (a std::error_code category) and result<T>, the value-or-error type that
// every operation with an expected failure returns. Exceptions are reserved for startup
// failures and bugs; they are caught at the process or connection boundary.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace kv {

enum class errc : std::uint8_t {
  ok = 0,
  not_found = 1,      // the key does not exist
  bad_request = 2,    // malformed or invalid request
  too_large = 3,      // a key, value, frame or batch exceeds a configured limit
  not_leader = 4,     // this node cannot accept writes; the leader is elsewhere
  unavailable = 5,    // the node cannot serve the request now (shutting down, no quorum)
  internal = 6,       // a bug or an unexpected local failure
  corruption = 7,     // stored data failed validation
  timed_out = 8,      // the request did not complete in time
  session_expired = 9,  // the client's session is unknown (expired): open a new one
  no_space = 10,      // the node's disk is full: writes are refused until space is freed (reads still work)
  compacted = 11,     // the revision asked for was compacted: its history is gone
  future_revision = 12,  // the revision asked for is beyond the current one
};

const std::error_category& error_category() noexcept;

// Stored data failed validation (a checksum, a gap in the log). Thrown during recovery; the
// node refuses to start rather than serve it. what() names the file and offset.
class corruption_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};


inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// An error: a code, and optionally what a person should read about it (a server's message, the
// leader's address with not_leader).
struct error_info {
  std::error_code code;
  std::string message;  // may be empty: then code.message() says it
  std::string leader;   // errc::not_leader: the leader's client address, if known
};

// Either a T or an error (never a zero error_code).
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}                 // NOLINT: implicit by design
  result(errc e) : v_(error_info{make_error_code(e), {}, {}}) {}  // NOLINT
  result(std::error_code ec) : v_(error_info{ec, {}, {}}) {}     // NOLINT
  result(error_info e) : v_(std::move(e)) {}                // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  std::error_code error() const noexcept { return ok() ? std::error_code{} : std::get<1>(v_).code; }
  bool is(errc e) const noexcept { return error() == make_error_code(e); }
  // The error's details; only for a failed result.
  const error_info& failure() const { return std::get<1>(v_); }
  // The error's message for people: the detail if there is one, else the code's message.
  std::string message() const {
    if (ok()) return "ok";
    const auto& f = std::get<1>(v_);
    return f.message.empty() ? f.code.message() : f.message;
  }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, error_info> v_;
};

}  // namespace kv

template <>
struct std::is_error_code_enum<kv::errc> : std::true_type {};

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
};

const std::error_category& error_category() noexcept;

// Stored data failed validation (a checksum, a gap in the log). Thrown during recovery; the
// node refuses to start rather than serve it. what() names the file and offset.
class corruption_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The exit status of a node stopped by fail_stop(): EX_IOERR from <sysexits.h>.
inline constexpr int fail_stop_exit_code = 74;

// Fail-stop: logs `what` as critical, flushes every log and ends the process at once with
// fail_stop_exit_code. For errors after which carrying on could lose acknowledged data, such as
// a failed write or fsync of the WAL: never retried, never ignored.
[[noreturn]] void fail_stop(const std::string& what);

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// Either a T or an error_code (never a zero error_code).
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  result(errc e) : v_(make_error_code(e)) {}  // NOLINT
  result(std::error_code ec) : v_(ec) {}     // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  std::error_code error() const noexcept { return ok() ? std::error_code{} : std::get<1>(v_); }
  bool is(errc e) const noexcept { return error() == make_error_code(e); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, std::error_code> v_;
};

}  // namespace kv

template <>
struct std::is_error_code_enum<kv::errc> : std::true_type {};

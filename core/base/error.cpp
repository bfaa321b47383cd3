#include "core/base/error.hpp"


namespace kv {

namespace {
class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "kvnode"; }
  std::string message(int code) const override {
    switch (static_cast<errc>(code)) {
      case errc::ok: return "ok";
      case errc::not_found: return "not found";
      case errc::bad_request: return "bad request";
      case errc::too_large: return "too large";
      case errc::not_leader: return "not leader";
      case errc::unavailable: return "unavailable";
      case errc::internal: return "internal error";
      case errc::corruption: return "data corruption";
      case errc::timed_out: return "timed out";
      case errc::session_expired: return "session expired";
      case errc::no_space: return "no space";
      case errc::compacted: return "revision compacted";
      case errc::future_revision: return "future revision";
    }
    return "unknown kvnode error " + std::to_string(code);
  }
};
}  // namespace


const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

}  // namespace kv

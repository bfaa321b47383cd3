// SCAN and RANDOMKEY: walks of the keyspace's hash order (core/state/keyspace.hpp), in which the
// live keys sit at a 63-bit stable hash of their key. SCAN's cursor is a position in that order:
// 0 starts a walk, and each call returns the live keys from the cursor on and, as the next
// cursor, one past the last key's position (0 once no live key lies beyond). Every replica at
// the same applied index has the same live keys at the same positions, so a walk continues on
// any node, across leader changes, and however the keyspace changed between calls:
//
// - a key live for the whole walk is returned exactly once (Redis: at least once), since the
//   cursor only grows and the key's position never changes;
// - a key added or deleted during the walk may or may not be returned, and is returned at most
//   once.
//
// COUNT is the number of live keys a call looks at (10 unless given; more when the last ties
// with the next in position, so that the cursor always moves on); MATCH and TYPE then filter
// them, so a call can return fewer, or none, with the walk not over, as in Redis. A key whose
// expiry is due on the cluster clock is passed over: its delete is on its way through the log.
//
// Reads are linearizable (a read barrier first) unless the connection is READONLY, as GET's.

#include "io/server/resp_commands.hpp"

#include "core/state/keyspace.hpp"
#include "io/resp/glob.hpp"
#include "io/server/server.hpp"
#include "raft/replica/store.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kv {

namespace {

using namespace resp_detail;

constexpr std::string_view invalid_cursor = "ERR invalid cursor";

// SCAN's arguments, as Redis 7.0 reads them.
struct scan_request {
  std::uint64_t cursor = 0;
  std::size_t count = 10;
  std::optional<std::string> pattern;
  bool only_other_types = false;  // TYPE names a type other than string: no key is one
};

// Redis's cursor: strtoul's decimal (a sign allowed, "-1" wrapping to 2^64 - 1, "" 0) with
// nothing after it and no leading white space; it stops at a NUL byte, as on Redis's strings.
std::optional<std::uint64_t> parse_cursor(std::string_view arg) {
  const std::string s(arg);
  if (std::isspace(static_cast<unsigned char>(s.c_str()[0]))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const auto v = std::strtoull(s.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE) return std::nullopt;
  return v;
}

// The request, or Redis's error for it: the cursor's first, then each option's in order.
std::variant<scan_request, std::string_view> parse_scan(args_t a) {
  scan_request q;
  auto cursor = parse_cursor(a[1]);
  if (!cursor) return invalid_cursor;
  q.cursor = *cursor;
  for (std::size_t i = 2; i < a.size(); i += 2) {
    if (i + 1 >= a.size()) return syntax_error;
    if (is(a[i], "count")) {
      auto n = integer_arg(a[i + 1]);
      if (!n) return not_integer;
      if (*n < 1) return syntax_error;
      q.count = static_cast<std::size_t>(*n);
    } else if (is(a[i], "match")) {
      q.pattern = std::string(a[i + 1]);
      if (*q.pattern == "*") q.pattern.reset();
    } else if (is(a[i], "type")) {
      // Redis 7.0 compares the name with each key's type, ignoring case; a name that is no type
      // matches no key, without an error.
      q.only_other_types = !is(a[i + 1], "string");
    } else {
      return syntax_error;
    }
  }
  return q;
}

bool due(const key_value& kv, std::uint64_t now) { return kv.expires != 0 && kv.expires <= now; }

void serve_scan(resp_connection& c, const scan_request& q, resp::reply& r) {
  const auto& st = c.srv().replica();
  const auto now = st.cluster_time();
  auto page = st.state().keys().scan(q.cursor, q.count);
  std::vector<std::string_view> keys;
  for (const auto& kv : page.kvs) {
    if (q.only_other_types || due(kv, now)) continue;
    if (q.pattern && !resp::glob_match(*q.pattern, kv.key)) continue;
    keys.push_back(kv.key);
  }
  r.array(2);
  r.bulk(std::to_string(page.next));
  r.array(keys.size());
  for (auto k : keys) r.bulk(k);
}

// RANDOMKEY: the first live key (not due) at or after a random position, wrapping round. A key's
// chance is the share of the hash space between it and the key before it: about uniform, not
// exactly.
void serve_randomkey(resp_connection& c, resp::reply& r) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto& st = c.srv().replica();
  const auto& ks = st.state().keys();
  const auto now = st.cluster_time();
  const std::uint64_t start = rng() >> 1;
  std::uint64_t at = start;
  bool wrapped = false;
  while (true) {
    auto page = ks.scan(at, 1);
    for (const auto& kv : page.kvs) {
      if (!due(kv, now)) return r.bulk(kv.key);
    }
    // Past the end, or back at the start after wrapping: every live key was looked at.
    if (wrapped && (page.next == 0 || page.next > start)) return r.null();
    if (page.next == 0) {
      wrapped = true;
      at = 0;
    } else {
      at = page.next;
    }
  }
}

void scan(resp_connection& c, args_t a) {
  auto parsed = parse_scan(a);
  if (auto* error = std::get_if<std::string_view>(&parsed)) return c.reply_now().error(*error);
  read_state(c, [q = std::get<scan_request>(std::move(parsed))](resp_connection& conn, resp::reply& r) {
    serve_scan(conn, q, r);
  });
}

void randomkey(resp_connection& c, args_t) { read_state(c, serve_randomkey); }

}  // namespace

namespace resp_detail {

void add_scan_commands(command_table& t) {
  t.insert({
      {"scan", {-2, kind::read, scan}},
      {"randomkey", {1, kind::read, randomkey}},
  });
}

}  // namespace resp_detail

}  // namespace kv

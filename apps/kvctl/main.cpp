// kvctl: kvnode's command-line client.
//
//   kvctl [--endpoints host:port,...] [--timeout 5s] [--hex] set KEY VALUE|- | get [--stale] [--raw] KEY
//         | del KEY | bulk-set K V [K V ...] | ping | status
//         | search [--or|--phrase] [--limit N] [--offset N] [--prefix P] [--stale] [--min-index I] WORDS...
//         | similar TEXT [--top K] [--threshold T] [--stale] [--min-index I]
//   kvctl --help | --version
//
// Exit status: 0 ok, 1 not found, 2 usage error (nothing was sent), 3 server or network error.
// Errors go to standard error as one line.

#include "core/base/units.hpp"
#include "core/base/version.hpp"
#include "io/client/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int exit_ok = 0;
constexpr int exit_not_found = 1;
constexpr int exit_usage = 2;
constexpr int exit_failed = 3;

constexpr const char* usage_text = R"(usage: kvctl [options] COMMAND [ARGS]

commands:
  set KEY VALUE        store VALUE under KEY; VALUE "-" reads the value's bytes from standard
                       input, up to the node's max-value-size (longer input is refused before
                       it is read whole, exit status 3)
  get [--stale] [--raw] KEY
                       print the value of KEY and a newline (--raw: the value's bytes and
                       nothing else; --stale: allow a possibly stale local read)
  del KEY              delete KEY
  bulk-set K V [K V]…  store every pair atomically: all of them or none
  ping                 check that the node answers, and how fast
  status               print the node's status fields, one "name: value" a line; with several
                       endpoints, one line per node: endpoint, id, pid, role, term, leader,
                       commit and applied index, and how far it lags
  search WORDS...      full-text search over values: keys with every word (BM25-ranked), one
                       "KEY<tab>SCORE" line per hit; a word ending in * matches as a prefix
      --or             any of the words instead of all
      --phrase         the words in this order, next to each other
      --limit N        hits to print (default 10); --offset N skips the first N
      --prefix P       only keys starting with P
  similar TEXT         values most similar to TEXT (Jaccard over character trigrams)
      --top K          hits to print (default 10)
      --threshold T    lowest similarity, 0 to 1 (default 0.3)
  search and similar also take --stale (the node's index as it is, no leader round trip) and
  --min-index I (wait until the node's index has applied log index I, as a write printed)

options (before the command):
  --endpoints H:P,...  nodes to contact, in order (default: $KVCTL_ENDPOINTS or 127.0.0.1:7379)
  --timeout DURATION   per-request timeout, e.g. 500ms or 5s (default 5s)
  --hex                KEY and VALUE arguments, and search's --prefix, are hexadecimal, two
                       digits a byte ("6b00ff" is k, NUL, 0xff); keys and values are printed
                       in hexadecimal too, except by get --raw. A value read from standard
                       input is taken as it is. Search words and similar's TEXT stay text.
  -h, --help           print this help
  --version            print kvctl's version

Keys are any bytes, at least one; values are any bytes, possibly none. A request that finds no
leader (an election, a dead leader) is sent again, to the other endpoints, for up to 3 s: reads
as well as writes (writes are exactly-once).

exit status: 0 ok, 1 not found, 2 usage error (nothing was sent), 3 server or network error
)";

// Prints a usage error as one line and exits with exit_usage.
[[noreturn]] void usage_error(const std::string& message) {
  fmt::print(stderr, "kvctl: {} (see kvctl --help)\n", message);
  std::exit(exit_usage);
}

// How keys and values are written on the command line and printed.
enum class byte_notation : std::uint8_t {
  text,  // as they are
  hex,   // two hexadecimal digits a byte
};

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

// The bytes `text` spells in hexadecimal, or nullopt if it is not an even number of hex digits.
std::optional<std::string> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    unsigned byte = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + i + 2, byte, 16);
    if (ec != std::errc() || end != text.data() + i + 2) return std::nullopt;
    out += static_cast<char>(byte);
  }
  return out;
}

// A key, value or prefix argument as bytes; `what` names it in a usage error.
std::string bytes_of(byte_notation notation, const std::string& what, const std::string& arg) {
  if (notation == byte_notation::text) return arg;
  auto bytes = from_hex(arg);
  if (!bytes) usage_error(fmt::format("--hex: {} \"{}\" is not hexadecimal: two digits, 0-9 or a-f, a byte", what, arg));
  return *bytes;
}

// A key argument as bytes: at least one byte.
std::string key_of(byte_notation notation, const std::string& arg) {
  auto key = bytes_of(notation, "KEY", arg);
  if (key.empty()) usage_error("a KEY cannot be empty");
  return key;
}

std::string printed(byte_notation notation, std::string_view bytes) {
  return notation == byte_notation::hex ? to_hex(bytes) : std::string(bytes);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

std::string status_value(const kv::protocol::status_field& f) {
  if (const auto* n = std::get_if<std::uint64_t>(&f.value)) return std::to_string(*n);
  return std::get<std::string>(f.value);
}

// Prints a failed result and returns the exit status for it.
template <typename T>
int report(const kv::result<T>& r) {
  if (r.is(kv::errc::not_found)) {
    fmt::print(stderr, "kvctl: not found\n");
    return exit_not_found;
  }
  const auto& f = r.failure();
  if (f.code.category() != kv::error_category() && !f.message.empty()) {  // a client-side failure, said in full
    fmt::print(stderr, "kvctl: {}\n", f.message);
    return exit_failed;
  }
  auto leader = f.leader.empty() ? std::string() : fmt::format(" (leader: {})", f.leader);
  auto detail = f.message.empty() ? std::string() : ": " + f.message;
  fmt::print(stderr, "kvctl: {}{}{}\n", f.code.message(), detail, leader);
  return exit_failed;
}

// `status` with several endpoints: asks each node itself (no redirects) and prints a table.
asio::awaitable<int> cluster_status(const kv::client::options& opts) {
  struct row {
    std::string endpoint;
    kv::result<kv::node_status> status;
  };
  std::vector<row> rows;
  std::uint64_t newest_commit = 0;
  for (const auto& endpoint : opts.endpoints) {
    auto one = opts;
    one.endpoints.assign(1, endpoint);
    one.leader_wait = std::chrono::milliseconds(0);
    kv::client c(co_await asio::this_coro::executor, one);
    auto s = co_await c.status();
    c.close();
    if (s) newest_commit = std::max(newest_commit, s->number("commit_index"));
    rows.push_back(row{endpoint, std::move(s)});
  }
  fmt::print("{:<22} {:>4} {:>8} {:<13} {:>6} {:>6} {:>12} {:>12} {:>8} {:<6} {:>12}\n", "ENDPOINT", "ID", "PID", "ROLE",
             "TERM", "LEADER", "COMMIT", "APPLIED", "LAG", "ALARM", "REVISION");
  int failed = 0;
  for (const auto& r : rows) {
    if (!r.status) {
      fmt::print("{:<22} unreachable: {}\n", r.endpoint, r.status.message());
      ++failed;
      continue;
    }
    const auto& s = *r.status;
    const auto alarm = s.text("alarm");
    fmt::print("{:<22} {:>4} {:>8} {:<13} {:>6} {:>6} {:>12} {:>12} {:>8} {:<6} {:>12}\n", r.endpoint,
               s.number("node_id"), s.number("pid"), s.text("role"), s.number("term"), s.number("leader_id"),
               s.number("commit_index"), s.number("applied_index"),
               newest_commit - std::min(newest_commit, s.number("applied_index")), alarm.empty() ? "none" : alarm,
               s.number("revision"));
  }
  co_return failed == 0 ? exit_ok : exit_failed;
}

// The options of search and similar, taken out of `args` wherever they are; the words remain.
struct query_options {
  kv::search::match_mode mode = kv::search::match_mode::all;
  std::uint32_t limit = 10;
  std::uint32_t offset = 0;
  std::string prefix;
  double threshold = 0.3;
  std::uint64_t min_index = 0;
  kv::read_mode read = kv::read_mode::linearizable;
};

std::uint64_t number_of(const std::string& option, const std::string& text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    usage_error(fmt::format("{} takes a non-negative integer, got \"{}\"", option, text));
  }
  return v;
}

std::uint32_t count_of(const std::string& option, const std::string& text) {
  auto v = number_of(option, text);
  if (v > std::numeric_limits<std::uint32_t>::max()) usage_error(option + " is too large");
  return static_cast<std::uint32_t>(v);
}

query_options take_query_options(const std::string& cmd, std::vector<std::string>& args, byte_notation notation) {
  query_options q;
  const bool search = cmd == "search";
  std::vector<std::string> words;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    if (search && a == "--or") {
      q.mode = kv::search::match_mode::any;
    } else if (search && a == "--phrase") {
      q.mode = kv::search::match_mode::phrase;
    } else if (search && a == "--limit") {
      q.limit = count_of(a, value());
    } else if (search && a == "--offset") {
      q.offset = count_of(a, value());
    } else if (search && a == "--prefix") {
      q.prefix = bytes_of(notation, "--prefix", value());
    } else if (!search && a == "--top") {
      q.limit = count_of(a, value());
    } else if (!search && a == "--threshold") {
      const auto& text = value();
      char* end = nullptr;
      q.threshold = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(q.threshold >= 0 && q.threshold <= 1)) {
        usage_error("--threshold takes a number from 0 to 1, got \"" + text + "\"");
      }
    } else if (a == "--min-index") {
      q.min_index = number_of(a, value());
    } else if (a == "--stale") {
      q.read = kv::read_mode::stale;
    } else if (a.starts_with("--")) {
      usage_error(fmt::format("{}: unknown option \"{}\"", cmd, a));
    } else {
      words.push_back(a);
    }
  }
  args = std::move(words);
  return q;
}

int print_hits(const kv::search::search_answer& a, byte_notation notation) {
  for (const auto& h : a.hits) fmt::print("{}\t{:.4f}\n", printed(notation, h.key), h.score);
  fmt::print(stderr, "{} of {} match{} (index at log index {})\n", a.hits.size(), a.total, a.total == 1 ? "" : "es",
             a.applied_index);
  return exit_ok;
}

// What the command line asks for besides the command and its arguments.
struct invocation {
  kv::client::options client;
  byte_notation notation = byte_notation::text;
};

// Writes `bytes` to standard output exactly; false if it could not be written whole.
bool write_out(std::string_view bytes) {
  return std::fwrite(bytes.data(), 1, bytes.size(), stdout) == bytes.size() && std::fflush(stdout) == 0;
}

// The outcome of reading a value from standard input.
enum class input_status : std::uint8_t {
  whole,      // the input ended within the limit
  too_large,  // there is more than the limit: reading stopped there
  failed,     // read error (errno says which)
};

// Reads standard input into `out` until it ends or holds more than `limit` bytes (0: no limit);
// reads at most one chunk past the limit.
input_status read_input(std::uint64_t limit, std::string& out) {
  std::vector<char> chunk(64u << 10);
  for (;;) {
    std::size_t want = chunk.size();
    if (limit != 0) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, limit + 1 - out.size()));
    auto n = std::fread(chunk.data(), 1, want, stdin);
    out.append(chunk.data(), n);
    if (limit != 0 && out.size() > limit) return input_status::too_large;
    if (n < want) return std::ferror(stdin) ? input_status::failed : input_status::whole;
  }
}

// `set KEY -`: the value from standard input, after asking the node for its max-value-size so
// that input over it is refused before it is read whole. nullopt after printing why not (a
// failure of exit status exit_failed).
asio::awaitable<std::optional<std::string>> value_from_input(kv::client& c) {
  auto status = co_await c.status();
  if (!status) {
    report(status);
    co_return std::nullopt;
  }
  const auto limit = status->number("max_value_size");  // 0: a node that does not say
  std::string value;
  switch (read_input(limit, value)) {
    case input_status::whole:
      co_return value;
    case input_status::too_large:
      fmt::print(stderr, "kvctl: value exceeds the node's max-value-size ({} bytes)\n", limit);
      break;
    case input_status::failed:
      fmt::print(stderr, "kvctl: cannot read the value from standard input: {}\n", std::strerror(errno));
      break;
  }
  co_return std::nullopt;
}

asio::awaitable<int> run(kv::client& c, const invocation& inv, std::vector<std::string> args) {
  const std::string cmd = args.front();
  args.erase(args.begin());
  const auto notation = inv.notation;
  auto need = [&](std::size_t n, const char* shape) {
    if (args.size() != n) usage_error(fmt::format("{} takes {}", cmd, shape));
  };
  if (cmd == "set") {
    need(2, "KEY VALUE");
    auto key = key_of(notation, args[0]);
    std::string value;
    if (args[1] == "-") {
      auto input = co_await value_from_input(c);
      if (!input) co_return exit_failed;
      value = std::move(*input);
    } else {
      value = bytes_of(notation, "VALUE", args[1]);
    }
    auto r = co_await c.set(std::move(key), std::move(value));
    if (!r) co_return report(r);
    fmt::print("OK (index {})\n", *r);
  } else if (cmd == "get") {
    auto mode = kv::read_mode::linearizable;
    bool raw = false;
    while (!args.empty() && args[0].starts_with("--")) {
      if (args[0] == "--stale") {
        mode = kv::read_mode::stale;
      } else if (args[0] == "--raw") {
        raw = true;
      } else {
        usage_error(fmt::format("get: unknown option \"{}\"", args[0]));
      }
      args.erase(args.begin());
    }
    need(1, "[--stale] [--raw] KEY");
    auto key = key_of(notation, args[0]);
    auto r = co_await c.get(std::move(key), mode);
    if (!r) co_return report(r);
    auto out = raw ? *r : printed(notation, *r) + '\n';
    if (!write_out(out)) {
      fmt::print(stderr, "kvctl: cannot write the value to standard output: {}\n", std::strerror(errno));
      co_return exit_failed;
    }
  } else if (cmd == "del") {
    need(1, "KEY");
    auto r = co_await c.del(key_of(notation, args[0]));
    if (!r) co_return report(r);
    fmt::print("OK (index {})\n", *r);
  } else if (cmd == "bulk-set") {
    if (args.empty() || args.size() % 2 != 0) usage_error("bulk-set takes KEY VALUE pairs");
    std::vector<std::pair<std::string, std::string>> pairs;
    for (std::size_t i = 0; i < args.size(); i += 2) {
      pairs.emplace_back(key_of(notation, args[i]), bytes_of(notation, "VALUE", args[i + 1]));
    }
    auto r = co_await c.bulk_set(std::move(pairs));
    if (!r) co_return report(r);
    fmt::print("OK (index {}, {} pairs)\n", *r, args.size() / 2);
  } else if (cmd == "ping") {
    need(0, "no arguments");
    auto r = co_await c.ping();
    if (!r) co_return report(r);
    fmt::print("PONG from {} in {:.3f} ms\n", c.endpoint(), r->count() / 1000.0);
  } else if (cmd == "status") {
    need(0, "no arguments");
    if (inv.client.endpoints.size() > 1) co_return co_await cluster_status(inv.client);
    auto r = co_await c.status();
    if (!r) co_return report(r);
    for (const auto& f : r->fields) fmt::print("{}: {}\n", f.name, status_value(f));
  } else if (cmd == "search") {
    auto o = take_query_options(cmd, args, notation);
    if (args.empty()) usage_error("search takes at least one word");
    kv::search::text_query q;
    q.mode = o.mode;
    q.terms = std::move(args);
    q.limit = o.limit;
    q.offset = o.offset;
    q.key_prefix = o.prefix;
    auto r = co_await c.search(std::move(q), o.min_index, o.read);
    if (!r) co_return report(r);
    co_return print_hits(*r, notation);
  } else if (cmd == "similar") {
    auto o = take_query_options(cmd, args, notation);
    if (args.size() != 1) usage_error("similar takes one TEXT (quote it if it has spaces)");
    kv::search::similar_query q;
    q.text = args[0];
    q.k = o.limit;
    q.threshold = o.threshold;
    auto r = co_await c.similar(std::move(q), o.min_index, o.read);
    if (!r) co_return report(r);
    co_return print_hits(*r, notation);
  } else {
    usage_error("unknown command \"" + cmd + "\"");
  }
  co_return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  invocation inv;
  auto& opts = inv.client;
  if (const char* env = std::getenv("KVCTL_ENDPOINTS")) opts.endpoints = split(env, ',');
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!args.empty()) {  // options come before the command
      args.push_back(a);
    } else if (a == "-h" || a == "--help") {
      fmt::print("{}", usage_text);
      return exit_ok;
    } else if (a == "--version") {
      fmt::print("kvctl {}\n", kv::version);
      return exit_ok;
    } else if (a == "--hex") {
      inv.notation = byte_notation::hex;
    } else if (a == "--endpoints" || a == "--timeout") {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      std::string v = argv[++i];
      if (a == "--endpoints") {
        opts.endpoints = split(v, ',');
        if (opts.endpoints.empty()) usage_error("--endpoints needs at least one host:port");
      } else {
        auto d = kv::parse_duration(v);
        if (!d || d->count() <= 0) usage_error("--timeout: cannot parse duration \"" + v + "\" (e.g. 500ms, 5s)");
        opts.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
        opts.connect_timeout = std::min(opts.connect_timeout, opts.request_timeout);
      }
    } else if (a.starts_with("-") && a != "-") {
      usage_error("unknown option \"" + a + "\"");
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) usage_error("no command given");

  asio::io_context ctx(1);
  kv::client c(ctx.get_executor(), opts);
  int status = exit_failed;
  asio::co_spawn(ctx, run(c, inv, args), [&](std::exception_ptr e, int s) {
    status = s;
    c.close();
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        fmt::print(stderr, "kvctl: {}\n", ex.what());
        status = exit_failed;
      }
    }
  });
  ctx.run();
  return status;
}

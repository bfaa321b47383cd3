// kvctl: kvnode's command-line client. The commands, their options and exit statuses are in
// usage_text below (kvctl --help) and in README.md; apps/kvctl/commands.hpp runs them.

#include "apps/kvctl/commands.hpp"
#include "core/base/units.hpp"
#include "core/base/version.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace kv::kvctl;

constexpr const char* usage_text = R"(usage: kvctl [options] COMMAND [ARGS]

Commands on keys follow etcdctl v3 (get, del, txn, compact, -w json): the same options and output,
except where said.

commands:
  set KEY VALUE        store VALUE under KEY; VALUE "-" reads the value's bytes from standard
                       input, up to the node's max-value-size (longer input is refused before
                       it is read whole, exit status 3); prints OK and the revision the
                       write took (for get --rev, cas --mod-rev, search --min-index);
                       --lease ID attaches KEY to the lease (deleted when the lease ends)
      --ttl DURATION   KEY expires DURATION after the write (e.g. 30s, 1500ms, 2m; whole
                       milliseconds, at least 1ms); may be combined with --lease
      --keep-ttl       KEY keeps the TTL it has (Redis's KEEPTTL); without --ttl or
                       --keep-ttl, a set removes KEY's TTL, as Redis's SET does
  get KEY [END]        one KEY: print its value and a newline (exit status 1 if it does not
                       exist); with END, --prefix or --from-key: every key in [KEY, END), a
                       KEY line then a VALUE line per key (exit status 0 if there is none)
      --prefix         the keys starting with KEY (an empty KEY: every key)
      --from-key       every key >= KEY
      --limit N        at most N keys (0, the default: no limit)
      --rev R          as the keyspace was at revision R (exit status 3 if R is compacted)
      --order ORDER    ascend (the default) or descend, by key
      --keys-only      print keys only, one a line
      --count-only     print the number of keys only (or --count)
      --print-value-only
                       print values only, one a line
      --raw            one KEY: the value's bytes and nothing else
      --stale          allow a possibly stale local read
  del KEY [END]        delete KEY, or every key in [KEY, END); print how many were deleted
                       (exit status 1 if one KEY did not exist)
      --prefix, --from-key
                       as get's
      --prev-kv        print each deleted key and value after the count
  bulk-set K V [K V]…  store every pair atomically: all of them or none; prints OK, the
                       revision the write took and the number of pairs
  txn                  read a transaction from standard input, etcdctl txn's way: compares one
                       a line, a blank line, the ops to run if every compare holds, a blank
                       line, the ops to run otherwise. A compare is TARGET("KEY") OP "OPERAND":
                       TARGET value, version, create or mod (the create and mod revisions),
                       OP = != < >, KEY and OPERAND double-quoted with backslash escapes
                       (version("k") > "3"). An op is put KEY VALUE [--prev-kv] [--ttl D |
                       --keep-ttl], get KEY [END] [get's options], del KEY [END] [del's
                       options], incr KEY [BY], expire KEY DURATION, persist KEY or ttl KEY;
                       quote a word "like this" or 'like this'. Prints SUCCESS or FAILURE,
                       then each op's result after a blank line (put: OK; get: as get with
                       END; del: the count; incr: the new value; expire, persist: 1 or 0;
                       ttl: milliseconds left, as ttl --ms). Exit status 0 either way; 2 for
                       bad input, naming the line (nothing is sent).
  cas KEY EXPECTED NEW set KEY to NEW if its value is EXPECTED: prints OK and the revision of
                       the write; else prints the key's value (nothing if it does not exist),
                       says why on standard error and exits with status 1
      --absent KEY NEW          ... if KEY does not exist
      --mod-rev R KEY NEW       ... if KEY's mod revision is R (its last write's revision)
  incr KEY [BY]        add BY (default 1; may be negative) to the decimal 64-bit integer KEY
                       holds (absent: 0) and print the result; a value that is not an integer,
                       or a sum that overflows, is refused (exit status 3)
  expire KEY DURATION  KEY expires DURATION from now (a new version of KEY, as a put); prints
                       1, or 0 if KEY does not exist (Redis's EXPIRE)
  persist KEY          remove KEY's TTL (a new version of KEY); prints 1, or 0, changing
                       nothing, if KEY does not exist or has no TTL (Redis's PERSIST)
  ttl KEY              print the seconds KEY has left, rounded to the nearest (Redis's TTL):
                       -1 if KEY has no TTL, -2 if it does not exist (exit status 0 both);
                       -w json gives "ttl" (seconds) and "ttl_ms"
      --ms             in milliseconds (Redis's PTTL)
  mget KEY...          print the keys' values, one line per key, at one revision; an empty
                       line for a key that does not exist (-w json tells it from an empty
                       value: null); --stale as get's
  compact REV          forget the history below revision REV: reads at older revisions fail
  lease grant TTL      create a lease of TTL seconds; prints its ID, in hexadecimal as etcdctl
                       does (--id ID names it)
  lease revoke ID      end the lease and delete its keys (at one revision)
  lease keep-alive ID  renew the lease every third of its TTL, printing each renewal, until
                       Ctrl-C (exit status 0); --once renews it once. Exit status 3 once the
                       lease is gone
  lease timetolive ID  print the lease's TTL and what it has left; --keys: its keys too
  lease list           print every lease's ID
  watch KEY [END]      print each change to KEY, or to every key in [KEY, END), as it is
                       made, until Ctrl-C (exit status 0): etcdctl's lines, PUT or DELETE,
                       then the key and its value (empty for a delete); -w json: a line per
                       batch of events. Follows lost connections and failovers by itself,
                       with no event missed or repeated
      --prefix, --from-key
                       as get's
      --rev R          from revision R (the history since R first); exit status 3 if R is
                       compacted, naming the oldest revision to list from
      --prev-kv        print each change's previous key and value before it
      --no-put, --no-delete
                       only deletes, or only puts
      --progress-notify
                       with -w json, print the revision the watch has caught up to whenever
                       it has been idle for the node's watch-progress-interval
  ping                 check that the node answers, and how fast
  status               print the node's status fields, one "name: value" a line; with several
                       endpoints, one line per node: endpoint, id, pid, role, term, leader,
                       commit and applied index, how far it lags, alarm, revision and
                       compacted revision (the oldest still readable)
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
  --min-index R (wait until the node's index has applied revision R, as set, bulk-set, put,
  del, txn and -w json print; --min-revision R is the same)

The options of set, get, del, cas, mget, ttl, watch, search and similar may come before or after their
arguments, as --name VALUE or --name=VALUE; "--" ends them (for a KEY that starts with "--").

options (before the command):
  --endpoints H:P,...  nodes to contact, in order (default: $KVCTL_ENDPOINTS or 127.0.0.1:7379)
  --timeout DURATION   per-request timeout, e.g. 500ms or 5s (default 5s)
  --hex                KEY, END, VALUE and EXPECTED arguments, the keys and values of txn's
                       input, and search's --prefix, are hexadecimal, two digits a byte
                       ("6b00ff" is k, NUL, 0xff); keys and values are printed in
                       hexadecimal too, except by get --raw and -w json. A value read from
                       standard input is taken as it is. Search words and similar's TEXT
                       stay text.
  -w, --write-out FORMAT
                       simple (the default) or json: one JSON object, on one line, shaped
                       after etcdctl's: keys and values in base64, "header" holding the
                       "revision" of the answer (set and bulk-set: also the write's log
                       "index"; compact: its log "index" only), create_revision,
                       mod_revision, version, count, more
  -h, --help           print this help
  --version            print kvctl's version

Keys are any bytes, at least one; values are any bytes, possibly none. A request that finds no
leader (an election, a dead leader) is sent again, to the other endpoints, for up to 3 s: reads
as well as writes (writes are exactly-once).

exit status: 0 ok, 1 not found (or a cas whose compare failed), 2 usage error (nothing was
sent), 3 server or network error; errors go to standard error, one line each
)";

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

// Reads the options before the command into `inv`; returns the command and its arguments.
std::vector<std::string> parse_command_line(int argc, char** argv, invocation& inv) {
  auto& opts = inv.client;
  if (const char* env = std::getenv("KVCTL_ENDPOINTS")) opts.endpoints = split(env, ',');
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!args.empty()) {  // options come before the command
      args.push_back(a);
      continue;
    }
    std::string name = a;
    std::optional<std::string> inline_value;
    if (const auto eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
      name = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) usage_error(name + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      fmt::print("{}", usage_text);
      std::exit(exit_ok);
    } else if (a == "--version") {
      fmt::print("kvctl {}\n", kv::version);
      std::exit(exit_ok);
    } else if (a == "--hex") {
      inv.notation = byte_notation::hex;
    } else if (name == "--endpoints") {
      opts.endpoints = split(value(), ',');
      if (opts.endpoints.empty()) usage_error("--endpoints needs at least one host:port");
    } else if (name == "--timeout") {
      const auto v = value();
      auto d = kv::parse_duration(v);
      if (!d || d->count() <= 0) usage_error("--timeout: cannot parse duration \"" + v + "\" (e.g. 500ms, 5s)");
      opts.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
      opts.connect_timeout = std::min(opts.connect_timeout, opts.request_timeout);
    } else if (name == "-w" || name == "--write-out") {
      const auto v = value();
      if (v == "simple") {
        inv.format = output_format::simple;
      } else if (v == "json") {
        inv.format = output_format::json;
      } else {
        usage_error(fmt::format("{} takes simple or json, got \"{}\"", name, v));
      }
    } else if (a.starts_with("-") && a != "-") {
      usage_error("unknown option \"" + name + "\"");
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) usage_error("no command given");
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  invocation inv;
  auto args = parse_command_line(argc, argv, inv);
  asio::io_context ctx(1);
  kv::client c(ctx.get_executor(), inv.client);
  int status = exit_failed;
  asio::co_spawn(ctx, run_command(c, inv, std::move(args)), [&](std::exception_ptr e, int s) {
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

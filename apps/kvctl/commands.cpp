#include "apps/kvctl/commands.hpp"

#include "apps/kvctl/op_args.hpp"
#include "apps/kvctl/query_args.hpp"
#include "apps/kvctl/txn_script.hpp"
#include "io/client/lease_keeper.hpp"
#include "io/client/watch_stream.hpp"

#include <asio/signal_set.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <memory>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

namespace kv::kvctl {

void usage_error(const std::string& message) {
  fmt::print(stderr, "kvctl: {} (see kvctl --help)\n", message);
  std::exit(exit_usage);
}

namespace {

// What every command works with. The references outlive the command's coroutine (main owns them).
struct context {
  kv::client& client;
  const invocation& inv;
  std::shared_ptr<const printer> out;
};

template <typename T>
T or_usage_error(result<T> r) {
  if (!r) usage_error(r.message());
  return std::move(*r);
}

// Prints a failed result and returns the exit status for it.
template <typename T>
int report(const kv::result<T>& r) {
  if (r.is(kv::errc::not_found)) {  // a key has no message; a lease names itself
    fmt::print(stderr, "kvctl: {}\n", r.failure().message.empty() ? "not found" : r.failure().message);
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

// Writes `bytes` to standard output exactly; exit_ok, or exit_failed after saying why not.
int emit(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) == bytes.size() && std::fflush(stdout) == 0) return exit_ok;
  fmt::print(stderr, "kvctl: cannot write to standard output: {}\n", std::strerror(errno));
  return exit_failed;
}

// Writes the answer, then says "not found" (exit status 1) if `found` is false.
int emit_found(std::string_view bytes, bool found) {
  if (auto status = emit(bytes); status != exit_ok) return status;
  if (found) return exit_ok;
  fmt::print(stderr, "kvctl: not found\n");
  return exit_not_found;
}

void need(const std::string& command, const std::vector<std::string>& args, std::size_t n, const char* shape) {
  if (args.size() != n) usage_error(fmt::format("{} takes {}", command, shape));
}

// The outcome of reading standard input.
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

kv::read_mode read_mode_of(bool stale) { return stale ? kv::read_mode::stale : kv::read_mode::linearizable; }

// ---- the keyspace -----------------------------------------------------------------------------

asio::awaitable<int> set(context ctx, std::vector<std::string> args) {
  auto s = or_usage_error(parse_set(args, ctx.inv.notation));
  if (s.from_input) {
    auto input = co_await value_from_input(ctx.client);
    if (!input) co_return exit_failed;
    s.op.value = std::move(*input);
  }
  if (s.op.flags == 0) {  // no lease and no TTL option: the plain set request
    auto r = co_await ctx.client.set(std::move(s.op.key), std::move(s.op.value));
    if (!r) co_return report(r);
    co_return emit(ctx.out->written(*r));
  }
  // A put with a lease or a TTL option is a transaction of one put (etcd's put --lease).
  kv::txn t;
  t.then_ops.push_back(std::move(s.op));
  auto r = co_await ctx.client.txn(std::move(t));
  if (!r) co_return report(r);
  write_ack ack;
  ack.revision = r->revision;
  co_return emit(ctx.out->written(ack));
}

asio::awaitable<int> get(context ctx, std::vector<std::string> args) {
  auto g = or_usage_error(parse_get(args, ctx.inv.notation, op_source::command_line));
  if (g.raw && ctx.inv.format == output_format::json) usage_error("get: --raw cannot be combined with -w json");
  auto r = co_await ctx.client.range(g.op, read_mode_of(g.stale));
  if (!r) co_return report(r);
  co_return emit_found(ctx.out->range(g, *r), !g.one_key || r->count != 0);
}

asio::awaitable<int> del(context ctx, std::vector<std::string> args) {
  auto d = or_usage_error(parse_del(args, ctx.inv.notation));
  auto r = co_await ctx.client.delete_range(std::move(d.op.key), std::move(d.op.end), (d.op.flags & op_prev_kv) != 0);
  if (!r) co_return report(r);
  co_return emit_found(ctx.out->deleted(*r), !d.one_key || r->deleted != 0);
}

asio::awaitable<int> bulk_set(context ctx, std::vector<std::string> args) {
  if (args.empty() || args.size() % 2 != 0) usage_error("bulk-set takes KEY VALUE pairs");
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::size_t i = 0; i < args.size(); i += 2) {
    pairs.emplace_back(or_usage_error(parse_key("bulk-set", ctx.inv.notation, args[i])),
                       or_usage_error(parse_value(ctx.inv.notation, args[i + 1])));
  }
  const auto count = pairs.size();
  auto r = co_await ctx.client.bulk_set(std::move(pairs));
  if (!r) co_return report(r);
  co_return emit(ctx.out->bulk_written(*r, count));
}

asio::awaitable<int> txn(context ctx, std::vector<std::string> args) {
  need("txn", args, 0, "no arguments: it reads the transaction from standard input");
  const auto limit = ctx.inv.client.max_frame_bytes;
  std::string input;
  switch (read_input(limit, input)) {
    case input_status::whole:
      break;
    case input_status::too_large:
      usage_error(fmt::format("txn: the input exceeds {} bytes", limit));
    case input_status::failed:
      fmt::print(stderr, "kvctl: cannot read the transaction from standard input: {}\n", std::strerror(errno));
      co_return exit_failed;
  }
  auto t = or_usage_error(parse_txn_script(input, ctx.inv.notation));
  auto r = co_await ctx.client.txn(t);
  if (!r) co_return report(r);
  co_return emit(ctx.out->txn(t, *r));
}

// cas: if the compare holds, put KEY NEW; else read KEY, to show what it holds.
kv::txn cas_txn(kv::compare c, std::string new_value) {
  kv::txn t;
  t.then_ops.push_back(make_put(c.key, std::move(new_value)));
  t.else_ops.push_back(make_range(c.key));
  t.compares.push_back(std::move(c));
  return t;
}

// cas [--absent | --mod-rev R] KEY [EXPECTED] NEW
kv::txn parse_cas(const std::vector<std::string>& args, byte_notation notation) {
  static constexpr std::array<option_spec, 2> specs{{{"--absent"}, {"--mod-rev", true}}};
  auto w = or_usage_error(split_words("cas", args, specs));
  kv::compare c;
  c.op = compare_op::equal;
  c.target = compare_target::value;
  for (const auto& [name, value] : w.options) {
    if (c.target != compare_target::value) usage_error("cas: give one of --absent and --mod-rev");
    if (name == "--absent") {
      c.target = compare_target::create_revision;  // 0: the key does not exist
    } else {
      c.target = compare_target::mod_revision;
      c.number = or_usage_error(parse_count("cas", name, value));
    }
  }
  const bool expects_value = c.target == compare_target::value;
  if (w.operands.size() != (expects_value ? 3u : 2u)) {
    usage_error(expects_value ? "cas takes KEY EXPECTED NEW" : fmt::format("cas {} takes KEY NEW", w.options[0].first));
  }
  c.key = or_usage_error(parse_key("cas", notation, w.operands[0]));
  if (expects_value) c.value = or_usage_error(parse_value(notation, w.operands[1]));
  return cas_txn(std::move(c), or_usage_error(parse_value(notation, w.operands.back())));
}

asio::awaitable<int> cas(context ctx, std::vector<std::string> args) {
  auto t = parse_cas(args, ctx.inv.notation);
  auto r = co_await ctx.client.txn(std::move(t));
  if (!r) co_return report(r);
  if (auto status = emit(ctx.out->cas(*r)); status != exit_ok) co_return status;
  if (r->succeeded) co_return exit_ok;
  const auto& current = r->results.at(0).kvs;
  if (current.empty()) {
    fmt::print(stderr, "kvctl: compare failed: the key does not exist\n");
  } else {
    fmt::print(stderr, "kvctl: compare failed: the key is at mod revision {} (version {})\n",
               current.front().mod_revision, current.front().version);
  }
  co_return exit_not_found;
}

asio::awaitable<int> incr(context ctx, std::vector<std::string> args) {
  kv::txn t;
  t.then_ops.push_back(or_usage_error(parse_incr(args, ctx.inv.notation)));
  auto r = co_await ctx.client.txn(std::move(t));
  if (!r) co_return report(r);
  co_return emit(ctx.out->incr(*r));
}

// ---- per-key TTLs (Redis's EXPIRE family) -------------------------------------------------------

// A transaction of the one op `op`.
kv::txn one_op(kv::txn_op op) {
  kv::txn t;
  t.then_ops.push_back(std::move(op));
  return t;
}

// expire KEY DURATION and persist KEY: 1 if the key changed, 0 if it does not exist (or, for
// persist, has no TTL), as Redis's EXPIRE and PERSIST.
asio::awaitable<int> expire(context ctx, std::vector<std::string> args) {
  auto r = co_await ctx.client.txn(one_op(or_usage_error(parse_expire(args, ctx.inv.notation))));
  if (!r) co_return report(r);
  co_return emit(ctx.out->expired(*r));
}

asio::awaitable<int> persist(context ctx, std::vector<std::string> args) {
  auto r = co_await ctx.client.txn(one_op(or_usage_error(parse_persist(args, ctx.inv.notation))));
  if (!r) co_return report(r);
  co_return emit(ctx.out->expired(*r));
}

// ttl KEY [--ms]: Redis's TTL (or PTTL); -2 for no such key is an answer, not "not found".
asio::awaitable<int> ttl(context ctx, std::vector<std::string> args) {
  auto a = or_usage_error(parse_ttl(args, ctx.inv.notation, op_source::command_line));
  auto r = co_await ctx.client.txn(one_op(std::move(a.op)));
  if (!r) co_return report(r);
  co_return emit(ctx.out->ttl_left(*r, a.unit));
}

constexpr std::array<option_spec, 1> mget_options{{{"--stale"}}};

asio::awaitable<int> mget(context ctx, std::vector<std::string> args) {
  auto w = or_usage_error(split_words("mget", args, mget_options));
  if (w.operands.empty()) usage_error("mget takes KEY [KEY...]");
  std::vector<std::string> keys;
  for (const auto& k : w.operands) keys.push_back(or_usage_error(parse_key("mget", ctx.inv.notation, k)));
  auto r = co_await ctx.client.mget(std::move(keys), read_mode_of(!w.options.empty()));
  if (!r) co_return report(r);
  co_return emit(ctx.out->mget(*r));
}

asio::awaitable<int> compact(context ctx, std::vector<std::string> args) {
  need("compact", args, 1, "REVISION");
  const auto revision = or_usage_error(parse_count("compact", "REVISION", args[0]));
  if (revision == 0) usage_error("compact: REVISION must be at least 1");
  auto r = co_await ctx.client.compact(revision);
  if (!r) co_return report(r);
  co_return emit(ctx.out->compacted(revision, *r));
}

// ---- leases -----------------------------------------------------------------------------------

// Renews lease `id` now and then every third of its TTL (lease_keeper), printing each renewal,
// until SIGINT or SIGTERM (exit 0), or once with --once; exit 3 once the lease is gone.
asio::awaitable<int> keep_alive(context ctx, std::uint64_t id, bool once) {
  auto first = co_await ctx.client.keep_alive(id);
  if (!first) co_return report(first);
  if (auto status = emit(ctx.out->lease_kept_alive(id, *first)); status != exit_ok || once) co_return status;
  kv::lease_keeper keeper(ctx.client, id, *first);
  asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
  signals.async_wait([&keeper](std::error_code ec, int) {
    if (!ec) keeper.stop();
  });
  int status = exit_ok;
  for (;;) {
    auto r = co_await keeper.next();
    if (r.error() == std::make_error_code(std::errc::operation_canceled)) break;
    if (!r) {
      status = report(r);
      break;
    }
    if (status = emit(ctx.out->lease_kept_alive(id, *r)); status != exit_ok) break;
  }
  signals.cancel();
  co_return status;
}

constexpr std::array<option_spec, 3> lease_options{{{"--id", true}, {"--keys"}, {"--once"}}};

asio::awaitable<int> lease(context ctx, std::vector<std::string> args) {
  auto w = or_usage_error(split_words("lease", args, lease_options));
  if (w.operands.empty()) usage_error("lease takes grant TTL, revoke ID, keep-alive ID, timetolive ID or list");
  const auto sub = w.operands.front();
  std::vector<std::string> rest(w.operands.begin() + 1, w.operands.end());
  std::uint64_t named = 0;
  bool keys = false;
  bool once = false;
  for (const auto& [name, text] : w.options) {
    if (name == "--id") named = or_usage_error(parse_lease_id("lease grant", text));
    if (name == "--keys") keys = true;
    if (name == "--once") once = true;
  }
  if (sub == "grant") {
    need("lease grant", rest, 1, "TTL (seconds)");
    const auto ttl = or_usage_error(parse_count("lease grant", "TTL", rest[0]));
    auto r = co_await ctx.client.grant_lease(static_cast<std::int64_t>(std::min<std::uint64_t>(ttl, INT64_MAX)), named);
    if (!r) co_return report(r);
    co_return emit(ctx.out->lease_granted(*r));
  }
  if (sub == "list") {
    need("lease list", rest, 0, "no arguments");
    auto r = co_await ctx.client.leases();
    if (!r) co_return report(r);
    co_return emit(ctx.out->lease_list(*r));
  }
  if (sub != "revoke" && sub != "keep-alive" && sub != "timetolive") {
    usage_error("lease: unknown subcommand \"" + sub + "\" (grant, revoke, keep-alive, timetolive, list)");
  }
  need("lease " + sub, rest, 1, "ID");
  const auto id = or_usage_error(parse_lease_id("lease " + sub, rest[0]));
  if (sub == "revoke") {
    auto r = co_await ctx.client.revoke_lease(id);
    if (!r) co_return report(r);
    co_return emit(ctx.out->lease_revoked(id, *r));
  }
  if (sub == "keep-alive") co_return co_await keep_alive(ctx, id, once);
  auto r = co_await ctx.client.time_to_live(id, keys);
  if (!r) co_return report(r);
  co_return emit(ctx.out->lease_time_to_live(id, *r, keys));
}

// ---- watch ------------------------------------------------------------------------------------

// Prints each batch as it comes, until SIGINT or SIGTERM (exit 0) or the watch fails (exit 3;
// compacted: the message names the revision to list from). Reconnects by itself in between.
asio::awaitable<int> watch(context ctx, std::vector<std::string> args) {
  auto spec = or_usage_error(parse_watch(args, ctx.inv.notation));
  auto w = co_await ctx.client.watch(std::move(spec));
  if (!w) co_return report(w);
  auto& stream = **w;
  asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
  signals.async_wait([&stream](std::error_code ec, int) {
    if (!ec) stream.cancel();
  });
  int status = exit_ok;
  for (;;) {
    auto b = co_await stream.next();
    if (b.error() == std::make_error_code(std::errc::operation_canceled)) break;
    if (!b) {
      status = report(b);
      break;
    }
    if (auto printed = ctx.out->watched(*b); !printed.empty()) {
      if (status = emit(printed); status != exit_ok) break;
    }
  }
  signals.cancel();
  co_return status;
}

// ---- the node ---------------------------------------------------------------------------------

asio::awaitable<int> ping(context ctx, std::vector<std::string> args) {
  need("ping", args, 0, "no arguments");
  auto r = co_await ctx.client.ping();
  if (!r) co_return report(r);
  co_return emit(ctx.out->pong(ctx.client.endpoint(), *r));
}

endpoint_status status_row(std::string endpoint, result<node_status> s) { return {std::move(endpoint), std::move(s)}; }

// `status` with several endpoints: asks each node itself (no redirects).
asio::awaitable<int> cluster_status(context ctx) {
  std::vector<endpoint_status> nodes;
  bool failed = false;
  for (const auto& endpoint : ctx.inv.client.endpoints) {
    auto one = ctx.inv.client;
    one.endpoints.assign(1, endpoint);
    one.leader_wait = std::chrono::milliseconds(0);
    kv::client c(co_await asio::this_coro::executor, one);
    auto s = co_await c.status();
    c.close();
    failed = failed || !s;
    nodes.push_back(status_row(endpoint, std::move(s)));
  }
  auto status = emit(ctx.out->cluster_status(nodes));
  co_return failed ? exit_failed : status;
}

asio::awaitable<int> status(context ctx, std::vector<std::string> args) {
  need("status", args, 0, "no arguments");
  if (ctx.inv.client.endpoints.size() > 1) co_return co_await cluster_status(ctx);
  auto r = co_await ctx.client.status();
  if (!r) co_return report(r);
  co_return emit(ctx.out->status(*r));
}

// ---- search -----------------------------------------------------------------------------------

int print_hits(context ctx, const kv::search::search_answer& a) {
  auto status = emit(ctx.out->hits(a));
  if (ctx.inv.format == output_format::simple) {
    fmt::print(stderr, "{} of {} match{} (index at log index {})\n", a.hits.size(), a.total, a.total == 1 ? "" : "es",
               a.applied_index);
  }
  return status;
}

asio::awaitable<int> search(context ctx, std::vector<std::string> args) {
  auto s = or_usage_error(parse_search(args, ctx.inv.notation));
  auto r = co_await ctx.client.search(std::move(s.query), s.min_revision, read_mode_of(s.stale),
                                      kv::min_point::revision);
  if (!r) co_return report(r);
  co_return print_hits(ctx, *r);
}

asio::awaitable<int> similar(context ctx, std::vector<std::string> args) {
  auto s = or_usage_error(parse_similar(args));
  auto r = co_await ctx.client.similar(std::move(s.query), s.min_revision, read_mode_of(s.stale),
                                       kv::min_point::revision);
  if (!r) co_return report(r);
  co_return print_hits(ctx, *r);
}

using command_fn = asio::awaitable<int> (*)(context, std::vector<std::string>);

struct command_entry {
  std::string_view name;
  command_fn run;
};

constexpr std::array<command_entry, 18> commands{{
    {"set", set},
    {"get", get},
    {"del", del},
    {"bulk-set", bulk_set},
    {"txn", txn},
    {"cas", cas},
    {"incr", incr},
    {"expire", expire},
    {"persist", persist},
    {"ttl", ttl},
    {"mget", mget},
    {"compact", compact},
    {"watch", watch},
    {"lease", lease},
    {"ping", ping},
    {"status", status},
    {"search", search},
    {"similar", similar},
}};

}  // namespace

asio::awaitable<int> run_command(kv::client& c, const invocation& inv, std::vector<std::string> args) {
  const std::string name = args.front();
  args.erase(args.begin());
  const auto* entry =
      std::find_if(commands.begin(), commands.end(), [&](const command_entry& e) { return e.name == name; });
  if (entry == commands.end()) usage_error("unknown command \"" + name + "\"");
  std::shared_ptr<const printer> out;
  if (inv.format == output_format::json) {
    out = make_json_printer();
  } else {
    out = make_simple_printer(inv.notation);
  }
  return entry->run(context{c, inv, std::move(out)}, std::move(args));
}

}  // namespace kv::kvctl

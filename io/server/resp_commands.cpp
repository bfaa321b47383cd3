// The Redis commands: each parses its arguments as Redis 7 does, builds a kvnode transaction
// (core/model/txn.hpp) or reads the node's state, and formats the answer as Redis would. Writes
// go through the log like any other; reads are linearizable (a read index round) unless the
// connection said READONLY, or this node alone is the cluster.

#include "io/server/resp_commands.hpp"

#include "io/server/resp_multi.hpp"

#include "core/base/bytes.hpp"
#include "core/base/spawn.hpp"
#include "core/base/version.hpp"
#include "core/model/key_range.hpp"
#include "core/model/txn.hpp"
#include "io/resp/glob.hpp"
#include "io/server/server.hpp"
#include "io/server/write_forwarder.hpp"
#include "raft/replica/store.hpp"

#include <absl/container/flat_hash_map.h>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fnmatch.h>
#include <unistd.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <functional>
#include <limits>
#include <variant>

namespace kv {

namespace resp_detail {

// Command words are ASCII: folded without the locale's tolower, which every command would call.
char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

bool is(std::string_view arg, std::string_view word) {
  return arg.size() == word.size() &&
         std::equal(arg.begin(), arg.end(), word.begin(), [](char a, char b) { return ascii_lower(a) == b; });
}

// ---- errors, as Redis words them ----------------------------------------------------------

void wrong_arity(resp::reply& r, std::string_view name) {
  r.error(fmt::format("ERR wrong number of arguments for '{}' command", lower(name)));
}

std::string unknown_command(args_t a) {
  // Redis 7: the name, then its first arguments, each quoted, at most 128 bytes of them; printed
  // as C strings, so each ends at its first zero byte.
  auto c_string = [](std::string_view s) { return s.substr(0, s.find('\0')); };
  std::string shown;
  for (std::size_t i = 1; i < a.size() && shown.size() < 128; ++i) {
    shown += fmt::format("'{}' ", c_string(a[i]).substr(0, 128 - shown.size()));
  }
  return fmt::format("ERR unknown command '{}', with args beginning with: {}", c_string(a.front()).substr(0, 128),
                     shown);
}

void refusal(resp::reply& r, const error_info& e) {
  if (e.message.find("not a decimal 64-bit integer") != std::string::npos) return r.error(not_integer);
  if (e.message.find("overflows") != std::string::npos) return r.error("ERR increment or decrement would overflow");
  if (e.message.empty()) return r.error("ERR " + e.code.message());
  r.error("ERR " + e.message);
}

std::int64_t ttl_answer(std::int64_t left_ms, bool in_ms) {
  return left_ms < 0 || in_ms ? left_ms : (left_ms + 500) / 1000;  // Redis's TTL rounds
}

std::int64_t expiretime_answer(std::int64_t left_ms, bool in_ms) {
  if (left_ms < 0) return left_ms;
  const auto at = unix_ms_now() + left_ms;
  return in_ms ? at : (at + 500) / 1000;
}

std::optional<std::int64_t> integer_arg(std::string_view s) { return parse_int64(s); }

std::optional<std::vector<std::pair<std::string_view, std::string_view>>> distinct_pairs(resp_connection& c,
                                                                                          args_t a) {
  if (a.size() % 2 == 0) {
    auto r = c.reply_now();
    wrong_arity(r, a[0]);
    return std::nullopt;
  }
  absl::flat_hash_map<std::string_view, std::string_view> last;
  for (std::size_t i = 1; i + 1 < a.size(); i += 2) last[a[i]] = a[i + 1];
  if (too_many_keys(c, last.size())) return std::nullopt;
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  pairs.reserve(last.size());
  for (std::size_t i = 1; i + 1 < a.size(); i += 2) {
    auto it = last.find(a[i]);
    if (it != last.end() && it->second.data() == a[i + 1].data()) pairs.emplace_back(a[i], a[i + 1]);
  }
  return pairs;
}

bool too_many_keys(resp_connection& c, std::size_t keys) {
  const auto max = c.srv().replica().storage().max_txn_ops;
  if (keys <= max) return false;
  c.reply_now().error(fmt::format("ERR {} keys in one command; kvnode runs it as one transaction of at most "
                                  "max-txn-ops ({}) keys",
                                  keys, max));
  return true;
}

// ---- running transactions -------------------------------------------------------------------

void submit_write(resp_connection& c, const kv::txn& t, write_answer done) {
  auto& srv = c.srv();
  auto& st = srv.replica();
  if (st.role() != raft::role::leader && srv.forwarder().possible()) return srv.forwarder().forward(t, std::move(done));
  auto bytes = encode_txn(t);
  auto view = decode_txn(bytes);
  st.submit_txn(bytes, *view, [&srv, t, done = std::move(done)](result<std::uint64_t> r) mutable {
    if (!r) {
      // Refused before it was proposed: this node no longer leads (a TTL write waiting for a new
      // leader's clock, say), so the leader may take it.
      if (r.is(errc::not_leader) && srv.forwarder().possible()) {
        return srv.forwarder().forward(std::move(t), std::move(done));
      }
      return done(r.failure());
    }
    auto answer = decode_reply(srv.replica().reply());
    if (!answer) return done(error_info{make_error_code(errc::internal), "a malformed transaction answer", {}});
    done(std::move(*answer));
  });
}

void write_txn(resp_connection& c, const kv::txn& t, formatter f) {
  auto ticket = c.later(kind::write);
  submit_write(c, t, [self = c.shared_from_this(), ticket, f = std::move(f)](result<txn_reply> r) {
    self->finish(ticket, make_reply(*self, [&](resp::reply& rep) {
      if (!r) return refusal(rep, r.failure());
      f(rep, *r);
    }));
  });
}

namespace {

// How long a linearizable read waits for a leader to confirm it (an election after a leader
// died) before it is refused: as long as a forwarded write waits (the client's leader_wait).
constexpr auto read_patience = std::chrono::seconds(3);
constexpr auto read_retry_pause = std::chrono::milliseconds(50);

bool worth_retrying(const result<std::uint64_t>& r, const store& st) {
  return !r && (r.is(errc::not_leader) || r.is(errc::unavailable)) && !st.stopping();
}

// The retries after a first refusal.
asio::awaitable<result<std::uint64_t>> retry_barrier(store& st) {
  const auto deadline = std::chrono::steady_clock::now() + read_patience;
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    pause.expires_after(read_retry_pause);
    co_await pause.async_wait(asio::use_awaitable);
    auto r = co_await st.read_barrier();
    if (!worth_retrying(r, st) || std::chrono::steady_clock::now() >= deadline) co_return r;
  }
}

asio::awaitable<void> patient_barrier(store& st, read_barrier_done done) {
  done(co_await retry_barrier(st));
}

}  // namespace

asio::awaitable<result<std::uint64_t>> read_barrier(store& st) {
  auto r = co_await st.read_barrier();
  if (!worth_retrying(r, st)) co_return r;
  co_return co_await retry_barrier(st);
}

void read_barrier(resp_connection& c, read_barrier_done done) {
  auto& srv = c.srv();
  srv.replica().read_barrier([&srv, done = std::move(done)](result<std::uint64_t> r) mutable {
    if (!worth_retrying(r, srv.replica())) return done(std::move(r));
    asio::co_spawn(srv.executor(), patient_barrier(srv.replica(), std::move(done)), log_failure("a Redis read"));
  });
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void serve_read(resp_connection& c, const kv::txn& t, const formatter& f, resp::reply& rep) {
  auto bytes = encode_txn(t);
  auto view = decode_txn(bytes);
  std::string answer;
  if (auto e = c.srv().replica().read(*view, answer); e != errc::ok) {
    return refusal(rep, error_info{make_error_code(e), answer, {}});
  }
  auto decoded = decode_reply(answer);
  if (!decoded) return rep.error("ERR internal error: a malformed read answer");
  f(rep, *decoded);
}

bool reads_now(resp_connection& c) { return c.read_only || c.srv().replica().reads_are_local(); }

void read_txn(resp_connection& c, kv::txn t, formatter f) {
  read_state(c, [t = std::move(t), f = std::move(f)](resp_connection& conn, resp::reply& r) {
    serve_read(conn, t, f, r);
  });
}

// ---- optimistic transactions ------------------------------------------------------------------

key_state look_up(const kv::store& st, std::string_view key) {
  key_state k;
  auto stored = st.state().keys().get(key);
  if (!stored) return k;
  k.mod_revision = stored->mod_revision;
  if (stored->expires != 0) {
    const auto now = st.cluster_time();
    if (stored->expires <= now) return k;
    k.left_ms = static_cast<std::int64_t>(stored->expires - now);
  }
  k.live = true;
  k.value = std::string(stored->value);
  return k;
}

compare unchanged(std::string key, std::uint64_t mod_revision) {
  compare same;
  same.key = std::move(key);
  same.target = compare_target::mod_revision;
  same.number = mod_revision;
  return same;
}

decision answer_only(std::function<void(resp::reply&)> answer) {
  decision d;
  d.answer = std::move(answer);
  return d;
}

namespace {

// One optimistic command in flight: decides, writes, and decides again while its compares fail.
struct optimistic : std::enable_shared_from_this<optimistic> {
  std::shared_ptr<resp_connection> conn;
  resp_connection::ticket ticket;
  decide_fn decide;
  int attempts = 0;

  static constexpr int max_attempts = 100;

  void finish(auto&& fill) { conn->finish(ticket, make_reply(*conn, fill)); }

  void start() {
    if (conn->srv().replica().reads_are_local()) return attempt();
    read_barrier(*conn, [self = shared_from_this()](result<std::uint64_t> r) {
      if (!r) return self->finish([&](resp::reply& rep) { refusal(rep, r.failure()); });
      self->attempt();
    });
  }

  void attempt() {
    auto d = std::make_shared<decision>(decide(conn->srv().replica()));
    if (!d->write) return finish(d->answer);
    submit_write(*conn, *d->write, [self = shared_from_this(), d](result<txn_reply> r) {
      if (!r) return self->finish([&](resp::reply& rep) { refusal(rep, r.failure()); });
      if (!r->succeeded && ++self->attempts < max_attempts) return self->start();
      if (!r->succeeded) {
        return self->finish([&](resp::reply& rep) { rep.error("ERR the key kept changing; try again"); });
      }
      self->finish(d->answer);
    });
  }
};

}  // namespace

void run_optimistic(resp_connection& c, decide_fn decide) {
  auto op = std::make_shared<optimistic>();
  op->conn = c.shared_from_this();
  op->ticket = c.later(kind::exclusive);  // nothing of the connection runs between the read and the write
  op->decide = std::move(decide);
  op->start();
}

}  // namespace resp_detail

namespace {

using namespace resp_detail;

// ---- read-modify-write ----------------------------------------------------------------------

// Commands that rewrite a value from the one stored (APPEND, SETRANGE, INCRBYFLOAT), as optimistic
// transactions. The put keeps the key's TTL, as these commands do in Redis; a key past its TTL
// counts as absent (a new key, without one).
struct rewrite {
  // What compute makes of the old value: the new value, the error to answer, or nothing to write
  // (answered with the value as it is, "" for no key).
  struct unchanged {};
  using outcome = std::variant<std::string, std::string, unchanged>;
  // The outcome from the old value (nullopt: no such key).
  using compute_fn = std::function<outcome(std::optional<std::string_view>)>;
  // The answer once the new value is stored.
  using answer_fn = std::function<void(resp::reply&, const std::string& stored)>;
};

void rewrite_value(resp_connection& c, std::string_view key, rewrite::compute_fn compute, rewrite::answer_fn answer) {
  run_optimistic(c, [key = std::string(key), compute = std::move(compute),
                     answer = std::move(answer)](const kv::store& st) {
    auto k = look_up(st, key);
    auto next = compute(k.live ? std::optional<std::string_view>(k.value) : std::nullopt);
    if (auto* error = std::get_if<1>(&next)) {
      return answer_only([error = *error](resp::reply& rep) { rep.error(error); });
    }
    if (std::holds_alternative<rewrite::unchanged>(next)) {
      return answer_only([answer, value = k.live ? k.value : std::string()](resp::reply& rep) { answer(rep, value); });
    }
    decision d;
    d.write.emplace();
    d.write->compares.push_back(unchanged(key, k.mod_revision));
    auto put = make_put(key, std::get<0>(next));
    if (k.live) put.flags |= op_keep_ttl;
    d.write->then_ops.push_back(std::move(put));
    d.answer = [answer, stored = std::get<0>(next)](resp::reply& rep) { answer(rep, stored); };
    return d;
  });
}

// ---- connection commands ------------------------------------------------------------------

void ping(resp_connection& c, args_t a) {
  auto r = c.reply_now();
  if (a.size() > 2) return wrong_arity(r, a[0]);
  if (c.protocol() == resp::version::resp2 && c.subscribed()) {  // Redis's pong message
    r.array(2);
    r.bulk("pong");
    return r.bulk(a.size() == 2 ? a[1] : std::string_view());
  }
  if (a.size() == 2) return r.bulk(a[1]);
  r.simple("PONG");
}

void echo(resp_connection& c, args_t a) { c.reply_now().bulk(a[1]); }

void quit(resp_connection& c, args_t) {
  c.reply_now().simple("OK");
  c.quit();
}

void select(resp_connection& c, args_t a) {
  auto r = c.reply_now();
  auto n = integer_arg(a[1]);
  if (!n) return r.error(not_integer);
  if (*n != 0) return r.error("ERR DB index is out of range");
  r.simple("OK");
}

void auth(resp_connection& c, args_t a) {
  auto r = c.reply_now();
  if (a.size() == 2) {
    return r.error(
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your "
        "configuration is correct?");
  }
  if (a.size() != 3) return r.error(syntax_error);
  // No users but Redis's default one, which takes any password (nopass).
  if (a[1] != "default") return r.error("WRONGPASS invalid username-password pair or user is disabled.");
  r.simple("OK");
}

bool valid_client_name(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char ch) { return ch <= ' ' || ch > '~'; });
}

void hello(resp_connection& c, args_t a) {
  std::size_t i = 1;
  auto protocol = c.protocol();
  if (a.size() >= 2) {
    auto v = integer_arg(a[1]);
    if (!v) return c.reply_now().error("ERR Protocol version is not an integer or out of range");
    if (*v != 2 && *v != 3) return c.reply_now().error("NOPROTO unsupported protocol version");
    protocol = *v == 3 ? resp::version::resp3 : resp::version::resp2;
    i = 2;
  }
  // The options are checked before any takes effect: a refused HELLO changes nothing.
  std::optional<std::string_view> name;
  for (; i < a.size(); ++i) {
    if (is(a[i], "auth") && i + 2 < a.size()) {
      if (a[i + 1] != "default") {
        return c.reply_now().error("WRONGPASS invalid username-password pair or user is disabled.");
      }
      i += 2;
    } else if (is(a[i], "setname") && i + 1 < a.size()) {
      name = a[++i];
      if (!valid_client_name(*name)) {
        return c.reply_now().error("ERR Client names cannot contain spaces, newlines or special characters.");
      }
    } else {
      return c.reply_now().error(fmt::format("ERR Syntax error in HELLO option '{}'", a[i]));
    }
  }
  c.set_protocol(protocol);
  if (name) c.name = std::string(*name);
  auto r = c.reply_now();
  const auto& st = c.srv().replica();
  r.map(7);
  r.bulk("server");
  r.bulk("kvnode");
  r.bulk("version");
  r.bulk(kv::version);
  r.bulk("proto");
  r.integer(c.protocol() == resp::version::resp3 ? 3 : 2);
  r.bulk("id");
  r.integer(static_cast<std::int64_t>(c.id()));
  r.bulk("mode");
  r.bulk("standalone");
  r.bulk("role");
  r.bulk(st.role() == raft::role::leader ? "master" : "replica");
  r.bulk("modules");
  r.array(0);
}

// Redis 7's error for a container command's subcommand: a known one (of `known`) called with the
// wrong number of arguments, or an unknown one.
void subcommand_error(resp::reply& r, args_t a, std::initializer_list<std::string_view> known) {
  const auto sub = lower(a[1]);
  if (std::find(known.begin(), known.end(), sub) != known.end()) {
    return r.error(fmt::format("ERR wrong number of arguments for '{}|{}' command", lower(a[0]), sub));
  }
  auto container = std::string(a[0]);
  for (auto& ch : container) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  r.error(fmt::format("ERR unknown subcommand '{}'. Try {} HELP.", a[1], container));
}

// CLIENT LIST's line for `c`, in Redis 7's field order (7.2's lib-name and lib-ver last). What
// kvnode has no such thing for is shown as for an idle default client: db 0, no subscriptions,
// user default, no redirection.
std::string client_line(resp_connection& c) {
  using namespace std::chrono;
  const auto now = steady_clock::now();
  std::string flags;
  if (c.multi.active) flags += 'x';
  if (c.read_only) flags += 'r';
  if (c.no_evict) flags += 'e';
  if (flags.empty()) flags = "N";
  const auto b = c.buffers();
  std::size_t multi_mem = 0;
  for (const auto& q : c.multi.queued) {
    for (const auto& arg : q) multi_mem += arg.size();
  }
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 multi={} qbuf={} "
      "qbuf-free={} argv-mem=0 multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events=r{} cmd={} "
      "user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
      c.id(), c.peer(), c.local(), c.fd(), c.name, duration_cast<seconds>(now - c.connected_at()).count(),
      duration_cast<seconds>(now - c.last_command_at).count(), flags,
      c.multi.active ? static_cast<std::int64_t>(c.multi.queued.size()) : -1, b.query, b.query_free, multi_mem,
      b.query + b.query_free, b.query + b.query_free, b.output, b.output_list, b.output_memory,
      b.query + b.query_free + b.output_memory + multi_mem, b.output > 0 ? "w" : "", c.last_command,
      c.protocol() == resp::version::resp3 ? 3 : 2, c.lib_name, c.lib_version);
}

// CLIENT LIST [TYPE normal | master | replica | pubsub] [ID id [id ...]].
void client_list(resp_connection& c, args_t a, resp::reply& r) {
  std::vector<resp_connection*> all(c.srv().resp_connections().begin(), c.srv().resp_connections().end());
  std::sort(all.begin(), all.end(), [](auto* x, auto* y) { return x->id() < y->id(); });
  std::vector<std::uint64_t> ids;
  bool none = false;  // TYPE master, replica, pubsub: kvnode has no such clients
  for (std::size_t i = 2; i < a.size(); ++i) {
    if (is(a[i], "type") && i + 1 < a.size()) {
      const auto t = lower(a[++i]);
      if (t != "normal" && t != "master" && t != "replica" && t != "slave" && t != "pubsub") {
        return r.error(fmt::format("ERR Unknown client type '{}'", a[i]));
      }
      none = t != "normal";
    } else if (is(a[i], "id") && i + 1 < a.size()) {
      for (++i; i < a.size(); ++i) {
        auto id = integer_arg(a[i]);
        if (!id || *id <= 0) return r.error("ERR Invalid client ID");
        ids.push_back(static_cast<std::uint64_t>(*id));
      }
    } else {
      return r.error(syntax_error);
    }
  }
  std::string text;
  for (auto* x : all) {
    if (none || (!ids.empty() && std::find(ids.begin(), ids.end(), x->id()) == ids.end())) continue;
    text += client_line(*x);
  }
  r.verbatim_text(text);
}

void client(resp_connection& c, args_t a) {
  auto r = c.reply_now();
  if (is(a[1], "id") && a.size() == 2) return r.integer(static_cast<std::int64_t>(c.id()));
  if (is(a[1], "getname") && a.size() == 2) return c.name.empty() ? r.null() : r.bulk(c.name);
  if (is(a[1], "setname") && a.size() == 3) {
    if (!valid_client_name(a[2])) {
      return r.error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    c.name = std::string(a[2]);
    return r.simple("OK");
  }
  if (is(a[1], "info") && a.size() == 2) return r.verbatim_text(client_line(c));
  if (is(a[1], "list")) return client_list(c, a, r);
  if (is(a[1], "no-evict") && a.size() == 3) {
    if (!is(a[2], "on") && !is(a[2], "off")) return r.error(syntax_error);
    c.no_evict = is(a[2], "on");
    return r.simple("OK");
  }
  // Redis 7.2's, which client libraries send on connecting.
  if (is(a[1], "setinfo") && a.size() == 4) {
    const bool name = is(a[2], "lib-name");
    if (!name && !is(a[2], "lib-ver")) return r.error(fmt::format("ERR Unrecognized option '{}'", a[2]));
    if (!valid_client_name(a[3])) {
      return r.error(fmt::format("ERR {} cannot contain spaces, newlines or special characters.", lower(a[2])));
    }
    (name ? c.lib_name : c.lib_version) = std::string(a[3]);
    return r.simple("OK");
  }
  subcommand_error(r, a, {"id", "getname", "setname", "info", "list", "no-evict", "setinfo"});
}

void readonly(resp_connection& c, args_t) {
  c.read_only = true;
  c.reply_now().simple("OK");
}

void readwrite(resp_connection& c, args_t) {
  c.read_only = false;
  c.reply_now().simple("OK");
}

// DBSIZE: the live keys, read as any read is (linearizable: a follower counts the writes it
// forwarded). Keys past their TTL whose delete has not applied yet count, as in Redis.
void dbsize(resp_connection& c, args_t) {
  read_state(c, [](resp_connection& conn, resp::reply& r) {
    r.integer(static_cast<std::int64_t>(conn.srv().replica().state().key_count()));
  });
}

void time(resp_connection& c, args_t) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  auto r = c.reply_now();
  r.array(2);
  r.bulk(std::to_string(us / 1'000'000));
  r.bulk(std::to_string(us % 1'000'000));
}

// WAIT numreplicas timeout: a write is acknowledged only once it is on a majority, so there is
// nothing to wait for; the answer is the replicas that count towards that majority.
void wait(resp_connection& c, args_t a) {
  auto r = c.reply_now();
  if (!integer_arg(a[1]) || !integer_arg(a[2])) return r.error(not_integer);
  if (*integer_arg(a[2]) < 0) return r.error("ERR timeout is negative");
  const auto voters = c.srv().replica().replication().voters.size();
  r.integer(static_cast<std::int64_t>(voters > 0 ? voters - 1 : 0));
}

// The settings clients and tools ask for, named as Redis names them.
std::vector<std::pair<std::string, std::string>> config_values(resp_connection& c) {
  auto& srv = c.srv();
  const auto& st = srv.replica();
  const auto& cfg = srv.config();
  auto port = std::to_string(srv.resp_endpoint().port());
  return {
      {"appendonly", "yes"},
      {"appendfsync", st.storage().fsync == fsync_policy::always ? "always" : "no"},
      {"bind", srv.resp_endpoint().address().to_string()},
      {"databases", "1"},
      {"maxclients", std::to_string(cfg.max_connections)},
      {"maxmemory", "0"},
      {"notify-keyspace-events", srv.notify_keyspace_events().text()},
      {"port", port},
      {"proto-max-bulk-len", std::to_string(cfg.max_frame_bytes)},
      {"save", ""},
      {"timeout", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(cfg.idle_timeout).count())},
  };
}

void config(resp_connection& c, args_t a) {
  auto r = c.reply_now();
  if (is(a[1], "get") && a.size() >= 3) {
    std::vector<std::pair<std::string, std::string>> found;
    for (const auto& [name, value] : config_values(c)) {
      for (std::size_t i = 2; i < a.size(); ++i) {
        if (::fnmatch(lower(a[i]).c_str(), name.c_str(), 0) == 0) {
          found.emplace_back(name, value);
          break;
        }
      }
    }
    r.map(found.size());
    for (const auto& [name, value] : found) {
      r.bulk(name);
      r.bulk(value);
    }
    return;
  }
  if (is(a[1], "set") && a.size() == 4 && is(a[2], "notify-keyspace-events")) {
    auto events = keyspace_events::parse(a[3]);
    if (!events) {
      return r.error(
          "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class "
          "character. Use 'Ag$lshzxeKEtmdn'.");
    }
    c.srv().set_notify_keyspace_events(*events);
    return r.simple("OK");
  }
  if (is(a[1], "set") && a.size() >= 4) {
    return r.error(fmt::format("ERR Unknown option or number of arguments for CONFIG SET - '{}' (kvnode's settings "
                               "come from its configuration file)",
                               a[2]));
  }
  if (is(a[1], "resetstat") && a.size() == 2) return r.simple("OK");
  subcommand_error(r, a, {"get", "set", "resetstat"});
}

// INFO [section ...]: Redis's sections that clients and tools read, with the Raft state in
// replication.
void info(resp_connection& c, args_t a) {
  auto& srv = c.srv();
  const auto& st = srv.replica();
  auto wanted = [&](std::string_view section) {
    if (a.size() == 1) return true;
    for (std::size_t i = 1; i < a.size(); ++i) {
      if (is(a[i], section) || is(a[i], "all") || is(a[i], "everything") || is(a[i], "default")) return true;
    }
    return false;
  };
  std::string text;
  auto add = [&](std::string_view line) {
    text.append(line);
    text.append("\r\n");
  };
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - srv.started()).count();
  if (wanted("server")) {
    add("# Server");
    add("redis_version:7.0.0");  // the version of Redis whose commands kvnode follows
    add(fmt::format("kvnode_version:{}", kv::version));
    add("redis_mode:standalone");
    add(fmt::format("process_id:{}", ::getpid()));
    add(fmt::format("tcp_port:{}", srv.resp_endpoint().port()));
    add(fmt::format("uptime_in_seconds:{}", uptime));
    add(fmt::format("uptime_in_days:{}", uptime / 86400));
    add("");
  }
  if (wanted("clients")) {
    add("# Clients");
    add(fmt::format("connected_clients:{}", srv.connection_count()));
    add(fmt::format("maxclients:{}", srv.config().max_connections));
    add("");
  }
  if (wanted("replication")) {
    const bool leading = st.role() == raft::role::leader;
    add("# Replication");
    add(fmt::format("role:{}", leading ? "master" : "slave"));
    add(fmt::format("raft_role:{}", raft::to_string(st.role())));
    add(fmt::format("raft_term:{}", st.term()));
    add(fmt::format("raft_leader_id:{}", st.leader()));
    add(fmt::format("raft_node_id:{}", st.replication().id));
    add(fmt::format("raft_commit_index:{}", st.commit_index()));
    add(fmt::format("raft_applied_index:{}", st.applied_index()));
    std::size_t peer = 0;
    for (auto id : st.replication().voters) {
      if (id == st.replication().id) continue;
      const auto* pr = st.consensus().progress_of(id);
      add(fmt::format("raft_peer{}:id={},match={}", peer++, id, pr != nullptr ? pr->match : 0));
    }
    add(fmt::format("connected_slaves:{}", leading ? peer : 0));
    add("");
  }
  if (wanted("keyspace")) {
    add("# Keyspace");
    const auto keys = st.state().key_count();
    if (keys > 0) add(fmt::format("db0:keys={},expires={},avg_ttl=0", keys, st.state().keys().expiring_keys()));
    add("");
  }
  if (wanted("stats")) {
    add("# Stats");
    add(fmt::format("total_connections_received:{}", srv.statistics().accepted));
    add(fmt::format("total_commands_processed:{}", srv.statistics().requests));
    add(fmt::format("rejected_connections:{}", srv.statistics().refused));
    add("");
  }
  c.reply_now().verbatim_text(text);
}

// ---- strings --------------------------------------------------------------------------------

void strlen(resp_connection& c, args_t a) {
  kv::txn t;
  t.then_ops.push_back(make_range(std::string(a[1])));
  read_txn(c, std::move(t), [](resp::reply& r, const txn_reply& x) {
    const auto& kvs = x.results.at(0).kvs;
    r.integer(kvs.empty() ? 0 : static_cast<std::int64_t>(kvs.front().value.size()));
  });
}

void append(resp_connection& c, args_t a) {
  const auto max = c.srv().replica().storage().max_value_bytes;
  rewrite_value(
      c, a[1],
      [suffix = std::string(a[2]), max](std::optional<std::string_view> old) -> rewrite::outcome {
        std::string v(old.value_or(""));
        if (v.size() + suffix.size() > max) {
          return rewrite::outcome(std::in_place_index<1>,
                                                        "ERR string exceeds maximum allowed size (max-value-size)");
        }
        return rewrite::outcome(std::in_place_index<0>, v + suffix);
      },
      [](resp::reply& r, const std::string& stored) { r.integer(static_cast<std::int64_t>(stored.size())); });
}

// SETRANGE key offset value: overwrites from `offset`, padding with zero bytes.
void setrange(resp_connection& c, args_t a) {
  auto offset = integer_arg(a[2]);
  if (!offset) return c.reply_now().error(not_integer);
  if (*offset < 0) return c.reply_now().error("ERR offset is out of range");
  const auto max = c.srv().replica().storage().max_value_bytes;
  if (static_cast<std::uint64_t>(*offset) + a[3].size() > max) {
    return c.reply_now().error("ERR string exceeds maximum allowed size (max-value-size)");
  }
  const auto at = static_cast<std::size_t>(*offset);
  rewrite_value(
      c, a[1],
      [at, part = std::string(a[3])](std::optional<std::string_view> old) -> rewrite::outcome {
        if (part.empty()) return rewrite::unchanged{};  // as Redis: the length, no key created
        std::string v(old.value_or(""));
        if (v.size() < at + part.size()) v.resize(at + part.size(), '\0');
        v.replace(at, part.size(), part);
        return rewrite::outcome(std::in_place_index<0>, v);
      },
      [](resp::reply& r, const std::string& stored) { r.integer(static_cast<std::int64_t>(stored.size())); });
}

// INCRBYFLOAT key increment: as Redis, a long double sum printed with 17 significant digits and
// no trailing zeros.
void incrbyfloat(resp_connection& c, args_t a) {
  auto parse = [](std::string_view s) -> std::optional<long double> {
    if (s.empty() || s.size() > 5000 || std::isspace(static_cast<unsigned char>(s.front()))) return std::nullopt;
    std::string text(s);
    char* end = nullptr;
    errno = 0;
    long double v = std::strtold(text.c_str(), &end);
    if (end != text.c_str() + text.size() || errno == ERANGE || std::isnan(v)) return std::nullopt;
    return v;
  };
  auto delta = parse(a[2]);
  if (!delta) return c.reply_now().error("ERR value is not a valid float");
  rewrite_value(
      c, a[1],
      [delta = *delta, parse](std::optional<std::string_view> old) -> rewrite::outcome {
        long double v = 0;
        if (old) {
          auto n = parse(*old);
          if (!n) return rewrite::outcome(std::in_place_index<1>, "ERR value is not a valid float");
          v = *n;
        }
        v += delta;
        if (std::isnan(v) || std::isinf(v)) {
          return rewrite::outcome(std::in_place_index<1>,
                                                        "ERR increment would produce NaN or Infinity");
        }
        char buf[5 * 1024];  // Redis's MAX_LONG_DOUBLE_CHARS
        const int n = std::snprintf(buf, sizeof buf, "%.17Lf", v);
        std::string text(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
        if (text.find('.') != std::string::npos) {
          while (!text.empty() && text.back() == '0') text.pop_back();
          if (!text.empty() && text.back() == '.') text.pop_back();
        }
        if (text == "-0") text = "0";
        return rewrite::outcome(std::in_place_index<0>, text);
      },
      [](resp::reply& r, const std::string& stored) { r.bulk(stored); });
}

// GETRANGE key start end: Redis's inclusive, negative-from-the-end substring.
void getrange(resp_connection& c, args_t a) {
  auto from = integer_arg(a[2]);
  auto to = integer_arg(a[3]);
  if (!from || !to) return c.reply_now().error(not_integer);
  kv::txn t;
  t.then_ops.push_back(make_range(std::string(a[1])));
  read_txn(c, std::move(t), [start = *from, end = *to](resp::reply& r, const txn_reply& x) {
    const auto& kvs = x.results.at(0).kvs;
    const std::string_view v = kvs.empty() ? std::string_view() : std::string_view(kvs.front().value);
    const auto n = static_cast<std::int64_t>(v.size());
    if (start < 0 && end < 0 && start > end) return r.bulk("");
    std::int64_t s0 = start < 0 ? n + start : start;
    std::int64_t e0 = end < 0 ? n + end : end;
    s0 = std::max<std::int64_t>(s0, 0);
    e0 = std::min(std::max<std::int64_t>(e0, 0), n - 1);
    if (n == 0 || s0 > e0) return r.bulk("");
    r.bulk(v.substr(static_cast<std::size_t>(s0), static_cast<std::size_t>(e0 - s0 + 1)));
  });
}

// GET: the key's value read straight from the state (no transaction to encode and decode), once
// the read barrier passed, as the binary protocol's get.
void get(resp_connection& c, args_t a) {
  read_state(c, [key = std::string(a[1])](resp_connection& conn, resp::reply& r) {
    auto v = conn.srv().replica().find(key);
    if (!v) return r.null();
    r.bulk(*v);
  });
}

// SET's expiry options, resolved to one of: none, a TTL, keep the key's, or a time already past.
struct expiry {
  enum class mode { none, ttl, keep, past } how = mode::none;
  std::int64_t ttl_ms = 0;
};

// EX/PX/EXAT/PXAT's argument as a TTL; an error text if Redis would refuse it.
std::variant<expiry, std::string_view> parse_expiry(std::string_view option, std::string_view arg, std::string_view command) {
  auto n = integer_arg(arg);
  if (!n) return not_integer;
  (void)command;
  const bool seconds = is(option, "ex") || is(option, "exat");
  const bool absolute = is(option, "exat") || is(option, "pxat");
  if (*n <= 0 || (seconds && *n > std::numeric_limits<std::int64_t>::max() / 1000)) {
    return std::string_view("invalid expire time");
  }
  std::int64_t ms = seconds ? *n * 1000 : *n;
  if (absolute) ms -= unix_ms_now();
  expiry e;
  if (ms <= 0) {
    e.how = expiry::mode::past;
  } else {
    e.how = expiry::mode::ttl;
    e.ttl_ms = std::min(ms, max_ttl_ms);
  }
  return e;
}

// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL], and the forms built on
// it. `reply_as`: how to answer.
enum class set_answer { ok_or_nil, old_value, integer };

void set_with(resp_connection& c, std::string key, std::string value, bool nx, bool xx, bool get_old, expiry e,
              set_answer answer) {
  kv::txn t;
  if (nx || xx) {
    compare cmp;
    cmp.key = key;
    cmp.target = compare_target::version;
    cmp.op = nx ? compare_op::equal : compare_op::greater;
    cmp.number = 0;
    t.compares.push_back(std::move(cmp));
  }
  if (e.how == expiry::mode::past) {
    // A time already past: Redis deletes the key (and still answers as SET does).
    t.then_ops.push_back(make_delete_range(key, {}, true));
  } else if (e.how == expiry::mode::ttl) {
    t.then_ops.push_back(make_put_ttl(key, value, e.ttl_ms, true));
  } else {
    auto op = make_put(key, value, true);
    if (e.how == expiry::mode::keep) op.flags |= op_keep_ttl;
    t.then_ops.push_back(std::move(op));
  }
  if (get_old) t.else_ops.push_back(make_range(key));
  write_txn(c, t, [get_old, answer](resp::reply& r, const txn_reply& x) {
    const auto& res = x.results;
    if (answer == set_answer::integer) return r.integer(x.succeeded ? 1 : 0);
    if (get_old) {
      const auto* kvs = res.empty() ? nullptr : &res.front().kvs;
      if (kvs == nullptr || kvs->empty()) return r.null();
      return r.bulk(kvs->front().value);
    }
    if (!x.succeeded) return r.null();
    r.simple("OK");
  });
}

// SET key value without options, on the leader: the log's plain set command (what the binary
// protocol's set proposes), which, like a transaction's put, drops the key's TTL and lease.
// Returns false when the general path must run instead (a follower forwards a transaction; a
// key or value over the limits gets the transaction's precise refusal).
bool plain_set(resp_connection& c, std::string_view key, std::string_view value) {
  auto& st = c.srv().replica();
  const auto& limits = st.storage();
  if (st.role() != raft::role::leader || key.empty() || key.size() > limits.max_key_bytes ||
      value.size() > limits.max_value_bytes) {
    return false;
  }
  auto ticket = c.later(kind::write);
  st.submit_set(key, value, [self = c.shared_from_this(), ticket](result<std::uint64_t> r) {
    if (r) return self->finish(ticket, "+OK\r\n");
    self->finish(ticket, make_reply(*self, [&](resp::reply& rep) { refusal(rep, r.failure()); }));
  });
  return true;
}

void set(resp_connection& c, args_t a) {
  if (a.size() == 3 && plain_set(c, a[1], a[2])) return;
  bool nx = false, xx = false, get_old = false;
  expiry e;
  bool expiry_given = false;
  for (std::size_t i = 3; i < a.size(); ++i) {
    if (is(a[i], "nx") && !xx) {
      nx = true;
    } else if (is(a[i], "xx") && !nx) {
      xx = true;
    } else if (is(a[i], "get")) {
      get_old = true;
    } else if (is(a[i], "keepttl") && !expiry_given) {
      e.how = expiry::mode::keep;
      expiry_given = true;
    } else if ((is(a[i], "ex") || is(a[i], "px") || is(a[i], "exat") || is(a[i], "pxat")) && !expiry_given &&
               i + 1 < a.size()) {
      auto parsed = parse_expiry(a[i], a[i + 1], "set");
      if (auto* text = std::get_if<std::string_view>(&parsed)) {
        return c.reply_now().error(*text == not_integer ? std::string(not_integer)
                                                        : "ERR invalid expire time in 'set' command");
      }
      e = std::get<expiry>(parsed);
      expiry_given = true;
      ++i;
    } else {
      return c.reply_now().error(syntax_error);
    }
  }
  set_with(c, std::string(a[1]), std::string(a[2]), nx, xx, get_old, e,
           get_old ? set_answer::old_value : set_answer::ok_or_nil);
}

void setnx(resp_connection& c, args_t a) {
  set_with(c, std::string(a[1]), std::string(a[2]), true, false, false, {}, set_answer::integer);
}

// SETEX key seconds value, PSETEX key milliseconds value.
void setex_with(resp_connection& c, args_t a, std::string_view unit, std::string_view command) {
  auto parsed = parse_expiry(unit, a[2], command);
  if (auto* text = std::get_if<std::string_view>(&parsed)) {
    return c.reply_now().error(*text == not_integer ? std::string(not_integer)
                                                    : fmt::format("ERR invalid expire time in '{}' command", command));
  }
  set_with(c, std::string(a[1]), std::string(a[3]), false, false, false, std::get<expiry>(parsed),
           set_answer::ok_or_nil);
}
void setex(resp_connection& c, args_t a) { setex_with(c, a, "ex", "setex"); }
void psetex(resp_connection& c, args_t a) { setex_with(c, a, "px", "psetex"); }

void getset(resp_connection& c, args_t a) {
  set_with(c, std::string(a[1]), std::string(a[2]), false, false, true, {}, set_answer::old_value);
}

void getdel(resp_connection& c, args_t a) {
  kv::txn t;
  t.then_ops.push_back(make_delete_range(std::string(a[1]), {}, true));
  write_txn(c, t, [](resp::reply& r, const txn_reply& x) {
    const auto& kvs = x.results.at(0).kvs;
    if (kvs.empty()) return r.null();
    r.bulk(kvs.front().value);
  });
}

void mget(resp_connection& c, args_t a) {
  if (too_many_keys(c, a.size() - 1)) return;
  kv::txn t;
  for (std::size_t i = 1; i < a.size(); ++i) t.then_ops.push_back(make_range(std::string(a[i])));
  read_txn(c, std::move(t), [](resp::reply& r, const txn_reply& x) {
    r.array(x.results.size());
    for (const auto& res : x.results) {
      if (res.kvs.empty()) {
        r.null();
      } else {
        r.bulk(res.kvs.front().value);
      }
    }
  });
}

void mset(resp_connection& c, args_t a) {
  auto pairs = distinct_pairs(c, a);
  if (!pairs) return;
  kv::txn t;
  for (const auto& [key, value] : *pairs) t.then_ops.push_back(make_put(std::string(key), std::string(value)));
  write_txn(c, t, [](resp::reply& r, const txn_reply&) { r.simple("OK"); });
}

// DEL and UNLINK: one transaction deleting each key; the count of keys that existed.
void del(resp_connection& c, args_t a) {
  if (too_many_keys(c, a.size() - 1)) return;
  kv::txn t;
  for (std::size_t i = 1; i < a.size(); ++i) t.then_ops.push_back(make_delete_range(std::string(a[i])));
  write_txn(c, t, [](resp::reply& r, const txn_reply& x) {
    std::int64_t n = 0;
    for (const auto& res : x.results) n += static_cast<std::int64_t>(res.count);
    r.integer(n);
  });
}

void exists(resp_connection& c, args_t a) {
  if (too_many_keys(c, a.size() - 1)) return;
  kv::txn t;
  for (std::size_t i = 1; i < a.size(); ++i) {
    auto op = make_range(std::string(a[i]));
    op.flags = op_count_only;
    t.then_ops.push_back(std::move(op));
  }
  read_txn(c, std::move(t), [](resp::reply& r, const txn_reply& x) {
    std::int64_t n = 0;
    for (const auto& res : x.results) n += static_cast<std::int64_t>(res.count);
    r.integer(n);  // a key named twice counts twice, as in Redis
  });
}

void type(resp_connection& c, args_t a) {
  kv::txn t;
  auto op = make_range(std::string(a[1]));
  op.flags = op_count_only;
  t.then_ops.push_back(std::move(op));
  read_txn(c, std::move(t), [](resp::reply& r, const txn_reply& x) {
    r.simple(x.results.at(0).count != 0 ? "string" : "none");
  });
}

// INCR and its kin on the leader: the log's plain incr command, which applies as a transaction
// of one incr op does (the same value, TTL kept, refusals with the same messages). Returns false
// when the general path must run instead (a follower forwards a transaction; an empty key or one
// over the limit gets the transaction's precise refusal).
bool plain_incr(resp_connection& c, std::string_view key, std::int64_t delta) {
  auto& st = c.srv().replica();
  if (st.role() != raft::role::leader || key.empty() || key.size() > st.storage().max_key_bytes) return false;
  auto ticket = c.later(kind::write);
  st.submit_incr(key, delta, [self = c.shared_from_this(), ticket](result<std::uint64_t> r) {
    self->finish(ticket, make_reply(*self, [&](resp::reply& rep) {
      if (!r) return refusal(rep, r.failure());
      rep.integer(get_fixed<std::int64_t>(self->srv().replica().reply().data() + 8));  // after the revision
    }));
  });
  return true;
}

void incr_by(resp_connection& c, std::string_view key, std::int64_t delta) {
  if (plain_incr(c, key, delta)) return;
  kv::txn t;
  t.then_ops.push_back(make_incr(std::string(key), delta));
  write_txn(c, t, [](resp::reply& r, const txn_reply& x) { r.integer(x.results.at(0).value); });
}
void incr(resp_connection& c, args_t a) { incr_by(c, a[1], 1); }
void decr(resp_connection& c, args_t a) { incr_by(c, a[1], -1); }
void incrby(resp_connection& c, args_t a) {
  auto n = integer_arg(a[2]);
  if (!n) return c.reply_now().error(not_integer);
  incr_by(c, a[1], *n);
}
void decrby(resp_connection& c, args_t a) {
  auto n = integer_arg(a[2]);
  if (!n) return c.reply_now().error(not_integer);
  if (*n == std::numeric_limits<std::int64_t>::min()) return c.reply_now().error("ERR decrement would overflow");
  incr_by(c, a[1], -*n);
}

// FLUSHDB and FLUSHALL [ASYNC | SYNC]: one delete-range of every key (one revision, one entry).
void flushdb(resp_connection& c, args_t a) {
  if (a.size() == 2 && !is(a[1], "async") && !is(a[1], "sync")) return c.reply_now().error(syntax_error);
  if (a.size() > 2) return c.reply_now().error(syntax_error);
  kv::txn t;
  t.then_ops.push_back(make_delete_range(std::string(1, '\0'), std::string(1, '\0')));
  write_txn(c, t, [](resp::reply& r, const txn_reply&) { r.simple("OK"); });
}

// KEYS pattern: every key matching the glob (Redis's rules: io/resp/glob.hpp), in key order
// (Redis's order is unspecified). Like Redis's, it reads the whole keyspace; a pattern with a
// literal prefix reads only that range.
void keys(resp_connection& c, args_t a) {
  std::string pattern(a[1]);
  const auto literal = pattern.find_first_of("*?[\\");
  std::string prefix = pattern.substr(0, literal);
  kv::txn t;
  auto op = prefix.empty() ? make_range(std::string(1, '\0'), std::string(1, '\0'))
            : literal == std::string::npos ? make_range(prefix)
                                           : make_range(prefix, prefix_end(prefix));
  op.flags = op_keys_only;
  t.then_ops.push_back(std::move(op));
  read_txn(c, std::move(t), [pattern](resp::reply& r, const txn_reply& x) {
    std::vector<const std::string*> matched;
    for (const auto& kv : x.results.at(0).kvs) {
      if (resp::glob_match(pattern, kv.key)) matched.push_back(&kv.key);
    }
    r.array(matched.size());
    for (const auto* k : matched) r.bulk(*k);
  });
}

// ---- expiry ---------------------------------------------------------------------------------

void persist(resp_connection& c, args_t a) {
  kv::txn t;
  t.then_ops.push_back(make_expire(std::string(a[1]), 0));
  write_txn(c, t, [](resp::reply& r, const txn_reply& x) { r.integer(x.results.at(0).value); });
}

// TTL and PTTL: what the key has left (-1 no TTL, -2 no key); TTL rounds to seconds as Redis.
void ttl_with(resp_connection& c, args_t a, bool ms) {
  kv::txn t;
  t.then_ops.push_back(make_ttl(std::string(a[1])));
  read_txn(c, std::move(t), [ms](resp::reply& r, const txn_reply& x) {
    r.integer(ttl_answer(x.results.at(0).value, ms));
  });
}
void ttl(resp_connection& c, args_t a) { ttl_with(c, a, false); }
void pttl(resp_connection& c, args_t a) { ttl_with(c, a, true); }

// Looked up twice per command (its kind, then its run): lower-cased on the stack, as every
// command name is short; a longer name is no command.
const command_spec* find_command(std::string_view name) {
  std::array<char, 32> folded;
  if (name.size() > folded.size()) return nullptr;
  for (std::size_t i = 0; i < name.size(); ++i) folded[i] = ascii_lower(name[i]);
  const auto& table = commands();
  auto it = table.find(absl::string_view(folded.data(), name.size()));
  return it == table.end() ? nullptr : &it->second;
}

bool arity_ok(const command_spec& s, std::size_t n) {
  return s.arity >= 0 ? n == static_cast<std::size_t>(s.arity) : n >= static_cast<std::size_t>(-s.arity);
}

}  // namespace

namespace resp_detail {

// ---- the table ------------------------------------------------------------------------------

const command_table& commands() {
  static const command_table table = [] {
    command_table t{
        {"ping", {-1, kind::other, ping}},
        {"echo", {2, kind::other, echo}},
        {"quit", {-1, kind::other, quit}},
        {"select", {2, kind::other, select}},
        {"auth", {-2, kind::other, auth}},
        {"hello", {-1, kind::other, hello}},
        {"client", {-2, kind::other, client}},
        {"readonly", {1, kind::other, readonly}},
        {"readwrite", {1, kind::other, readwrite}},
        {"dbsize", {1, kind::read, dbsize}},
        {"time", {1, kind::other, time}},
        {"wait", {3, kind::other, wait}},
        {"config", {-2, kind::other, config}},
        {"info", {-1, kind::other, info}},
        {"strlen", {2, kind::read, strlen, 1, 1, 1}},
        {"getrange", {4, kind::read, getrange, 1, 1, 1}},
        {"append", {3, kind::exclusive, append, 1, 1, 1}},
        {"setrange", {4, kind::exclusive, setrange, 1, 1, 1}},
        {"incrbyfloat", {3, kind::exclusive, incrbyfloat, 1, 1, 1}},
        {"get", {2, kind::read, get, 1, 1, 1}},
        {"mget", {-2, kind::read, mget, 1, -1, 1}},
        {"exists", {-2, kind::read, exists, 1, -1, 1}},
        {"type", {2, kind::read, type, 1, 1, 1}},
        {"ttl", {2, kind::read, ttl, 1, 1, 1}},
        {"pttl", {2, kind::read, pttl, 1, 1, 1}},
        {"set", {-3, kind::write, set, 1, 1, 1}},
        {"setnx", {3, kind::write, setnx, 1, 1, 1}},
        {"setex", {4, kind::write, setex, 1, 1, 1}},
        {"psetex", {4, kind::write, psetex, 1, 1, 1}},
        {"getset", {3, kind::write, getset, 1, 1, 1}},
        {"getdel", {2, kind::write, getdel, 1, 1, 1}},
        {"mset", {-3, kind::write, mset, 1, -1, 2}},
        {"del", {-2, kind::write, del, 1, -1, 1}},
        {"unlink", {-2, kind::write, del, 1, -1, 1}},
        {"incr", {2, kind::write, incr, 1, 1, 1}},
        {"decr", {2, kind::write, decr, 1, 1, 1}},
        {"incrby", {3, kind::write, incrby, 1, 1, 1}},
        {"decrby", {3, kind::write, decrby, 1, 1, 1}},
        {"persist", {2, kind::write, persist, 1, 1, 1}},
        {"flushdb", {-1, kind::write, flushdb}},
        {"flushall", {-1, kind::write, flushdb}},
        {"keys", {2, kind::read, keys}},
    };
    add_multi_commands(t);
    add_key_commands(t);
    add_search_commands(t);
    add_scan_commands(t);
    add_pubsub_commands(t);
    add_introspection_commands(t);
    return t;
  }();
  return table;
}

}  // namespace resp_detail

resp_command_ref look_up_resp_command(std::span<const std::string_view> args) {
  const auto* s = find_command(args.front());
  if (s == nullptr) return {nullptr, other_type_command_kind(args)};
  if (!arity_ok(*s, args.size())) return {s, kind::other};
  return {s, s->kind_of != nullptr ? s->kind_of(args) : s->k};
}

void run_resp_command(resp_connection& c, const resp_command_ref& ref, std::span<const std::string_view> args) {
  const auto* s = ref.spec;
  // Inside MULTI every command but these is queued, once it is known and well-formed.
  const bool queue = c.multi.active && !is(args.front(), "exec") && !is(args.front(), "discard") &&
                     !is(args.front(), "multi") && !is(args.front(), "watch") && !is(args.front(), "quit") &&
                     !is(args.front(), "reset");
  if (queue && (s == nullptr || !arity_ok(*s, args.size()))) c.multi.failed = true;
  if (queue && s != nullptr && arity_ok(*s, args.size())) return resp_queue(c, args);
  if (s == nullptr) {
    if (!queue && run_other_type_command(c, args)) return;
    return c.reply_now().error(unknown_command(args));
  }
  c.last_command.assign(args.front());
  for (auto& ch : c.last_command) ch = ascii_lower(ch);
  if (args.size() > 1 && (is(args.front(), "client") || is(args.front(), "config") || is(args.front(), "command"))) {
    c.last_command += "|" + lower(args[1]);
  }
  c.last_command_at = std::chrono::steady_clock::now();
  if (!arity_ok(*s, args.size())) {
    auto r = c.reply_now();
    return wrong_arity(r, args.front());
  }
  if (refused_while_subscribed(c, args)) return;
  s->run(c, args);
}

}  // namespace kv

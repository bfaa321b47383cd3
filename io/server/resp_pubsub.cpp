// Redis's publish/subscribe over RESP: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
// PUBSUB and RESET, and the subscribed context's rules. The registry and the delivery are the
// server's (server::publish, io/server/pubsub.hpp); messages reach only this node's clients.

#include "io/server/resp_commands.hpp"

#include "io/server/server.hpp"

#include <fmt/format.h>

#include <array>
#include <string>
#include <vector>

namespace kv {

namespace {

using namespace resp_detail;

using change_fn = bool (server::*)(resp_connection&, std::string_view);

// A (un)subscribe confirmation: the action, its channel or pattern (null: there was none to
// unsubscribe from), and the connection's subscriptions after it.
void confirm(resp::reply& r, std::string_view action, const std::string_view* name, std::size_t count) {
  r.push(3);
  r.bulk(action);
  if (name != nullptr) {
    r.bulk(*name);
  } else {
    r.null();
  }
  r.integer(static_cast<std::int64_t>(count));
}

void subscribe_each(resp_connection& c, args_t a, std::string_view action, change_fn change) {
  auto& srv = c.srv();
  auto r = c.reply_now();
  for (std::size_t i = 1; i < a.size(); ++i) {
    (srv.*change)(c, a[i]);
    confirm(r, action, &a[i], srv.pubsub().subscriptions(c.id()));
  }
}

// UNSUBSCRIBE and PUNSUBSCRIBE: the names given, or every one the connection has.
void unsubscribe_each(resp_connection& c, args_t a, std::string_view action, change_fn change, bool patterns) {
  auto& srv = c.srv();
  auto r = c.reply_now();
  std::vector<std::string> all;
  std::vector<std::string_view> names(a.begin() + 1, a.end());
  if (names.empty()) {
    all = patterns ? srv.pubsub().patterns_of(c.id()) : srv.pubsub().channels_of(c.id());
    names.assign(all.begin(), all.end());
  }
  if (names.empty()) return confirm(r, action, nullptr, srv.pubsub().subscriptions(c.id()));
  for (auto name : names) {
    (srv.*change)(c, name);
    confirm(r, action, &name, srv.pubsub().subscriptions(c.id()));
  }
}

void subscribe(resp_connection& c, args_t a) { subscribe_each(c, a, "subscribe", &server::subscribe); }
void psubscribe(resp_connection& c, args_t a) { subscribe_each(c, a, "psubscribe", &server::psubscribe); }
void unsubscribe(resp_connection& c, args_t a) {
  unsubscribe_each(c, a, "unsubscribe", &server::unsubscribe, false);
}
void punsubscribe(resp_connection& c, args_t a) {
  unsubscribe_each(c, a, "punsubscribe", &server::punsubscribe, true);
}

void publish(resp_connection& c, args_t a) {
  // Delivered first: a publisher subscribed to its own channel (RESP3) gets the message before
  // the count, as from Redis.
  const auto n = c.srv().publish(a[1], a[2]);
  c.reply_now().integer(static_cast<std::int64_t>(n));
}

constexpr std::array pubsub_help = {
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    The channels with subscribers on this node, matching <pattern> (default: all).",
    "NUMPAT",
    "    How many pattern subscriptions this node has.",
    "NUMSUB [<channel> ...]",
    "    Each channel with its number of subscribers on this node (pattern",
    "    subscriptions not counted).",
    "HELP",
    "    This text.",
};

// PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | HELP, with Redis 7's arity checks:
// NUMPAT's and HELP's by the command table (naming the subcommand), CHANNELS' by the command.
void pubsub(resp_connection& c, args_t a) {
  const auto& reg = c.srv().pubsub();
  auto r = c.reply_now();
  if (is(a[1], "channels")) {
    if (a.size() > 3) {
      return r.error(fmt::format("ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                                 a[1]));
    }
    auto channels = reg.active_channels(a.size() == 3 ? std::optional<std::string_view>(a[2]) : std::nullopt);
    r.array(channels.size());
    for (const auto& ch : channels) r.bulk(ch);
    return;
  }
  if (is(a[1], "numsub")) {
    r.array((a.size() - 2) * 2);
    for (std::size_t i = 2; i < a.size(); ++i) {
      r.bulk(a[i]);
      r.integer(static_cast<std::int64_t>(reg.subscribers_of(a[i])));
    }
    return;
  }
  const bool numpat = is(a[1], "numpat");
  if (numpat || is(a[1], "help")) {
    if (a.size() != 2) {
      return r.error(fmt::format("ERR wrong number of arguments for 'pubsub|{}' command", lower(a[1])));
    }
    if (numpat) return r.integer(static_cast<std::int64_t>(reg.pattern_count()));
    r.array(pubsub_help.size());
    for (const auto* line : pubsub_help) r.simple(line);
    return;
  }
  r.error(fmt::format("ERR unknown subcommand '{}'. Try PUBSUB HELP.", a[1]));
}

// RESET: the connection as a new one: no transaction, no watched keys, no subscriptions (left
// without confirmations), RESP2, no name, READWRITE.
void reset(resp_connection& c, args_t) {
  auto& srv = c.srv();
  c.multi = resp_connection::multi_state{};
  for (const auto& ch : srv.pubsub().channels_of(c.id())) srv.unsubscribe(c, ch);
  for (const auto& p : srv.pubsub().patterns_of(c.id())) srv.punsubscribe(c, p);
  c.set_protocol(resp::version::resp2);
  c.name.clear();
  c.read_only = false;
  c.reply_now().simple("RESET");
}

}  // namespace

namespace resp_detail {

bool refused_while_subscribed(resp_connection& c, args_t a) {
  if (c.protocol() != resp::version::resp2 || !c.subscribed()) return false;
  for (std::string_view allowed : {"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ping", "quit", "reset"}) {
    if (is(a[0], allowed)) return false;
  }
  // Redis names a subcommand with its container: 'config|get'.
  auto name = lower(a[0]);
  if (a.size() >= 2 && (name == "config" || name == "client" || name == "pubsub")) name += "|" + lower(a[1]);
  c.reply_now().error(fmt::format(
      "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
      "context",
      name));
  return true;
}

void add_pubsub_commands(command_table& t) {
  t.insert({
      {"subscribe", {-2, kind::other, subscribe}},
      {"unsubscribe", {-1, kind::other, unsubscribe}},
      {"psubscribe", {-2, kind::other, psubscribe}},
      {"punsubscribe", {-1, kind::other, punsubscribe}},
      {"publish", {3, kind::other, publish}},
      {"pubsub", {-2, kind::other, pubsub}},
      {"reset", {1, kind::other, reset}},
  });
}

}  // namespace resp_detail

}  // namespace kv

// COMMAND: what the command table holds, shaped as Redis 7.0 reports it, so that clients and
// redis-cli (its hints and completion) learn kvnode's commands. Each command's interface (arity,
// group, flags, ACL categories, key specs, argument syntax) is Redis 7.0's, as its COMMAND INFO
// and COMMAND DOCS report it, with summaries of kvnode's own, from the table below; a command without a row there (a newer file of commands) is described from its
// command_spec alone: flags and categories from its kind, one key spec from its key positions.

#include "io/server/resp_commands.hpp"

#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace kv {

namespace {

using namespace resp_detail;

// One key spec, as Redis 7.0's COMMAND INFO gives it: keys from argument `index` (begin_search
// index) to `lastkey` after it (-1: the last argument), every `keystep`.
struct key_spec_doc {
  int index;
  int lastkey;
  int keystep;
  int limit;
  std::string_view flags;  // space-separated: "RW access update"
  std::string_view notes;  // "" if none
};

// Redis 7.0's documentation of a command or subcommand ("client|list"). `arity` is used for
// subcommands; a command's own is its command_spec's. `usage` is Redis's argument syntax
// ("key value [NX | XX]"), turned into COMMAND DOCS's argument maps by parse_usage().
struct command_doc {
  std::string_view name;
  int arity;
  std::string_view summary;
  std::string_view since;
  std::string_view group;
  std::string_view flags;  // space-separated, as the lists below
  std::string_view acl;
  std::string_view tips;
  std::vector<key_spec_doc> keys;
  std::string_view usage;
};

// The interface data as redis-server 7.0.15's COMMAND INFO and COMMAND DOCS give it (the
// summaries are kvnode's, key specs carry no notes), for the groups string,
// generic, connection, transactions and pubsub, the server commands kvnode answers, and the
// subcommands of CLIENT, CONFIG and COMMAND it answers (CLIENT SETINFO is Redis 7.2's). A row for
// a command kvnode does not answer is unused: COMMAND lists the command table.
const std::vector<command_doc>& documented() {
  static const std::vector<command_doc> rows = {
    {"append", 3, "Adds bytes to the end of a key's value",
     "2.0.0", "string", "write denyoom fast", "@write @string @fast",
     "",
     {{1, 0, 1, 0, "RW insert",
       ""}},
     "key value"},
    {"auth", -2, "Logs the connection in (kvnode has only the default user)",
     "1.0.0", "connection", "noscript loading stale fast no_auth allow_busy", "@fast @connection",
     "",
     {},
     "[username] password"},
    {"client", -2, "Commands about client connections",
     "2.4.0", "connection", "", "@slow",
     "",
     {},
     ""},
    {"client|id", 2, "This connection's id",
     "5.0.0", "connection", "noscript loading stale", "@slow @connection",
     "",
     {},
     ""},
    {"client|getname", 2, "This connection's name",
     "2.6.9", "connection", "noscript loading stale", "@slow @connection",
     "",
     {},
     ""},
    {"client|setname", 3, "Names this connection",
     "2.6.9", "connection", "noscript loading stale", "@slow @connection",
     "",
     {},
     "connection-name"},
    {"client|setinfo", -4, "Records the client library's name or version",
     "7.2.0", "connection", "noscript loading stale", "@slow @connection",
     "request_policy:all_nodes response_policy:all_succeeded",
     {},
     "LIB-NAME libname | LIB-VER libver"},
    {"client|info", 2, "Describes this connection",
     "6.2.0", "connection", "noscript loading stale", "@slow @connection",
     "nondeterministic_output",
     {},
     ""},
    {"client|list", -2, "Describes every connection to this node",
     "2.4.0", "connection", "admin noscript loading stale", "@admin @slow @dangerous @connection",
     "nondeterministic_output",
     {},
     "[TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]"},
    {"client|no-evict", 3, "Records the connection's eviction setting",
     "7.0.0", "connection", "admin noscript loading stale", "@admin @slow @dangerous @connection",
     "",
     {},
     "ON | OFF"},
    {"command", -1, "Describes every command",
     "2.8.13", "server", "loading stale", "@slow @connection",
     "nondeterministic_output_order",
     {},
     ""},
    {"command|count", 2, "How many commands there are",
     "2.8.13", "server", "loading stale", "@slow @connection",
     "",
     {},
     ""},
    {"command|info", -2, "Describes the named commands",
     "2.8.13", "server", "loading stale", "@slow @connection",
     "nondeterministic_output_order",
     {},
     "[command-name [command-name ...]]"},
    {"command|docs", -2, "Documents the named commands, or all of them",
     "7.0.0", "server", "loading stale", "@slow @connection",
     "nondeterministic_output_order",
     {},
     "[command-name [command-name ...]]"},
    {"command|list", -2, "Names every command",
     "7.0.0", "server", "loading stale", "@slow @connection",
     "nondeterministic_output_order",
     {},
     "[FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]"},
    {"command|getkeys", -4, "The keys a full command would touch",
     "2.8.13", "server", "loading stale", "@slow @connection",
     "",
     {},
     ""},
    {"command|help", 2, "Lists COMMAND's subcommands",
     "5.0.0", "server", "loading stale", "@slow @connection",
     "",
     {},
     ""},
    {"config", -2, "Commands about the node's settings",
     "2.0.0", "server", "", "@slow",
     "",
     {},
     ""},
    {"config|get", -3, "Reads settings by glob pattern",
     "2.0.0", "server", "admin noscript loading stale", "@admin @slow @dangerous",
     "",
     {},
     "parameter [parameter ...]"},
    {"config|set", -4, "Changes a setting",
     "2.0.0", "server", "admin noscript loading stale", "@admin @slow @dangerous",
     "request_policy:all_nodes response_policy:all_succeeded",
     {},
     "parameter value [parameter value ...]"},
    {"config|resetstat", 2, "Clears the statistics INFO reports",
     "2.0.0", "server", "admin noscript loading stale", "@admin @slow @dangerous",
     "",
     {},
     ""},
    {"copy", -3, "Copies a key's value and TTL to another key",
     "6.2.0", "generic", "write denyoom", "@keyspace @write @slow",
     "",
     {{1, 0, 1, 0, "RO access",
       ""},
      {2, 0, 1, 0, "OW update",
       ""}},
     "source destination [DB destination-db] [REPLACE]"},
    {"dbsize", 1, "How many keys there are",
     "1.0.0", "server", "readonly fast", "@keyspace @read @fast",
     "request_policy:all_shards response_policy:agg_sum",
     {},
     ""},
    {"decr", 2, "Subtracts one from a key's integer",
     "1.0.0", "string", "write denyoom fast", "@write @string @fast",
     "",
     {{1, 0, 1, 0, "RW access update",
       ""}},
     "key"},
    {"decrby", 3, "Subtracts a number from a key's integer",
     "1.0.0", "string", "write denyoom fast", "@write @string @fast",
     "",
     {{1, 0, 1, 0, "RW access update",
       ""}},
     "key decrement"},
    {"del", -2, "Removes keys",
     "1.0.0", "generic", "write", "@keyspace @write @slow",
     "request_policy:multi_shard response_policy:agg_sum",
     {{1, -1, 1, 0, "RM delete",
       ""}},
     "key [key ...]"},
    {"discard", 1, "Drops the commands queued since MULTI",
     "2.0.0", "transactions", "noscript loading stale fast allow_busy", "@fast @transaction",
     "",
     {},
     ""},
    {"dump", 2, "A key's value in a serialized form",
     "2.6.0", "generic", "readonly", "@keyspace @read @slow",
     "nondeterministic_output",
     {{1, 0, 1, 0, "RO access",
       ""}},
     "key"},
    {"echo", 2, "Answers with its argument",
     "1.0.0", "connection", "loading stale fast", "@fast @connection",
     "",
     {},
     "message"},
    {"exec", 1, "Runs the commands queued since MULTI as one transaction",
     "1.2.0", "transactions", "noscript loading stale skip_slowlog", "@slow @transaction",
     "",
     {},
     ""},
    {"exists", -2, "Counts which of the given keys exist",
     "1.0.0", "generic", "readonly fast", "@keyspace @read @fast",
     "request_policy:multi_shard response_policy:agg_sum",
     {{1, -1, 1, 0, "RO",
       ""}},
     "key [key ...]"},
    {"expire", -3, "Gives a key a TTL in seconds",
     "1.0.0", "generic", "write fast", "@keyspace @write @fast",
     "",
     {{1, 0, 1, 0, "RW update",
       ""}},
     "key seconds [NX | XX | GT | LT]"},
    {"expireat", -3, "Makes a key expire at a Unix time in seconds",
     "1.2.0", "generic", "write fast", "@keyspace @write @fast",
     "",
     {{1, 0, 1, 0, "RW update",
       ""}},
     "key unix-time-seconds [NX | XX | GT | LT]"},
    {"expiretime", 2, "When a key expires, in Unix seconds",
     "7.0.0", "generic", "readonly fast", "@keyspace @read @fast",
     "",
     {{1, 0, 1, 0, "RO access",
       ""}},
     "key"},
    {"flushall", -1, "Removes every key",
     "1.0.0", "server", "write", "@keyspace @write @slow @dangerous",
     "request_policy:all_shards response_policy:all_succeeded",
     {},
     "[ASYNC | SYNC]"},
    {"flushdb", -1, "Removes every key of the database",
     "1.0.0", "server", "write", "@keyspace @write @slow @dangerous",
     "request_policy:all_shards response_policy:all_succeeded",
     {},
     "[ASYNC | SYNC]"},
    {"get", 2, "Reads a key's value",
     "1.0.0", "string", "readonly fast", "@read @string @fast",
     "",
     {{1, 0, 1, 0, "RO access",
       ""}},
     "key"},
    {"getdel", 2, "Reads a key's value and removes the key",
     "6.2.0", "string", "write fast", "@write @string @fast",
     "",
     {{1, 0, 1, 0, "RW access delete",
       ""}},
     "key"},
    {"getex", -2, "Reads a key's value and changes or removes its TTL",
     "6.2.0", "string", "write fast", "@write @string @fast",
     "",
     {{1, 0, 1, 0, "RW access update",
       ""}},
     "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds "
     "| PERSIST]"},
    {"getrange", 4, "Reads part of a key's value",
     "2.4.0", "string", "readonly", "@read @string @slow",
     "",
     {{1, 0, 1, 0, "RO access",
       ""}},
     "key start end"},
    {"getset", 3, "Writes a key's value and answers the one it had",
     "1.0.0", "string", "write denyoom fast", "@write @string @fast",
     "",
     {{1, 0, 1, 0, "RW access update",
       ""}},
     "key value"},
    {"hello", -1, "Picks the protocol version and describes the server",
     "6.0.0", "connection", "noscript loading stale fast no_auth allow_busy", "@fast @connection",
     "",
     {},
     "[protover [AUTH username password] [SETNAME clientname]]"},
    {"incr", 2, "Adds one to a key's integer",
     "1.0.0", "string", "write denyoom fast", "@write @string @fast",
     "",
     {{1, 0, 1, 0, "RW access update",
       ""}},
     "key"},
    {"incrby", 3, "Adds a number to a key's integer",
     "1.0.0", "string", "write denyoom fast", "@write @string @fast",
     "",
     {{1, 0, 1, 0, "RW access update",
       ""}},
     "key increment"},
    {"incrbyfloat", 3, "Adds a decimal number to a key's value",
     "2.6.0", "string", "write denyoom fast", "@write @string @fast",
     "",
     {{1, 0, 1, 0, "RW access update",
       ""}},
     "key increment"},
    {"info", -1, "Reports the server's state and statistics",
     "1.0.0", "server", "loading stale", "@slow @dangerous",
     "nondeterministic_output request_policy:all_shards response_policy:special",
     {},
     "[section [section ...]]"},
    {"keys", 2, "Every key a glob pattern matches",
     "1.0.0", "generic", "readonly", "@keyspace @read @slow @dangerous",
     "request_policy:all_shards nondeterministic_output_order",
     {},
     "pattern"},
    {"lcs", -3, "The longest common subsequence of two values",
     "7.0.0", "string", "readonly", "@read @string @slow",
     "",
     {{1, 1, 1, 0, "RO access",
       ""}},
     "key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]"},
    {"mget", -2, "Reads several keys' values",
     "1.0.0", "string", "readonly fast", "@read @string @fast",
     "request_policy:multi_shard",
     {{1, -1, 1, 0, "RO access",
       ""}},
     "key [key ...]"},
    {"move", 3, "Moves a key to another database",
     "1.0.0", "generic", "write fast", "@keyspace @write @fast",
     "",
     {{1, 0, 1, 0, "RW access update",
       ""}},
     "key db"},
    {"mset", -3, "Writes several keys at once",
     "1.0.1", "string", "write denyoom", "@write @string @slow",
     "request_policy:multi_shard response_policy:all_succeeded",
     {{1, -1, 2, 0, "OW update",
       ""}},
     "key value [key value ...]"},
    {"msetnx", -3, "Writes several keys at once, if none of them exists",
     "1.0.1", "string", "write denyoom", "@write @string @slow",
     "request_policy:multi_shard response_policy:agg_min",
     {{1, -1, 2, 0, "OW insert",
       ""}},
     "key value [key value ...]"},
    {"multi", 1, "Starts queuing a transaction's commands",
     "1.2.0", "transactions", "noscript loading stale fast allow_busy", "@fast @transaction",
     "",
     {},
     ""},
    {"object", -2, "Commands about how values are stored",
     "2.2.3", "generic", "", "@slow",
     "",
     {},
     ""},
    {"persist", 2, "Removes a key's TTL",
     "2.2.0", "generic", "write fast", "@keyspace @write @fast",
     "",
     {{1, 0, 1, 0, "RW update",
       ""}},
     "key"},
    {"pexpire", -3, "Gives a key a TTL in milliseconds",
     "2.6.0", "generic", "write fast", "@keyspace @write @fast",
     "",
     {{1, 0, 1, 0, "RW update",
       ""}},
     "key milliseconds [NX | XX | GT | LT]"},
    {"pexpireat", -3, "Makes a key expire at a Unix time in milliseconds",
     "2.6.0", "generic", "write fast", "@keyspace @write @fast",
     "",
     {{1, 0, 1, 0, "RW update",
       ""}},
     "key unix-time-milliseconds [NX | XX | GT | LT]"},
    {"pexpiretime", 2, "When a key expires, in Unix milliseconds",
     "7.0.0", "generic", "readonly fast", "@keyspace @read @fast",
     "",
     {{1, 0, 1, 0, "RO access",
       ""}},
     "key"},
    {"ping", -1, "Checks that the server answers",
     "1.0.0", "connection", "fast", "@fast @connection",
     "request_policy:all_shards response_policy:all_succeeded",
     {},
     "[message]"},
    {"psetex", 4, "Writes a key with a TTL in milliseconds",
     "2.6.0", "string", "write denyoom", "@write @string @slow",
     "",
     {{1, 0, 1, 0, "OW update",
       ""}},
     "key milliseconds value"},
    {"psubscribe", -2, "Receives the messages of channels matching patterns",
     "2.0.0", "pubsub", "pubsub noscript loading stale", "@pubsub @slow",
     "",
     {},
     "pattern [pattern ...]"},
    {"pttl", 2, "What a key's TTL has left, in milliseconds",
     "2.6.0", "generic", "readonly fast", "@keyspace @read @fast",
     "nondeterministic_output",
     {{1, 0, 1, 0, "RO access",
       ""}},
     "key"},
    {"publish", 3, "Sends a message to a channel's subscribers",
     "2.0.0", "pubsub", "pubsub loading stale fast", "@pubsub @fast",
     "",
     {},
     "channel message"},
    {"pubsub", -2, "Commands about channels and subscriptions",
     "2.8.0", "pubsub", "", "@slow",
     "",
     {},
     ""},
    {"punsubscribe", -1, "Stops receiving from pattern subscriptions",
     "2.0.0", "pubsub", "pubsub noscript loading stale", "@pubsub @slow",
     "",
     {},
     "[pattern [pattern ...]]"},
    {"quit", -1, "Closes the connection after the reply",
     "1.0.0", "connection", "noscript loading stale fast no_auth allow_busy", "@fast @connection",
     "",
     {},
     ""},
    {"randomkey", 1, "Some key, picked at random",
     "1.0.0", "generic", "readonly", "@keyspace @read @slow",
     "request_policy:all_shards nondeterministic_output",
     {},
     ""},
    {"readonly", 1, "Serves this connection's reads from the node's own state",
     "3.0.0", "cluster", "loading stale fast", "@fast @connection",
     "",
     {},
     ""},
    {"readwrite", 1, "Makes this connection's reads linearizable again",
     "3.0.0", "cluster", "loading stale fast", "@fast @connection",
     "",
     {},
     ""},
    {"rename", 3, "Gives a key another name",
     "1.0.0", "generic", "write", "@keyspace @write @slow",
     "",
     {{1, 0, 1, 0, "RW access delete",
       ""},
      {2, 0, 1, 0, "OW update",
       ""}},
     "key newkey"},
    {"renamenx", 3, "Gives a key another name, if that name is free",
     "1.0.0", "generic", "write fast", "@keyspace @write @fast",
     "",
     {{1, 0, 1, 0, "RW access delete",
       ""},
      {2, 0, 1, 0, "OW insert",
       ""}},
     "key newkey"},
    {"reset", 1, "Returns the connection to its starting state",
     "6.2.0", "connection", "noscript loading stale fast no_auth allow_busy", "@fast @connection",
     "",
     {},
     ""},
    {"restore", -4, "Creates a key from a serialized value",
     "2.6.0", "generic", "write denyoom", "@keyspace @write @slow @dangerous",
     "",
     {{1, 0, 1, 0, "OW update",
       ""}},
     "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"},
    {"scan", -2, "Walks the keys a page at a time",
     "2.8.0", "generic", "readonly", "@keyspace @read @slow",
     "nondeterministic_output request_policy:special",
     {},
     "cursor [MATCH pattern] [COUNT count] [TYPE type]"},
    {"select", 2, "Picks the database (kvnode has database 0 only)",
     "1.0.0", "connection", "loading stale fast", "@fast @connection",
     "",
     {},
     "index"},
    {"set", -3, "Writes a key's value",
     "1.0.0", "string", "write denyoom", "@write @string @slow",
     "",
     {{1, 0, 1, 0, "RW access update variable_flags",
       ""}},
     "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT "
     "unix-time-milliseconds | KEEPTTL]"},
    {"setex", 4, "Writes a key with a TTL in seconds",
     "2.0.0", "string", "write denyoom", "@write @string @slow",
     "",
     {{1, 0, 1, 0, "OW update",
       ""}},
     "key seconds value"},
    {"setnx", 3, "Writes a key if it does not exist",
     "1.0.0", "string", "write denyoom fast", "@write @string @fast",
     "",
     {{1, 0, 1, 0, "OW insert",
       ""}},
     "key value"},
    {"setrange", 4, "Overwrites part of a key's value from an offset",
     "2.2.0", "string", "write denyoom", "@write @string @slow",
     "",
     {{1, 0, 1, 0, "RW update",
       ""}},
     "key offset value"},
    {"spublish", 3, "Sends a message to a shard channel",
     "7.0.0", "pubsub", "pubsub loading stale fast", "@pubsub @fast",
     "",
     {{1, 0, 1, 0, "not_key",
       ""}},
     "shardchannel message"},
    {"ssubscribe", -2, "Receives the messages of shard channels",
     "7.0.0", "pubsub", "pubsub noscript loading stale", "@pubsub @slow",
     "",
     {{1, -1, 1, 0, "not_key",
       ""}},
     "shardchannel [shardchannel ...]"},
    {"strlen", 2, "The length of a key's value",
     "2.2.0", "string", "readonly fast", "@read @string @fast",
     "",
     {{1, 0, 1, 0, "RO",
       ""}},
     "key"},
    {"subscribe", -2, "Receives the messages of channels",
     "2.0.0", "pubsub", "pubsub noscript loading stale", "@pubsub @slow",
     "",
     {},
     "channel [channel ...]"},
    {"substr", 4, "Reads part of a key's value",
     "1.0.0", "string", "readonly", "@read @string @slow",
     "",
     {{1, 0, 1, 0, "RO access",
       ""}},
     "key start end"},
    {"sunsubscribe", -1, "Stops receiving from shard channels",
     "7.0.0", "pubsub", "pubsub noscript loading stale", "@pubsub @slow",
     "",
     {{1, -1, 1, 0, "not_key",
       ""}},
     "[shardchannel [shardchannel ...]]"},
    {"time", 1, "The server's clock",
     "2.6.0", "server", "loading stale fast", "@fast",
     "nondeterministic_output",
     {},
     ""},
    {"touch", -2, "Counts which of the given keys exist, as if reading them",
     "3.2.1", "generic", "readonly fast", "@keyspace @read @fast",
     "request_policy:multi_shard response_policy:agg_sum",
     {{1, -1, 1, 0, "RO",
       ""}},
     "key [key ...]"},
    {"ttl", 2, "What a key's TTL has left, in seconds",
     "1.0.0", "generic", "readonly fast", "@keyspace @read @fast",
     "nondeterministic_output",
     {{1, 0, 1, 0, "RO access",
       ""}},
     "key"},
    {"type", 2, "What kind of value a key holds",
     "1.0.0", "generic", "readonly fast", "@keyspace @read @fast",
     "",
     {{1, 0, 1, 0, "RO",
       ""}},
     "key"},
    {"unlink", -2, "Removes keys",
     "4.0.0", "generic", "write fast", "@keyspace @write @fast",
     "request_policy:multi_shard response_policy:agg_sum",
     {{1, -1, 1, 0, "RM delete",
       ""}},
     "key [key ...]"},
    {"unsubscribe", -1, "Stops receiving from channels",
     "2.0.0", "pubsub", "pubsub noscript loading stale", "@pubsub @slow",
     "",
     {},
     "[channel [channel ...]]"},
    {"unwatch", 1, "Forgets the keys WATCH noted",
     "2.2.0", "transactions", "noscript loading stale fast allow_busy", "@fast @transaction",
     "",
     {},
     ""},
    {"wait", 3, "Waits for writes to reach replicas",
     "3.0.0", "generic", "noscript", "@slow @connection",
     "request_policy:all_shards response_policy:agg_min",
     {},
     "numreplicas timeout"},
    {"watch", -2, "Makes the next EXEC run only if these keys stay unchanged",
     "2.2.0", "transactions", "noscript loading stale fast allow_busy", "@fast @transaction",
     "",
     {{1, -1, 1, 0, "RO",
       ""}},
     "key [key ...]"},
  };
  return rows;
}

const command_doc* find_doc(std::string_view name) {
  static const auto index = [] {
    absl::flat_hash_map<std::string_view, const command_doc*> m;
    for (const auto& d : documented()) m.emplace(d.name, &d);
    return m;
  }();
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto end = s.find(' ');
    if (end != 0) out.push_back(s.substr(0, end));
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  return out;
}

// A set of status words (flags, ACL categories), as Redis writes them.
void status_set(resp::reply& r, std::string_view list) {
  auto w = words(list);
  r.set(w.size());
  for (auto x : w) r.simple(x);
}

// ---- COMMAND DOCS's arguments from a usage string --------------------------------------------

// One argument of COMMAND DOCS. Parsed from Redis's usage syntax, it gives back the same usage
// when redis-cli renders it (its hints): `[x]` optional, `a | b` one of, `x [x ...]` multiple,
// an upper-case word a token (alone: a pure token; before a name: that argument's token).
struct argument {
  std::string name;
  std::string type;
  std::string token;
  bool optional = false;
  bool multiple = false;
  bool multiple_token = false;
  int key_spec_index = -1;
  std::vector<argument> args;
};

bool is_token(std::string_view w) {
  return std::any_of(w.begin(), w.end(), [](char c) { return c >= 'A' && c <= 'Z'; }) &&
         std::none_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

std::string type_of(std::string_view name) {
  if (name == "key" || name == "source" || name == "destination" || name == "newkey") return "key";
  if (name == "pattern") return "pattern";
  if (name.starts_with("unix-time")) return "unix-time";
  for (auto n : {"seconds", "milliseconds", "count", "offset", "start", "end", "increment", "decrement", "index",
                 "numreplicas", "timeout", "client-id"}) {
    if (name == n) return "integer";
  }
  return "string";
}

class usage_parser {
 public:
  explicit usage_parser(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
      if (s[i] == ' ') {
        ++i;
      } else if (s[i] == '[' || s[i] == ']' || s[i] == '|') {
        tokens_.push_back(s.substr(i++, 1));
      } else {
        auto end = s.find_first_of(" []|", i);
        if (end == std::string_view::npos) end = s.size();
        tokens_.push_back(s.substr(i, end - i));
        i = end;
      }
    }
  }

  std::vector<argument> parse() {
    auto out = sequence();
    int key = 0;
    number_keys(out, key);
    return out;
  }

 private:
  // Items up to `]`, `|` or the end.
  std::vector<argument> sequence() {
    std::vector<argument> items;
    while (at_ < tokens_.size() && tokens_[at_] != "]" && tokens_[at_] != "|") {
      auto t = tokens_[at_++];
      if (t != "[") {
        argument a;
        a.name = lower(t);
        a.type = is_token(t) ? "pure-token" : type_of(a.name);
        if (is_token(t)) a.token = std::string(t);
        items.push_back(std::move(a));
        continue;
      }
      std::vector<std::vector<argument>> alternatives{sequence()};
      bool repeat = false;
      while (at_ < tokens_.size() && tokens_[at_] == "|") {
        ++at_;
        alternatives.push_back(sequence());
      }
      if (at_ < tokens_.size()) ++at_;  // `]`
      auto& inner = alternatives.front();
      if (alternatives.size() == 1 && !inner.empty() && inner.back().name == "...") {
        inner.pop_back();
        repeat = true;
      }
      if (repeat && inner.size() <= items.size() && !inner.empty()) {
        // `x [x ...]`: the last items are repeated.
        const bool with_token = inner.size() == 2 && inner.front().type == "pure-token";
        std::vector<argument> last(std::make_move_iterator(items.end() - static_cast<long>(inner.size())),
                                   std::make_move_iterator(items.end()));
        items.resize(items.size() - inner.size());
        auto one = merged(std::move(last));
        one.multiple = true;
        one.multiple_token = with_token;
        items.push_back(std::move(one));
        continue;
      }
      argument group;
      if (alternatives.size() > 1) {
        group.type = "oneof";
        for (auto& alt : alternatives) group.args.push_back(merged(std::move(alt)));
        group.name = group.args.front().name;
        for (std::size_t i = 1; i < group.args.size(); ++i) group.name += "_" + group.args[i].name;
      } else {
        group = merged(std::move(inner));
      }
      group.optional = true;
      items.push_back(std::move(group));
    }
    return items;
  }

  // A sequence as one argument: itself if one, a token and its value as one argument with that
  // token, else a block.
  static argument merged(std::vector<argument> seq) {
    if (seq.size() == 1) return std::move(seq.front());
    if (seq.size() == 2 && seq[0].type == "pure-token" && seq[1].token.empty() && seq[1].type != "oneof" &&
        seq[1].type != "block") {
      argument a = std::move(seq[1]);
      a.token = seq[0].token;
      return a;
    }
    argument block;
    block.type = "block";
    block.name = seq.empty() ? "" : seq.front().name;
    block.args = std::move(seq);
    return block;
  }

  static void number_keys(std::vector<argument>& args, int& next) {
    for (auto& a : args) {
      if (a.type == "key") a.key_spec_index = next++;
      number_keys(a.args, next);
    }
  }

  std::vector<std::string_view> tokens_;
  std::size_t at_ = 0;
};

void write_argument(resp::reply& r, const argument& a) {
  const std::size_t flags = (a.optional ? 1 : 0) + (a.multiple ? 1 : 0) + (a.multiple_token ? 1 : 0);
  r.map(2 + (a.key_spec_index >= 0 ? 1 : 0) + (a.token.empty() ? 0 : 1) + (flags > 0 ? 1 : 0) +
        (a.args.empty() ? 0 : 1));
  r.bulk("name");
  r.bulk(a.name);
  r.bulk("type");
  r.bulk(a.type);
  if (a.key_spec_index >= 0) {
    r.bulk("key_spec_index");
    r.integer(a.key_spec_index);
  }
  if (!a.token.empty()) {
    r.bulk("token");
    r.bulk(a.token);
  }
  if (flags > 0) {
    r.bulk("flags");
    r.set(flags);
    if (a.optional) r.simple("optional");
    if (a.multiple) r.simple("multiple");
    if (a.multiple_token) r.simple("multiple_token");
  }
  if (!a.args.empty()) {
    r.bulk("arguments");
    r.array(a.args.size());
    for (const auto& sub : a.args) write_argument(r, sub);
  }
}

// ---- what COMMAND says of one command -------------------------------------------------------

// The documented subcommands of `name` ("client" → "client|id", ...), in the table's order.
std::vector<const command_doc*> subcommands(std::string_view name) {
  std::vector<const command_doc*> out;
  const auto prefix = std::string(name) + "|";
  for (const auto& d : documented()) {
    if (d.name.starts_with(prefix)) out.push_back(&d);
  }
  return out;
}

std::string_view kind_flags(kind k) {
  return k == kind::read ? "readonly" : k == kind::write ? "write" : "";
}
std::string_view kind_acl(kind k) {
  return k == kind::read ? "@read @slow" : k == kind::write ? "@write @slow" : "@slow";
}

void write_key_spec(resp::reply& r, const key_spec_doc& k) {
  r.map(k.notes.empty() ? 3 : 4);
  if (!k.notes.empty()) {
    r.bulk("notes");
    r.bulk(k.notes);
  }
  r.bulk("flags");
  status_set(r, k.flags);
  r.bulk("begin_search");
  r.map(2);
  r.bulk("type");
  r.bulk("index");
  r.bulk("spec");
  r.map(1);
  r.bulk("index");
  r.integer(k.index);
  r.bulk("find_keys");
  r.map(2);
  r.bulk("type");
  r.bulk("range");
  r.bulk("spec");
  r.map(3);
  r.bulk("lastkey");
  r.integer(k.lastkey);
  r.bulk("keystep");
  r.integer(k.keystep);
  r.bulk("limit");
  r.integer(k.limit);
}

// COMMAND INFO's ten fields for a subcommand (from its row alone).
void write_sub_info(resp::reply& r, const command_doc& d) {
  r.array(10);
  r.bulk(d.name);
  r.integer(d.arity);
  status_set(r, d.flags);
  r.integer(0);
  r.integer(0);
  r.integer(0);
  status_set(r, d.acl);
  auto tips = words(d.tips);
  r.set(tips.size());
  for (auto t : tips) r.bulk(t);
  r.set(0);
  r.set(0);
}

void write_info(resp::reply& r, std::string_view name, const command_spec& s) {
  const auto* d = find_doc(name);
  r.array(10);
  r.bulk(name);
  r.integer(s.arity);
  status_set(r, d != nullptr ? d->flags : kind_flags(s.k));
  r.integer(s.first_key);
  r.integer(s.last_key);
  r.integer(s.step);
  status_set(r, d != nullptr ? d->acl : kind_acl(s.k));
  auto tips = words(d != nullptr ? d->tips : "");
  r.set(tips.size());
  for (auto t : tips) r.bulk(t);
  if (d != nullptr) {
    r.set(d->keys.size());
    for (const auto& k : d->keys) write_key_spec(r, k);
  } else if (s.first_key > 0) {
    r.set(1);
    const int lastkey = s.last_key < 0 ? s.last_key : s.last_key - s.first_key;
    write_key_spec(r, {s.first_key, lastkey, s.step, 0, s.k == kind::read ? "RO access" : "RW update", ""});
  } else {
    r.set(0);
  }
  auto subs = subcommands(name);
  if (subs.empty()) return r.set(0);  // as Redis: an empty set, else an array
  r.array(subs.size());
  for (const auto* sub : subs) write_sub_info(r, *sub);
}

void write_docs(resp::reply& r, std::string_view name, const command_doc* d) {
  const auto args = usage_parser(d != nullptr ? d->usage : "").parse();
  auto subs = subcommands(name);
  r.bulk(name);
  r.map(3 + (args.empty() ? 0 : 1) + (subs.empty() ? 0 : 1));
  r.bulk("summary");
  r.bulk(d != nullptr ? d->summary : "");
  r.bulk("since");
  r.bulk(d != nullptr ? d->since : "");
  r.bulk("group");
  r.bulk(d != nullptr ? d->group : "generic");
  if (!args.empty()) {
    r.bulk("arguments");
    r.array(args.size());
    for (const auto& a : args) write_argument(r, a);
  }
  if (!subs.empty()) {
    r.bulk("subcommands");
    r.map(subs.size());
    for (const auto* sub : subs) write_docs(r, sub->name, sub);
  }
}

// The command table's names, sorted (COMMAND's order; Redis's is its hash table's).
std::vector<std::string_view> names() {
  std::vector<std::string_view> out;
  for (const auto& [name, spec] : commands()) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

const command_spec* find(std::string_view name) {
  auto it = commands().find(lower(name));
  return it == commands().end() ? nullptr : &it->second;
}

bool arity_ok(int arity, std::size_t n) {
  return arity >= 0 ? n == static_cast<std::size_t>(arity) : n >= static_cast<std::size_t>(-arity);
}

// COMMAND GETKEYS command arg...: the keys by the command's positions.
void getkeys(resp::reply& r, args_t a) {
  const auto* s = find(a[2]);
  if (s == nullptr) return r.error("ERR Invalid command specified");
  const auto command = a.subspan(2);
  if (!arity_ok(s->arity, command.size())) return r.error("ERR Invalid number of arguments specified for command");
  if (s->first_key == 0) return r.error("ERR The command has no key arguments");
  const auto last = s->last_key < 0 ? static_cast<int>(command.size()) + s->last_key : s->last_key;
  std::vector<std::string_view> keys;
  for (int i = s->first_key; i <= last && i < static_cast<int>(command.size()); i += s->step) {
    keys.push_back(command[i]);
  }
  r.array(keys.size());
  for (auto k : keys) r.bulk(k);
}

// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern].
void list(resp::reply& r, args_t a) {
  if (a.size() != 2 && (a.size() != 5 || !is(a[2], "filterby"))) return r.error(syntax_error);
  std::vector<std::string_view> out;
  for (auto name : names()) {
    if (a.size() == 2) {
      out.push_back(name);
    } else if (is(a[3], "pattern")) {
      if (::fnmatch(std::string(a[4]).c_str(), std::string(name).c_str(), FNM_CASEFOLD) == 0) out.push_back(name);
    } else if (is(a[3], "aclcat")) {
      const auto* d = find_doc(name);
      const auto cats = words(d != nullptr ? d->acl : kind_acl(commands().at(std::string(name)).k));
      if (std::find(cats.begin(), cats.end(), "@" + lower(a[4])) != cats.end()) out.push_back(name);
    } else if (!is(a[3], "module")) {
      return r.error(syntax_error);
    }
  }
  r.array(out.size());
  for (auto name : out) r.bulk(name);
}

constexpr std::string_view help_lines[] = {
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Describes every command this node answers.",
    "COUNT",
    "    How many commands this node answers.",
    "LIST",
    "    Names every command this node answers.",
    "INFO [<command-name> ...]",
    "    Describes the named commands (all of them, without names).",
    "DOCS [<command-name> ...]",
    "    Documents the named commands (all of them, without names).",
    "GETKEYS <full-command>",
    "    The keys the command would touch.",
    "HELP",
    "    This text.",
};

// COMMAND INFO's entry for `name`, a command or "command|subcommand"; nil if unknown.
void info_of(resp::reply& r, std::string_view name) {
  const auto n = lower(name);
  if (const auto* s = find(n)) return write_info(r, n, *s);
  const auto bar = n.find('|');
  const auto* d = bar == std::string::npos || find(n.substr(0, bar)) == nullptr ? nullptr : find_doc(n);
  if (d == nullptr) return r.null();
  write_sub_info(r, *d);
}

void command(resp_connection& c, args_t a) {
  auto r = c.reply_now();
  if (a.size() == 1) {
    const auto all = names();
    r.array(all.size());
    for (auto name : all) write_info(r, name, commands().at(std::string(name)));
    return;
  }
  const auto sub = lower(a[1]);
  auto arity_error = [&] { r.error(fmt::format("ERR wrong number of arguments for 'command|{}' command", sub)); };
  if (sub == "count") {
    if (a.size() != 2) return arity_error();
    return r.integer(static_cast<std::int64_t>(commands().size()));
  }
  if (sub == "list") return list(r, a);
  if (sub == "info") {
    if (a.size() == 2) {
      const auto all = names();
      r.array(all.size());
      for (auto name : all) write_info(r, name, commands().at(std::string(name)));
      return;
    }
    r.array(a.size() - 2);
    for (std::size_t i = 2; i < a.size(); ++i) info_of(r, a[i]);
    return;
  }
  if (sub == "docs") {
    std::vector<std::string> wanted;
    if (a.size() == 2) {
      for (auto name : names()) wanted.emplace_back(name);
    }
    for (std::size_t i = 2; i < a.size(); ++i) {
      if (find(a[i]) != nullptr) wanted.push_back(lower(a[i]));  // unknown names are left out, as Redis
    }
    r.map(wanted.size());
    for (const auto& name : wanted) write_docs(r, name, find_doc(name));
    return;
  }
  if (sub == "getkeys") {
    if (a.size() < 4) return arity_error();
    return getkeys(r, a);
  }
  if (sub == "help") {
    if (a.size() != 2) return arity_error();
    r.array(std::size(help_lines));
    for (auto line : help_lines) r.simple(line);
    return;
  }
  r.error(fmt::format("ERR unknown subcommand '{}'. Try COMMAND HELP.", a[1]));
}

}  // namespace

namespace resp_detail {

void add_introspection_commands(command_table& t) { t.insert({"command", {-1, kind::other, command}}); }

}  // namespace resp_detail

}  // namespace kv

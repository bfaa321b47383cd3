// Search over RESP: RediSearch's FT.SEARCH, FT.INFO and FT._LIST on the node's one built-in
// index, named `kv` (every key, its value as the one TEXT field `value`), and FT.SIMILAR for its
// n-gram similarity. A RediSearch query is mapped onto kvnode's (core/model/query.hpp): words
// (all of them must match), `a | b | c` (any), one "phrase", and prefix* words; what kvnode's
// query cannot say (negation, grouping, fields, fuzzy, AND mixed with OR, ...) is refused with an
// error naming it, never answered differently. Replies have RediSearch's RESP2 shape in both
// protocols: the total, then per hit the key, its score (WITHSCORES) and ["value", value]
// (unless NOCONTENT). docs/redis.md lists every difference from RediSearch.
//
// Consistency, as for the other reads: a search sees this connection's earlier writes (a read
// waits until they applied here, and the index then waits until it has applied this node's
// applied index) and, unless READONLY, every write acknowledged before it (the read index). The
// values come from the revision the index answered at, so the hits and their values agree.

#include "io/server/resp_commands.hpp"

#include "core/base/spawn.hpp"
#include "core/model/query.hpp"
#include "index/node/node_index.hpp"
#include "io/server/error_text.hpp"
#include "io/server/server.hpp"
#include "raft/replica/store.hpp"

#include <asio/co_spawn.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <variant>

namespace kv {

namespace resp_detail {

namespace {

constexpr std::string_view index_name = "kv";
constexpr std::string_view field_name = "value";

// What FT.SEARCH and FT.SIMILAR answer besides the total.
struct reply_shape {
  bool content = true;       // not NOCONTENT: each hit's ["value", value]
  bool scores = false;       // WITHSCORES
  bool count_only = false;   // LIMIT offset 0: the total alone
  std::uint32_t skip = 0;    // hits of the answer not shown (FT.SIMILAR's LIMIT offset)
};

// ---- the query language ---------------------------------------------------------------------

// What a character that starts a token means to RediSearch, when kvnode's query cannot say it.
std::string_view unsupported_syntax(char c) {
  switch (c) {
    case '-': return "negation";
    case '~': return "optional terms";
    case '@': return "field modifiers";
    case '(': case ')': return "grouping";
    case '{': case '}': return "tag queries";
    case '[': case ']': return "numeric and vector ranges";
    case '%': return "fuzzy matching";
    case '$': return "query parameters";
    case '\\': return "escapes";
    case '=': return "query attributes";
    default: return {};
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Ends a word: what separates tokens, and what starts an unsupported one but for '-', '~' and
// '=', which mean something only at a token's start ("well-known" is two words, as in a value).
bool ends_word(char c) {
  return is_space(c) || c == '|' || c == '"' || (c != '-' && c != '~' && c != '=' && !unsupported_syntax(c).empty());
}

// ASCII punctuation, which the index's tokenizer splits words at (so "a-b" is two words).
bool is_punctuation(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x80 && !std::isalnum(u) && c != '_';
}

struct token {
  enum class type : std::uint8_t { word, phrase, bar } t;
  std::string text;
  std::size_t offset;
};

std::string unsupported(std::string_view what, char c, std::size_t offset) {
  return fmt::format("ERR the query uses {} ('{}' at offset {}), which kvnode's FT.SEARCH does not support", what, c,
                     offset);
}

// The tokens of `q`, or the error to answer.
std::variant<std::vector<token>, std::string> tokenize(std::string_view q) {
  std::vector<token> out;
  std::size_t i = 0;
  while (i < q.size()) {
    const char c = q[i];
    if (is_space(c)) {
      ++i;
    } else if (c == '|') {
      out.push_back(token{token::type::bar, "|", i++});
    } else if (c == '"') {
      const auto close = q.find('"', i + 1);
      if (close == std::string_view::npos) {
        return fmt::format("ERR Syntax error at offset {}: the '\"' is not closed", i);
      }
      auto text = q.substr(i + 1, close - i - 1);
      if (text.find('*') != std::string_view::npos) {
        return fmt::format("ERR a '*' inside the \"phrase\" at offset {} is not supported: a phrase matches words "
                           "exactly",
                           i);
      }
      if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        return fmt::format("ERR Syntax error at offset {}: the phrase is empty", i);
      }
      out.push_back(token{token::type::phrase, std::string(text), i});
      i = close + 1;
    } else if (auto what = unsupported_syntax(c); !what.empty()) {
      return unsupported(what, c, i);
    } else {
      const auto start = i;
      while (i < q.size() && !ends_word(q[i])) ++i;
      auto word = q.substr(start, i - start);
      const auto star = word.find('*');
      if (word == "*") return unsupported("the match-all query", '*', start);
      if (star == 0) return unsupported("suffix and infix matching", '*', start);
      if (star + 1 < word.size() && star != std::string_view::npos) {
        return unsupported("a wildcard inside a word (only a trailing '*', a prefix, is supported)", '*', start + star);
      }
      out.push_back(token{token::type::word, std::string(word), start});
    }
  }
  return out;
}

}  // namespace

std::variant<search::text_query, std::string> parse_search_query(std::string_view q) {
  auto tokenized = tokenize(q);
  if (auto* error = std::get_if<std::string>(&tokenized)) return std::move(*error);
  auto& tokens = std::get<std::vector<token>>(tokenized);
  if (tokens.empty()) return std::string("ERR the query is empty");
  search::text_query out;
  const bool any = std::any_of(tokens.begin(), tokens.end(), [](const token& t) { return t.t == token::type::bar; });
  if (any) {
    // Only term | term | ... | term: kvnode's query matches every term or any term, not a mix.
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const auto& t = tokens[i];
      const bool want_term = i % 2 == 0;
      if (want_term && t.t == token::type::bar) {
        return fmt::format("ERR Syntax error at offset {}: '|' needs a term on each side", t.offset);
      }
      if (!want_term && t.t != token::type::bar) {
        return fmt::format("ERR the query mixes AND (terms side by side, at offset {}) with OR ('|'): kvnode's "
                           "query matches every term or any term, not both",
                           t.offset);
      }
      if (t.t == token::type::phrase) {
        return fmt::format("ERR a \"phrase\" in an OR ('|', at offset {}) is not supported", t.offset);
      }
      if (t.t == token::type::word && std::any_of(t.text.begin(), t.text.end() - (t.text.ends_with('*') ? 1 : 0),
                                                  is_punctuation)) {
        return fmt::format("ERR '{}' (at offset {}) is several words: each side of an OR ('|') must be one word",
                           t.text, t.offset);
      }
      if (t.t == token::type::word) out.terms.push_back(t.text);
    }
    if (tokens.back().t == token::type::bar) {
      return fmt::format("ERR Syntax error at offset {}: '|' needs a term on each side", tokens.back().offset);
    }
    out.mode = search::match_mode::any;
    return out;
  }
  for (const auto& t : tokens) {
    if (t.t == token::type::phrase && tokens.size() > 1) {
      return fmt::format("ERR a \"phrase\" (at offset {}) with other terms is not supported: kvnode's query is one "
                         "phrase, or words",
                         t.offset);
    }
    out.terms.push_back(t.text);
  }
  out.mode = tokens.front().t == token::type::phrase ? search::match_mode::phrase : search::match_mode::all;
  return out;
}

namespace {

// ---- answering ------------------------------------------------------------------------------

// Why the node cannot search, or the index name's error; nullopt when `name` is the index.
std::optional<std::string> index_problem(resp_connection& c, std::string_view name, bool search_style) {
  if (c.srv().search_index() == nullptr) return "ERR " + error_text::search_disabled();
  if (name == index_name) return std::nullopt;
  // RediSearch's texts: FT.SEARCH and the like name the index, FT.INFO does not.
  if (search_style) return fmt::format("{}: no such index", name);
  return std::string("Unknown index name");
}

// The total and the hits as `s` asks, their values read at the revision the index answered at
// (if this node still can: else the current values; a key deleted since has no fields).
void write_hits(resp::reply& r, const search::search_answer& a, const reply_shape& s, const store& st) {
  const std::size_t shown = s.count_only ? 0 : a.hits.size() - std::min<std::size_t>(s.skip, a.hits.size());
  r.array(1 + shown * (1 + (s.scores ? 1 : 0) + (s.content ? 1 : 0)));
  r.integer(static_cast<std::int64_t>(a.total));
  const auto& keys = st.state().keys();
  std::uint64_t read_at = st.revision_at_index(a.applied_index).value_or(0);  // 0: the current values
  if (read_at != 0 && keys.check_revision(read_at).code) read_at = 0;        // compacted since
  for (std::size_t i = a.hits.size() - shown; i < a.hits.size(); ++i) {
    const auto& hit = a.hits[i];
    r.bulk(hit.key);
    if (s.scores) r.real(hit.score);
    if (!s.content) continue;
    auto kv = keys.get(hit.key, read_at);
    if (!kv) {
      r.null_array();
      continue;
    }
    r.array(2);
    r.bulk(field_name);
    r.bulk(kv->value);
  }
}

// Answers `query(index, min_index)` on `self` under `t`, with min_index this node's applied index
// when the command runs (this connection's earlier writes are applied by then) and, unless
// READONLY on a cluster, at least the read index. (No co_await in a conditional expression:
// g++ 12 miscompiles it.)
template <typename Query>
asio::awaitable<void> run_query(std::shared_ptr<resp_connection> self, resp_connection::ticket t, reply_shape s,
                                Query query) {
  auto& st = self->srv().replica();
  const std::uint64_t applied = st.applied_index();
  result<std::uint64_t> at = applied;
  if (!self->read_only && !st.reads_are_local()) at = co_await read_barrier(st);
  result<search::search_answer> answer = errc::internal;
  if (at) {
    answer = co_await query(*self->srv().search_index(), std::max(applied, *at));
  } else {
    answer = at.failure();
  }
  self->finish(t, make_reply(*self, [&](resp::reply& r) {
    if (!answer) return refusal(r, answer.failure());
    write_hits(r, *answer, s, st);
  }));
}

template <typename Query>
void start_query(resp_connection& c, const reply_shape& s, Query query) {
  auto ticket = c.later(kind::read);
  auto self = c.shared_from_this();
  // An exception (none is expected) still answers the command, so the connection goes on.
  asio::co_spawn(c.srv().executor(), run_query(self, ticket, s, std::move(query)),
                 [self, ticket, log = log_failure("a search on Redis connection " + c.peer())](std::exception_ptr e) {
                   if (!e) return;
                   log(e);
                   self->finish(ticket, make_reply(*self, [](resp::reply& r) { r.error("ERR internal error"); }));
                 });
}

// LIMIT's two numbers, each from 0 to 2^32 - 1, at a[i + 1] and a[i + 2].
std::optional<std::pair<std::uint32_t, std::uint32_t>> limit_arg(args_t a, std::size_t i) {
  if (i + 2 >= a.size()) return std::nullopt;
  auto offset = integer_arg(a[i + 1]);
  auto num = integer_arg(a[i + 2]);
  constexpr std::int64_t max = std::numeric_limits<std::uint32_t>::max();
  if (!offset || !num || *offset < 0 || *num < 0 || *offset > max || *num > max) return std::nullopt;
  return std::pair(static_cast<std::uint32_t>(*offset), static_cast<std::uint32_t>(*num));
}

constexpr std::string_view bad_limit =
    "ERR LIMIT takes an offset and a number of results, integers from 0 to 4294967295";

// The options both commands take: NOCONTENT, WITHSCORES, LIMIT; false if a[i] is none of them.
// `error` is set when a[i] is one but malformed.
bool take_common(args_t a, std::size_t& i, reply_shape& s, std::pair<std::uint32_t, std::uint32_t>& limit,
                 std::string& error) {
  if (is(a[i], "nocontent")) {
    s.content = false;
  } else if (is(a[i], "withscores")) {
    s.scores = true;
  } else if (is(a[i], "limit")) {
    auto l = limit_arg(a, i);
    if (!l) {
      error = bad_limit;
    } else {
      limit = *l;
      i += 2;
    }
  } else {
    return false;
  }
  return true;
}

// FT.SEARCH index query [NOCONTENT] [WITHSCORES] [LIMIT offset num]
void ft_search(resp_connection& c, args_t a) {
  if (auto problem = index_problem(c, a[1], true)) return c.reply_now().error(*problem);
  reply_shape s;
  std::pair<std::uint32_t, std::uint32_t> limit{0, 10};
  for (std::size_t i = 3; i < a.size(); ++i) {
    std::string error;
    if (take_common(a, i, s, limit, error)) {
      if (!error.empty()) return c.reply_now().error(error);
      continue;
    }
    return c.reply_now().error(fmt::format(
        "ERR FT.SEARCH's argument '{}' is unknown or not supported by kvnode (it takes NOCONTENT, WITHSCORES and "
        "LIMIT offset num)",
        a[i]));
  }
  auto parsed = parse_search_query(a[2]);
  if (auto* error = std::get_if<std::string>(&parsed)) return c.reply_now().error(*error);
  auto q = std::get<search::text_query>(std::move(parsed));
  q.offset = limit.first;
  q.limit = limit.second;
  s.count_only = limit.second == 0;
  start_query(c, s, [q = std::move(q)](search::node_index& index, std::uint64_t min_index) {
    return index.search(q, min_index);
  });
}

// FT.SIMILAR index text [THRESHOLD t] [LIMIT offset num] [NOCONTENT] [WITHSCORES]: the documents
// whose n-grams have a Jaccard similarity of at least t (default 0.3) with the text's, most
// similar first.
void ft_similar(resp_connection& c, args_t a) {
  if (auto problem = index_problem(c, a[1], true)) return c.reply_now().error(*problem);
  reply_shape s;
  std::pair<std::uint32_t, std::uint32_t> limit{0, 10};
  search::similar_query q;
  q.text = std::string(a[2]);
  for (std::size_t i = 3; i < a.size(); ++i) {
    std::string error;
    if (take_common(a, i, s, limit, error)) {
      if (!error.empty()) return c.reply_now().error(error);
      continue;
    }
    if (is(a[i], "threshold") && i + 1 < a.size()) {
      const std::string text(a[++i]);
      char* end = nullptr;
      errno = 0;
      q.threshold = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno != 0 || !(q.threshold >= 0 && q.threshold <= 1)) {
        return c.reply_now().error("ERR THRESHOLD takes a number from 0 to 1");
      }
      continue;
    }
    return c.reply_now().error(fmt::format(
        "ERR FT.SIMILAR's argument '{}' is unknown (it takes THRESHOLD t, NOCONTENT, WITHSCORES and LIMIT offset num)",
        a[i]));
  }
  // The index returns the best k: the page is the last `num` of the best offset + num. With num
  // 0, only the total is answered (it counts every document at or above the threshold).
  const std::uint64_t k = std::uint64_t{limit.first} + std::max<std::uint32_t>(limit.second, 1);
  if (k > std::numeric_limits<std::uint32_t>::max()) return c.reply_now().error(bad_limit);
  q.k = static_cast<std::uint32_t>(k);
  s.skip = limit.first;
  s.count_only = limit.second == 0;
  start_query(c, s, [q = std::move(q)](search::node_index& index, std::uint64_t min_index) {
    return index.similar(q, min_index);
  });
}

// FT._LIST: the one index (none when search is disabled).
void ft_list(resp_connection& c, args_t) {
  auto r = c.reply_now();
  if (c.srv().search_index() == nullptr) return r.set(0);
  r.set(1);
  r.bulk(index_name);
}

// FT.INFO index: what the index holds and how far it has followed the log.
void ft_info(resp_connection& c, args_t a) {
  if (auto problem = index_problem(c, a[1], false)) return c.reply_now().error(*problem);
  const auto p = c.srv().search_index()->progress();
  const auto applied = c.srv().replica().applied_index();
  const auto lag = applied > p.applied_index ? applied - p.applied_index : 0;
  auto r = c.reply_now();
  r.map(7);
  r.bulk("index_name");
  r.bulk(index_name);
  r.bulk("attributes");
  r.array(1);
  r.array(6);
  r.bulk("identifier");
  r.bulk(field_name);
  r.bulk("attribute");
  r.bulk(field_name);
  r.bulk("type");
  r.bulk("TEXT");
  r.bulk("num_docs");
  r.integer(static_cast<std::int64_t>(p.documents));
  r.bulk("hash_indexing_failures");  // values that are not UTF-8 are not indexed
  r.integer(static_cast<std::int64_t>(p.skipped_non_utf8));
  r.bulk("indexing");  // 1 while the index is behind this node's applied log
  r.integer(lag > 0 ? 1 : 0);
  r.bulk("index_applied_index");
  r.integer(static_cast<std::int64_t>(p.applied_index));
  r.bulk("index_lag");
  r.integer(static_cast<std::int64_t>(lag));
}

}  // namespace

void add_search_commands(command_table& t) {
  t.insert({
      {"ft.search", {-3, kind::read, ft_search}},
      {"ft.similar", {-3, kind::read, ft_similar}},
      {"ft._list", {1, kind::other, ft_list}},
      {"ft.info", {2, kind::other, ft_info}},
  });
}

}  // namespace resp_detail

}  // namespace kv

#include "apps/kvctl/txn_script.hpp"

#include "apps/kvctl/op_args.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace kv::kvctl {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

void skip_spaces(std::string_view text, std::size_t& pos) {
  while (pos < text.size() && is_space(text[pos])) ++pos;
}

bool blank(std::string_view line) {
  std::size_t pos = 0;
  skip_spaces(line, pos);
  return pos == line.size();
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3f));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// `digits` digits in `base` at text[pos], as one number; moves pos past them.
std::optional<std::uint32_t> escaped_number(std::string_view text, std::size_t& pos, std::size_t digits, int base) {
  if (pos + digits > text.size()) return std::nullopt;
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data() + pos, text.data() + pos + digits, v, base);
  if (ec != std::errc() || end != text.data() + pos + digits) return std::nullopt;
  pos += digits;
  return v;
}

// Appends the escape at text[pos] (just after its backslash) to `out` and moves pos past it;
// the error if it is not one of Go's.
std::optional<std::string> take_escape(std::string_view text, std::size_t& pos, std::string& out) {
  static constexpr std::string_view letters = "abfnrtv\\\"'";
  static constexpr std::string_view bytes = "\a\b\f\n\r\t\v\\\"'";
  const char e = text[pos];
  if (const auto i = letters.find(e); i != std::string_view::npos) {
    out += bytes[i];
    ++pos;
    return std::nullopt;
  }
  if (e == 'x') {
    ++pos;
    auto n = escaped_number(text, pos, 2, 16);
    if (!n) return "\\x takes two hexadecimal digits";
    out += static_cast<char>(*n);
    return std::nullopt;
  }
  if (e == 'u' || e == 'U') {
    const std::size_t digits = e == 'u' ? 4 : 8;
    ++pos;
    auto n = escaped_number(text, pos, digits, 16);
    if (!n || *n > 0x10ffff || (*n >= 0xd800 && *n < 0xe000)) {
      return fmt::format("\\{} takes {} hexadecimal digits of a Unicode code point", e, digits);
    }
    append_utf8(out, *n);
    return std::nullopt;
  }
  if (e >= '0' && e <= '7') {
    auto n = escaped_number(text, pos, 3, 8);
    if (!n || *n > 0xff) return "an octal escape takes three digits, at most \\377";
    out += static_cast<char>(*n);
    return std::nullopt;
  }
  return fmt::format("unknown escape \\{}", e);
}

std::optional<compare_target> target_named(std::string_view name) {
  if (name == "value" || name == "val") return compare_target::value;
  if (name == "version" || name == "ver") return compare_target::version;
  if (name == "create" || name == "c") return compare_target::create_revision;
  if (name == "mod" || name == "m") return compare_target::mod_revision;
  return std::nullopt;
}

// TARGET("KEY") OP "OPERAND"
result<compare> parse_compare(std::string_view line, byte_notation notation) {
  const auto malformed = [&](std::string_view why) {
    return usage(fmt::format("{}: expected TARGET(\"KEY\") OP \"OPERAND\", e.g. value(\"k\") = \"v\"", why));
  };
  std::size_t pos = 0;
  skip_spaces(line, pos);
  const auto name_start = pos;
  while (pos < line.size() && (std::isalpha(static_cast<unsigned char>(line[pos])) != 0)) ++pos;
  const auto name = line.substr(name_start, pos - name_start);
  if (name.empty() || pos == line.size() || line[pos] != '(') {
    return malformed("not a compare (the compares come first, and a blank line ends them)");
  }
  auto target = target_named(name);
  if (!target) {
    return usage(fmt::format("unknown compare target \"{}\": value, version, create or mod", name));
  }
  ++pos;
  skip_spaces(line, pos);
  auto key_text = unquote(line, pos);
  if (!key_text) return key_text.failure();
  skip_spaces(line, pos);
  if (pos == line.size() || line[pos] != ')') return malformed("no ')' after the key");
  ++pos;
  skip_spaces(line, pos);
  compare c;
  c.target = *target;
  if (line.substr(pos).starts_with("!=")) {
    c.op = compare_op::not_equal;
    pos += 2;
  } else if (pos < line.size() && (line[pos] == '=' || line[pos] == '<' || line[pos] == '>')) {
    c.op = line[pos] == '=' ? compare_op::equal : line[pos] == '<' ? compare_op::less : compare_op::greater;
    ++pos;
  } else {
    return usage("expected an operator after the key: = != < or >");
  }
  skip_spaces(line, pos);
  auto operand = unquote(line, pos);
  if (!operand) return operand.failure();
  skip_spaces(line, pos);
  if (pos != line.size()) return malformed("text after the operand");

  auto key = parse_key("compare", notation, *key_text);
  if (!key) return key.failure();
  c.key = std::move(*key);
  if (c.target == compare_target::value) {
    auto value = parse_value(notation, *operand);
    if (!value) return value.failure();
    c.value = std::move(*value);
  } else {
    auto n = parse_count(name, "the operand", *operand);
    if (!n) return n.failure();
    c.number = *n;
  }
  return c;
}

result<txn_op> parse_op(std::string_view line, byte_notation notation) {
  auto words = split_op_line(line);
  if (!words) return words.failure();
  const auto name = words->front();
  words->erase(words->begin());
  if (name == "put") return parse_put(*words, notation);
  if (name == "incr") return parse_incr(*words, notation);
  if (name == "expire") return parse_expire(*words, notation);
  if (name == "persist") return parse_persist(*words, notation);
  if (name == "ttl") {
    auto t = parse_ttl(*words, notation, op_source::txn_input);
    if (!t) return t.failure();
    return std::move(t->op);
  }
  if (name == "get") {
    auto g = parse_get(*words, notation, op_source::txn_input);
    if (!g) return g.failure();
    return std::move(g->op);
  }
  if (name == "del") {
    auto d = parse_del(*words, notation);
    if (!d) return d.failure();
    return std::move(d->op);
  }
  return usage(fmt::format("unknown op \"{}\": put, get, del, incr, expire, persist or ttl", name));
}

}  // namespace

result<std::string> unquote(std::string_view text, std::size_t& pos) {
  if (pos >= text.size() || text[pos] != '"') return usage("expected a double-quoted string");
  std::string out;
  ++pos;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (c == '"') return out;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (pos == text.size()) break;
    if (auto error = take_escape(text, pos, out)) return usage(std::move(*error));
  }
  return usage("a double-quoted string does not end");
}

result<std::vector<std::string>> split_op_line(std::string_view line) {
  std::vector<std::string> words;
  std::size_t pos = 0;
  for (skip_spaces(line, pos); pos < line.size(); skip_spaces(line, pos)) {
    if (line[pos] == '"') {
      auto word = unquote(line, pos);
      if (!word) return word.failure();
      words.push_back(std::move(*word));
    } else if (line[pos] == '\'') {
      const auto close = line.find('\'', pos + 1);
      if (close == std::string_view::npos) return usage("a single-quoted word does not end");
      words.emplace_back(line.substr(pos + 1, close - pos - 1));
      pos = close + 1;
    } else {
      const auto start = pos;
      while (pos < line.size() && !is_space(line[pos])) ++pos;
      words.emplace_back(line.substr(start, pos - start));
      continue;
    }
    if (pos < line.size() && !is_space(line[pos])) return usage("a closing quote must end its word");
  }
  return words;
}

result<kv::txn> parse_txn_script(std::string_view text, byte_notation notation) {
  kv::txn t;
  // The sections: compares, then ops, else ops, then nothing but blank lines.
  int section = 0;
  std::size_t line_number = 0;
  bool any_line = false;
  for (std::size_t start = 0; start < text.size();) {
    auto newline = text.find('\n', start);
    if (newline == std::string_view::npos) newline = text.size();
    const auto line = text.substr(start, newline - start);
    start = newline + 1;
    ++line_number;
    if (blank(line)) {
      if (section < 3) ++section;
      continue;
    }
    any_line = true;
    const auto at_line = [&](const error_info& e) {
      return usage(fmt::format("txn: line {}: {}", line_number, e.message));
    };
    if (section == 0) {
      auto c = parse_compare(line, notation);
      if (!c) return at_line(c.failure());
      t.compares.push_back(std::move(*c));
    } else if (section < 3) {
      auto op = parse_op(line, notation);
      if (!op) return at_line(op.failure());
      (section == 1 ? t.then_ops : t.else_ops).push_back(std::move(*op));
    } else {
      return at_line(usage("text after the else ops (their section ends at a blank line)"));
    }
  }
  if (!any_line) {
    return usage("txn: the input holds no compares and no ops: compares, a blank line, ops, a blank line, else ops");
  }
  return t;
}

}  // namespace kv::kvctl

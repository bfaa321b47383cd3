#include "io/resp/parser.hpp"

#include <algorithm>
#include <charconv>

namespace kv::resp {

namespace {

// A header's number as Redis's string2ll reads it: optional '-', digits, nothing else.
bool parse_number(std::string_view s, long long& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !(s.size() > 1 && s[0] == '0') && s != "-0";
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'; }

}  // namespace

bool split_inline(std::string_view line, std::vector<std::string>& words) {
  words.clear();
  std::size_t i = 0;
  const std::size_t n = line.size();
  for (;;) {
    while (i < n && is_space(line[i])) ++i;
    if (i == n) return true;
    std::string word;
    bool in_double = false;
    bool in_single = false;
    for (;;) {
      if (in_double) {
        if (i == n) return false;  // unterminated quotes
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && hex_digit(line[i + 2]) >= 0 &&
            hex_digit(line[i + 3]) >= 0) {
          word.push_back(static_cast<char>(hex_digit(line[i + 2]) * 16 + hex_digit(line[i + 3])));
          i += 4;
        } else if (line[i] == '\\' && i + 1 < n) {
          char c = line[i + 1];
          switch (c) {
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'b': c = '\b'; break;
            case 'a': c = '\a'; break;
            default: break;
          }
          word.push_back(c);
          i += 2;
        } else if (line[i] == '"') {
          // The closing quote must be followed by a space or the end.
          if (i + 1 < n && !is_space(line[i + 1])) return false;
          in_double = false;
          ++i;
          break;
        } else {
          word.push_back(line[i++]);
        }
      } else if (in_single) {
        if (i == n) return false;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          word.push_back('\'');
          i += 2;
        } else if (line[i] == '\'') {
          if (i + 1 < n && !is_space(line[i + 1])) return false;
          in_single = false;
          ++i;
          break;
        } else {
          word.push_back(line[i++]);
        }
      } else {
        if (i == n || is_space(line[i])) break;
        if (line[i] == '"') {
          in_double = true;
        } else if (line[i] == '\'') {
          in_single = true;
        } else {
          word.push_back(line[i]);
        }
        ++i;
      }
    }
    words.push_back(std::move(word));
  }
}

parser::status parser::fail(std::string message) {
  error_ = std::move(message);
  args_.clear();
  return status::error;
}

parser::status parser::next(std::string_view buf) {
  args_.clear();
  consumed_ = 0;
  missing_ = 0;
  for (;;) {
    std::string_view rest = buf.substr(consumed_);
    if (rest.empty()) return status::need_more;
    if (rest.front() == '*') {
      auto s = multibulk(rest);
      if (s == status::command && args_.empty()) continue;  // `*0` or `*-1`: nothing, as Redis
      return s;
    }
    auto s = inline_command(rest);
    if (s == status::command && args_.empty()) continue;  // an empty line
    return s;
  }
}

parser::status parser::multibulk(std::string_view buf) {
  const auto start = consumed_;
  auto eol = buf.find("\r\n");
  if (eol == std::string_view::npos) {
    if (buf.size() > limits_.max_inline_bytes) return fail("Protocol error: too big mbulk count string");
    return status::need_more;
  }
  long long count = 0;
  if (!parse_number(buf.substr(1, eol - 1), count) || count > static_cast<long long>(limits_.max_args)) {
    return fail("Protocol error: invalid multibulk length");
  }
  std::size_t at = eol + 2;
  if (count <= 0) {
    consumed_ = start + at;
    return status::command;  // with no arguments: skipped by next()
  }
  // Room as the arguments arrive, not for the count a header claims.
  args_.reserve(std::min<std::size_t>(static_cast<std::size_t>(count), 1024));
  for (long long i = 0; i < count; ++i) {
    if (at >= buf.size()) {
      args_.clear();
      return status::need_more;
    }
    if (buf[at] != '$') {
      return fail(std::string("Protocol error: expected '$', got '") + buf[at] + "'");
    }
    auto line_end = buf.find("\r\n", at);
    if (line_end == std::string_view::npos) {
      if (buf.size() - at > limits_.max_inline_bytes) return fail("Protocol error: too big bulk count string");
      args_.clear();
      return status::need_more;
    }
    long long len = 0;
    if (!parse_number(buf.substr(at + 1, line_end - at - 1), len) || len < 0 ||
        static_cast<unsigned long long>(len) > limits_.max_bulk_bytes) {
      return fail("Protocol error: invalid bulk length");
    }
    const std::size_t body = line_end + 2;
    const std::size_t need = body + static_cast<std::size_t>(len) + 2;
    if (need > buf.size()) {
      missing_ = need - buf.size();
      args_.clear();
      return status::need_more;
    }
    args_.push_back(buf.substr(body, static_cast<std::size_t>(len)));
    at = need;  // Redis does not check the CRLF after a bulk string; neither do we
  }
  consumed_ = start + at;
  return status::command;
}

parser::status parser::inline_command(std::string_view buf) {
  const auto start = consumed_;
  auto eol = buf.find('\n');
  if (eol == std::string_view::npos) {
    if (buf.size() > limits_.max_inline_bytes) return fail("Protocol error: too big inline request");
    return status::need_more;
  }
  auto line = buf.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!split_inline(line, inline_words_)) return fail("Protocol error: unbalanced quotes in request");
  consumed_ = start + eol + 1;
  for (const auto& w : inline_words_) args_.push_back(w);
  return status::command;
}

}  // namespace kv::resp

#pragma once
// A strict reader of flat JSON objects (string and number values), as kvnode's JSON log lines are:
// what a log collector would read from them. Written apart from the node's formatter so that a
// test compares the formatter with RFC 8259, not with itself.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kv::test {

namespace json_detail {

class object_reader {
 public:
  explicit object_reader(std::string_view text) : s_(text) {}

  // The members (strings decoded to UTF-8, numbers as written), or nullopt with error() set.
  std::optional<std::map<std::string, std::string>> read() {
    std::map<std::string, std::string> members;
    skip_space();
    if (!take('{')) return failed("expected '{'");
    skip_space();
    if (!take('}')) {
      for (;;) {
        skip_space();
        auto name = read_string();
        if (!name) return std::nullopt;
        skip_space();
        if (!take(':')) return failed("expected ':'");
        skip_space();
        auto value = peek() == '"' ? read_string() : read_number();
        if (!value) return std::nullopt;
        if (!members.emplace(*name, *value).second) return failed("repeated name \"" + *name + "\"");
        skip_space();
        if (take('}')) break;
        if (!take(',')) return failed("expected ',' or '}'");
      }
    }
    skip_space();
    if (i_ != s_.size()) return failed("text after the object");
    return members;
  }

  const std::string& error() const { return error_; }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool take(char c) {
    if (peek() != c || i_ >= s_.size()) return false;
    ++i_;
    return true;
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  std::nullopt_t failed(std::string why) {
    error_ = why + " at byte " + std::to_string(i_);
    return std::nullopt;
  }
  unsigned char byte() const { return static_cast<unsigned char>(s_[i_]); }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::optional<std::uint32_t> read_hex4() {
    if (s_.size() - i_ < 4) return std::nullopt;
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else return std::nullopt;
    }
    return v;
  }

  // One raw (unescaped) UTF-8 sequence of a code point >= U+0080, decoded and checked.
  bool copy_utf8(std::string& out) {
    unsigned char lead = byte();
    int extra = lead >= 0xF8 ? -1 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : -1;
    if (extra < 0 || s_.size() - i_ <= static_cast<std::size_t>(extra)) return false;
    std::uint32_t cp = lead & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      auto c = static_cast<unsigned char>(s_[i_ + static_cast<std::size_t>(k)]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr std::uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < smallest[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out.append(s_.substr(i_, static_cast<std::size_t>(extra) + 1));
    i_ += static_cast<std::size_t>(extra) + 1;
    return true;
  }

  std::optional<std::string> read_string() {
    if (!take('"')) return failed("expected a string");
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) return failed("unterminated string");
      unsigned char c = byte();
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) return failed("raw control character in a string");
      if (c >= 0x80) {
        if (!copy_utf8(out)) return failed("invalid UTF-8");
        continue;
      }
      ++i_;
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (i_ >= s_.size()) return failed("unterminated escape");
      char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          auto cp = read_hex4();
          if (!cp) return failed("bad \\u escape");
          if (*cp >= 0xDC00 && *cp <= 0xDFFF) return failed("lone low surrogate");
          if (*cp >= 0xD800 && *cp <= 0xDBFF) {
            if (!take('\\') || !take('u')) return failed("high surrogate without a low one");
            auto low = read_hex4();
            if (!low || *low < 0xDC00 || *low > 0xDFFF) return failed("high surrogate without a low one");
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00);
          }
          append_utf8(out, *cp);
          break;
        }
        default: return failed(std::string("unknown escape \\") + e);
      }
    }
  }

  std::optional<std::string> read_number() {
    auto start = i_;
    auto digits = [&] {
      auto from = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ - from;
    };
    take('-');
    if (take('0')) {
      if (peek() >= '0' && peek() <= '9') return failed("leading zero");
    } else if (digits() == 0) {
      return failed("expected a string or a number");
    }
    if (take('.') && digits() == 0) return failed("expected digits after '.'");
    if (take('e') || take('E')) {
      if (!take('+')) take('-');
      if (digits() == 0) return failed("expected an exponent");
    }
    return std::string(s_.substr(start, i_ - start));
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string error_;
};

}  // namespace json_detail

// The members of the JSON object `text`: string values decoded to UTF-8, numbers as written.
// nullopt unless `text` is exactly one well-formed object (RFC 8259: escapes, no raw control
// characters, valid UTF-8, surrogate pairs) with string or number values and distinct names;
// `why` then says what is wrong and where.
inline std::optional<std::map<std::string, std::string>> parse_json_object(std::string_view text,
                                                                           std::string* why = nullptr) {
  json_detail::object_reader reader(text);
  auto members = reader.read();
  if (!members && why != nullptr) *why = reader.error();
  return members;
}

}  // namespace kv::test

#include "io/resp/reply.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace kv::resp {

void reply::header(char type, std::size_t n) {
  char buf[24];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
  (void)ec;
  *end++ = '\r';
  *end++ = '\n';
  out_.append(buf, static_cast<std::size_t>(end - buf));
}

void reply::simple(std::string_view text) {
  out_.push_back('+');
  out_.append(text);
  out_.append("\r\n");
}

void reply::error(std::string_view text) {
  out_.push_back('-');
  for (char c : text) out_.push_back(c == '\r' || c == '\n' ? ' ' : c);
  out_.append("\r\n");
}

void reply::integer(std::int64_t n) {
  char buf[24];
  buf[0] = ':';
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
  (void)ec;
  *end++ = '\r';
  *end++ = '\n';
  out_.append(buf, static_cast<std::size_t>(end - buf));
}

void reply::bulk(std::string_view bytes) {
  header('$', bytes.size());
  out_.append(bytes);
  out_.append("\r\n");
}

void reply::verbatim_text(std::string_view text) {
  if (v_ == version::resp2) return bulk(text);
  header('=', text.size() + 4);
  out_.append("txt:");
  out_.append(text);
  out_.append("\r\n");
}

void reply::null() { out_.append(v_ == version::resp3 ? "_\r\n" : "$-1\r\n"); }

void reply::null_array() { out_.append(v_ == version::resp3 ? "_\r\n" : "*-1\r\n"); }

void reply::array(std::size_t n) { header('*', n); }

void reply::map(std::size_t pairs) {
  if (v_ == version::resp3) return header('%', pairs);
  header('*', pairs * 2);
}

void reply::set(std::size_t n) { header(v_ == version::resp3 ? '~' : '*', n); }

void reply::push(std::size_t n) { header(v_ == version::resp3 ? '>' : '*', n); }

void reply::boolean(bool b) {
  if (v_ == version::resp3) {
    out_.append(b ? "#t\r\n" : "#f\r\n");
  } else {
    integer(b ? 1 : 0);
  }
}

void reply::real(double d) {
  // Redis 7 prints doubles with %.17g, and inf / -inf / nan by name.
  std::string text;
  if (std::isinf(d)) {
    text = d > 0 ? "inf" : "-inf";
  } else if (std::isnan(d)) {
    text = "nan";
  } else {
    text = fmt::format("{:.17g}", d);
  }
  if (v_ == version::resp3) {
    out_.push_back(',');
    out_.append(text);
    out_.append("\r\n");
  } else {
    bulk(text);
  }
}

}  // namespace kv::resp

#include "apps/kvctl/query_args.hpp"

#include "apps/kvctl/op_args.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdlib>
#include <limits>
#include <string_view>

namespace kv::kvctl {

namespace {

result<std::uint32_t> count32(std::string_view command, std::string_view option, std::string_view text) {
  auto v = parse_count(command, option, text);
  if (!v) return v.failure();
  if (*v > std::numeric_limits<std::uint32_t>::max()) return usage(fmt::format("{}: {} is too large", command, option));
  return static_cast<std::uint32_t>(*v);
}

// The options both commands take.
struct common_args {
  std::uint64_t min_revision = 0;
  bool min_given = false;
  bool stale = false;
};

// Takes `name` into `c` if it is one of the common options: true if it was.
result<bool> take_common(std::string_view command, const std::string& name, const std::string& value,
                         common_args& c) {
  if (name == "--stale") {
    c.stale = true;
    return true;
  }
  if (name != "--min-index" && name != "--min-revision") return false;
  if (c.min_given) return usage(fmt::format("{}: give one --min-index (or its alias --min-revision)", command));
  auto revision = parse_count(command, name, value);
  if (!revision) return revision.failure();
  c.min_revision = *revision;
  c.min_given = true;
  return true;
}

}  // namespace

result<search_args> parse_search(const std::vector<std::string>& args, byte_notation notation) {
  static constexpr std::array<option_spec, 8> specs{{
      {"--or"},
      {"--phrase"},
      {"--limit", true},
      {"--offset", true},
      {"--prefix", true},
      {"--min-index", true},
      {"--min-revision", true},
      {"--stale"},
  }};
  auto w = split_words("search", args, specs);
  if (!w) return w.failure();
  search_args s;
  common_args c;
  for (const auto& [name, value] : w->options) {
    auto common = take_common("search", name, value, c);
    if (!common) return common.failure();
    if (*common) continue;
    if (name == "--or") {
      s.query.mode = search::match_mode::any;
    } else if (name == "--phrase") {
      s.query.mode = search::match_mode::phrase;
    } else if (name == "--limit" || name == "--offset") {
      auto n = count32("search", name, value);
      if (!n) return n.failure();
      (name == "--limit" ? s.query.limit : s.query.offset) = *n;
    } else if (name == "--prefix") {
      auto prefix = bytes_in(notation, value);
      if (!prefix) {
        return usage(fmt::format("--hex: --prefix \"{}\" is not hexadecimal: two digits, 0-9 or a-f, a byte", value));
      }
      s.query.key_prefix = std::move(*prefix);
    }
  }
  if (w->operands.empty()) return usage("search takes at least one word");
  s.query.terms = std::move(w->operands);
  s.min_revision = c.min_revision;
  s.stale = c.stale;
  return s;
}

result<similar_args> parse_similar(const std::vector<std::string>& args) {
  static constexpr std::array<option_spec, 5> specs{
      {{"--top", true}, {"--threshold", true}, {"--min-index", true}, {"--min-revision", true}, {"--stale"}}};
  auto w = split_words("similar", args, specs);
  if (!w) return w.failure();
  similar_args s;
  common_args c;
  for (const auto& [name, value] : w->options) {
    auto common = take_common("similar", name, value, c);
    if (!common) return common.failure();
    if (*common) continue;
    if (name == "--top") {
      auto k = count32("similar", name, value);
      if (!k) return k.failure();
      s.query.k = *k;
    } else if (name == "--threshold") {
      char* end = nullptr;
      s.query.threshold = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(s.query.threshold >= 0 && s.query.threshold <= 1)) {
        return usage(fmt::format("similar: --threshold takes a number from 0 to 1, got \"{}\"", value));
      }
    }
  }
  if (w->operands.size() != 1) return usage("similar takes one TEXT (quote it if it has spaces)");
  s.query.text = std::move(w->operands[0]);
  s.min_revision = c.min_revision;
  s.stale = c.stale;
  return s;
}

}  // namespace kv::kvctl

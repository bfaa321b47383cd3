#include "apps/kvctl/op_args.hpp"

#include "core/base/units.hpp"
#include "core/model/key_range.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace kv::kvctl {

error_info usage(std::string message) { return {make_error_code(errc::bad_request), std::move(message), {}}; }

namespace {

const option_spec* find_spec(std::span<const option_spec> specs, std::string_view name) {
  auto it = std::find_if(specs.begin(), specs.end(), [&](const option_spec& s) { return s.name == name; });
  return it == specs.end() ? nullptr : &*it;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// [key, end) from KEY, END and the range options, etcdctl's way: --prefix KEY is the keys
// starting with KEY, --from-key KEY every key >= KEY; with either, an empty KEY is every key.
struct range_words {
  bool prefix = false;
  bool from_key = false;
};

result<std::pair<std::string, std::string>> range_of(std::string_view command, const std::vector<std::string>& operands,
                                                     range_words r, byte_notation notation) {
  if (r.prefix && r.from_key) return usage(fmt::format("{}: --prefix and --from-key cannot be combined", command));
  if (operands.empty() || operands.size() > 2) return usage(fmt::format("{} takes KEY [END]", command));
  if ((r.prefix || r.from_key) && operands.size() == 2) {
    return usage(fmt::format("{}: END cannot be combined with {}", command, r.prefix ? "--prefix" : "--from-key"));
  }
  const std::string every(1, '\0');
  if (r.prefix || r.from_key) {
    auto key = bytes_in(notation, operands[0]);
    if (!key)
      return usage(fmt::format("--hex: KEY \"{}\" is not hexadecimal: two digits, 0-9 or a-f, a byte", operands[0]));
    if (key->empty()) return std::pair{every, every};
    auto end = r.prefix ? prefix_end(*key) : every;
    return std::pair{std::move(*key), std::move(end)};
  }
  auto key = parse_key(command, notation, operands[0]);
  if (!key) return key.failure();
  std::string end;
  if (operands.size() == 2) {
    auto e = bytes_in(notation, operands[1]);
    if (!e)
      return usage(fmt::format("--hex: END \"{}\" is not hexadecimal: two digits, 0-9 or a-f, a byte", operands[1]));
    end = std::move(*e);
  }
  return std::pair{std::move(*key), std::move(end)};
}

// A put's TTL options: --ttl DURATION or --keep-ttl, never both.
constexpr option_spec ttl_option{"--ttl", true};
constexpr option_spec keep_ttl_option{"--keep-ttl"};

// Applies the --ttl or --keep-ttl among `options` to `put` (a put op); the last --ttl counts.
result<kv::txn_op> with_ttl_options(std::string_view command,
                                    const std::vector<std::pair<std::string, std::string>>& options,
                                    kv::txn_op put) {
  std::int64_t ttl_ms = 0;
  bool keep = false;
  for (const auto& [name, value] : options) {
    if (name == keep_ttl_option.name) keep = true;
    if (name == ttl_option.name) {
      auto ms = parse_ttl_ms(command, name, value);
      if (!ms) return ms.failure();
      ttl_ms = *ms;
    }
  }
  if (keep && ttl_ms != 0) return usage(fmt::format("{}: --ttl and --keep-ttl cannot be combined", command));
  if (ttl_ms != 0) {
    put.flags |= op_ttl;
    put.ttl_ms = ttl_ms;
  }
  if (keep) put.flags |= op_keep_ttl;
  return put;
}

// KEY, the one operand of persist and ttl.
result<std::string> one_key(std::string_view command, const std::vector<std::string>& operands,
                            byte_notation notation) {
  if (operands.size() != 1) return usage(fmt::format("{} takes KEY", command));
  return parse_key(command, notation, operands[0]);
}

}  // namespace

result<words> split_words(std::string_view command, const std::vector<std::string>& args,
                          std::span<const option_spec> specs) {
  words w;
  bool options_ended = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (options_ended || !a.starts_with("--")) {
      w.operands.push_back(a);
      continue;
    }
    if (a == "--") {
      options_ended = true;
      continue;
    }
    const auto eq = a.find('=');
    const auto name = a.substr(0, eq);
    const auto* spec = find_spec(specs, name);
    if (spec == nullptr) return usage(fmt::format("{}: unknown option \"{}\"", command, name));
    if (!spec->takes_value) {
      if (eq != std::string::npos) return usage(fmt::format("{}: {} takes no value", command, name));
      w.options.emplace_back(name, std::string());
    } else if (eq != std::string::npos) {
      w.options.emplace_back(name, a.substr(eq + 1));
    } else if (i + 1 < args.size()) {
      w.options.emplace_back(name, args[++i]);
    } else {
      return usage(fmt::format("{}: {} needs a value", command, name));
    }
  }
  return w;
}

result<std::uint64_t> parse_count(std::string_view command, std::string_view what, std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return usage(fmt::format("{}: {} takes a non-negative integer, got \"{}\"", command, what, text));
  }
  return v;
}

result<std::uint64_t> parse_lease_id(std::string_view command, std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v == 0) {
    return usage(fmt::format("{}: a lease ID is a hexadecimal number above 0 (as lease grant prints it), got \"{}\"",
                             command, text));
  }
  return v;
}

result<std::string> parse_key(std::string_view command, byte_notation notation, std::string_view text) {
  auto key = bytes_in(notation, text);
  if (!key) return usage(fmt::format("--hex: KEY \"{}\" is not hexadecimal: two digits, 0-9 or a-f, a byte", text));
  if (key->empty()) return usage(fmt::format("{}: a KEY cannot be empty", command));
  return std::move(*key);
}

result<std::string> parse_value(byte_notation notation, std::string_view text) {
  auto value = bytes_in(notation, text);
  if (!value) return usage(fmt::format("--hex: VALUE \"{}\" is not hexadecimal: two digits, 0-9 or a-f, a byte", text));
  return std::move(*value);
}

result<get_args> parse_get(const std::vector<std::string>& args, byte_notation notation, op_source source) {
  // The last three only on the command line.
  static constexpr std::array<option_spec, 11> all{{
      {"--prefix"},
      {"--from-key"},
      {"--limit", true},
      {"--rev", true},
      {"--order", true},
      {"--keys-only"},
      {"--count-only"},
      {"--count"},  // the same as --count-only
      {"--print-value-only"},
      {"--raw"},
      {"--stale"},
  }};
  static constexpr std::size_t command_line_only = 3;
  const auto specs =
      source == op_source::command_line ? std::span(all) : std::span(all).first(all.size() - command_line_only);
  auto w = split_words("get", args, specs);
  if (!w) return w.failure();
  get_args g;
  range_words r;
  std::uint64_t limit = 0;
  std::uint64_t revision = 0;
  for (const auto& [name, value] : w->options) {
    if (name == "--prefix") {
      r.prefix = true;
    } else if (name == "--from-key") {
      r.from_key = true;
    } else if (name == "--limit" || name == "--rev") {
      auto n = parse_count("get", name, value);
      if (!n) return n.failure();
      (name == "--limit" ? limit : revision) = *n;
    } else if (name == "--order") {
      const auto order = lower(value);
      if (order != "ascend" && order != "descend") {
        return usage(fmt::format("get: --order takes ascend or descend, got \"{}\"", value));
      }
      if (order == "descend") g.op.flags |= op_descending;
    } else if (name == "--keys-only") {
      g.op.flags |= op_keys_only;
    } else if (name == "--count-only" || name == "--count") {
      g.op.flags |= op_count_only;
    } else if (name == "--print-value-only") {
      g.value_only = true;
    } else if (name == "--raw") {
      g.raw = true;
    } else if (name == "--stale") {
      g.stale = true;
    }
  }
  auto range = range_of("get", w->operands, r, notation);
  if (!range) return range.failure();
  const auto flags = g.op.flags;
  g.op = make_range(std::move(range->first), std::move(range->second), limit, revision);
  g.op.flags = flags;
  g.one_key = !r.prefix && !r.from_key && w->operands.size() == 1;
  if (g.raw && (!g.one_key || (flags & (op_keys_only | op_count_only)) != 0)) {
    return usage("get: --raw prints one value: not with END, --prefix, --from-key, --keys-only or --count-only");
  }
  return g;
}

result<watch_spec> parse_watch(const std::vector<std::string>& args, byte_notation notation) {
  static constexpr std::array<option_spec, 7> specs{{{"--prefix"},
                                                     {"--from-key"},
                                                     {"--rev", true},
                                                     {"--prev-kv"},
                                                     {"--no-put"},
                                                     {"--no-delete"},
                                                     {"--progress-notify"}}};
  auto w = split_words("watch", args, specs);
  if (!w) return w.failure();
  range_words r;
  watch_spec spec;
  for (const auto& [name, value] : w->options) {
    if (name == "--prefix") r.prefix = true;
    if (name == "--from-key") r.from_key = true;
    if (name == "--prev-kv") spec.prev_kv = true;
    if (name == "--no-put") spec.no_put = true;
    if (name == "--no-delete") spec.no_delete = true;
    if (name == "--progress-notify") spec.progress_notify = true;
    if (name == "--rev") {
      auto n = parse_count("watch", name, value);
      if (!n) return n.failure();
      spec.start_revision = *n;
    }
  }
  if (spec.no_put && spec.no_delete) return usage("watch: --no-put and --no-delete together would report nothing");
  auto range = range_of("watch", w->operands, r, notation);
  if (!range) return range.failure();
  spec.key = std::move(range->first);
  spec.end = std::move(range->second);
  return spec;
}

result<del_args> parse_del(const std::vector<std::string>& args, byte_notation notation) {
  static constexpr std::array<option_spec, 3> specs{{{"--prefix"}, {"--from-key"}, {"--prev-kv"}}};
  auto w = split_words("del", args, specs);
  if (!w) return w.failure();
  range_words r;
  bool prev_kv = false;
  for (const auto& [name, value] : w->options) {
    if (name == "--prefix") r.prefix = true;
    if (name == "--from-key") r.from_key = true;
    if (name == "--prev-kv") prev_kv = true;
  }
  auto range = range_of("del", w->operands, r, notation);
  if (!range) return range.failure();
  del_args d;
  d.op = make_delete_range(std::move(range->first), std::move(range->second), prev_kv);
  d.one_key = !r.prefix && !r.from_key && w->operands.size() == 1;
  return d;
}

result<kv::txn_op> parse_put(const std::vector<std::string>& args, byte_notation notation) {
  static constexpr std::array<option_spec, 3> specs{{{"--prev-kv"}, ttl_option, keep_ttl_option}};
  auto w = split_words("put", args, specs);
  if (!w) return w.failure();
  if (w->operands.size() != 2) return usage("put takes KEY VALUE");
  auto key = parse_key("put", notation, w->operands[0]);
  if (!key) return key.failure();
  auto value = parse_value(notation, w->operands[1]);
  if (!value) return value.failure();
  const bool prev_kv = std::any_of(w->options.begin(), w->options.end(),
                                   [](const auto& option) { return option.first == "--prev-kv"; });
  return with_ttl_options("put", w->options, make_put(std::move(*key), std::move(*value), prev_kv));
}

result<set_args> parse_set(const std::vector<std::string>& args, byte_notation notation) {
  static constexpr std::array<option_spec, 3> specs{{{"--lease", true}, ttl_option, keep_ttl_option}};
  auto w = split_words("set", args, specs);
  if (!w) return w.failure();
  if (w->operands.size() != 2) return usage("set takes KEY VALUE");
  std::uint64_t lease = 0;
  for (const auto& [name, value] : w->options) {
    if (name != "--lease") continue;
    auto id = parse_lease_id("set", value);
    if (!id) return id.failure();
    lease = *id;
  }
  auto key = parse_key("set", notation, w->operands[0]);
  if (!key) return key.failure();
  set_args s;
  s.from_input = w->operands[1] == "-";
  std::string value;
  if (!s.from_input) {
    auto v = parse_value(notation, w->operands[1]);
    if (!v) return v.failure();
    value = std::move(*v);
  }
  auto put = with_ttl_options("set", w->options, make_put(std::move(*key), std::move(value), false, lease));
  if (!put) return put.failure();
  s.op = std::move(*put);
  return s;
}

result<std::int64_t> parse_ttl_ms(std::string_view command, std::string_view what, std::string_view text) {
  constexpr std::int64_t ns_per_ms = 1'000'000;
  const auto too_short = [&] {
    return usage(fmt::format("{}: {} must be at least 1ms, got \"{}\"", command, what, text));
  };
  if (text.starts_with('-')) return too_short();
  auto d = parse_duration(text);
  if (!d) {
    return usage(fmt::format("{}: {} takes a duration such as 30s, 1500ms or 2m (a number then {}), got \"{}\"",
                             command, what, duration_unit_list(), text));
  }
  if (d->count() < ns_per_ms) return too_short();
  if (d->count() % ns_per_ms != 0) {
    return usage(fmt::format("{}: {} takes whole milliseconds, got \"{}\"", command, what, text));
  }
  const auto ms = d->count() / ns_per_ms;
  if (ms > max_ttl_ms) return usage(fmt::format("{}: {} is at most {}ms, got \"{}\"", command, what, max_ttl_ms, text));
  return ms;
}

result<kv::txn_op> parse_expire(const std::vector<std::string>& args, byte_notation notation) {
  auto w = split_words("expire", args, {});
  if (!w) return w.failure();
  if (w->operands.size() != 2) return usage("expire takes KEY DURATION");
  auto key = parse_key("expire", notation, w->operands[0]);
  if (!key) return key.failure();
  auto ms = parse_ttl_ms("expire", "DURATION", w->operands[1]);
  if (!ms) return ms.failure();
  return make_expire(std::move(*key), *ms);
}

result<kv::txn_op> parse_persist(const std::vector<std::string>& args, byte_notation notation) {
  auto w = split_words("persist", args, {});
  if (!w) return w.failure();
  auto key = one_key("persist", w->operands, notation);
  if (!key) return key.failure();
  return make_expire(std::move(*key), 0);
}

result<ttl_args> parse_ttl(const std::vector<std::string>& args, byte_notation notation, op_source source) {
  static constexpr std::array<option_spec, 1> command_line_specs{{{"--ms"}}};
  auto w = split_words("ttl", args,
                       source == op_source::command_line ? std::span<const option_spec>(command_line_specs)
                                                         : std::span<const option_spec>());
  if (!w) return w.failure();
  auto key = one_key("ttl", w->operands, notation);
  if (!key) return key.failure();
  ttl_args t;
  t.op = make_ttl(std::move(*key));
  if (!w->options.empty()) t.unit = ttl_unit::milliseconds;
  return t;
}

result<kv::txn_op> parse_incr(const std::vector<std::string>& args, byte_notation notation) {
  auto w = split_words("incr", args, {});
  if (!w) return w.failure();
  if (w->operands.empty() || w->operands.size() > 2) return usage("incr takes KEY [BY]");
  auto key = parse_key("incr", notation, w->operands[0]);
  if (!key) return key.failure();
  std::int64_t by = 1;
  if (w->operands.size() == 2) {
    auto n = parse_int64(w->operands[1]);
    if (!n) return usage(fmt::format("incr: BY must be a decimal 64-bit integer, got \"{}\"", w->operands[1]));
    by = *n;
  }
  return make_incr(std::move(*key), by);
}

}  // namespace kv::kvctl

// The simple output: etcdctl's lines where etcdctl has the command (get, del, txn), kvctl's own
// otherwise. Keys and values as they are, or in hexadecimal with --hex.

#include "apps/kvctl/printer.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kv::kvctl {

namespace {

std::string status_value(const protocol::status_field& f) {
  if (const auto* n = std::get_if<std::uint64_t>(&f.value)) return std::to_string(*n);
  return std::get<std::string>(f.value);
}

class simple_printer final : public printer {
 public:
  explicit simple_printer(byte_notation notation) : notation_(notation) {}

  std::string written(const write_ack& ack) const override { return fmt::format("OK (revision {})\n", ack.revision); }

  std::string bulk_written(const write_ack& ack, std::size_t pairs) const override {
    return fmt::format("OK (revision {}, {} pairs)\n", ack.revision, pairs);
  }

  std::string range(const get_args& g, const client::range_reply& r) const override {
    if (g.one_key && (g.op.flags & (op_keys_only | op_count_only)) == 0) {
      std::string out;
      for (const auto& kv : r.kvs) out += g.raw ? kv.value : line(kv.value);
      return out;
    }
    if (g.value_only) {
      std::string out;
      for (const auto& kv : r.kvs) out += line(kv.value);
      return out;
    }
    return kvs_of(g.op.flags, r.kvs, r.count);
  }

  std::string deleted(const client::delete_reply& d) const override { return deleted(d.deleted, d.prev); }

  std::string txn(const kv::txn& t, const txn_reply& r) const override {
    std::string out = r.succeeded ? "SUCCESS\n" : "FAILURE\n";
    const auto& ops = r.succeeded ? t.then_ops : t.else_ops;
    for (std::size_t i = 0; i < r.results.size() && i < ops.size(); ++i) {
      const auto& result = r.results[i];
      out += '\n';
      switch (result.type) {
        case txn_op_type::put:
          out += "OK\n" + pairs(result.kvs);
          break;
        case txn_op_type::range:
          out += kvs_of(ops[i].flags, result.kvs, result.count);
          break;
        case txn_op_type::delete_range:
          out += deleted(result.count, result.kvs);
          break;
        case txn_op_type::incr:
        case txn_op_type::expire:
        case txn_op_type::ttl:
          out += fmt::format("{}\n", result.value);
          break;
      }
    }
    return out;
  }

  std::string cas(const txn_reply& r) const override {
    if (r.succeeded) return fmt::format("OK (revision {})\n", r.revision);
    std::string out;
    for (const auto& result : r.results)
      for (const auto& kv : result.kvs) out += line(kv.value);
    return out;
  }

  std::string incr(const txn_reply& r) const override { return fmt::format("{}\n", r.results.at(0).value); }

  std::string expired(const txn_reply& r) const override { return fmt::format("{}\n", r.results.at(0).value); }

  std::string ttl_left(const txn_reply& r, ttl_unit unit) const override {
    const auto ms = r.results.at(0).value;
    return fmt::format("{}\n", unit == ttl_unit::milliseconds ? ms : ttl_seconds(ms));
  }

  std::string mget(const txn_reply& r) const override {
    std::string out;
    for (const auto& result : r.results) out += result.kvs.empty() ? "\n" : line(result.kvs.front().value);
    return out;
  }

  std::string compacted(std::uint64_t revision, std::uint64_t index) const override {
    return fmt::format("compacted revision {} (index {})\n", revision, index);
  }

  std::string pong(std::string_view endpoint, std::chrono::microseconds took) const override {
    return fmt::format("PONG from {} in {:.3f} ms\n", endpoint, static_cast<double>(took.count()) / 1000.0);
  }

  std::string status(const node_status& s) const override {
    std::string out;
    for (const auto& f : s.fields) out += fmt::format("{}: {}\n", f.name, status_value(f));
    return out;
  }

  std::string cluster_status(const std::vector<endpoint_status>& nodes) const override {
    std::uint64_t newest_commit = 0;
    for (const auto& n : nodes)
      if (n.status) newest_commit = std::max(newest_commit, n.status->number("commit_index"));
    auto out = fmt::format("{:<22} {:>4} {:>8} {:<13} {:>6} {:>6} {:>12} {:>12} {:>8} {:<6} {:>12} {:>12}\n",
                           "ENDPOINT", "ID", "PID", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAG", "ALARM",
                           "REVISION", "COMPACTED");
    for (const auto& n : nodes) {
      if (!n.status) {
        out += fmt::format("{:<22} unreachable: {}\n", n.endpoint, n.status.message());
        continue;
      }
      const auto& s = *n.status;
      const auto alarm = s.text("alarm");
      out += fmt::format("{:<22} {:>4} {:>8} {:<13} {:>6} {:>6} {:>12} {:>12} {:>8} {:<6} {:>12} {:>12}\n",
                         n.endpoint, s.number("node_id"), s.number("pid"), s.text("role"), s.number("term"),
                         s.number("leader_id"), s.number("commit_index"), s.number("applied_index"),
                         newest_commit - std::min(newest_commit, s.number("applied_index")),
                         alarm.empty() ? "none" : alarm, s.number("revision"), s.number("compacted_revision"));
    }
    return out;
  }

  std::string hits(const search::search_answer& a) const override {
    std::string out;
    for (const auto& h : a.hits) out += fmt::format("{}\t{:.4f}\n", printed(notation_, h.key), h.score);
    return out;
  }

 private:
  std::string line(std::string_view bytes) const { return printed(notation_, bytes) + '\n'; }

  // Each key then its value, a line each.
  std::string pairs(const std::vector<kv_version>& kvs) const {
    std::string out;
    for (const auto& kv : kvs) out += line(kv.key) + line(kv.value);
    return out;
  }

  // A range's keys as etcdctl prints them: the count alone with --count-only, keys alone with
  // --keys-only, else pairs.
  std::string kvs_of(std::uint8_t flags, const std::vector<kv_version>& kvs, std::uint64_t count) const {
    if ((flags & op_count_only) != 0) return fmt::format("{}\n", count);
    if ((flags & op_keys_only) == 0) return pairs(kvs);
    std::string out;
    for (const auto& kv : kvs) out += line(kv.key);
    return out;
  }

  std::string deleted(std::uint64_t count, const std::vector<kv_version>& prev) const {
    return fmt::format("{}\n", count) + pairs(prev);
  }

  std::string lease_granted(const protocol::lease_granted& g) const override {
    return fmt::format("lease {:016x} granted with TTL({}s)\n", g.lease, g.ttl_seconds);
  }
  std::string lease_revoked(std::uint64_t id, const write_ack&) const override {
    return fmt::format("lease {:016x} revoked\n", id);
  }
  std::string lease_kept_alive(std::uint64_t id, std::int64_t ttl) const override {
    return fmt::format("lease {:016x} keepalived with TTL({})\n", id, ttl);
  }
  std::string lease_time_to_live(std::uint64_t id, const protocol::lease_time_left& t, bool keys) const override {
    auto out = fmt::format("lease {:016x} granted with TTL({}s), remaining({}s)", id, t.ttl_seconds,
                           (t.remaining_ms + 999) / 1000);
    if (keys) {
      std::string list;
      for (const auto& k : t.keys) list += (list.empty() ? "" : " ") + printed(notation_, k);
      out += ", attached keys([" + list + "])";
    }
    return out + "\n";
  }
  std::string lease_list(const std::vector<std::uint64_t>& ids) const override {
    auto out = fmt::format("found {} leases\n", ids.size());
    for (auto id : ids) out += fmt::format("{:016x}\n", id);
    return out;
  }

  // etcdctl's watch lines: the event's type, then the version it replaced (--prev-kv), then the
  // key and its value (empty for a delete).
  std::string watched(const watch_batch& b) const override {
    std::string out;
    for (const auto& e : b.events) {
      out += e.deleted ? "DELETE\n" : "PUT\n";
      if (e.prev) out += line(e.prev->key) + line(e.prev->value);
      out += line(e.kv.key) + line(e.kv.value);
    }
    return out;
  }

  byte_notation notation_;
};

}  // namespace

std::unique_ptr<printer> make_simple_printer(byte_notation notation) {
  return std::make_unique<simple_printer>(notation);
}

}  // namespace kv::kvctl

// The JSON output (-w json): one object a line, shaped after etcd's JSON responses (see
// printer.hpp). Built with nlohmann::ordered_json, so members keep the order written here.

#include "apps/kvctl/printer.hpp"

#include <nlohmann/json.hpp>

namespace kv::kvctl {

namespace {

using json = nlohmann::ordered_json;

json header_revision(std::uint64_t revision) { return json{{"revision", revision}}; }
json header_index(std::uint64_t index) { return json{{"index", index}}; }
json header_write(const write_ack& ack) { return json{{"revision", ack.revision}, {"index", ack.index}}; }

json kv_json(const kv_version& kv) {
  return json{{"key", to_base64(kv.key)},
              {"create_revision", kv.create_revision},
              {"mod_revision", kv.mod_revision},
              {"version", kv.version},
              {"value", to_base64(kv.value)}};
}

json kvs_json(const std::vector<kv_version>& kvs) {
  auto out = json::array();
  for (const auto& kv : kvs) out.push_back(kv_json(kv));
  return out;
}

// One op's result, as etcd's ResponseOp: an object with one member naming its type.
json response_json(const op_result& r) {
  switch (r.type) {
    case txn_op_type::put: {
      json put = json::object();
      if (!r.kvs.empty()) put["prev_kv"] = kv_json(r.kvs.front());
      return json{{"response_put", put}};
    }
    case txn_op_type::range:
      return json{{"response_range", json{{"kvs", kvs_json(r.kvs)}, {"count", r.count}, {"more", r.more}}}};
    case txn_op_type::delete_range:
      return json{{"response_delete_range", json{{"deleted", r.count}, {"prev_kvs", kvs_json(r.kvs)}}}};
    case txn_op_type::incr:
      return json{{"response_incr", json{{"value", r.value}}}};
    case txn_op_type::expire:
      return json{{"response_expire", json{{"changed", r.value != 0}}}};
    case txn_op_type::ttl:
      return json{{"response_ttl", json{{"ttl_ms", r.value}}}};
  }
  return json::object();
}

json field_json(const protocol::status_field& f) {
  if (const auto* n = std::get_if<std::uint64_t>(&f.value)) return *n;
  return std::get<std::string>(f.value);
}

json status_json(const node_status& s) {
  json out = json::object();
  for (const auto& f : s.fields) out[f.name] = field_json(f);
  return out;
}

// Invalid UTF-8 (in a server's message, say) is replaced rather than refused.
std::string line(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + '\n'; }

class json_printer final : public printer {
 public:
  std::string written(const write_ack& ack) const override { return line(json{{"header", header_write(ack)}}); }

  std::string bulk_written(const write_ack& ack, std::size_t pairs) const override {
    return line(json{{"header", header_write(ack)}, {"pairs", pairs}});
  }

  std::string range(const get_args&, const client::range_reply& r) const override {
    return line(
        json{{"header", header_revision(r.revision)}, {"kvs", kvs_json(r.kvs)}, {"count", r.count}, {"more", r.more}});
  }

  std::string deleted(const client::delete_reply& d) const override {
    return line(json{{"header", header_revision(d.revision)}, {"deleted", d.deleted}, {"prev_kvs", kvs_json(d.prev)}});
  }

  std::string txn(const kv::txn&, const txn_reply& r) const override {
    auto responses = json::array();
    for (const auto& result : r.results) responses.push_back(response_json(result));
    return line(json{{"header", header_revision(r.revision)}, {"succeeded", r.succeeded}, {"responses", responses}});
  }

  std::string cas(const txn_reply& r) const override {
    auto current = json::array();
    if (!r.succeeded)
      for (const auto& result : r.results)
        for (const auto& kv : result.kvs) current.push_back(kv_json(kv));
    return line(json{{"header", header_revision(r.revision)}, {"succeeded", r.succeeded}, {"kvs", current}});
  }

  std::string incr(const txn_reply& r) const override {
    return line(json{{"header", header_revision(r.revision)}, {"value", r.results.at(0).value}});
  }

  std::string expired(const txn_reply& r) const override {
    return line(json{{"header", header_revision(r.revision)}, {"changed", r.results.at(0).value != 0}});
  }

  std::string ttl_left(const txn_reply& r, ttl_unit) const override {
    const auto ms = r.results.at(0).value;
    return line(json{{"header", header_revision(r.revision)}, {"ttl", ttl_seconds(ms)}, {"ttl_ms", ms}});
  }

  std::string mget(const txn_reply& r) const override {
    auto kvs = json::array();
    for (const auto& result : r.results)
      kvs.push_back(result.kvs.empty() ? json(nullptr) : kv_json(result.kvs.front()));
    return line(json{{"header", header_revision(r.revision)}, {"kvs", kvs}});
  }

  std::string compacted(std::uint64_t revision, std::uint64_t index) const override {
    return line(json{{"header", header_index(index)}, {"compacted_revision", revision}});
  }

  std::string pong(std::string_view endpoint, std::chrono::microseconds took) const override {
    return line(json{{"endpoint", endpoint}, {"took_us", took.count()}});
  }

  std::string status(const node_status& s) const override { return line(status_json(s)); }

  std::string cluster_status(const std::vector<endpoint_status>& nodes) const override {
    auto out = json::array();
    for (const auto& n : nodes) {
      json node{{"endpoint", n.endpoint}};
      if (n.status) {
        node.update(status_json(*n.status));
      } else {
        node["error"] = n.status.message();
      }
      out.push_back(std::move(node));
    }
    return line(json{{"nodes", out}});
  }

  std::string lease_granted(const protocol::lease_granted& g) const override {
    return line(json{{"ID", g.lease}, {"TTL", g.ttl_seconds}});
  }
  std::string lease_revoked(std::uint64_t id, const write_ack& ack) const override {
    return line(json{{"header", header_write(ack)}, {"ID", id}});
  }
  std::string lease_kept_alive(std::uint64_t id, std::int64_t ttl) const override {
    return line(json{{"ID", id}, {"TTL", ttl}});
  }
  std::string lease_time_to_live(std::uint64_t id, const protocol::lease_time_left& t, bool keys) const override {
    json out{{"ID", id}, {"TTL", (t.remaining_ms + 999) / 1000}, {"grantedTTL", t.ttl_seconds},
             {"remaining_ms", t.remaining_ms}};
    if (keys) {
      auto list = json::array();
      for (const auto& k : t.keys) list.push_back(to_base64(k));
      out["keys"] = list;
    }
    return line(out);
  }
  std::string lease_list(const std::vector<std::uint64_t>& ids) const override {
    auto leases = json::array();
    for (auto id : ids) leases.push_back(json{{"ID", id}});
    return line(json{{"leases", leases}});
  }

  std::string watched(const watch_batch& b) const override {
    auto events = json::array();
    for (const auto& e : b.events) {
      json event{{"type", e.deleted ? "DELETE" : "PUT"}, {"kv", kv_json(e.kv)}};
      if (e.prev) event["prev_kv"] = kv_json(*e.prev);
      events.push_back(std::move(event));
    }
    json out{{"header", header_revision(b.revision)}, {"events", events}};
    if (b.events.empty()) out["progress_notify"] = true;
    return line(out);
  }

  std::string hits(const search::search_answer& a) const override {
    auto hits = json::array();
    for (const auto& h : a.hits) hits.push_back(json{{"key", to_base64(h.key)}, {"score", h.score}});
    return line(json{{"applied_index", a.applied_index}, {"total", a.total}, {"hits", hits}});
  }
};

}  // namespace

std::unique_ptr<printer> make_json_printer() { return std::make_unique<json_printer>(); }

}  // namespace kv::kvctl

// kvctl's printers: etcdctl's simple lines, and JSON with base64 keys and values.

#include "apps/kvctl/printer.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

using namespace kv::kvctl;

namespace {

kv::kv_version version_of(std::string key, std::string value, std::uint64_t mod) {
  kv::kv_version v;
  v.key = std::move(key);
  v.value = std::move(value);
  v.create_revision = 2;
  v.mod_revision = mod;
  v.version = 1;
  return v;
}

kv::client::range_reply two_keys() {
  kv::client::range_reply r;
  r.revision = 9;
  r.kvs = {version_of("a", "1", 3), version_of("b", std::string("\0\xff", 2), 4)};
  r.count = 3;
  r.more = true;
  return r;
}

get_args get_with(bool one_key, std::uint8_t flags) {
  get_args g;
  g.one_key = one_key;
  g.op.flags = flags;
  return g;
}

// A reply to a transaction of one expire or ttl op answering `value`.
kv::txn_reply one_value(kv::txn_op_type type, std::int64_t value) {
  kv::op_result result;
  result.type = type;
  result.value = value;
  kv::txn_reply r;
  r.succeeded = true;
  r.revision = 6;
  r.results = {result};
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kvctl_printer)

BOOST_AUTO_TEST_CASE(simple_range_as_etcdctl) {
  auto p = make_simple_printer(byte_notation::text);
  const auto r = two_keys();
  BOOST_TEST(p->range(get_with(false, 0), r) == std::string("a\n1\nb\n\0\xff\n", 9));
  BOOST_TEST(p->range(get_with(false, kv::op_keys_only), r) == "a\nb\n");
  BOOST_TEST(p->range(get_with(false, kv::op_count_only), r) == "3\n");
  auto values = get_with(false, 0);
  values.value_only = true;
  BOOST_TEST(p->range(values, r) == std::string("1\n\0\xff\n", 5));
  auto hex = make_simple_printer(byte_notation::hex);
  BOOST_TEST(hex->range(get_with(false, 0), r) == "61\n31\n62\n00ff\n");

  kv::client::range_reply one;
  one.kvs = {version_of("k", "v", 3)};
  one.count = 1;
  BOOST_TEST(p->range(get_with(true, 0), one) == "v\n");  // kvctl's get KEY: the value alone
  auto raw = get_with(true, 0);
  raw.raw = true;
  BOOST_TEST(p->range(raw, one) == "v");
  BOOST_TEST(p->range(get_with(true, 0), kv::client::range_reply{}).empty());
}

BOOST_AUTO_TEST_CASE(simple_txn_as_etcdctl) {
  kv::txn t;
  t.then_ops = {kv::make_put("k", "v"), kv::make_range("a", "c"), kv::make_delete_range("a", "c", true),
                kv::make_incr("n", 2)};
  t.then_ops[1].flags = kv::op_keys_only;
  kv::txn_reply r;
  r.succeeded = true;
  kv::op_result put;
  put.type = kv::txn_op_type::put;
  kv::op_result range;
  range.type = kv::txn_op_type::range;
  range.kvs = {version_of("a", "1", 3)};
  range.count = 1;
  kv::op_result del;
  del.type = kv::txn_op_type::delete_range;
  del.count = 1;
  del.kvs = {version_of("a", "1", 3)};
  kv::op_result incr;
  incr.type = kv::txn_op_type::incr;
  incr.value = 7;
  r.results = {put, range, del, incr};
  auto p = make_simple_printer(byte_notation::text);
  BOOST_TEST(p->txn(t, r) == "SUCCESS\n\nOK\n\na\n\n1\na\n1\n\n7\n");
  r.succeeded = false;
  r.results.clear();
  BOOST_TEST(p->txn(t, r) == "FAILURE\n");
}

BOOST_AUTO_TEST_CASE(json_is_etcd_shaped_with_base64_bytes) {
  auto p = make_json_printer();
  const auto text = p->range(get_with(false, 0), two_keys());
  BOOST_TEST(text.ends_with("}\n"));
  BOOST_TEST(std::count(text.begin(), text.end(), '\n') == 1);
  auto j = nlohmann::json::parse(text);
  BOOST_TEST(j["header"]["revision"].get<std::uint64_t>() == 9u);
  BOOST_TEST(j["count"].get<std::uint64_t>() == 3u);
  BOOST_TEST(j["more"].get<bool>());
  BOOST_TEST_REQUIRE(j["kvs"].size() == 2u);
  BOOST_TEST(j["kvs"][0]["key"].get<std::string>() == "YQ==");
  BOOST_TEST(j["kvs"][0]["value"].get<std::string>() == "MQ==");
  BOOST_TEST(j["kvs"][1]["value"].get<std::string>() == "AP8=");
  BOOST_TEST(j["kvs"][1]["mod_revision"].get<std::uint64_t>() == 4u);
  BOOST_TEST(j["kvs"][1]["create_revision"].get<std::uint64_t>() == 2u);
  BOOST_TEST(j["kvs"][1]["version"].get<std::uint64_t>() == 1u);

  kv::write_ack ack;
  ack.index = 12;
  ack.revision = 7;
  auto written = nlohmann::json::parse(p->written(ack));
  BOOST_TEST(written["header"]["revision"].get<std::uint64_t>() == 7u);
  BOOST_TEST(written["header"]["index"].get<std::uint64_t>() == 12u);
  auto bulk = nlohmann::json::parse(p->bulk_written(ack, 3));
  BOOST_TEST(bulk["header"]["revision"].get<std::uint64_t>() == 7u);
  BOOST_TEST(bulk["header"]["index"].get<std::uint64_t>() == 12u);
  BOOST_TEST(bulk["pairs"].get<std::uint64_t>() == 3u);

  kv::txn_reply mget;
  mget.revision = 5;
  kv::op_result found;
  found.kvs = {version_of("k", "", 3)};
  mget.results = {found, kv::op_result{}};
  auto m = nlohmann::json::parse(p->mget(mget));
  BOOST_TEST(m["kvs"][0]["value"].get<std::string>().empty());
  BOOST_TEST(m["kvs"][1].is_null());
}

BOOST_AUTO_TEST_CASE(ttls_as_redis_prints_them) {
  auto simple = make_simple_printer(byte_notation::text);
  BOOST_TEST(simple->expired(one_value(kv::txn_op_type::expire, 1)) == "1\n");
  BOOST_TEST(simple->expired(one_value(kv::txn_op_type::expire, 0)) == "0\n");
  const auto left = one_value(kv::txn_op_type::ttl, 29'500);
  BOOST_TEST(simple->ttl_left(left, ttl_unit::seconds) == "30\n");  // rounded to the nearest, as Redis
  BOOST_TEST(simple->ttl_left(one_value(kv::txn_op_type::ttl, 29'499), ttl_unit::seconds) == "29\n");
  BOOST_TEST(simple->ttl_left(left, ttl_unit::milliseconds) == "29500\n");
  BOOST_TEST(simple->ttl_left(one_value(kv::txn_op_type::ttl, -1), ttl_unit::seconds) == "-1\n");
  BOOST_TEST(simple->ttl_left(one_value(kv::txn_op_type::ttl, -2), ttl_unit::seconds) == "-2\n");
  BOOST_TEST(simple->ttl_left(one_value(kv::txn_op_type::ttl, -2), ttl_unit::milliseconds) == "-2\n");

  auto json = make_json_printer();
  auto changed = nlohmann::json::parse(json->expired(one_value(kv::txn_op_type::expire, 1)));
  BOOST_TEST(changed["header"]["revision"].get<std::uint64_t>() == 6u);
  BOOST_TEST(changed["changed"].get<bool>());
  BOOST_TEST(!nlohmann::json::parse(json->expired(one_value(kv::txn_op_type::expire, 0)))["changed"].get<bool>());
  auto ttl = nlohmann::json::parse(json->ttl_left(left, ttl_unit::seconds));
  BOOST_TEST(ttl["header"]["revision"].get<std::uint64_t>() == 6u);
  BOOST_TEST(ttl["ttl"].get<std::int64_t>() == 30);
  BOOST_TEST(ttl["ttl_ms"].get<std::int64_t>() == 29'500);
  auto none = nlohmann::json::parse(json->ttl_left(one_value(kv::txn_op_type::ttl, -2), ttl_unit::milliseconds));
  BOOST_TEST(none["ttl"].get<std::int64_t>() == -2);
  BOOST_TEST(none["ttl_ms"].get<std::int64_t>() == -2);
}

BOOST_AUTO_TEST_CASE(simple_writes_name_their_revision) {
  auto p = make_simple_printer(byte_notation::text);
  kv::write_ack ack;
  ack.index = 12;
  ack.revision = 7;
  BOOST_TEST(p->written(ack) == "OK (revision 7)\n");
  BOOST_TEST(p->bulk_written(ack, 3) == "OK (revision 7, 3 pairs)\n");
}

BOOST_AUTO_TEST_CASE(cluster_status_shows_the_revision_and_the_compacted_revision) {
  kv::node_status s;
  s.fields = {{"node_id", std::uint64_t{2}},     {"role", std::string("leader")},
              {"commit_index", std::uint64_t{40}}, {"applied_index", std::uint64_t{40}},
              {"revision", std::uint64_t{31}},     {"compacted_revision", std::uint64_t{17}}};
  std::vector<endpoint_status> nodes;
  nodes.push_back({"127.0.0.1:7379", s});

  const auto table = make_simple_printer(byte_notation::text)->cluster_status(nodes);
  std::istringstream lines(table);
  std::string header;
  std::string row;
  std::getline(lines, header);
  std::getline(lines, row);
  auto words = [](const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  };
  const auto names = words(header);
  const auto values = words(row);
  BOOST_REQUIRE(names.size() == values.size());
  BOOST_REQUIRE(names.size() >= 2u);
  BOOST_TEST(names[names.size() - 2] == "REVISION");
  BOOST_TEST(names.back() == "COMPACTED");
  BOOST_TEST(values[values.size() - 2] == "31");
  BOOST_TEST(values.back() == "17");

  auto j = nlohmann::json::parse(make_json_printer()->cluster_status(nodes));
  BOOST_TEST(j["nodes"][0]["revision"].get<std::uint64_t>() == 31u);
  BOOST_TEST(j["nodes"][0]["compacted_revision"].get<std::uint64_t>() == 17u);
}

BOOST_AUTO_TEST_CASE(base64_as_rfc_4648) {
  BOOST_TEST(to_base64("").empty());
  BOOST_TEST(to_base64("f") == "Zg==");
  BOOST_TEST(to_base64("fo") == "Zm8=");
  BOOST_TEST(to_base64("foo") == "Zm9v");
  BOOST_TEST(to_base64("foobar") == "Zm9vYmFy");
  BOOST_TEST(to_base64("\xff\xfe\xfd") == "//79");
}

BOOST_AUTO_TEST_SUITE_END()

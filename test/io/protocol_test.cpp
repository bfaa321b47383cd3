#include "core/bytes.hpp"
#include "io/protocol.hpp"

#include <boost/test/unit_test.hpp>

using namespace kv;
using namespace kv::protocol;

BOOST_AUTO_TEST_SUITE(wire_protocol)

BOOST_AUTO_TEST_CASE(request_frames_round_trip) {
  std::string buf;
  request_set(buf, 42, "key", "value");
  request_get(buf, 43, "key", flag_stale_read);
  auto first = parse_frame(buf, 1024);
  BOOST_REQUIRE((first.status == parse_status::ok));
  BOOST_TEST(first.f.version == version);
  BOOST_TEST(first.f.code == static_cast<std::uint8_t>(op::set));
  BOOST_TEST(first.f.id == 42u);
  auto set = parse_set(first.f.body);
  BOOST_REQUIRE(set.has_value());
  BOOST_TEST(set->key == "key");
  BOOST_TEST(set->value == "value");
  auto second = parse_frame(std::string_view(buf).substr(first.f.size), 1024);
  BOOST_REQUIRE((second.status == parse_status::ok));
  BOOST_TEST(second.f.code == static_cast<std::uint8_t>(op::get));
  BOOST_TEST(second.f.flags == flag_stale_read);
  BOOST_TEST(second.f.body == "key");
}

BOOST_AUTO_TEST_CASE(writes_in_a_session_carry_their_place) {
  std::string buf;
  session_ref ref;
  ref.session = 7;
  ref.seq = 3;
  ref.first_unacked = 2;
  request_set(buf, 1, "key", "value", &ref);
  auto r = parse_frame(buf, 1024);
  BOOST_REQUIRE((r.status == parse_status::ok));
  BOOST_TEST((r.f.flags & flag_session) != 0);
  auto body = r.f.body;
  auto got = take_session_prefix(body);
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(got->session == 7u);
  BOOST_TEST(got->seq == 3u);
  BOOST_TEST(got->first_unacked == 2u);
  auto set = parse_set(body);
  BOOST_REQUIRE(set.has_value());
  BOOST_TEST(set->key == "key");
  BOOST_TEST(set->value == "value");
  // A prefix that is cut short, or names session 0, is refused.
  std::string_view short_body = r.f.body.substr(0, 10);
  BOOST_TEST(!take_session_prefix(short_body).has_value());
  std::string zero(session_prefix_bytes, '\0');
  std::string_view zero_view = zero;
  BOOST_TEST(!take_session_prefix(zero_view).has_value());
  BOOST_TEST(is_known(op::open_session));
  BOOST_TEST((to_status(make_error_code(errc::session_expired)) == status::session_expired));
  BOOST_TEST((to_errc(status::session_expired) == errc::session_expired));
}

BOOST_AUTO_TEST_CASE(every_prefix_is_incomplete) {
  std::string buf;
  request_set(buf, 1, "k", "v");
  for (std::size_t cut = 0; cut < buf.size(); ++cut) {
    auto r = parse_frame(std::string_view(buf).substr(0, cut), 1024);
    BOOST_TEST((r.status == parse_status::incomplete), "cut " << cut);
    if (cut >= 4) BOOST_TEST(r.declared == buf.size() - 4);
  }
}

BOOST_AUTO_TEST_CASE(oversize_and_undersize_lengths) {
  std::string buf(4, '\0');
  put_fixed<std::uint32_t>(buf.data(), 5000);
  BOOST_TEST((parse_frame(buf, 4096).status == parse_status::too_large));  // from the prefix alone
  put_fixed<std::uint32_t>(buf.data(), 3);
  BOOST_TEST((parse_frame(buf, 4096).status == parse_status::malformed));
}

BOOST_AUTO_TEST_CASE(bulk_set_body) {
  std::vector<std::pair<std::string, std::string>> pairs{{"a", "1"}, {"b", ""}};
  std::string buf;
  request_bulk_set(buf, 7, pairs);
  auto r = parse_frame(buf, 1024);
  BOOST_REQUIRE((r.status == parse_status::ok));
  BOOST_TEST(*parse_bulk_set(r.f.body) == 2u);
  BOOST_TEST(!parse_bulk_set(r.f.body.substr(0, r.f.body.size() - 1)).has_value());
  BOOST_TEST(!parse_bulk_set("").has_value());
}

BOOST_AUTO_TEST_CASE(responses) {
  std::string buf;
  respond_index(buf, 1, 99);
  respond_error(buf, 2, status::not_leader, "go elsewhere", "10.0.0.2:7379");
  auto a = parse_frame(buf, 1024);
  BOOST_TEST(*parse_index(a.f.body) == 99u);
  auto b = parse_frame(std::string_view(buf).substr(a.f.size), 1024);
  BOOST_TEST(b.f.code == static_cast<std::uint8_t>(status::not_leader));
  auto e = parse_error(b.f.body);
  BOOST_TEST(e.message == "go elsewhere");
  BOOST_TEST(e.leader == "10.0.0.2:7379");
}

BOOST_AUTO_TEST_CASE(status_fields_round_trip) {
  std::vector<status_field> fields{{"node_id", std::uint64_t(3)}, {"role", std::string("leader")}};
  std::string body;
  append_status_fields(body, fields);
  auto parsed = parse_status_fields(body);
  BOOST_REQUIRE(parsed.has_value());
  BOOST_REQUIRE(parsed->size() == 2u);
  BOOST_TEST(std::get<std::uint64_t>((*parsed)[0].value) == 3u);
  BOOST_TEST(std::get<std::string>((*parsed)[1].value) == "leader");
  BOOST_TEST(!parse_status_fields(body.substr(0, body.size() - 1)).has_value());
}

BOOST_AUTO_TEST_CASE(status_codes_map_both_ways) {
  for (auto s : {status::ok, status::not_found, status::bad_request, status::too_large, status::not_leader,
                 status::unavailable, status::internal, status::timed_out}) {
    BOOST_TEST((to_status(make_error_code(to_errc(s))) == s));
  }
  BOOST_TEST((to_status(make_error_code(errc::corruption)) == status::internal));
}

BOOST_AUTO_TEST_SUITE_END()

#include "core/base/bytes.hpp"
#include "io/protocol/protocol.hpp"

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
  auto bulk = parse_bulk_set(r.f.body);
  BOOST_REQUIRE(bulk.has_value());
  BOOST_TEST(bulk->count == 2u);
  BOOST_TEST(bulk->pairs == r.f.body.substr(sizeof(std::uint32_t)));
  BOOST_TEST(!parse_bulk_set(r.f.body.substr(0, r.f.body.size() - 1)).has_value());
  BOOST_TEST(!parse_bulk_set("").has_value());
}

BOOST_AUTO_TEST_CASE(peek_id_reads_the_header_only) {
  std::string buf;
  request_get(buf, 42, "key");
  BOOST_TEST(*peek_id(std::string_view(buf).substr(0, length_bytes + header_bytes)) == 42u);
  BOOST_TEST(!peek_id(std::string_view(buf).substr(0, length_bytes + header_bytes - 1)).has_value());
}

BOOST_AUTO_TEST_CASE(a_write_answers_its_index_then_its_revision) {
  std::string buf;
  respond_write(buf, 3, {99, 41});
  auto a = parse_frame(buf, 1024);
  BOOST_REQUIRE((a.status == parse_status::ok));
  BOOST_TEST(a.f.id == 3u);
  BOOST_TEST(a.f.code == static_cast<std::uint8_t>(status::ok));
  BOOST_TEST(a.f.body.size() == 16u);
  auto reply = parse_write_reply(a.f.body);
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->index == 99u);
  BOOST_TEST(reply->revision == 41u);
  BOOST_TEST(*parse_index(a.f.body) == 99u);  // the index still leads
  // Exactly 16 bytes: neither a lone index nor a longer body is a write's answer.
  BOOST_TEST(!parse_write_reply(a.f.body.substr(0, 8)).has_value());
  BOOST_TEST(!parse_write_reply(std::string(a.f.body) + "x").has_value());
  BOOST_TEST(!parse_index(a.f.body.substr(0, 12)).has_value());
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

BOOST_AUTO_TEST_CASE(search_requests_round_trip) {
  search::text_query q;
  q.mode = search::match_mode::phrase;
  q.terms = {"quick brown", "fo*", std::string("\0x", 2)};
  q.limit = 7;
  q.offset = 3;
  q.key_prefix = "doc/";
  std::string buf;
  request_search(buf, 9, q, 1234, flag_stale_read);
  auto f = parse_frame(buf, 1024);
  BOOST_REQUIRE((f.status == parse_status::ok));
  BOOST_TEST(f.f.code == static_cast<std::uint8_t>(op::search));
  BOOST_TEST(f.f.flags == flag_stale_read);
  auto r = parse_search(f.f.body);
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST((r->query.mode == search::match_mode::phrase));
  BOOST_TEST(r->query.terms == q.terms);
  BOOST_TEST(r->query.limit == 7u);
  BOOST_TEST(r->query.offset == 3u);
  BOOST_TEST(r->query.key_prefix == "doc/");
  BOOST_TEST(r->min_index == 1234u);
  // Every truncation of the body, an unknown mode and trailing bytes are malformed.
  const std::string body(f.f.body);
  for (std::size_t n = 0; n < body.size(); ++n) BOOST_TEST(!parse_search(body.substr(0, n)).has_value(), n);
  auto bad_mode = body;
  bad_mode[0] = 3;
  BOOST_TEST(!parse_search(bad_mode).has_value());
  BOOST_TEST(!parse_search(body + "x").has_value());

  search::similar_query s;
  s.text = "ünïcode text";
  s.k = 5;
  s.threshold = 0.25;
  buf.clear();
  request_similar(buf, 10, s, 99);
  auto g = parse_frame(buf, 1024);
  BOOST_REQUIRE((g.status == parse_status::ok));
  BOOST_TEST(g.f.code == static_cast<std::uint8_t>(op::similar));
  auto t = parse_similar(g.f.body);
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(t->query.text == s.text);
  BOOST_TEST(t->query.k == 5u);
  BOOST_TEST(t->query.threshold == 0.25);
  BOOST_TEST(t->min_index == 99u);
  BOOST_TEST(!parse_similar(std::string(g.f.body).substr(0, 19)).has_value());
}

BOOST_AUTO_TEST_CASE(search_answers_round_trip) {
  search::search_answer a;
  a.applied_index = 77;
  a.total = 12;
  a.hits.push_back({"k1", 3.5});
  a.hits.push_back({"", 0.125});
  std::string buf;
  respond_search(buf, 5, a);
  auto f = parse_frame(buf, 1024);
  BOOST_REQUIRE((f.status == parse_status::ok));
  auto b = parse_search_answer(f.f.body);
  BOOST_REQUIRE(b.has_value());
  BOOST_TEST(b->applied_index == 77u);
  BOOST_TEST(b->total == 12u);
  BOOST_REQUIRE(b->hits.size() == 2u);
  BOOST_TEST(b->hits[0].key == "k1");
  BOOST_TEST(b->hits[0].score == 3.5);
  BOOST_TEST(b->hits[1].key == "");
  BOOST_TEST(b->hits[1].score == 0.125);
  const std::string body(f.f.body);
  for (std::size_t n = 0; n < body.size(); ++n) BOOST_TEST(!parse_search_answer(body.substr(0, n)).has_value(), n);
}

BOOST_AUTO_TEST_CASE(watch_requests_round_trip) {
  std::string buf;
  watch_request w;
  w.key = "a/";
  w.end = "a0";
  w.start_revision = 17;
  w.no_delete = true;
  w.prev_kv = true;
  request_watch(buf, 5, w);
  auto r = parse_frame(buf, 1024);
  BOOST_REQUIRE((r.status == parse_status::ok));
  BOOST_TEST(r.f.code == static_cast<std::uint8_t>(op::watch));
  auto back = parse_watch(r.f.body);
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->key == "a/");
  BOOST_TEST(back->end == "a0");
  BOOST_TEST(back->start_revision == 17u);
  BOOST_TEST((!back->no_put && back->no_delete && back->prev_kv && !back->progress_notify));
  // An unknown filter bit, or a key length past the body, is refused.
  std::string body(r.f.body);
  body[0] = static_cast<char>(0x10);
  BOOST_TEST(!parse_watch(body).has_value());
  BOOST_TEST(!parse_watch(std::string_view(r.f.body).substr(0, 14)).has_value());

  buf.clear();
  request_watch_cancel(buf, 6, 5);
  r = parse_frame(buf, 1024);
  BOOST_TEST(parse_watch_cancel(r.f.body).value_or(0) == 5u);
  BOOST_TEST(!parse_watch_cancel("1234567").has_value());
}

BOOST_AUTO_TEST_CASE(events_frames_round_trip) {
  std::string buf;
  auto start = begin_events(buf, 9);
  kv_fields put{"k", "v2", 3, 8, 2};
  kv_fields prev{"k", "v1", 3, 3, 1};
  append_event(buf, false, put, &prev);
  kv_fields del{"j", "", 0, 8, 0};
  append_event(buf, true, del, nullptr);
  finish_events(buf, start, 8, 2, true);
  auto r = parse_frame(buf, 1024);
  BOOST_REQUIRE((r.status == parse_status::ok));
  BOOST_TEST(r.f.id == 9u);
  BOOST_TEST(r.f.code == static_cast<std::uint8_t>(status::events));
  BOOST_TEST(r.f.flags == flag_continued);
  auto body = parse_events(r.f.body);
  BOOST_REQUIRE(body.has_value());
  BOOST_TEST(body->revision == 8u);
  BOOST_REQUIRE(body->events.size() == 2u);
  BOOST_TEST(!body->events[0].deleted);
  BOOST_TEST(body->events[0].kv.value == "v2");
  BOOST_TEST(body->events[0].kv.version == 2u);
  BOOST_REQUIRE(body->events[0].prev.has_value());
  BOOST_TEST(body->events[0].prev->value == "v1");
  BOOST_TEST(body->events[1].deleted);
  BOOST_TEST(body->events[1].kv.key == "j");
  BOOST_TEST(!body->events[1].prev.has_value());
  // Every truncation of the body is refused, never read past.
  for (std::size_t n = 0; n < r.f.body.size(); ++n) BOOST_TEST(!parse_events(r.f.body.substr(0, n)).has_value());

  buf.clear();
  respond_watch_end(buf, 9, status::compacted, "revision 3 has been compacted", 5);
  r = parse_frame(buf, 1024);
  auto e = parse_error(r.f.body);
  BOOST_TEST(e.message == "revision 3 has been compacted");
  BOOST_TEST(e.compact_revision == 5u);
}

BOOST_AUTO_TEST_SUITE_END()

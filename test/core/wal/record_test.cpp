#include "core/wal/record.hpp"

#include <boost/test/unit_test.hpp>

using namespace kv::wal;

BOOST_AUTO_TEST_SUITE(wal_record)

BOOST_AUTO_TEST_CASE(round_trip) {
  std::string buf;
  append_record(buf, record_type::entry, 7, 42, "payload bytes");
  BOOST_TEST(buf.size() == header_bytes + 13);
  auto r = decode_record(buf);
  BOOST_REQUIRE((r.status == decode_status::ok));
  BOOST_TEST((r.header.type == record_type::entry));
  BOOST_TEST(r.header.term == 7u);
  BOOST_TEST(r.header.index == 42u);
  BOOST_TEST(r.payload == "payload bytes");
  BOOST_TEST(r.size == buf.size());
}

BOOST_AUTO_TEST_CASE(empty_payload_and_following_record) {
  std::string buf;
  append_record(buf, record_type::hard_state, 1, 0, "");
  append_record(buf, record_type::entry, 1, 1, "x");
  auto first = decode_record(buf);
  BOOST_REQUIRE((first.status == decode_status::ok));
  BOOST_TEST(first.payload.empty());
  auto second = decode_record(std::string_view(buf).substr(first.size));
  BOOST_REQUIRE((second.status == decode_status::ok));
  BOOST_TEST(second.payload == "x");
}

BOOST_AUTO_TEST_CASE(every_flipped_byte_is_detected) {
  std::string buf;
  append_record(buf, record_type::entry, 3, 9, "some command bytes");
  for (std::size_t i = 0; i < buf.size(); ++i) {
    auto bad = buf;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    auto r = decode_record(bad);
    BOOST_TEST((r.status != decode_status::ok), "flip at " << i << " not detected");
  }
}

BOOST_AUTO_TEST_CASE(every_truncation_is_detected) {
  std::string buf;
  append_record(buf, record_type::entry, 3, 9, "some command bytes");
  for (std::size_t cut = 0; cut < buf.size(); ++cut) {
    auto r = decode_record(std::string_view(buf).substr(0, cut));
    BOOST_TEST((r.status == decode_status::truncated), "cut at " << cut);
  }
}

BOOST_AUTO_TEST_CASE(implausible_length) {
  std::string buf;
  append_record(buf, record_type::entry, 1, 1, "x");
  buf[7] = '\x7f';  // length's top byte
  BOOST_TEST((decode_record(buf).status == decode_status::bad_length));
}

BOOST_AUTO_TEST_CASE(batch_record) {
  std::string buf(header_bytes + batch_payload_bytes, '\0');
  write_batch_record(buf.data(), 3, 999, 4242);
  auto r = decode_record(buf);
  BOOST_REQUIRE((r.status == decode_status::ok));
  BOOST_TEST((r.header.type == record_type::batch));
  batch_info info;
  BOOST_REQUIRE(decode_batch(r.payload, info));
  BOOST_TEST(info.record_count == 3u);
  BOOST_TEST(info.records_bytes == 999u);
  BOOST_TEST(info.durable_through == 4242u);
}

BOOST_AUTO_TEST_SUITE_END()

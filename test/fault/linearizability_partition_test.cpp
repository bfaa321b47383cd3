// Linearizability of a real 3-node cluster under kills, pauses and network partitions
// (fault/linearizability_histories.hpp). Partitions need root and nft: without them the
// executable exits 77 before any test runs, which ctest reports as skipped.

#include "fault/linearizability_histories.hpp"
#include "support/skip.hpp"

#include <boost/test/unit_test.hpp>

using namespace kv::test;

BOOST_TEST_GLOBAL_FIXTURE(require_nft);

BOOST_AUTO_TEST_SUITE(linearizability)

BOOST_AUTO_TEST_CASE(histories_under_kills_pauses_and_partitions_are_linearizable) {
  check_histories_under_faults(network_faults::partitions);
}

BOOST_AUTO_TEST_CASE(transaction_histories_under_kills_pauses_and_partitions_are_linearizable) {
  check_histories_under_faults(network_faults::partitions, workload_kind::transactions);
}

BOOST_AUTO_TEST_SUITE_END()

// The rules of the Raft paper, one by one, on a single core driven by hand.

#include "raft/node.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <map>

using namespace kv::raft;

namespace {

config three(node_id id, bool pre_vote = false) {
  config c;
  c.id = id;
  c.voters = {1, 2, 3};
  c.election_ticks = 10;
  c.pre_vote = pre_vote;
  c.check_quorum = false;
  return c;
}

std::vector<entry> entries(std::initializer_list<term_t> terms, index_t first = 1) {
  std::vector<entry> out;
  for (auto t : terms) out.push_back(entry{t, first++, "x"});
  return out;
}

node make(config c, term_t term = 0, std::vector<entry> initial = {}) {
  return node(c, hard_state{term, 0, 0}, kv::raft::log(0, 0, std::move(initial)));
}

message msg(message_type t, node_id from, node_id to, term_t term) {
  message m;
  m.type = t;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

void tick_until_campaign(node& n) {
  for (int i = 0; i < 100 && n.current_role() == role::follower; ++i) n.tick();
}

message snapshot_msg(node_id from, node_id to, term_t term, index_t index, term_t snap_term) {
  auto m = msg(message_type::snapshot, from, to, term);
  m.snapshot_index = index;
  m.snapshot_term = snap_term;
  return m;
}

// Drains ready and reports every entry persisted at once (a perfect disk).
ready settle(node& n) {
  ready all;
  while (n.has_ready()) {
    auto r = n.take_ready();
    if (!r.entries.empty()) n.persisted(r.entries.back().index, r.entries.back().term);
    for (auto& m : r.messages) all.messages.push_back(m);
    for (auto& m : r.after_persist) all.after_persist.push_back(m);
    for (auto& e : r.committed) all.committed.push_back(e);
    if (r.state) all.state = r.state;
    if (r.snapshot) all.snapshot = r.snapshot;
  }
  return all;
}

// Cores wired together by hand. deliver() moves messages until the cluster is quiet, making
// every write durable at once; `drop` filters messages out. Nothing ticks unless a test ticks it.
struct wired {
  std::map<node_id, node> nodes;
  std::map<node_id, std::vector<read_state>> reads;
  std::map<node_id, std::vector<snapshot_meta>> installs;
  std::vector<message> delivered;
  std::function<bool(const message&)> drop = [](const message&) { return false; };

  explicit wired(std::vector<node_id> ids, bool check_quorum = false) {
    for (auto id : ids) {
      config c;
      c.id = id;
      c.voters = ids;
      c.pre_vote = false;
      c.check_quorum = check_quorum;
      nodes.try_emplace(id, c, hard_state{}, kv::raft::log{});
    }
  }
  node& operator[](node_id id) { return nodes.at(id); }

  void deliver() {
    for (int round = 0; round < 1000; ++round) {
      std::vector<message> out;
      for (auto& [id, n] : nodes) drain(id, out);
      if (out.empty()) return;
      for (auto& m : out) {
        if (drop(m)) continue;
        delivered.push_back(m);
        nodes.at(m.to).step(m);
      }
    }
    BOOST_FAIL("the cluster never quiets down");
  }

  void drain(node_id id, std::vector<message>& out) {
    auto& n = nodes.at(id);
    while (n.has_ready()) {
      auto r = n.take_ready();
      if (!r.entries.empty()) n.persisted(r.entries.back().index, r.entries.back().term);
      for (auto& m : r.messages) out.push_back(m);
      for (auto& m : r.after_persist) out.push_back(m);
      for (auto& rs : r.reads) reads[id].push_back(rs);
      if (r.snapshot) installs[id].push_back(*r.snapshot);
    }
  }

  // `id` times out alone and wins.
  void elect(node_id id) {
    tick_until_campaign(nodes.at(id));
    deliver();
    BOOST_REQUIRE((nodes.at(id).current_role() == role::leader));
  }

  std::size_t count(message_type t) const {
    return static_cast<std::size_t>(
        std::count_if(delivered.begin(), delivered.end(), [&](const message& m) { return m.type == t; }));
  }
};

bool same(const read_state& a, const read_state& b) {
  return a.context == b.context && a.index == b.index && a.ok == b.ok;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(raft_rules)

BOOST_AUTO_TEST_CASE(a_higher_term_turns_anyone_into_a_follower) {
  auto n = make(three(1), 1);
  tick_until_campaign(n);
  BOOST_TEST((n.current_role() == role::candidate));
  auto m = msg(message_type::append, 2, 1, 5);
  n.step(m);
  BOOST_TEST((n.current_role() == role::follower));
  BOOST_TEST(n.term() == 5u);
  BOOST_TEST(n.leader() == 2u);
}

BOOST_AUTO_TEST_CASE(stale_terms_are_refused) {
  auto n = make(three(1), 5);
  n.step(msg(message_type::append, 2, 1, 3));
  auto r = settle(n);
  BOOST_REQUIRE(r.after_persist.size() == 1u);
  BOOST_TEST(r.after_persist[0].reject);
  BOOST_TEST(r.after_persist[0].term == 5u);  // tells the stale leader the newer term
  BOOST_TEST(n.term() == 5u);
}

BOOST_AUTO_TEST_CASE(a_candidate_bumps_its_term_votes_for_itself_and_asks_after_persisting) {
  auto n = make(three(1), 2);
  tick_until_campaign(n);
  BOOST_TEST((n.current_role() == role::candidate));
  BOOST_TEST(n.term() == 3u);
  BOOST_TEST(n.vote() == 1u);
  auto r = n.take_ready();
  BOOST_REQUIRE(r.state.has_value());
  BOOST_TEST(r.state->term == 3u);
  BOOST_TEST(r.state->vote == 1u);
  BOOST_TEST(r.messages.empty());               // nothing leaves before the vote is durable
  BOOST_TEST(r.after_persist.size() == 2u);     // a vote request to each peer
}

BOOST_AUTO_TEST_CASE(pre_vote_does_not_bump_terms) {
  auto n = make(three(1, /*pre_vote=*/true), 2);
  tick_until_campaign(n);
  BOOST_TEST((n.current_role() == role::pre_candidate));
  BOOST_TEST(n.term() == 2u);
  auto r = n.take_ready();
  BOOST_REQUIRE(r.messages.size() == 2u);
  BOOST_TEST((r.messages[0].type == message_type::pre_vote));
  BOOST_TEST(r.messages[0].term == 3u);  // the term it would campaign in
  // A voter answers a pre-vote without changing its own term.
  auto voter = make(three(2, true), 2);
  voter.step(r.messages[0]);
  BOOST_TEST(voter.term() == 2u);
  auto answer = voter.take_ready();
  BOOST_REQUIRE(answer.after_persist.size() == 1u);
  BOOST_TEST(!answer.after_persist[0].reject);
  // With a majority of pre-votes, the real election starts.
  n.step(answer.after_persist[0]);
  BOOST_TEST((n.current_role() == role::candidate));
  BOOST_TEST(n.term() == 3u);
}

BOOST_AUTO_TEST_CASE(one_vote_per_term) {
  auto n = make(three(1), 1);
  auto ask = [&](node_id who) {
    auto m = msg(message_type::vote, who, 1, 2);
    n.step(m);
    auto r = n.take_ready();
    BOOST_REQUIRE(r.after_persist.size() == 1u);
    return !r.after_persist[0].reject;
  };
  BOOST_TEST(ask(2));
  BOOST_TEST(!ask(3));  // already voted for 2 in term 2
  BOOST_TEST(ask(2));   // asking again is fine
  BOOST_TEST(n.vote() == 2u);
}

BOOST_AUTO_TEST_CASE(votes_go_only_to_logs_at_least_as_up_to_date) {
  auto ask = [](index_t last_index, term_t last_term) {
    auto n = make(three(1), 2, entries({1, 2}));
    auto m = msg(message_type::vote, 2, 1, 3);
    m.last_index = last_index;
    m.last_term = last_term;
    n.step(m);
    auto r = n.take_ready();
    return !r.after_persist.at(0).reject;
  };
  BOOST_TEST(!ask(5, 1));  // older last term, however long
  BOOST_TEST(!ask(1, 2));  // same term, shorter
  BOOST_TEST(ask(2, 2));   // as up to date
  BOOST_TEST(ask(1, 3));   // newer last term
}

BOOST_AUTO_TEST_CASE(conflicting_entries_are_truncated) {
  auto n = make(three(2), 2, entries({1, 1, 2, 2}));
  auto m = msg(message_type::append, 1, 2, 3);
  m.prev_index = 2;
  m.prev_term = 1;
  m.entries = {entry{3, 3, "new"}};
  n.step(m);
  BOOST_TEST(n.log().last_index() == 3u);
  BOOST_TEST(*n.log().term(3) == 3u);
  auto r = n.take_ready();
  BOOST_REQUIRE(r.entries.size() == 1u);  // storage replaces entry 3 and drops 4
  BOOST_TEST(r.entries[0].index == 3u);
  BOOST_TEST(!r.after_persist.at(0).reject);
  BOOST_TEST(r.after_persist.at(0).match == 3u);
}

BOOST_AUTO_TEST_CASE(a_rejection_hint_skips_a_whole_conflicting_term) {
  // Follower: ten entries of term 2 the leader never had; leader: term 3 from index 2 on.
  auto f = make(three(2), 2, entries({1, 2, 2, 2, 2, 2, 2, 2, 2, 2}));
  auto m = msg(message_type::append, 1, 2, 3);
  m.prev_index = 10;
  m.prev_term = 3;
  f.step(m);
  auto r = f.take_ready();
  const auto& reply = r.after_persist.at(0);
  BOOST_TEST(reply.reject);
  BOOST_TEST(reply.hint_index == 10u);  // its last entry with a term at most the leader's 3...
  BOOST_TEST(reply.hint_term == 2u);    // ...is of term 2
  // The leader holds no term-2 entry: its last entry of term at most 2 is 1, so the next probe
  // goes straight to index 2 instead of walking back one entry per round trip.
  kv::raft::log leader_log(0, 0, entries({1, 3, 3, 3, 3, 3, 3, 3, 3, 3}));
  BOOST_TEST(leader_log.last_index_with_term_at_most(reply.hint_index, reply.hint_term) == 1u);
}

BOOST_AUTO_TEST_CASE(previous_term_entries_are_not_committed_by_counting) {
  // Node 1 leads term 3 with an old entry (1, term 1) nobody else has.
  auto leader = make(three(1), 2, entries({1}));
  tick_until_campaign(leader);
  for (node_id v : {2u, 3u}) {
    auto g = msg(message_type::vote_response, v, 1, 3);
    leader.step(g);
  }
  BOOST_REQUIRE((leader.current_role() == role::leader));
  settle(leader);  // the leader persists its no-op (entry 2, term 3)
  // Follower 2 acknowledges entry 1 only: a majority holds it, yet it is of term 1.
  auto ack = msg(message_type::append_response, 2, 1, 3);
  ack.match = 1;
  ack.prev_index = 0;
  leader.step(ack);
  BOOST_TEST(leader.log().committed() == 0u);
  // Once the no-op of term 3 is on a majority, both commit.
  ack.match = 2;
  leader.step(ack);
  BOOST_TEST(leader.log().committed() == 2u);
}

BOOST_AUTO_TEST_CASE(a_leader_counts_itself_only_once_its_disk_has_the_entry) {
  config c;
  c.id = 1;
  c.voters = {1};
  auto n = make(c);
  tick_until_campaign(n);
  BOOST_REQUIRE((n.current_role() == role::leader));
  auto first = n.take_ready();
  BOOST_TEST(n.log().committed() == 0u);  // the no-op is not durable yet
  n.persisted(first.entries.back().index, first.entries.back().term);
  BOOST_TEST(n.log().committed() == 1u);
  auto idx = n.propose("data");
  BOOST_REQUIRE(idx.ok());
  BOOST_TEST(n.log().committed() == 1u);
  auto r = n.take_ready();
  n.persisted(r.entries.back().index, r.entries.back().term);
  BOOST_TEST(n.log().committed() == *idx);
  auto applied = r.committed;  // the no-op, committed before the proposal
  for (auto& e : n.take_ready().committed) applied.push_back(e);
  BOOST_REQUIRE(applied.size() == 2u);  // the no-op and the data, in order
  BOOST_TEST(applied[1].data == "data");
}

BOOST_AUTO_TEST_CASE(a_leader_cut_off_from_the_majority_steps_down) {
  auto c = three(1);
  c.check_quorum = true;
  auto n = make(c, 1);
  tick_until_campaign(n);
  for (node_id v : {2u, 3u}) n.step(msg(message_type::vote_response, v, 1, 2));
  BOOST_REQUIRE((n.current_role() == role::leader));
  for (int i = 0; i < 2 * c.election_ticks; ++i) n.tick();  // nobody answers
  BOOST_TEST((n.current_role() == role::follower));
  BOOST_TEST(n.term() == 2u);
}

BOOST_AUTO_TEST_CASE(followers_ignore_vote_requests_while_a_leader_is_alive) {
  auto c = three(2);
  c.check_quorum = true;
  auto n = make(c, 2);
  n.step(msg(message_type::append, 1, 2, 2));  // hears from leader 1
  auto m = msg(message_type::vote, 3, 2, 3);
  n.step(m);
  BOOST_TEST(n.term() == 2u);  // not disrupted
  BOOST_TEST(n.take_ready().after_persist.size() == 1u);  // only the append's answer
}

BOOST_AUTO_TEST_CASE(a_single_voter_leads_from_the_start) {
  config c;
  c.id = 1;
  c.voters = {1};
  auto n = make(c, 4);
  BOOST_TEST((n.current_role() == role::leader));  // no tick: the election is instant
  BOOST_TEST(n.term() == 5u);
  auto r = n.take_ready();
  BOOST_REQUIRE(r.state.has_value());
  BOOST_TEST(r.state->term == 5u);  // the new term and self-vote go to disk like any other
  BOOST_TEST(r.state->vote == 1u);
  BOOST_REQUIRE(r.entries.size() == 1u);  // its no-op
  BOOST_TEST(r.messages.empty());
  BOOST_TEST(n.propose("x").ok());
}

BOOST_AUTO_TEST_CASE(an_unreachable_follower_goes_back_to_probing) {
  wired c({1, 2, 3});
  c.elect(1);
  BOOST_REQUIRE(c[1].propose("a").ok());
  c.deliver();
  const auto* pr = c[1].progress_of(2);
  BOOST_REQUIRE(pr != nullptr);
  BOOST_REQUIRE((pr->state == progress::mode::replicate));
  BOOST_REQUIRE(pr->match == 2u);

  c[1].report_unreachable(2);
  BOOST_TEST((pr->state == progress::mode::probe));
  BOOST_TEST(pr->next == 3u);  // just after what it acknowledged
  // Probing: one append at a time until the follower answers.
  BOOST_REQUIRE(c[1].propose("b").ok());
  BOOST_REQUIRE(c[1].propose("c").ok());
  auto r = c[1].take_ready();
  auto to_2 = std::count_if(r.messages.begin(), r.messages.end(), [](const message& m) { return m.to == 2; });
  auto to_3 = std::count_if(r.messages.begin(), r.messages.end(), [](const message& m) { return m.to == 3; });
  BOOST_TEST(to_2 == 1);
  BOOST_TEST(to_3 == 2);  // still streamed
  for (auto& m : r.messages) c[m.to].step(m);
  c[1].persisted(r.entries.back().index, r.entries.back().term);
  c.deliver();
  BOOST_TEST((pr->state == progress::mode::replicate));
  BOOST_TEST(pr->match == 4u);

  c[2].report_unreachable(3);  // not the leader: nothing to do
  BOOST_TEST(c[2].progress_of(3) == nullptr);
}

BOOST_AUTO_TEST_CASE(proposals_go_only_to_the_leader) {
  auto n = make(three(1), 1);
  BOOST_TEST(n.propose("x").is(kv::errc::not_leader));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(raft_log)

BOOST_AUTO_TEST_CASE(entries_applied_during_recovery_are_not_handed_out_again) {
  kv::raft::log l(0, 0, entries({1, 1, 1}), 2);
  BOOST_TEST(l.applied() == 2u);
  BOOST_TEST(l.committed() == 2u);
  l.commit_to(3);
  auto out = l.take_committed(1u << 20);
  BOOST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].index == 3u);
}

// compact() frees nothing at once: the entries it drops go a few per later append, while every
// answer of the log is as if they were gone, through follower truncations and a restore.
BOOST_AUTO_TEST_CASE(compaction_frees_in_steps) {
  kv::raft::log l;
  auto add = [&](kv::raft::index_t i, kv::raft::term_t t) { l.append({t, i, "e" + std::to_string(i)}); };
  for (kv::raft::index_t i = 1; i <= 1000; ++i) add(i, 1 + i / 400);
  BOOST_REQUIRE(l.take_unsent().size() == 1000u);
  l.mark_persisted(1000, 3);
  l.commit_to(940);
  BOOST_REQUIRE(l.take_committed(1u << 30).size() == 940u);
  l.compact(900);
  BOOST_TEST(l.dropped() == 900u);
  BOOST_TEST(l.snapshot_index() == 900u);
  BOOST_TEST(l.snapshot_term() == 3u);
  BOOST_TEST(l.first_index() == 901u);
  BOOST_TEST(l.last_index() == 1000u);
  BOOST_TEST(!l.term(899).has_value());
  BOOST_TEST(*l.term(900) == 3u);
  BOOST_TEST(*l.term(901) == 3u);
  auto s = l.slice(1, 1000, 1u << 30);
  BOOST_REQUIRE(s.size() == 100u);
  BOOST_TEST(s.front().index == 901u);
  BOOST_TEST(s.front().data == "e901");
  l.check();
  // A follower's conflicting suffix goes, the dropped entries stay dropped.
  BOOST_REQUIRE(l.try_append(950, 3, {{4, 951, "x951"}, {4, 952, "x952"}}).has_value());
  BOOST_TEST(l.last_index() == 952u);
  BOOST_TEST(*l.term(951) == 4u);
  BOOST_TEST(l.slice(951, 951, 1).front().data == "x951");
  BOOST_TEST(l.dropped() == 900u - 2 * kv::raft::log::released_per_append);
  l.check();
  for (kv::raft::index_t i = 953; l.dropped() > 0; ++i) add(i, 4);
  BOOST_TEST(l.first_index() == 901u);
  BOOST_TEST(l.slice(901, 901, 1).front().data == "e901");
  BOOST_TEST(l.last_index() == 952u + 900 / kv::raft::log::released_per_append - 2);
  l.check();
  l.compact(940);
  l.restore(5000, 7);
  BOOST_TEST(l.dropped() == 0u);
  BOOST_TEST(l.last_index() == 5000u);
  BOOST_TEST(l.last_term() == 7u);
  add(5001, 7);
  BOOST_TEST(l.slice(5001, 5001, 1).front().data == "e5001");
  l.check();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(raft_read_index)

BOOST_AUTO_TEST_CASE(a_leader_read_waits_for_a_majority_to_confirm_a_heartbeat_round) {
  wired c({1, 2, 3});
  c.elect(1);
  BOOST_REQUIRE(c[1].propose("a").ok());
  c.deliver();
  BOOST_REQUIRE(c[1].log().committed() == 2u);

  c.drop = [](const message& m) { return m.from != 1; };  // the followers' answers are lost
  c[1].read_index(7);
  BOOST_REQUIRE(c[1].propose("b").ok());  // commits later than the read was asked
  c.deliver();
  BOOST_TEST(c.reads[1].empty());
  BOOST_TEST(c[1].log().committed() == 2u);

  // The next heartbeat carries the read's round; one follower answering makes a majority.
  c.drop = [](const message& m) { return m.from == 3; };
  c[1].tick();
  c.deliver();
  BOOST_REQUIRE(c.reads[1].size() == 1u);
  BOOST_TEST(same(c.reads[1][0], read_state{7, 2, true}));  // the commit index when asked
  BOOST_TEST(c[1].log().committed() == 3u);
}

BOOST_AUTO_TEST_CASE(a_new_leader_serves_no_read_before_its_no_op_commits) {
  wired c({1, 2, 3});
  c.drop = [](const message& m) { return m.type == message_type::append_response; };
  c.elect(1);
  BOOST_REQUIRE(c[1].log().committed() == 0u);
  c[1].read_index(5);
  c.deliver();
  BOOST_TEST(c.reads[1].empty());
  for (const auto& m : c.delivered) BOOST_TEST(m.context == 0u);  // no read round started yet

  c.drop = [](const message&) { return false; };
  c[1].tick();
  c.deliver();
  BOOST_TEST(c[1].log().committed() == 1u);
  BOOST_REQUIRE(c.reads[1].size() == 1u);
  BOOST_TEST(same(c.reads[1][0], read_state{5, 1, true}));
}

BOOST_AUTO_TEST_CASE(a_follower_read_is_answered_with_the_leaders_index) {
  wired c({1, 2, 3});
  c.elect(1);
  BOOST_REQUIRE(c[1].propose("a").ok());
  c.deliver();
  c[2].read_index(9);
  c.deliver();
  BOOST_TEST(c.count(message_type::read_index) == 1u);
  BOOST_TEST(c.count(message_type::read_index_response) == 1u);
  BOOST_REQUIRE(c.reads[2].size() == 1u);
  BOOST_TEST(same(c.reads[2][0], read_state{9, c[1].log().committed(), true}));
  BOOST_TEST(c.reads[1].empty());
}

BOOST_AUTO_TEST_CASE(a_node_that_knows_no_leader_fails_the_read_at_once) {
  auto n = make(three(2));
  n.read_index(4);
  auto r = n.take_ready();
  BOOST_REQUIRE(r.reads.size() == 1u);
  BOOST_TEST(same(r.reads[0], read_state{4, 0, false}));
  BOOST_TEST(r.messages.empty());
}

BOOST_AUTO_TEST_CASE(a_leader_that_steps_down_fails_its_pending_reads) {
  wired c({1, 2, 3});
  c.elect(1);
  c.drop = [](const message& m) { return m.type == message_type::append_response; };
  c[1].read_index(3);  // its own
  c[2].read_index(4);  // forwarded by a follower
  c.deliver();
  BOOST_TEST(c.reads[1].empty());
  BOOST_TEST(c.reads[2].empty());

  c[1].step(msg(message_type::append, 3, 1, c[1].term() + 1));  // a newer leader
  BOOST_TEST((c[1].current_role() == role::follower));
  c.drop = [](const message& m) { return m.to == 3; };
  c.deliver();
  BOOST_REQUIRE(c.reads[1].size() == 1u);
  BOOST_TEST(same(c.reads[1][0], read_state{3, 0, false}));
  BOOST_REQUIRE(c.reads[2].size() == 1u);
  BOOST_TEST(same(c.reads[2][0], read_state{4, 0, false}));
}

BOOST_AUTO_TEST_CASE(a_single_node_cluster_answers_at_once) {
  wired c({1});
  c.elect(1);
  c.deliver();  // its no-op is durable, hence committed
  BOOST_REQUIRE(c[1].log().committed() == 1u);
  c[1].read_index(6);
  auto r = c[1].take_ready();
  BOOST_REQUIRE(r.reads.size() == 1u);
  BOOST_TEST(same(r.reads[0], read_state{6, 1, true}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(raft_leader_transfer)

BOOST_AUTO_TEST_CASE(the_target_leads_the_next_term_without_waiting_for_a_timeout) {
  wired c({1, 2, 3}, /*check_quorum=*/true);  // followers hold a lease: only a transfer passes it
  c.elect(1);
  const auto term = c[1].term();
  c.drop = [](const message& m) { return m.to == 2; };  // the target falls behind
  BOOST_REQUIRE(c[1].propose("a").ok());
  c.deliver();
  BOOST_REQUIRE(c[1].log().committed() == 2u);
  BOOST_REQUIRE(c[2].log().last_index() == 1u);

  BOOST_TEST((c[1].transfer_leadership(2) == kv::errc::ok));
  BOOST_TEST(c[1].transfer_target() == 2u);
  BOOST_TEST(c[1].propose("refused").is(kv::errc::unavailable));
  c.drop = [](const message&) { return false; };
  c[1].tick();  // one heartbeat finds the target behind; nobody else ticks at all
  c.deliver();
  BOOST_TEST(c.count(message_type::timeout_now) == 1u);
  BOOST_TEST((c[2].current_role() == role::leader));
  BOOST_TEST(c[2].term() == term + 1);
  BOOST_TEST((c[1].current_role() == role::follower));
  BOOST_TEST(c[1].transfer_target() == 0u);
  BOOST_TEST(c[3].leader() == 2u);
  BOOST_TEST(c[2].log().committed() == 3u);  // "a" and its own no-op
  BOOST_TEST(c[2].propose("b").ok());
}

BOOST_AUTO_TEST_CASE(transfer_requests_are_checked) {
  wired c({1, 2, 3});
  c.elect(1);
  BOOST_TEST((c[2].transfer_leadership(3) == kv::errc::not_leader));
  BOOST_TEST((c[1].transfer_leadership(1) == kv::errc::bad_request));
  BOOST_TEST((c[1].transfer_leadership(7) == kv::errc::bad_request));
  BOOST_TEST(c[1].transfer_target() == 0u);
  BOOST_TEST(c[1].propose("x").ok());
}

BOOST_AUTO_TEST_CASE(an_abandoned_transfer_lets_the_leader_lead_on) {
  wired c({1, 2, 3}, /*check_quorum=*/true);
  c.elect(1);
  c.drop = [](const message& m) { return m.to == 2 || m.from == 2; };  // the target is gone
  BOOST_TEST((c[1].transfer_leadership(2) == kv::errc::ok));
  for (int i = 0; i < 9; ++i) {
    c[1].tick();
    c.deliver();
  }
  BOOST_TEST(c[1].propose("still transferring").is(kv::errc::unavailable));
  c[1].tick();  // an election timeout after the request
  c.deliver();
  BOOST_TEST((c[1].current_role() == role::leader));
  BOOST_TEST(c[1].transfer_target() == 0u);
  auto idx = c[1].propose("x");
  BOOST_REQUIRE(idx.ok());
  c.deliver();
  BOOST_TEST(c[1].log().committed() == *idx);  // with node 3
  BOOST_TEST(c.count(message_type::timeout_now) == 0u);
}

// A member whose disk is full (it may not lead) is never the one elected while another can be.
BOOST_AUTO_TEST_CASE(a_node_that_may_not_lead_ignores_timeout_now) {
  wired c({1, 2, 3}, /*check_quorum=*/true);
  c.elect(1);
  c[2].set_may_lead(false);
  BOOST_TEST((c[1].transfer_leadership(2) == kv::errc::ok));
  c[1].tick();
  c.deliver();
  BOOST_TEST(c.count(message_type::timeout_now) >= 1u);
  BOOST_TEST((c[2].current_role() == role::follower));
  for (int i = 0; i < 10; ++i) {
    c[1].tick();
    c.deliver();
  }
  BOOST_TEST((c[1].current_role() == role::leader));
  BOOST_TEST(c[1].transfer_target() == 0u);  // abandoned: node 1 leads on
  BOOST_TEST((c[1].transfer_leadership(3) == kv::errc::ok));
  c[1].tick();
  c.deliver();
  BOOST_TEST((c[3].current_role() == role::leader));
}

BOOST_AUTO_TEST_CASE(a_node_that_may_not_lead_never_campaigns) {
  wired c({1, 2, 3});
  c.elect(1);
  c.drop = [](const message& m) { return m.from == 1 || m.to == 1; };  // the leader is gone
  c[2].set_may_lead(false);
  const auto votes_before = c.count(message_type::vote);
  for (int i = 0; i < 100; ++i) {
    c[2].tick();
    c.deliver();
  }
  BOOST_TEST((c[2].current_role() == role::follower));
  BOOST_TEST(c.count(message_type::vote) == votes_before);
  tick_until_campaign(c[3]);
  c.deliver();
  BOOST_TEST((c[3].current_role() == role::leader));  // node 2 still votes
  c[2].set_may_lead(true);
  c.drop = [](const message& m) { return m.from == 3 || m.to == 3 || m.from == 1 || m.to == 1; };
  tick_until_campaign(c[2]);
  BOOST_TEST((c[2].current_role() != role::follower));  // healthy again: it campaigns
}

BOOST_AUTO_TEST_CASE(the_only_voter_leads_even_if_it_may_not) {
  config cfg;
  cfg.id = 1;
  cfg.voters = {1};
  node n(cfg, hard_state{}, kv::raft::log{});
  n.set_may_lead(false);
  for (int i = 0; i < 30; ++i) n.tick();
  BOOST_TEST((n.current_role() == role::leader));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(raft_snapshots)

// Leader 1 has compacted its log through 4 while follower 3, cut off, holds only entry 1.
struct behind_a_snapshot {
  wired c{{1, 2, 3}};
  std::vector<message> held;  // snapshot messages, kept from delivery

  behind_a_snapshot() {
    c.elect(1);
    c.drop = [](const message& m) { return m.to == 3; };
    for (auto cmd : {"a", "b", "c"}) BOOST_REQUIRE(c[1].propose(cmd).ok());
    c.deliver();
    BOOST_REQUIRE(c[1].log().applied() == 4u);
    c[1].compact(4);
    c.drop = [this](const message& m) {
      if (m.type != message_type::snapshot) return false;
      held.push_back(m);
      return true;
    };
    c[1].tick();  // the heartbeat finds out how far behind node 3 is
    c.deliver();
  }
};

BOOST_FIXTURE_TEST_CASE(a_leader_sends_a_snapshot_for_compacted_entries, behind_a_snapshot) {
  BOOST_TEST(c[1].log().first_index() == 5u);
  BOOST_REQUIRE(held.size() == 1u);
  BOOST_TEST(held[0].to == 3u);
  BOOST_TEST(held[0].snapshot_index == 4u);
  BOOST_TEST(held[0].snapshot_term == c[1].term());
  const auto* pr = c[1].progress_of(3);
  BOOST_TEST((pr->state == progress::mode::snapshot));
  BOOST_TEST(pr->pending_snapshot == 4u);
  // No appends while it waits, however much is proposed; heartbeats still go.
  BOOST_REQUIRE(c[1].propose("d").ok());
  auto r = c[1].take_ready();
  for (const auto& m : r.messages) BOOST_TEST(!(m.to == 3 && m.type == message_type::append));

  c.drop = [](const message&) { return false; };
  c[3].step(held[0]);  // the driver has streamed the file
  c.deliver();
  BOOST_REQUIRE(c.installs[3].size() == 1u);
  BOOST_TEST((c.installs[3][0] == snapshot_meta{4, c[1].term()}));
  BOOST_TEST((pr->state == progress::mode::replicate));
  c[1].persisted(r.entries.back().index, r.entries.back().term);
  for (auto& m : r.messages) c[m.to].step(m);
  c[1].tick();
  c.deliver();
  BOOST_TEST(pr->match == 5u);
  BOOST_TEST(c[3].log().committed() == 5u);
}

BOOST_FIXTURE_TEST_CASE(a_failed_transfer_goes_back_to_probing_and_asks_again, behind_a_snapshot) {
  c[1].report_snapshot(3, /*ok=*/false);
  const auto* pr = c[1].progress_of(3);
  BOOST_TEST((pr->state == progress::mode::probe));
  BOOST_TEST(pr->next == pr->match + 1);
  BOOST_TEST(held.size() == 1u);  // not at once...
  c[1].tick();
  c.deliver();
  BOOST_TEST(held.size() == 2u);  // ...but with the next heartbeat
  BOOST_TEST((pr->state == progress::mode::snapshot));
}

BOOST_FIXTURE_TEST_CASE(a_transfer_reported_done_probes_just_after_the_snapshot, behind_a_snapshot) {
  c[3].step(held[0]);
  c.drop = [](const message& m) { return m.from == 3; };  // its answer is lost
  c.deliver();
  c[1].report_snapshot(3, /*ok=*/true);
  const auto* pr = c[1].progress_of(3);
  BOOST_TEST((pr->state == progress::mode::probe));
  BOOST_TEST(pr->next == 5u);
  c.drop = [](const message&) { return false; };
  c[1].tick();
  c.deliver();
  BOOST_TEST((pr->state == progress::mode::replicate));
  BOOST_TEST(pr->match == 4u);
}

BOOST_AUTO_TEST_CASE(a_follower_installs_a_snapshot_it_has_no_part_of) {
  auto f = make(three(2), 2, entries({1, 1, 2}));
  f.step(snapshot_msg(1, 2, 3, 10, 3));
  BOOST_TEST(f.log().snapshot_index() == 10u);
  BOOST_TEST(f.log().last_index() == 10u);
  BOOST_TEST(f.log().committed() == 10u);
  BOOST_TEST(f.log().applied() == 10u);
  auto r = f.take_ready();
  BOOST_REQUIRE(r.snapshot.has_value());
  BOOST_TEST((*r.snapshot == snapshot_meta{10, 3}));
  BOOST_REQUIRE(r.state.has_value());
  BOOST_TEST(r.state->commit == 10u);
  BOOST_TEST(r.entries.empty());
  BOOST_TEST(r.committed.empty());  // the snapshot's entries are never handed out
  BOOST_REQUIRE(r.after_persist.size() == 1u);  // answered once the snapshot is installed
  BOOST_TEST((r.after_persist[0].type == message_type::append_response));
  BOOST_TEST(r.after_persist[0].match == 10u);
  BOOST_TEST(r.messages.empty());
  // Appends continue after it.
  auto m = msg(message_type::append, 1, 2, 3);
  m.prev_index = 10;
  m.prev_term = 3;
  m.entries = {entry{3, 11, "x"}};
  m.commit = 11;
  f.step(m);
  auto next = settle(f);
  BOOST_REQUIRE(next.committed.size() == 1u);
  BOOST_TEST(next.committed[0].index == 11u);
}

BOOST_AUTO_TEST_CASE(a_follower_holding_the_snapshots_last_entry_keeps_what_follows) {
  auto f = make(three(2), 2, entries({1, 1, 2, 2, 2}));
  f.step(snapshot_msg(1, 2, 3, 3, 2));
  BOOST_TEST(f.log().last_index() == 5u);
  BOOST_TEST(f.log().committed() == 3u);
  auto r = settle(f);
  BOOST_TEST(!r.snapshot.has_value());
  BOOST_REQUIRE(r.after_persist.size() == 1u);
  BOOST_TEST(r.after_persist[0].match == 3u);
  BOOST_TEST(r.committed.size() == 3u);  // its own entries, applied as usual
}

BOOST_AUTO_TEST_CASE(a_stale_snapshot_is_answered_without_a_reset) {
  auto f = node(three(2), hard_state{2, 0, 3}, kv::raft::log(0, 0, entries({1, 1, 1, 2})));
  f.step(snapshot_msg(1, 2, 2, 2, 1));
  BOOST_TEST(f.log().snapshot_index() == 0u);
  BOOST_TEST(f.log().last_index() == 4u);
  auto r = settle(f);
  BOOST_TEST(!r.snapshot.has_value());
  BOOST_REQUIRE(r.after_persist.size() == 1u);
  BOOST_TEST(!r.after_persist[0].reject);
  BOOST_TEST(r.after_persist[0].match == 3u);  // its commit index
}

BOOST_AUTO_TEST_CASE(compaction_keeps_what_is_not_applied_and_never_hands_out_covered_entries) {
  kv::raft::log l(0, 0, entries({1, 1, 2, 2}));
  l.commit_to(3);
  BOOST_TEST(l.take_committed(1u << 20).size() == 3u);
  BOOST_CHECK_THROW(l.compact(4), std::logic_error);  // not applied yet
  l.compact(2);
  BOOST_TEST(l.first_index() == 3u);
  BOOST_TEST(l.snapshot_term() == 1u);
  BOOST_TEST(!l.term(1).has_value());
  BOOST_TEST((l.term(2) == std::optional<term_t>(1)));
  l.compact(1);  // behind the snapshot: nothing happens
  BOOST_TEST(l.first_index() == 3u);
  l.commit_to(4);
  auto rest = l.take_committed(1u << 20);
  BOOST_REQUIRE(rest.size() == 1u);
  BOOST_TEST(rest[0].index == 4u);
  l.check();

  auto n = make(three(1));
  BOOST_CHECK_THROW(n.compact(1), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

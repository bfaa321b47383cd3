#include "raft/replica/read_queue.hpp"

namespace kv {

std::uint64_t read_queue::start_round(std::uint64_t now) {
  if (to_start_.empty()) return 0;
  auto context = next_context_++;
  rounds_[context] = round{now, std::move(to_start_)};
  to_start_.clear();
  return context;
}

std::vector<read_queue::read_done> read_queue::answer(const raft::read_state& r) {
  auto it = rounds_.find(r.context);
  if (it == rounds_.end()) return {};  // expired
  auto readers = std::move(it->second.readers);
  rounds_.erase(it);
  if (!r.ok) return readers;
  for (auto& d : readers) waiting_apply_.emplace(r.index, std::move(d));
  return {};
}

void read_queue::release(std::uint64_t applied) {
  while (!waiting_apply_.empty() && waiting_apply_.begin()->first <= applied) {
    auto node = waiting_apply_.extract(waiting_apply_.begin());
    node.mapped()(node.key());
  }
}

void read_queue::expire(std::uint64_t now, std::uint64_t limit, const error_info& why) {
  for (auto it = rounds_.begin(); it != rounds_.end();) {
    if (now - it->second.started_tick < limit) {
      ++it;
      continue;
    }
    for (auto& d : it->second.readers) d(why);
    it = rounds_.erase(it);
  }
}

void read_queue::fail_unconfirmed(errc why) {
  for (auto& d : to_start_) d(why);
  to_start_.clear();
  for (auto& [context, r] : rounds_)
    for (auto& d : r.readers) d(why);
  rounds_.clear();
}

}  // namespace kv

#include "core/wal/io_choice.hpp"

#include <algorithm>
#include <cassert>

namespace kv::wal {

io_choice::io_choice(settings s)
    : settings_(s), direct_(s.window), buffered_(s.buffered_window), next_hold_(s.first_hold) {
  assert(s.window > 0 && s.buffered_window >= s.min_buffered && s.min_buffered > 0 && s.sample_every > 0 &&
         s.first_hold <= s.max_hold);
}

void io_choice::window::add(clock::duration d) {
  times_[next_] = d;
  next_ = (next_ + 1) % times_.size();
  count_ = std::min(count_ + 1, times_.size());
}

io_choice::clock::duration io_choice::window::median() const {
  if (count_ == 0) return clock::duration::zero();
  // After a clear the newest `count_` entries are the valid ones; their order does not matter.
  auto& v = sorted_;
  v.clear();
  for (std::size_t i = 0; i < count_; ++i) v.push_back(times_[(next_ + times_.size() - 1 - i) % times_.size()]);
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

io_choice::clock::duration io_choice::limit() const {
  clock::duration l = settings_.slow;
  if (buffered_.count() >= settings_.min_buffered) l = std::max(l, static_cast<clock::duration::rep>(settings_.ratio) * buffered_.median());
  return l;
}

bool io_choice::direct(clock::time_point now) {
  if (!use_direct_ && now >= hold_until_) {
    use_direct_ = true;
    probing_ = true;
    direct_.clear();  // the probe is judged on its own writes
    direct_run_ = 0;
  }
  return use_direct_ && direct_run_ + 1 < settings_.sample_every;
}

void io_choice::started(bool direct) noexcept { direct_run_ = direct ? direct_run_ + 1 : 0; }

io_choice::verdict io_choice::completed(bool direct, clock::duration took, clock::time_point now) {
  if (!direct) {
    buffered_.add(took);
    return verdict::none;
  }
  direct_.add(took);
  // A write issued before a fall-back, too few writes yet, or nothing to compare them with.
  if (!use_direct_ || !direct_.full() || buffered_.count() < settings_.min_buffered) return verdict::none;
  if (direct_.median() > limit()) {
    use_direct_ = false;
    probing_ = false;
    current_hold_ = next_hold_;
    hold_until_ = now + current_hold_;
    next_hold_ = std::min<clock::duration>(2 * next_hold_, settings_.max_hold);
    ++fallbacks_;
    return verdict::fell_back;
  }
  if (probing_) {
    probing_ = false;
    next_hold_ = settings_.first_hold;
    return verdict::proved;
  }
  return verdict::none;
}

}  // namespace kv::wal

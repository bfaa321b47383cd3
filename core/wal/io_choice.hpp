#pragma once
// How the WAL writes its next batch in io_mode::automatic: direct (one O_DIRECT|O_DSYNC write)
// while such writes complete in about the disk's time, buffered (a write and an fdatasync on
// io_uring's workers) for a while once they do not.
//
// Why: a direct O_DSYNC write on a device without FUA ends with a cache flush that the kernel
// runs on a worker bound to the CPU the completion interrupt reached. With that CPU kept busy by
// other processes, the worker waits for the scheduler's tick, and every write takes 4 ms or more
// where it took 0.2 (docs/benchmarks.md, "WAL direct I/O"). Buffered writes do not wait so. The
// choice compares the two paths under the same load: while direct, one batch in `sample_every`
// is written buffered, and direct goes on while the median of the last `window` direct writes
// stays at or below `ratio` times the median of the last buffered ones, or at or below `slow`.
// Waiting for a tick of 4 ms (HZ=250) makes a direct write take 3.3-3.9 ms at the median, 10-20
// times a buffered one. Under a load that keeps every core busy with large batches, direct writes
// took 1.0-2.1 ms, up to four times the buffered ones, yet carried more writes each for less CPU
// per write: no reason to change, hence `slow` between the two (docs/benchmarks.md, "WAL direct
// I/O"). With a 1 ms tick a starved direct write is not told apart, and loses at most about that.
// Past it, buffered for `first_hold`, then direct again for a probe, judged the same way. A probe
// that fails doubles the hold, up to `max_hold` (short, so that a path that lost under a burst
// is retried soon after it); one that passes resets it. No verdict is given before
// `min_buffered` buffered writes were seen.
//
// A deterministic core: the caller passes the time and the measurements, and logs the verdicts.
// Threading: owned by the WAL's thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kv::wal {

class io_choice {
 public:
  using clock = std::chrono::steady_clock;
  struct settings {
    std::size_t window = 16;  // direct completion times a verdict looks at
    std::size_t buffered_window = 8;
    std::size_t min_buffered = 4;
    std::size_t sample_every = 16;  // while direct: one batch in this many is written buffered (1: all)
    std::size_t ratio = 4;
    std::chrono::microseconds slow{2500};
    std::chrono::seconds first_hold{10};
    std::chrono::seconds max_hold{60};
  };
  // What a completion changed.
  enum class verdict : std::uint8_t {
    none,
    fell_back,  // direct writes were slow: buffered from now on, for hold()
    proved,     // a probe of direct writes passed: direct stays
  };

  io_choice() : io_choice(settings{}) {}
  explicit io_choice(settings s);

  // Whether the next batch should be written direct; ends a hold that is over (a probe starts).
  // Asking again before started() gives the same answer (but for the end of a hold).
  bool direct(clock::time_point now);
  // A batch was submitted, direct or not.
  void started(bool direct) noexcept;
  // A batch written direct (or buffered, with its fdatasync) took `took`, completing at `now`.
  verdict completed(bool direct, clock::duration took, clock::time_point now);

  // The median of the last `window` direct writes, and the limit it is held to (`slow` until
  // min_buffered buffered writes were seen): for the log lines.
  clock::duration direct_median() const { return direct_.median(); }
  clock::duration limit() const;
  // How long the current (or last) fall-back lasts.
  clock::duration hold() const noexcept { return current_hold_; }
  // Whether a fall-back holds (all batches buffered).
  bool falling_back() const noexcept { return !use_direct_; }
  // Fall-backs so far.
  std::uint64_t fallbacks() const noexcept { return fallbacks_; }

 private:
  // The last n completion times, oldest overwritten first.
  class window {
   public:
    explicit window(std::size_t n) : times_(n) { sorted_.reserve(n); }
    void add(clock::duration d);
    bool full() const noexcept { return count_ >= times_.size(); }
    std::size_t count() const noexcept { return count_; }
    void clear() noexcept { count_ = 0; }
    clock::duration median() const;

   private:
    std::vector<clock::duration> times_;
    mutable std::vector<clock::duration> sorted_;  // median()'s scratch: no allocation per batch
    std::size_t count_ = 0;  // added since the last clear (capped at the size)
    std::size_t next_ = 0;
  };

  settings settings_;
  window direct_;
  window buffered_;
  bool use_direct_ = true;
  bool probing_ = false;  // direct again after a hold, not yet proven
  std::size_t direct_run_ = 0;  // direct batches started since the last buffered one
  clock::time_point hold_until_{};
  clock::duration next_hold_;
  clock::duration current_hold_{};
  std::uint64_t fallbacks_ = 0;
};

}  // namespace kv::wal

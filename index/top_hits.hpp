#pragma once
// The best `capacity` (score, document) pairs offered, kept in a bounded heap: O(log capacity)
// per offer. Better means a higher score, then the smaller key, so the order is total and every
// node that holds the same documents answers with the same hits in the same order.

#include "index/doc_table.hpp"
#include "core/model/query.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace kv::search {

class top_hits {
 public:
  top_hits(std::uint64_t capacity, const doc_table& docs) : capacity_(capacity), docs_(docs) {}

  void offer(double score, std::uint32_t doc) {
    if (capacity_ == 0) return;
    entry e{score, doc};
    auto better = [this](const entry& a, const entry& b) { return is_better(a, b); };
    if (heap_.size() < capacity_) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), better);  // the worst kept is at the front
    } else if (is_better(e, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = e;
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
  }

  // The hits, best first, without the first `offset`. Leaves the heap empty.
  std::vector<hit> take(std::uint64_t offset) {
    std::sort_heap(heap_.begin(), heap_.end(), [this](const entry& a, const entry& b) { return is_better(a, b); });
    std::vector<hit> hits;
    for (std::uint64_t i = offset; i < heap_.size(); ++i) {
      hits.push_back(hit{std::string(docs_.key(heap_[i].doc)), heap_[i].score});
    }
    heap_.clear();
    return hits;
  }

 private:
  struct entry {
    double score;
    std::uint32_t doc;
  };
  bool is_better(const entry& a, const entry& b) const {
    if (a.score != b.score) return a.score > b.score;
    return docs_.key(a.doc) < docs_.key(b.doc);
  }

  std::uint64_t capacity_;
  const doc_table& docs_;
  std::vector<entry> heap_;
};

}  // namespace kv::search

#include "index/doc_table.hpp"

#include "index/persist.hpp"
#include "index/posting_list.hpp"

#include <cassert>

namespace kv::search {

doc_table::doc_table() : by_key_(make_ids_by_text(&slots_)) {}

std::uint32_t doc_table::find(std::string_view key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? no_doc : *it;
}

std::uint32_t doc_table::assign(std::string_view key, std::uint32_t& previous) {
  previous = erase(key);
  auto id = static_cast<std::uint32_t>(slots_.size());
  assert(id != no_doc);
  slots_.push_back(slot{std::string(key)});
  key_heap_bytes_ += heap_bytes(slots_.back().text);
  live_.push_back(true);
  by_key_.insert(id);
  return id;
}

std::uint32_t doc_table::erase(std::string_view key) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return no_doc;
  std::uint32_t id = *it;
  by_key_.erase(it);  // before the text goes: the set hashes ids through it
  key_heap_bytes_ -= heap_bytes(slots_[id].text);
  std::string().swap(slots_[id].text);
  live_[id] = false;
  return id;
}

bool doc_table::should_renumber() const {
  return slots_.size() - size() > size() + renumber_slack;
}

std::vector<std::uint32_t> doc_table::renumber() {
  std::vector<std::uint32_t> old_to_new(slots_.size(), no_doc);
  std::vector<slot> slots;
  slots.reserve(size());
  for (std::uint32_t id = 0; id < slots_.size(); ++id) {
    if (!live_[id]) continue;
    old_to_new[id] = static_cast<std::uint32_t>(slots.size());
    slots.push_back(std::move(slots_[id]));
  }
  by_key_.clear();
  slots_ = std::move(slots);
  live_.assign(slots_.size(), true);
  by_key_.reserve(slots_.size());
  for (std::uint32_t id = 0; id < slots_.size(); ++id) by_key_.insert(id);
  return old_to_new;
}

void doc_table::clear() {
  by_key_.clear();
  slots_.clear();
  live_.clear();
  key_heap_bytes_ = 0;
}

// id_bound, then per id: varint(0) for a dead slot, else varint(key size + 1) and the key.
void doc_table::save(persist::writer& w) const {
  w.u32(id_bound());
  for (std::uint32_t id = 0; id < id_bound(); ++id) {
    if (!live_[id]) {
      w.varint(0);
      continue;
    }
    w.varint(static_cast<std::uint32_t>(slots_[id].text.size()) + 1);
    w.bytes(slots_[id].text);
  }
}

void doc_table::load(persist::reader& r) {
  assert(slots_.empty());
  const std::size_t bound = r.length(r.u32());
  slots_.resize(bound);
  live_.resize(bound);
  std::size_t live = 0;
  for (std::uint32_t id = 0; id < bound; ++id) {
    const std::uint32_t size = r.varint();
    if (size == 0) continue;
    slots_[id].text = r.string(size - 1);
    key_heap_bytes_ += heap_bytes(slots_[id].text);
    live_[id] = true;
    ++live;
  }
  by_key_.reserve(live);
  for (std::uint32_t id = 0; id < bound; ++id) {
    if (live_[id] && !by_key_.insert(id).second) r.fail("a key has two documents");
  }
}

std::size_t doc_table::memory_bytes() const {
  return slots_.capacity() * sizeof(slot) + live_.capacity() / 8 +
         by_key_.capacity() * (sizeof(std::uint32_t) + 1) + key_heap_bytes_;
}

}  // namespace kv::search

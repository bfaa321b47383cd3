#pragma once
// The documents of a search index: key <-> dense document id.
//
// Ids only grow: a put takes a new id (the next one), so every posting list stays sorted by
// appending (posting_list.hpp). A removed document leaves a dead slot behind. When dead slots
// outnumber live ones (plus renumber_slack), should_renumber() asks the owner to renumber: live
// documents get ids 0..size()-1 in their old order, and every structure keyed by id is rewritten
// through the returned map. That costs O(everything), but happens only after at least as many
// removals as there are live documents, so it is amortized O(1) per removal, and ids stay below
// 2 * size() + renumber_slack (far from overflowing 32 bits).

#include "index/text_ids.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kv::search {

namespace persist {
class reader;
class writer;
}  // namespace persist

class doc_table {
 public:
  static constexpr std::uint32_t renumber_slack = 4096;

  doc_table();
  doc_table(const doc_table&) = delete;
  doc_table& operator=(const doc_table&) = delete;

  // The live id of key, or no_doc.
  std::uint32_t find(std::string_view key) const;
  // Gives key a new id, greater than every id given before; key's previous id (returned through
  // `previous`, else no_doc) becomes dead.
  std::uint32_t assign(std::string_view key, std::uint32_t& previous);
  // Removes key; returns the id it had, or no_doc if absent.
  std::uint32_t erase(std::string_view key);

  std::string_view key(std::uint32_t id) const { return slots_[id].text; }
  bool live(std::uint32_t id) const { return id < live_.size() && live_[id]; }
  std::size_t size() const { return by_key_.size(); }
  // One past the highest id given (dead ones included).
  std::uint32_t id_bound() const { return static_cast<std::uint32_t>(slots_.size()); }

  bool should_renumber() const;
  // Compacts the ids; returns old id -> new id (no_doc for dead slots), sized id_bound() before.
  std::vector<std::uint32_t> renumber();

  void clear();
  std::size_t memory_bytes() const;

  // Writes every slot, dead ones included, so ids survive a save and load (persist.hpp).
  void save(persist::writer& w) const;
  // Takes back what save() wrote into an empty table. Throws persist::format_error.
  void load(persist::reader& r);

 private:
  struct slot {
    std::string text;  // the key; emptied when the slot dies
  };
  std::vector<slot> slots_;
  std::vector<bool> live_;
  std::size_t key_heap_bytes_ = 0;
  ids_by_text<std::vector<slot>> by_key_;
};

}  // namespace kv::search

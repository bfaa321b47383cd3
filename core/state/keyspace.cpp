#include "core/state/keyspace.hpp"

#include "core/base/stable_hash.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <new>

namespace kv {

// ---- version blocks -------------------------------------------------------------------------

keyspace::version_block* keyspace::version_block::make(std::string_view key, std::string_view value,
                                                       std::uint64_t create, std::uint64_t mod,
                                                       std::uint64_t version, std::uint64_t expires,
                                                       version_block* older) {
  void* p = std::malloc(sizeof(version_block) + key.size() + value.size());
  if (p == nullptr) throw std::bad_alloc();
  auto* b = static_cast<version_block*>(p);
  b->create_revision = create;
  b->mod_revision = mod;
  b->version = version;
  b->expires = expires;
  b->older = older;
  b->key_len = static_cast<std::uint32_t>(key.size());
  b->value_len = static_cast<std::uint32_t>(value.size());
  auto* bytes = reinterpret_cast<char*>(b + 1);
  std::memcpy(bytes, key.data(), key.size());
  if (!value.empty()) std::memcpy(bytes + key.size(), value.data(), value.size());
  return b;
}

void keyspace::version_block::destroy(version_block* b) noexcept { std::free(b); }

void keyspace::version_block::destroy_chain(version_block* b) noexcept {
  while (b != nullptr) {
    auto* older = b->older;
    destroy(b);
    b = older;
  }
}

// ---- the B-tree's key heads ------------------------------------------------------------------

namespace {

// Bytes [at, at + 8) of `key` as a big-endian number, zero-padded past the key's end: numbers
// compare as the bytes do.
std::uint64_t head_at(std::string_view key, std::size_t at) noexcept {
  unsigned char bytes[8] = {};
  if (key.size() > at) std::memcpy(bytes, key.data() + at, std::min<std::size_t>(8, key.size() - at));
  std::uint64_t v;
  std::memcpy(&v, bytes, 8);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  return v;
}

}  // namespace

keyspace::tree_entry::tree_entry(version_block* b) noexcept
    : head0(head_at(b->key(), 0)), head1(head_at(b->key(), 8)), head2(head_at(b->key(), 16)), block(b) {}

keyspace::tree_probe::tree_probe(std::string_view k) noexcept
    : head0(head_at(k, 0)), head1(head_at(k, 8)), head2(head_at(k, 16)), key(k) {}

// ---- lifetime -------------------------------------------------------------------------------

keyspace::~keyspace() { clear(); }

void keyspace::clear() noexcept {
  assert(!batched_);
  for (const auto& e : keys_) version_block::destroy_chain(e.block);
  keys_.clear();
  index_.clear();
  by_hash_.clear();
  for (auto* b : retired_) version_block::destroy(b);
  retired_.clear();
  history_queue_.clear();
  tombstone_queue_.clear();
  expiry_.clear();
}

keyspace::keyspace(keyspace&& other) noexcept { *this = std::move(other); }

keyspace& keyspace::operator=(keyspace&& other) noexcept {
  if (this == &other) return *this;
  clear();
  keys_.swap(other.keys_);
  index_.swap(other.index_);
  by_hash_.swap(other.by_hash_);
  retired_.swap(other.retired_);
  history_queue_.swap(other.history_queue_);
  tombstone_queue_.swap(other.tombstone_queue_);
  expiry_.swap(other.expiry_);
  sink_ = std::exchange(other.sink_, nullptr);
  capture_cursor_ = std::exchange(other.capture_cursor_, {});
  revision_ = std::exchange(other.revision_, 1);
  compacted_ = std::exchange(other.compacted_, 1);
  live_keys_ = std::exchange(other.live_keys_, 0);
  live_bytes_ = std::exchange(other.live_bytes_, 0);
  blocks_ = std::exchange(other.blocks_, 0);
  writing_ = std::exchange(other.writing_, false);
  changed_ = std::exchange(other.changed_, false);
  capture_revision_ = std::exchange(other.capture_revision_, 0);
  capture_compacted_ = std::exchange(other.capture_compacted_, 0);
  capture_started_ = std::exchange(other.capture_started_, false);
  assert(!other.batched_ && !batched_);
  max_restored_revision_ = std::exchange(other.max_restored_revision_, 0);
  return *this;
}

// ---- writes ---------------------------------------------------------------------------------

void keyspace::begin_write() {
  assert(!writing_);
  writing_ = true;
  changed_ = false;
}

std::uint64_t keyspace::end_write() {
  assert(writing_);
  writing_ = false;
  for (auto* b : retired_) {
    version_block::destroy(b);
    --blocks_;
  }
  retired_.clear();
  if (changed_) ++revision_;
  changed_ = false;
  return revision_;
}

keyspace::version_block* keyspace::make_block(std::string_view key, std::string_view value, std::uint64_t create,
                                              std::uint64_t mod, std::uint64_t version, std::uint64_t expires,
                                              version_block* older) {
  auto* b = version_block::make(key, value, create, mod, version, expires, older);
  ++blocks_;
  return b;
}

keyspace::version_block* keyspace::find_head(std::string_view key) const { return index_.find(key); }

std::size_t keyspace::prefetch_slots(std::string_view key) const {
  const auto hash = hash_index::hash(key);
  index_.prefetch(hash);
  return hash;
}

void keyspace::prefetch_head(std::size_t hash) const {
  const auto* b = index_.find_tag(hash);
  if (b == nullptr) return;
  // The header and the key, and the value's start: what a write compares and rewrites.
  __builtin_prefetch(b);
  __builtin_prefetch(reinterpret_cast<const char*>(b) + 64);
}

void keyspace::insert_head(version_block* b) {
  keys_.insert(tree_entry(b));
  index_.insert(b);
}

void keyspace::erase_head(std::string_view key) {
  keys_.erase(tree_probe(key));
  index_.erase(key);
}

std::uint64_t keyspace::hash_position(std::string_view key) noexcept { return stable_hash(key) >> 1; }

void keyspace::note_live(version_block* head) { by_hash_.insert(hash_entry{hash_position(head->key()), head}); }

void keyspace::forget_live(const version_block* head) {
  by_hash_.erase(hash_probe{hash_position(head->key()), head->key()});
}

void keyspace::forget_expiry(const version_block* head) {
  if (head->expires != 0 && !head->tombstone()) expiry_.erase({head->expires, const_cast<version_block*>(head)});
}

void keyspace::note_expiry(version_block* head) {
  if (head->expires != 0 && !head->tombstone()) expiry_.insert({head->expires, head});
}

keyspace::version_block* keyspace::move_head(version_block* head, version_block* b) {
  forget_expiry(head);
  note_expiry(b);
  repoint(head, b, !head->tombstone());
  version_block::destroy(head);
  --blocks_;
  return b;
}

void keyspace::repoint(const version_block* head, version_block* b, bool in_hash_order) {
  // Same key: neither index's order or hash changes, so the slots are rewritten in place.
  const_cast<tree_entry&>(*keys_.find(tree_probe(head->key()))).block = b;
  index_.replace(b);
  if (in_hash_order) {
    const_cast<hash_entry&>(*by_hash_.find(hash_probe{hash_position(head->key()), head->key()})).block = b;
  }
}

void keyspace::supersede(version_block* head, version_block* b, bool in_hash_order) {
  repoint(head, b, in_hash_order);
  history_queue_.emplace_back(write_revision(), head);
}

bool keyspace::fits(const version_block* b, std::string_view value) noexcept {
  // A block's allocation holds at least its key and the value it has now, so a value no longer
  // than that fits without asking the allocator (a lookup of its own).
  if (value.size() <= b->value_len) return true;
  return ::malloc_usable_size(const_cast<version_block*>(b)) >= sizeof(version_block) + b->key_len + value.size();
}

void keyspace::push_history(version_block* head) {
  head->older = make_block(head->key(), head->value(), head->create_revision, head->mod_revision, head->version,
                           head->expires, head->older);
  history_queue_.emplace_back(write_revision(), head->older);
}

std::optional<key_value> keyspace::put(std::string_view key, std::string_view value, std::uint64_t expires) {
  assert(writing_);
  const auto w = write_revision();
  changed_ = true;
  version_block* head = find_head(key);
  if (head == nullptr) {
    auto* b = make_block(key, value, w, w, 1, expires, nullptr);
    insert_head(b);
    note_expiry(b);
    note_live(b);
    ++live_keys_;
    live_bytes_ += key.size() + value.size();
    return std::nullopt;
  }
  const bool was_live = !head->tombstone();
  const std::uint64_t create = was_live ? head->create_revision : w;
  const std::uint64_t version = was_live ? head->version + 1 : 1;
  if (was_live) {
    live_bytes_ -= head->value_len;
  } else {
    ++live_keys_;
    live_bytes_ += key.size();
  }
  live_bytes_ += value.size();
  std::optional<key_value> previous;
  if (!in_place(head)) {
    // A batch on another thread may read this block: it stays as it is, as the key's history.
    if (was_live) previous = view_of(head);
    forget_expiry(head);
    auto* b = make_block(key, value, create, w, version, expires, head);
    supersede(head, b, was_live);
    note_expiry(b);
    if (!was_live) note_live(b);
    return previous;
  }
  if (head->mod_revision == w) {
    // Changed twice in one write: the later change replaces the earlier, which no revision ever
    // showed. A copy of the earlier one answers this call until end_write().
    if (was_live) {
      auto* copy = make_block(key, head->value(), head->create_revision, head->mod_revision, head->version,
                              head->expires, nullptr);
      retired_.push_back(copy);
      previous = view_of(copy);
    }
  } else {
    push_history(head);
    if (was_live) previous = view_of(head->older);
  }
  forget_expiry(head);
  if (!fits(head, value)) {
    auto* b = make_block(key, value, create, w, version, expires, head->older);
    head->expires = 0;  // forgotten above
    move_head(head, b);
    if (!was_live) note_live(b);
    return previous;
  }
  head->create_revision = create;
  head->mod_revision = w;
  head->version = version;
  head->expires = expires;
  note_expiry(head);
  head->value_len = static_cast<std::uint32_t>(value.size());
  if (!value.empty()) std::memcpy(reinterpret_cast<char*>(head + 1) + head->key_len, value.data(), value.size());
  if (!was_live) note_live(head);
  return previous;
}

std::uint64_t keyspace::delete_range(const key_range& r, const std::function<void(const key_value&)>& deleted) {
  assert(writing_);
  std::uint64_t n = 0;
  auto [it, last] = bounds(r);
  // Erasing from a B-tree invalidates its iterators: note the keys to erase, erase them after.
  std::vector<std::string> gone;
  for (; it != last; ++it) {
    version_block* head = it->block;
    if (head->tombstone()) continue;
    ++n;
    if (bury(head, deleted)) gone.emplace_back(head->key());
  }
  for (const auto& k : gone) {
    retired_.push_back(find_head(k));
    erase_head(k);
  }
  return n;
}

bool keyspace::bury(version_block* head, const std::function<void(const key_value&)>& deleted) {
  const auto w = write_revision();
  if (deleted) deleted(view_of(head));
  forget_expiry(head);
  forget_live(head);
  --live_keys_;
  live_bytes_ -= head->key_len + head->value_len;
  changed_ = true;
  if (head->mod_revision == w) {
    if (head->older == nullptr) return true;  // created in this same write: no revision ever showed it
    // Changed earlier in this write: that change is dropped; the tombstone takes its place.
  } else if (!in_place(head)) {
    // A batch on another thread may read this block: the tombstone is a new block before it.
    supersede(head, make_block(head->key(), {}, 0, w, 0, 0, head), false);
    return false;
  } else {
    push_history(head);
  }
  head->create_revision = 0;
  head->mod_revision = w;
  head->version = 0;
  head->expires = 0;
  head->value_len = 0;
  return false;
}

bool keyspace::erase_expired(std::string_view key, std::uint64_t now,
                             const std::function<void(const key_value&)>& deleted) {
  assert(writing_);
  version_block* head = find_head(key);
  if (head == nullptr || head->tombstone() || head->expires == 0 || head->expires > now) return false;
  if (bury(head, deleted)) {
    retired_.push_back(head);
    erase_head(head->key());  // the block stays allocated (retired) until end_write()
  }
  return true;
}

// ---- reads ----------------------------------------------------------------------------------

key_value keyspace::view_of(const version_block* b, bool keys_only) noexcept {
  return key_value{b->key(), keys_only ? std::string_view() : b->value(), b->create_revision, b->mod_revision,
                   b->version, b->expires};
}

const keyspace::version_block* keyspace::at_revision(const version_block* head, std::uint64_t revision) noexcept {
  const auto* b = head;
  while (b != nullptr && b->mod_revision > revision) b = b->older;
  return b == nullptr || b->tombstone() ? nullptr : b;
}

std::pair<keyspace::tree::const_iterator, keyspace::tree::const_iterator> keyspace::bounds(
    const key_range& r) const {
  const bool to_the_end = r.end.size() == 1 && r.end[0] == '\0';
  if (to_the_end) {
    if (r.key.size() == 1 && r.key[0] == '\0') return {keys_.begin(), keys_.end()};
    return {keys_.lower_bound(tree_probe(r.key)), keys_.end()};
  }
  if (r.end.empty()) {
    auto first = keys_.lower_bound(tree_probe(r.key));
    auto last = first != keys_.end() && first->block->key() == r.key ? std::next(first) : first;
    return {first, last};
  }
  if (r.end <= r.key) return {keys_.end(), keys_.end()};
  return {keys_.lower_bound(tree_probe(r.key)), keys_.lower_bound(tree_probe(r.end))};
}

error_info keyspace::check_revision(std::uint64_t revision) const {
  if (revision != 0 && revision < compacted_) {
    return {make_error_code(errc::compacted),
            fmt::format("revision {} has been compacted; the oldest readable revision is {}", revision, compacted_),
            {}};
  }
  if (revision > revision_) {
    return {make_error_code(errc::future_revision),
            fmt::format("revision {} is in the future; the current revision is {}", revision, revision_), {}};
  }
  return {};
}

std::optional<key_value> keyspace::get(std::string_view key, std::uint64_t revision) const {
  const auto* head = find_head(key);
  if (head == nullptr) return std::nullopt;
  const auto* b = at_revision(head, revision == 0 ? read_revision() : revision);
  if (b == nullptr) return std::nullopt;
  return view_of(b);
}

result<range_answer> keyspace::range(const key_range& r, const range_options& o) const {
  if (auto e = check_revision(o.revision); e.code) return e;
  range_answer a;
  a.revision = o.revision == 0 ? read_revision() : o.revision;
  auto [first, last] = bounds(r);
  auto visit = [&](const version_block* head) {
    const auto* b = at_revision(head, a.revision);
    if (b == nullptr) return;
    ++a.count;
    if (o.count_only || (o.limit != 0 && a.kvs.size() >= o.limit)) return;
    a.kvs.push_back(view_of(b, o.keys_only));
  };
  if (o.descending) {
    for (auto it = last; it != first;) visit((--it)->block);
  } else {
    for (auto it = first; it != last; ++it) visit(it->block);
  }
  a.more = !o.count_only && a.count > a.kvs.size();
  return a;
}

// ---- changes ----------------------------------------------------------------------------------

result<std::vector<key_event>> keyspace::changes(const key_range& r, std::uint64_t from, std::uint64_t to) const {
  assert(!writing_);
  if (from < compacted_) {
    return error_info{make_error_code(errc::compacted),
                      fmt::format("the changes at revision {} have been compacted; the oldest revision whose "
                                  "changes are kept is {}",
                                  from, compacted_),
                      {}};
  }
  if (to > revision_) {
    return error_info{make_error_code(errc::future_revision),
                      fmt::format("revision {} is in the future; the current revision is {}", to, revision_), {}};
  }
  std::vector<key_event> out;
  if (from > to) return out;
  auto [first, last] = bounds(r);
  for (auto it = first; it != last; ++it) {
    // Newest first; each version in [from, to] is one change, and the one below it what it replaced.
    for (const version_block* b = it->block; b != nullptr && b->mod_revision >= from; b = b->older) {
      if (b->mod_revision > to) continue;
      key_event e;
      e.deleted = b->tombstone();
      e.kv = e.deleted ? key_value{b->key(), {}, 0, b->mod_revision, 0, 0} : view_of(b);
      if (b->older != nullptr && !b->older->tombstone()) e.prev = view_of(b->older);
      out.push_back(e);
    }
  }
  // Keys came in order, so a stable sort by revision keeps them in order within a revision.
  std::stable_sort(out.begin(), out.end(),
                   [](const key_event& a, const key_event& b) { return a.kv.mod_revision < b.kv.mod_revision; });
  return out;
}

// ---- expiry ---------------------------------------------------------------------------------

std::vector<std::string_view> keyspace::due(std::uint64_t now, std::size_t max) const {
  std::vector<std::string_view> out;
  for (auto it = expiry_.begin(); it != expiry_.end() && it->first <= now && out.size() < max; ++it) {
    out.push_back(it->second->key());
  }
  return out;
}

// ---- hash order -----------------------------------------------------------------------------

keyspace::hash_page keyspace::scan(std::uint64_t from, std::size_t count) const {
  hash_page page;
  auto it = by_hash_.lower_bound(hash_probe{from, {}});
  for (; it != by_hash_.end(); ++it) {
    if (page.kvs.size() >= std::max<std::size_t>(count, 1) && it->position != page.next - 1) break;
    page.kvs.push_back(view_of(it->block, true));
    page.next = it->position + 1;
  }
  if (it == by_hash_.end()) page.next = 0;
  return page;
}

// ---- compaction -----------------------------------------------------------------------------

error_info keyspace::check_compact(std::uint64_t revision) const {
  if (revision <= compacted_) {
    return {make_error_code(errc::compacted),
            fmt::format("revision {} is already compacted; the oldest readable revision is {}", revision, compacted_),
            {}};
  }
  if (revision > revision_) {
    return {make_error_code(errc::future_revision),
            fmt::format("cannot compact to revision {}: the current revision is {}", revision, revision_), {}};
  }
  return {};
}

void keyspace::compact(std::uint64_t revision) {
  assert(!check_compact(revision).code);
  compacted_ = revision;
  trim_history(compact_trim);
}

std::uint64_t keyspace::trim_limit() const noexcept {
  // A running capture still reads every revision from its own compacted revision on.
  return capturing() ? std::min(compacted_, capture_compacted_) : compacted_;
}

bool keyspace::trim_pending() const noexcept {
  const auto limit = trim_limit();
  return (!history_queue_.empty() && history_queue_.front().first <= limit) ||
         (!tombstone_queue_.empty() && tombstone_queue_.front().first < limit);
}

void keyspace::trim_step(std::size_t max) {
  assert(!writing_);
  trim_history(max);
}

void keyspace::trim_history(std::size_t max) {
  const auto limit = trim_limit();
  // This step's versions, oldest first. Versions leave in the order they were replaced, so each
  // key's are the oldest of its chain: one walk per key finds where to cut, however long the
  // chain (a key written at every revision keeps thousands of versions within the retention).
  trim_batch_.clear();
  while (!history_queue_.empty() && history_queue_.front().first <= limit && trim_batch_.size() < max) {
    trim_batch_.push_back(history_queue_.front().second);
    history_queue_.pop_front();
  }
  trim_cuts_.clear();
  for (auto* old : trim_batch_) trim_cuts_[find_head(old->key())] = old;  // the newest of the key's
  for (auto [head, newest] : trim_cuts_) cut_history(head, newest, limit);
  std::size_t done = trim_batch_.size();
  while (!tombstone_queue_.empty() && tombstone_queue_.front().first < limit && done < max) {
    ++done;
    if (pinned(tombstone_queue_.front().second)) break;  // a batch may read it: later
    // The key may have been written since: then its tombstone is history, queued as such.
    auto* head = find_head(tombstone_queue_.front().second);
    if (head != nullptr && head->lone_tombstone() && head->mod_revision < limit) {
      erase_tombstone(head);
    }
    tombstone_queue_.pop_front();
  }
}

void keyspace::cut_history(version_block* head, version_block* newest, std::uint64_t limit) {
  assert(head != nullptr && head != newest);
  version_block* newer = head;
  while (newer->older != newest) newer = newer->older;
  newer->older = nullptr;  // everything older than `newest` was replaced before it: all go
  for (version_block* b = newest; b != nullptr;) {
    auto* older = b->older;
    version_block::destroy(b);
    --blocks_;
    b = older;
  }
  // A deleted key whose tombstone is all that is left: the tombstone goes once the revision of
  // the delete is below the compacted one (reads say "absent" without it, and changes() no longer
  // reaches its revision). At the compacted revision itself it stays, queued to go later.
  if (newer == head && head->lone_tombstone()) {
    if (head->mod_revision < limit && !pinned(head->key())) {
      erase_tombstone(head);
    } else {
      tombstone_queue_.emplace_back(head->mod_revision, std::string(head->key()));
    }
  }
}

void keyspace::erase_tombstone(version_block* head) {
  erase_head(head->key());
  version_block::destroy(head);
  --blocks_;
}

// ---- capture and restore --------------------------------------------------------------------

void keyspace::fix_capture() {
  assert(!capturing() && !writing_);
  capture_revision_ = revision_;
  capture_compacted_ = compacted_;
  capture_cursor_.clear();
  capture_started_ = false;
}

keyspace::tree::const_iterator keyspace::next_capture_key() {
  auto it = capture_started_ ? keys_.upper_bound(tree_probe(capture_cursor_)) : keys_.begin();
  capture_started_ = true;
  return it;
}

void keyspace::begin_capture(capture_sink sink) {
  fix_capture();
  sink_ = std::move(sink);
}

bool keyspace::capture_step(std::size_t max_keys) {
  assert(capturing());
  auto it = next_capture_key();
  auto& k = capture_scratch_;
  std::size_t visited = 0;
  auto ahead = it;  // prefetched some keys ahead, as in encode()
  for (std::size_t i = 0; i < prefetch_distance && ahead != keys_.end(); ++i, ++ahead) prefetch_block(ahead->block);
  for (; it != keys_.end() && visited < max_keys; ++it, ++visited) {
    if (ahead != keys_.end()) prefetch_block((ahead++)->block);
    if (captured_versions(it->block, capture_revision_, capture_compacted_, k)) sink_(k);
  }
  if (visited > 0) {
    --it;
    capture_cursor_.assign(it->block->key());
    ++it;
  }
  const bool done = it == keys_.end();
  if (done) {
    sink_ = nullptr;
    capture_scratch_ = {};
  }
  if (done) trim_history(trim_budget);  // what the capture held back
  return !done;
}

bool keyspace::captured_versions(const version_block* head, std::uint64_t revision, std::uint64_t compacted,
                                 captured_key& k) {
  // Newest first here, oldest first once reversed. Reads no `older` of a block at or below the
  // compacted revision: compaction may cut the chain there meanwhile (see the top of the header).
  k.versions.clear();
  const version_block* oldest = nullptr;
  for (const auto* b = head; b != nullptr; b = b->older) {
    if (b->mod_revision > revision) continue;  // written after the capture began
    k.versions.push_back({b->create_revision, b->mod_revision, b->version, b->value(), b->expires});
    oldest = b;
    if (b->mod_revision <= compacted) break;  // what a read at the compacted revision sees
  }
  // The oldest version, if a tombstone from before the compacted revision, says only "absent"
  // to the readable revisions. One at the compacted revision is a change changes() reports.
  if (oldest != nullptr && oldest->tombstone() && oldest->mod_revision < compacted) k.versions.pop_back();
  if (k.versions.empty()) return false;
  std::reverse(k.versions.begin(), k.versions.end());
  k.key = head->key();
  return true;
}

void keyspace::begin_batched_capture() {
  fix_capture();
  batched_ = true;
}

bool keyspace::pin_batch(capture_batch& out, std::size_t max_keys) {
  assert(batched_ && !writing_ && max_keys > 0);
  out.heads_.clear();
  out.revision_ = capture_revision_;
  out.compacted_ = capture_compacted_;
  for (auto it = next_capture_key(); it != keys_.end() && out.heads_.size() < max_keys; ++it) out.heads_.push_back(it->block);
  if (out.heads_.empty()) return false;
  capture_cursor_.assign(out.heads_.back()->key());
  pinned_.emplace_back(std::string(out.heads_.front()->key()), capture_cursor_);
  return true;
}

void keyspace::encode(const capture_batch& b, const capture_sink& sink) {
  // The heads lie wherever their writes allocated them, so each is a cache miss the walk in key
  // order would wait for in turn; asked for some keys ahead, the misses overlap.
  constexpr std::size_t ahead = prefetch_distance;
  const auto& heads = b.heads_;
  for (std::size_t i = 0; i < heads.size() && i < ahead; ++i) prefetch_block(heads[i]);
  captured_key k;
  for (std::size_t i = 0; i < heads.size(); ++i) {
    if (i + ahead < heads.size()) prefetch_block(heads[i + ahead]);
    if (captured_versions(heads[i], b.revision_, b.compacted_, k)) sink(k);
  }
}

void keyspace::prefetch_block(const version_block* b) noexcept {
  // The header, the key and a value of about a hundred bytes: what the encoding copies.
  const auto* p = reinterpret_cast<const char*>(b);
  __builtin_prefetch(p);
  __builtin_prefetch(p + 64);
  __builtin_prefetch(p + 128);
}

void keyspace::release_batch() {
  assert(!pinned_.empty());
  pinned_.pop_front();
}

void keyspace::end_batched_capture() {
  assert(batched_);
  pinned_.clear();
  batched_ = false;
  trim_history(trim_budget);  // what the capture held back
}

void keyspace::restore_key(const captured_key& k) {
  if (k.versions.empty()) throw corruption_error(fmt::format("snapshot: key '{}' has no versions", k.key));
  version_block* head = nullptr;
  std::uint64_t previous = 0;
  for (const auto& v : k.versions) {
    if (v.mod_revision <= previous || (v.version != 0 && v.create_revision > v.mod_revision)) {
      version_block::destroy_chain(head);
      throw corruption_error(fmt::format("snapshot: key '{}' has versions out of order", k.key));
    }
    auto* older = head;
    head = make_block(k.key, v.value, v.create_revision, v.mod_revision, v.version, v.version == 0 ? 0 : v.expires,
                      older);
    if (older != nullptr) history_queue_.emplace_back(v.mod_revision, older);
    previous = v.mod_revision;
  }
  if (find_head(k.key) != nullptr) {
    version_block::destroy_chain(head);
    throw corruption_error(fmt::format("snapshot: key '{}' appears twice", k.key));
  }
  insert_head(head);
  note_expiry(head);
  if (!head->tombstone()) note_live(head);
  max_restored_revision_ = std::max(max_restored_revision_, previous);
  if (!head->tombstone()) {
    ++live_keys_;
    live_bytes_ += head->key_len + head->value_len;
  } else if (head->lone_tombstone()) {  // a delete at the capture's compacted revision
    tombstone_queue_.emplace_back(head->mod_revision, std::string(k.key));
  }
}

void keyspace::restore_revisions(std::uint64_t revision, std::uint64_t compacted) {
  if (revision == 0 || compacted == 0 || compacted > revision || max_restored_revision_ > revision) {
    throw corruption_error(fmt::format(
        "snapshot: revision {} and compacted revision {} do not fit versions up to revision {}", revision,
        compacted, max_restored_revision_));
  }
  revision_ = revision;
  compacted_ = compacted;
  // restore_key() queued history in key order; trimming pops it in revision order.
  std::stable_sort(history_queue_.begin(), history_queue_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::stable_sort(tombstone_queue_.begin(), tombstone_queue_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

}  // namespace kv

#include "index/ngram_index.hpp"

#include "core/base/stable_hash.hpp"
#include "index/doc_table.hpp"
#include "index/persist.hpp"
#include "index/top_hits.hpp"

#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace kv::search {

namespace {

constexpr std::size_t packed_gram_bytes = sizeof(std::uint64_t);
constexpr std::size_t max_dense_n = 3;

// Codes (1..41) of the ASCII characters a folded, padded word can hold; 0: none. A dense gram's
// slot is its codes as digits in base dense_radix (42^3 slots: a 290 KB table that stays in cache).
constexpr std::size_t dense_radix = 42;
constexpr std::array<std::uint8_t, 128> dense_codes = [] {
  std::array<std::uint8_t, 128> t{};
  std::uint8_t next = 1;
  for (char c : std::string_view(" _'.,")) t[static_cast<unsigned char>(c)] = next++;
  for (char c = '0'; c <= '9'; ++c) t[static_cast<unsigned char>(c)] = next++;
  for (char c = 'a'; c <= 'z'; ++c) t[static_cast<unsigned char>(c)] = next++;
  return t;
}();

std::uint64_t pack(std::string_view gram) {
  std::uint64_t key = 0;
  std::memcpy(&key, gram.data(), gram.size());
  return key;
}

// Sorts distinct ids below `bound`: LSD radix by bytes (a few passes over a few hundred ids beat
// a comparison sort by several times). `tmp` is scratch.
void sort_ids(std::vector<std::uint32_t>& ids, std::vector<std::uint32_t>& tmp, std::size_t bound) {
  if (ids.size() < 64) {
    std::sort(ids.begin(), ids.end());
    return;
  }
  tmp.resize(ids.size());
  for (unsigned shift = 0; shift < 32 && (bound - 1) >> shift != 0; shift += 8) {
    std::array<std::uint32_t, 257> start{};
    for (std::uint32_t id : ids) ++start[((id >> shift) & 0xff) + 1];
    for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
    for (std::uint32_t id : ids) tmp[start[(id >> shift) & 0xff]++] = id;
    ids.swap(tmp);
  }
}

}  // namespace

std::uint32_t min_overlap(std::uint32_t q, double threshold) {
  const double size = q;
  auto o = static_cast<std::uint32_t>(std::clamp(std::ceil(threshold * size), 0.0, size));
  while (o > 0 && static_cast<double>(o - 1) / size >= threshold) --o;
  while (o < q && static_cast<double>(o) / size < threshold) ++o;
  return o;
}

ngram_index::ngram_index(std::size_t n) : n_(n), long_ids_(make_ids_by_text(&grams_)) {
  assert(n >= 1);
  if (n <= max_dense_n) {
    std::size_t slots = 1;
    for (std::size_t k = 0; k < n; ++k) slots *= dense_radix;
    dense_ids_.assign(slots, no_doc);
  }
}

std::ptrdiff_t ngram_index::dense_slot(std::string_view gram) const {
  if (dense_ids_.empty() || gram.size() != n_) return -1;
  std::ptrdiff_t slot = 0;
  for (char c : gram) {
    auto b = static_cast<unsigned char>(c);
    std::uint8_t code = b < 0x80 ? dense_codes[b] : 0;
    if (code == 0) return -1;
    slot = slot * static_cast<std::ptrdiff_t>(dense_radix) + code;
  }
  return slot;
}

std::uint32_t ngram_index::find(std::string_view gram) const {
  if (std::ptrdiff_t slot = dense_slot(gram); slot >= 0) return dense_ids_[static_cast<std::size_t>(slot)];
  if (gram.size() <= packed_gram_bytes) {
    auto it = short_ids_.find(pack(gram));
    return it == short_ids_.end() ? no_doc : it->second;
  }
  auto it = long_ids_.find(gram);
  return it == long_ids_.end() ? no_doc : *it;
}

std::uint32_t ngram_index::intern(std::string_view gram) {
  if (std::uint32_t id = find(gram); id != no_doc) return id;
  std::uint32_t id;
  if (!free_grams_.empty()) {
    id = free_grams_.back();
    free_grams_.pop_back();
  } else {
    id = static_cast<std::uint32_t>(grams_.size());
    grams_.emplace_back();
  }
  grams_[id].text.assign(gram);
  grams_[id].hash = stable_hash(gram);
  if (std::ptrdiff_t slot = dense_slot(gram); slot >= 0) {
    dense_ids_[static_cast<std::size_t>(slot)] = id;
  } else if (gram.size() <= packed_gram_bytes) {
    short_ids_.emplace(pack(gram), id);
  } else {
    long_ids_.insert(id);
  }
  ++live_grams_;
  return id;
}

void ngram_index::release(std::uint32_t gram) {
  const std::string& text = grams_[gram].text;
  if (std::ptrdiff_t slot = dense_slot(text); slot >= 0) {
    dense_ids_[static_cast<std::size_t>(slot)] = no_doc;
  } else if (text.size() <= packed_gram_bytes) {
    short_ids_.erase(pack(text));
  } else {
    long_ids_.erase(gram);  // the set finds the id through its text: erase before clearing it
  }
  --live_grams_;
  std::string().swap(grams_[gram].text);
  grams_[gram].postings.clear();
  free_grams_.push_back(gram);
}

template <typename Take>
bool ngram_index::add_dense_word(std::string_view word, Take& take) {
  if (dense_ids_.empty()) return false;
  // The padded word's codes: n - 1 spaces, the word, a space (none when n = 1).
  codes_.assign(n_ - 1, dense_codes[' ']);
  for (char c : word) {
    const auto b = static_cast<unsigned char>(c);
    const std::uint8_t code = b < 0x80 ? dense_codes[b] : 0;
    if (code == 0) return false;
    codes_.push_back(code);
  }
  if (n_ > 1) codes_.push_back(dense_codes[' ']);
  std::size_t top = 1;  // the weight of a slot's first digit
  for (std::size_t k = 1; k < n_; ++k) top *= dense_radix;
  std::size_t slot = 0;
  for (std::size_t i = 0; i < codes_.size(); ++i) {
    if (i >= n_) slot -= codes_[i - n_] * top;
    slot = slot * dense_radix + codes_[i];
    if (i + 1 < n_) continue;
    std::uint32_t id = dense_ids_[slot];
    if (id == no_doc) id = intern(padded_gram(word, i + 1 - n_));
    take(id);
  }
  return true;
}

std::string_view ngram_index::padded_gram(std::string_view word, std::size_t at) {
  scratch_.assign(n_ - 1, ' ');
  scratch_.append(word);
  if (n_ > 1) scratch_.push_back(' ');
  return std::string_view(scratch_).substr(at, n_);
}

std::uint64_t ngram_index::add(std::uint32_t doc, const analyzed_text& text) {
  assert(doc >= size_.size());
  size_.resize(doc + 1, absent);
  forward_.resize(doc + 1);
  ids_.clear();
  auto take = [&](std::uint32_t id) {
    if (id >= seen_.size()) seen_.resize(grams_.size(), 0);
    if (seen_[id] == doc + 1) return;
    seen_[id] = doc + 1;
    ids_.push_back(id);
  };
  for (std::size_t w = 0; w < text.word_count(); ++w) {
    const std::string_view word = text.word(w);
    if (!add_dense_word(word, take)) for_each_ngram(word, n_, scratch_, [&](std::string_view g) { take(intern(g)); });
  }
  sort_ids(ids_, sort_scratch_, grams_.size());
  record_.clear();
  std::uint64_t hash = 0;
  std::uint32_t previous = 0;
  for (std::uint32_t id : ids_) {
    append_varint(record_, id - previous);
    previous = id;
    grams_[id].postings.append(doc);
    hash += grams_[id].hash;
  }
  forward_[doc] = byte_blob(record_);
  forward_bytes_ += record_.size();
  size_[doc] = static_cast<std::uint32_t>(ids_.size());
  postings_ += ids_.size();
  ++documents_;
  return hash;
}

void ngram_index::remove(std::uint32_t doc) {
  assert(live(doc));
  size_[doc] = absent;  // before any compaction below: it drops the entries of dead documents
  std::uint32_t id = 0;
  for (const std::uint8_t* p = forward_[doc].begin(); p != forward_[doc].end();) {
    id += read_varint(p);
    auto& list = grams_[id].postings;
    list.mark_dead();
    --postings_;
    ++stale_;
    if (list.live() == 0) {
      stale_ -= list.dead();
      release(id);
    } else if (list.needs_compaction()) {
      stale_ -= list.compact([this](std::uint32_t d) { return live(d); });
    }
  }
  forward_bytes_ -= forward_[doc].size();
  forward_[doc] = byte_blob();
  --documents_;
}

void ngram_index::remap(std::span<const std::uint32_t> old_to_new, std::uint32_t new_bound) {
  for (auto& g : grams_) {
    if (g.postings.entries() > 0) g.postings.remap(old_to_new);
  }
  stale_ = 0;
  std::vector<std::uint32_t> size(new_bound, absent);
  std::vector<byte_blob> forward(new_bound);
  for (std::uint32_t old = 0; old < size_.size() && old < old_to_new.size(); ++old) {
    std::uint32_t now = old_to_new[old];
    if (now == no_doc) continue;
    assert(live(old));
    size[now] = size_[old];
    forward[now] = std::move(forward_[old]);
  }
  size_ = std::move(size);
  forward_ = std::move(forward);
  // add() takes seen_[id] == doc + 1 to mean "already met in this document"; ids given out after
  // a renumbering repeat old ones, so marks left from before would drop grams of new documents.
  std::fill(seen_.begin(), seen_.end(), 0);
}

void ngram_index::query_grams(const analyzed_text& text, std::vector<std::uint32_t>& known,
                              std::uint32_t& unknown) const {
  absl::flat_hash_set<std::string> missing;
  std::string scratch;  // not scratch_: queries may run concurrently (search_index.hpp)
  for (std::size_t w = 0; w < text.word_count(); ++w) {
    for_each_ngram(text.word(w), n_, scratch, [&](std::string_view g) {
      if (std::uint32_t id = find(g); id != no_doc) {
        known.push_back(id);
      } else {
        missing.emplace(g);
      }
    });
  }
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  unknown = static_cast<std::uint32_t>(missing.size());
}

result<search_answer> ngram_index::similar(const analyzed_text& text, std::uint32_t k, double threshold,
                                           std::uint64_t max_postings_scanned, const doc_table& docs) const {
  std::vector<std::uint32_t> known;
  std::uint32_t unknown = 0;
  query_grams(text, known, unknown);
  const auto q = static_cast<std::uint32_t>(known.size()) + unknown;
  if (q == 0) return error_info{make_error_code(errc::bad_request), "the text has no n-grams (no letters or digits)", {}};
  search_answer answer;
  const std::uint32_t overlap = std::max<std::uint32_t>(min_overlap(q, threshold), 1);
  if (overlap > known.size()) return answer;  // no document holds enough of the grams

  // Prefix filter: the q - overlap + 1 rarest grams, the unknown ones (no documents) first.
  std::vector<std::uint32_t> by_rarity = known;
  std::sort(by_rarity.begin(), by_rarity.end(), [this](std::uint32_t a, std::uint32_t b) {
    auto ea = grams_[a].postings.entries();
    auto eb = grams_[b].postings.entries();
    return ea != eb ? ea < eb : a < b;
  });
  const std::span<const std::uint32_t> prefix(by_rarity.data(), q - overlap + 1 - unknown);
  const std::span<const std::uint32_t> rest(by_rarity.data() + prefix.size(), by_rarity.size() - prefix.size());
  auto too_many = [&] {
    return error_info{make_error_code(errc::too_large),
                      "the query would read more than index.max-postings-scanned (" + std::to_string(max_postings_scanned) +
                          ") postings",
                      {}};
  };
  std::uint64_t scanned = 0;
  for (std::uint32_t id : prefix) scanned += grams_[id].postings.entries();
  if (scanned > max_postings_scanned) return too_many();

  // Candidates, with how many of the prefix grams each holds.
  std::vector<std::uint32_t> shared(size_.size(), 0);
  std::vector<std::uint32_t> candidates;
  for (std::uint32_t id : prefix) {
    for (auto c = grams_[id].postings.begin(); c.next();) {
      if (live(c.doc) && shared[c.doc]++ == 0) candidates.push_back(c.doc);
    }
  }
  const double query_size = q;
  std::erase_if(candidates, [&](std::uint32_t doc) {  // length filter
    const double doc_size = size_[doc];
    bool out = std::min(query_size, doc_size) / std::max(query_size, doc_size) < threshold;
    if (out) shared[doc] = 0;
    return out;
  });

  // Complete the counts. Read the other grams' lists from the shortest up, counting only
  // candidates and dropping those that can no longer reach the overlap even if they are in every
  // list left; switch to reading the remaining candidates' own gram ids once that is cheaper.
  std::uint64_t record_cost = 0;
  for (std::uint32_t doc : candidates) record_cost += size_[doc];
  std::size_t next = 0;
  for (; next < rest.size() && !candidates.empty(); ++next) {
    const auto& list = grams_[rest[next]].postings;
    if (list.entries() > record_cost) break;
    scanned += list.entries();
    if (scanned > max_postings_scanned) return too_many();
    for (auto c = list.begin(); c.next();) {
      if (shared[c.doc] != 0) ++shared[c.doc];
    }
    const auto lists_left = static_cast<std::uint32_t>(rest.size() - next - 1);
    std::erase_if(candidates, [&](std::uint32_t doc) {
      if (shared[doc] + lists_left >= overlap) return false;
      record_cost -= size_[doc];
      shared[doc] = 0;
      return true;
    });
  }
  if (next < rest.size() && !candidates.empty()) {
    scanned += record_cost;
    if (scanned > max_postings_scanned) return too_many();
    std::vector<char> in_query(grams_.size(), 0);
    for (std::uint32_t id : known) in_query[id] = 1;
    for (std::uint32_t doc : candidates) {
      std::uint32_t count = 0;
      std::uint32_t id = 0;
      for (const std::uint8_t* p = forward_[doc].begin(); p != forward_[doc].end();) {
        id += read_varint(p);
        count += in_query[id];
      }
      shared[doc] = count;
    }
  }

  top_hits top(k, docs);
  for (std::uint32_t doc : candidates) {
    const std::uint32_t united = q + size_[doc] - shared[doc];
    const double similarity = static_cast<double>(shared[doc]) / static_cast<double>(united);
    if (similarity >= threshold) {
      ++answer.total;
      top.offer(similarity, doc);
    }
  }
  answer.hits = top.take(0);
  return answer;
}

std::size_t ngram_index::memory_bytes() const {
  std::size_t bytes = grams_.capacity() * sizeof(gram_entry) + free_grams_.capacity() * sizeof(std::uint32_t) +
                      dense_ids_.capacity() * sizeof(std::uint32_t) + short_ids_.capacity() * (sizeof(std::pair<std::uint64_t, std::uint32_t>) + 1) +
                      long_ids_.capacity() * (sizeof(std::uint32_t) + 1) + seen_.capacity() * sizeof(std::uint32_t) +
                      size_.capacity() * sizeof(std::uint32_t) +
                      forward_.capacity() * sizeof(byte_blob) + forward_bytes_;
  for (const auto& g : grams_) bytes += heap_bytes(g.text) + g.postings.memory_bytes();
  return bytes;
}

void ngram_index::save(persist::writer& w) const {
  w.begin(persist::section::grams);
  w.u32(static_cast<std::uint32_t>(grams_.size()));
  for (const auto& g : grams_) {
    w.varint(static_cast<std::uint32_t>(g.text.size()));
    w.bytes(g.text);
    persist::save(w, g.postings);
  }
  w.u32(static_cast<std::uint32_t>(free_grams_.size()));
  for (std::uint32_t id : free_grams_) w.varint(id);
  w.end();

  w.begin(persist::section::gram_documents);
  w.u32(static_cast<std::uint32_t>(size_.size()));
  for (std::uint32_t doc = 0; doc < size_.size(); ++doc) {
    w.varint(live(doc) ? size_[doc] + 1 : 0);
    persist::save(w, forward_[doc]);
  }
  w.end();
}

void ngram_index::load(persist::reader& r, const doc_table& docs) {
  assert(grams_.empty() && size_.empty());
  r.begin(persist::section::grams);
  grams_.resize(r.length(r.u32()));
  std::size_t short_grams = 0;
  for (auto& g : grams_) {
    g.text = r.string(r.varint());
    persist::load(r, g.postings);
    if (g.text.empty() != (g.postings.live() == 0)) r.fail("a gram without documents, or documents without a gram");
    if (g.text.empty()) continue;
    g.hash = stable_hash(g.text);
    ++live_grams_;
    postings_ += g.postings.live();
    stale_ += g.postings.dead();
    short_grams += dense_slot(g.text) < 0 && g.text.size() <= packed_gram_bytes;
  }
  free_grams_.resize(r.length(r.u32()));
  if (free_grams_.size() + live_grams_ != grams_.size()) r.fail("gram ids in use and free do not add up");
  std::vector<char> listed(grams_.size(), 0);
  for (auto& id : free_grams_) {
    id = r.varint();
    if (id >= grams_.size() || !grams_[id].text.empty() || listed[id]) r.fail("a free gram id is in use or listed twice");
    listed[id] = 1;
  }
  short_ids_.reserve(short_grams);
  for (std::uint32_t id = 0; id < grams_.size(); ++id) {
    const std::string& text = grams_[id].text;
    if (text.empty()) continue;
    if (find(text) != no_doc) r.fail("a gram appears twice");
    if (std::ptrdiff_t slot = dense_slot(text); slot >= 0) {
      dense_ids_[static_cast<std::size_t>(slot)] = id;
    } else if (text.size() <= packed_gram_bytes) {
      short_ids_.emplace(pack(text), id);
    } else {
      long_ids_.insert(id);
    }
  }
  r.end();

  r.begin(persist::section::gram_documents);
  const std::size_t bound = r.length(r.u32());
  if (bound != docs.id_bound()) r.fail("the gram documents do not match the doc table");
  size_.resize(bound);
  forward_.resize(bound);
  for (std::uint32_t doc = 0; doc < bound; ++doc) {
    const std::uint32_t size = r.varint();
    forward_[doc] = persist::load_blob(r);
    if ((size != 0) != docs.live(doc)) r.fail("the gram documents do not match the doc table");
    if (size == 0) {
      if (forward_[doc].size() != 0) r.fail("a removed document has a forward record");
      size_[doc] = absent;
      continue;
    }
    size_[doc] = size - 1;
    forward_bytes_ += forward_[doc].size();
    ++documents_;
  }
  r.end();
}

void ngram_index::check_invariants() const {
  auto fail = [](const std::string& what) { throw std::logic_error("ngram_index: " + what); };
  std::vector<std::vector<std::uint32_t>> expected(grams_.size());
  std::uint64_t documents = 0;
  std::uint64_t forward_bytes = 0;
  for (std::uint32_t doc = 0; doc < size_.size(); ++doc) {
    if (!live(doc)) {
      if (forward_[doc].size() != 0) fail("a removed document kept its forward record");
      continue;
    }
    ++documents;
    forward_bytes += forward_[doc].size();
    std::uint32_t count = 0;
    std::uint32_t id = 0;
    for (const std::uint8_t* p = forward_[doc].begin(); p != forward_[doc].end(); ++count) {
      std::uint32_t gap = read_varint(p);
      if (count > 0 && gap == 0) fail("a forward record repeats a gram");
      id += gap;
      if (id >= grams_.size()) fail("a forward record names no gram");
      expected[id].push_back(doc);
    }
    if (count != size_[doc]) fail("a document's gram count");
  }
  if (documents != documents_) fail("document count");
  if (forward_bytes != forward_bytes_) fail("forward bytes");
  std::uint64_t live_grams = 0;
  std::uint64_t postings = 0;
  std::uint64_t stale = 0;
  for (std::uint32_t id = 0; id < grams_.size(); ++id) {
    const auto& list = grams_[id].postings;
    bool in_dictionary = !grams_[id].text.empty() && find(grams_[id].text) == id;
    if (expected[id].empty()) {
      if (in_dictionary || list.entries() != 0) fail("gram without documents kept");
      continue;
    }
    if (!in_dictionary) fail("gram of a document missing from the dictionary");
    if (grams_[id].hash != stable_hash(grams_[id].text)) fail("gram hash");
    ++live_grams;
    std::vector<std::uint32_t> seen;
    std::uint32_t entries = 0;
    for (auto c = list.begin(); c.next(); ++entries) {
      if (live(c.doc)) seen.push_back(c.doc);
    }
    if (seen != expected[id]) fail("postings of '" + grams_[id].text + "' differ from the forward records");
    if (list.live() != seen.size() || list.entries() != entries) fail("live/dead counts");
    if (list.dead() > std::max(list.live(), posting_list<false>::compaction_slack)) fail("garbage unbounded");
    postings += list.live();
    stale += list.dead();
  }
  auto dense = static_cast<std::size_t>(std::count_if(dense_ids_.begin(), dense_ids_.end(), [](std::uint32_t id) { return id != no_doc; }));
  if (live_grams != live_grams_ || live_grams != dense + short_ids_.size() + long_ids_.size()) fail("dictionary size");
  if (postings != postings_) fail("postings count");
  if (stale != stale_) fail("stale postings count");
}

}  // namespace kv::search

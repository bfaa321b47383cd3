#include "index/text_index.hpp"

#include "index/doc_table.hpp"
#include "index/persist.hpp"
#include "index/top_hits.hpp"

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>
#include <string>

namespace kv::search {
namespace {

error_info postings_limit(std::uint64_t limit) {
  return error_info{make_error_code(errc::too_large),
                    "the query would read more than index.max-postings-scanned (" + std::to_string(limit) + ") postings",
                    {}};
}

double bm25(double idf, std::uint32_t frequency, double length_norm) {
  return idf * frequency * (bm25_k1 + 1) / (frequency + length_norm);
}

}  // namespace

text_index::text_index()
    : by_text_(make_ids_by_text(&terms_)), ordered_(text_less<std::vector<term_entry>>{&terms_}) {}

std::uint32_t text_index::intern(std::string_view text) {
  if (auto it = by_text_.find(text); it != by_text_.end()) return *it;
  std::uint32_t id;
  if (!free_terms_.empty()) {
    id = free_terms_.back();
    free_terms_.pop_back();
  } else {
    id = static_cast<std::uint32_t>(terms_.size());
    terms_.emplace_back();
  }
  terms_[id].text.assign(text);
  by_text_.insert(id);
  ordered_.insert(id);
  return id;
}

void text_index::release(std::uint32_t term) {
  by_text_.erase(term);  // both sets find the id through its text: erase before clearing it
  ordered_.erase(term);
  std::string().swap(terms_[term].text);
  terms_[term].postings.clear();
  free_terms_.push_back(term);
}

void text_index::add(std::uint32_t doc, const analyzed_text& text) {
  assert(doc >= length_.size());
  length_.resize(doc + 1, absent);
  forward_.resize(doc + 1);
  pairs_.clear();
  for (std::size_t i = 0; i < text.term_count(); ++i) pairs_.emplace_back(intern(text.term(i)), text.position(i));
  std::sort(pairs_.begin(), pairs_.end());

  // Forward record: per distinct term (ascending id): id gap, frequency, positions (first, gaps).
  record_.clear();
  std::uint32_t previous_term = 0;
  for (std::size_t i = 0; i < pairs_.size();) {
    std::size_t j = i;
    while (j < pairs_.size() && pairs_[j].first == pairs_[i].first) ++j;
    std::uint32_t term = pairs_[i].first;
    auto frequency = static_cast<std::uint32_t>(j - i);
    append_varint(record_, term - previous_term);
    append_varint(record_, frequency);
    std::uint32_t previous_position = 0;
    for (std::size_t k = i; k < j; ++k) {
      append_varint(record_, pairs_[k].second - previous_position);
      previous_position = pairs_[k].second;
    }
    terms_[term].postings.append(doc, frequency);
    ++postings_;
    previous_term = term;
    i = j;
  }
  forward_[doc] = byte_blob(record_);
  forward_bytes_ += record_.size();
  length_[doc] = static_cast<std::uint32_t>(text.term_count());
  total_length_ += text.term_count();
  ++documents_;
}

std::vector<text_index::forward_entry> text_index::decode_forward(const byte_blob& record) {
  std::vector<forward_entry> entries;
  decode_forward(record, entries);
  return entries;
}

void text_index::decode_forward(const byte_blob& record, std::vector<forward_entry>& entries) {
  entries.clear();
  std::uint32_t term = 0;
  for (const std::uint8_t* p = record.begin(); p != record.end();) {
    term += read_varint(p);
    std::uint32_t frequency = read_varint(p);
    const std::uint8_t* positions = p;
    for (std::uint32_t k = 0; k < frequency; ++k) read_varint(p);
    entries.push_back({term, frequency, positions});
  }
}

void text_index::remove(std::uint32_t doc) {
  assert(live(doc));
  std::uint32_t length = length_[doc];
  length_[doc] = absent;  // before any compaction below: it drops the entries of dead documents
  for (const auto& e : decode_forward(forward_[doc])) {
    auto& list = terms_[e.term].postings;
    list.mark_dead();
    --postings_;
    ++stale_;
    if (list.live() == 0) {
      stale_ -= list.dead();
      release(e.term);
    } else if (list.needs_compaction()) {
      stale_ -= list.compact([this](std::uint32_t d) { return live(d); });
    }
  }
  forward_bytes_ -= forward_[doc].size();
  forward_[doc] = byte_blob();
  total_length_ -= length;
  --documents_;
}

void text_index::remap(std::span<const std::uint32_t> old_to_new, std::uint32_t new_bound) {
  for (std::uint32_t id : ordered_) terms_[id].postings.remap(old_to_new);
  stale_ = 0;
  std::vector<std::uint32_t> length(new_bound, absent);
  std::vector<byte_blob> forward(new_bound);
  for (std::uint32_t old = 0; old < length_.size() && old < old_to_new.size(); ++old) {
    std::uint32_t now = old_to_new[old];
    if (now == no_doc) continue;
    assert(live(old));
    length[now] = length_[old];
    forward[now] = std::move(forward_[old]);
  }
  length_ = std::move(length);
  forward_ = std::move(forward);
}

double text_index::idf(std::uint32_t term) const {
  double n = terms_[term].postings.live();
  return std::log(1.0 + (static_cast<double>(documents_) - n + 0.5) / (n + 0.5));
}

double text_index::length_norm(std::uint32_t doc) const {
  double average = static_cast<double>(total_length_) / static_cast<double>(documents_);
  return bm25_k1 * (1.0 - bm25_b + bm25_b * length_[doc] / average);
}

double text_index::score(std::string_view text, std::uint32_t doc) const {
  auto it = by_text_.find(text);
  if (it == by_text_.end() || !live(doc)) return 0;
  for (const auto& e : decode_forward(forward_[doc])) {
    if (e.term == *it) return bm25(idf(e.term), e.frequency, length_norm(doc));
  }
  return 0;
}

result<search_answer> text_index::search(const text_search& q, const doc_table& docs) const {
  const bool need_all = q.mode != match_mode::any;
  std::uint64_t scanned = 0;
  std::vector<resolved_term> query;
  for (std::size_t i = 0; i < q.terms.size(); ++i) {
    const query_term& t = q.terms[i];
    bool repeat = std::any_of(q.terms.begin(), q.terms.begin() + static_cast<std::ptrdiff_t>(i),
                              [&](const query_term& u) { return u.text == t.text && u.prefix == t.prefix; });
    if (repeat && q.mode != match_mode::phrase) continue;
    resolved_term r{{}, t.position, !repeat};
    if (!t.prefix) {
      if (auto it = by_text_.find(t.text); it != by_text_.end()) r.expansions.push_back(*it);
    } else {
      for (auto it = ordered_.lower_bound(std::string_view(t.text));
           it != ordered_.end() && std::string_view(terms_[*it].text).starts_with(t.text); ++it) {
        r.expansions.push_back(*it);
        scanned += terms_[*it].postings.entries();
        if (scanned > q.max_postings_scanned) return postings_limit(q.max_postings_scanned);
      }
    }
    if (!t.prefix && !r.expansions.empty()) scanned += terms_[r.expansions[0]].postings.entries();
    if (scanned > q.max_postings_scanned) return postings_limit(q.max_postings_scanned);
    query.push_back(std::move(r));
  }

  search_answer answer;
  if (need_all && std::any_of(query.begin(), query.end(), [](const auto& r) { return r.expansions.empty(); })) {
    return answer;
  }

  // One cursor per (query term, expansion); a query term's cursors are contiguous.
  std::vector<cursor> cursors;
  std::vector<std::uint32_t> first_cursor(query.size() + 1, 0);
  for (std::uint32_t i = 0; i < query.size(); ++i) {
    first_cursor[i] = static_cast<std::uint32_t>(cursors.size());
    for (std::uint32_t term : query[i].expansions) {
      cursor c{terms_[term].postings.begin(), term, i, idf(term)};
      if (c.postings.next()) cursors.push_back(c);
    }
  }
  first_cursor[query.size()] = static_cast<std::uint32_t>(cursors.size());

  match_state m(query.size(), q.mode == match_mode::phrase);
  top_hits top(q.offset + q.limit, docs);
  // Scores and records the document if it matches in full (key prefix, phrase positions); the
  // cursors of m.matched are on it. False if the postings limit was hit.
  auto consider = [&](std::uint32_t doc) {
    if (!q.key_prefix.empty() && !docs.key(doc).starts_with(q.key_prefix)) return true;
    if (q.mode == match_mode::phrase) {
      if (!phrase_at(doc, query, cursors, m, scanned)) return scanned <= q.max_postings_scanned;
      if (scanned > q.max_postings_scanned) return false;
    }
    double score = 0;
    for (std::size_t i = 0; i < query.size(); ++i) {
      if (m.present[i] && query[i].scored) score += m.best[i];
    }
    ++answer.total;
    top.offer(score, doc);
    return true;
  };

  bool within_limit = need_all ? match_all(query, cursors, first_cursor, m, consider)
                               : match_any(cursors, m, consider);
  if (!within_limit) return postings_limit(q.max_postings_scanned);
  answer.hits = top.take(q.offset);
  return answer;
}

// Notes cursor c (on document doc, of norm `norm`) as a match of its query term.
void text_index::match_state::take(std::uint32_t cursor_index, const cursor& c, double norm) {
  double s = bm25(c.idf, c.postings.count, norm);
  if (!present[c.query_term]) {
    present[c.query_term] = 1;
    best[c.query_term] = s;
    touched.push_back(c.query_term);
  } else {
    best[c.query_term] = std::max(best[c.query_term], s);
  }
  matched.push_back(cursor_index);
}

void text_index::match_state::reset() {
  for (std::uint32_t t : touched) present[t] = 0;
  touched.clear();
  matched.clear();
}

// OR: every document in any list, merged in document order through a heap of cursors.
template <typename Consider>
bool text_index::match_any(std::vector<cursor>& cursors, match_state& m, Consider&& consider) const {
  std::vector<std::uint32_t> heap(cursors.size());
  for (std::uint32_t i = 0; i < heap.size(); ++i) heap[i] = i;
  auto later = [&](std::uint32_t a, std::uint32_t b) { return cursors[a].postings.doc > cursors[b].postings.doc; };
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    const std::uint32_t doc = cursors[heap.front()].postings.doc;
    const bool alive = live(doc);
    const double norm = alive ? length_norm(doc) : 0;
    m.reset();
    while (!heap.empty() && cursors[heap.front()].postings.doc == doc) {
      std::pop_heap(heap.begin(), heap.end(), later);
      cursor& c = cursors[heap.back()];
      if (alive) m.take(heap.back(), c, norm);
      if (c.postings.next()) {
        std::push_heap(heap.begin(), heap.end(), later);
      } else {
        heap.pop_back();
      }
    }
    if (alive && !consider(doc)) return false;
  }
  m.reset();
  return true;
}

// AND (and phrase candidates): a zig-zag join. The rarest query term proposes a document, every
// other term's cursors skip ahead to it (posting_list skips), and any term that lands past it
// proposes the next one; so the work follows the rarest list, not the common ones.
template <typename Consider>
bool text_index::match_all(const std::vector<resolved_term>& query, std::vector<cursor>& cursors,
                           const std::vector<std::uint32_t>& first_cursor, match_state& m, Consider&& consider) const {
  const std::size_t n = query.size();
  std::vector<char> done(cursors.size(), 0);
  // The query term's smallest document at or after target, its cursors moved there; no_doc when
  // its lists are exhausted.
  auto seek = [&](std::size_t i, std::uint32_t target) {
    std::uint32_t lowest = no_doc;
    for (std::uint32_t k = first_cursor[i]; k < first_cursor[i + 1]; ++k) {
      if (done[k]) continue;
      if (!cursors[k].postings.advance(target)) {
        done[k] = 1;
        continue;
      }
      lowest = std::min(lowest, cursors[k].postings.doc);
    }
    return lowest;
  };
  std::vector<std::size_t> order(n);
  std::vector<std::uint64_t> entries(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    order[i] = i;
    for (std::uint32_t k = first_cursor[i]; k < first_cursor[i + 1]; ++k) {
      entries[i] += terms_[cursors[k].term].postings.entries();
    }
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return entries[a] < entries[b]; });

  std::uint32_t target = 0;
  for (;;) {
    const std::uint32_t doc = seek(order[0], target);
    if (doc == no_doc) break;
    bool aligned = true;
    for (std::size_t j = 1; j < n && aligned; ++j) {
      const std::uint32_t d = seek(order[j], doc);
      if (d == no_doc) return true;
      if (d != doc) {
        target = d;
        aligned = false;
      }
    }
    if (!aligned) continue;
    target = doc + 1;
    if (!live(doc)) continue;
    const double norm = length_norm(doc);
    m.reset();
    for (std::uint32_t k = 0; k < cursors.size(); ++k) {
      if (!done[k] && cursors[k].postings.doc == doc) m.take(k, cursors[k], norm);
    }
    if (!consider(doc)) return false;
    if (doc == no_doc - 1) break;
  }
  return true;
}

// Whether the query terms sit at consecutive positions (stop-word slots kept) in doc; m.matched
// holds the cursors on doc. Positions come from one pass over doc's forward record (ascending
// term ids) that stops after the last term needed; each entry decoded counts in `scanned`.
bool text_index::phrase_at(std::uint32_t doc, const std::vector<resolved_term>& query,
                           const std::vector<cursor>& cursors, match_state& m, std::uint64_t& scanned) const {
  auto& positions = m.positions;
  for (auto& p : positions) p.clear();
  auto& wanted = m.wanted;  // (term, query term), ascending term
  wanted.clear();
  for (std::uint32_t k : m.matched) wanted.emplace_back(cursors[k].term, cursors[k].query_term);
  std::sort(wanted.begin(), wanted.end());
  std::size_t want = 0;
  std::uint32_t term = 0;
  for (const std::uint8_t* p = forward_[doc].begin(); want < wanted.size() && p != forward_[doc].end();) {
    term += read_varint(p);
    const std::uint32_t frequency = read_varint(p);
    ++scanned;
    std::uint32_t position = 0;
    for (std::uint32_t k = 0; k < frequency; ++k) {
      position += read_varint(p);
      for (std::size_t w = want; w < wanted.size() && wanted[w].first == term; ++w) {
        positions[wanted[w].second].push_back(position);
      }
    }
    while (want < wanted.size() && wanted[want].first <= term) ++want;
  }
  for (std::size_t i = 0; i < query.size(); ++i) {
    if (query[i].expansions.size() > 1) std::sort(positions[i].begin(), positions[i].end());
  }
  return std::any_of(positions[0].begin(), positions[0].end(), [&](std::uint32_t start) {
    for (std::size_t i = 1; i < query.size(); ++i) {
      std::uint32_t at = start + (query[i].position - query[0].position);
      if (!std::binary_search(positions[i].begin(), positions[i].end(), at)) return false;
    }
    return true;
  });
}

std::size_t text_index::memory_bytes() const {
  std::size_t bytes = terms_.capacity() * sizeof(term_entry) + free_terms_.capacity() * sizeof(std::uint32_t) +
                      by_text_.capacity() * (sizeof(std::uint32_t) + 1) +
                      ordered_.size() * sizeof(std::uint32_t) * 3 / 2 +  // btree nodes are ~2/3 full
                      length_.capacity() * sizeof(std::uint32_t) + forward_.capacity() * sizeof(byte_blob) +
                      forward_bytes_;
  for (const auto& t : terms_) bytes += heap_bytes(t.text) + t.postings.memory_bytes();
  return bytes;
}

void text_index::save(persist::writer& w) const {
  w.begin(persist::section::terms);
  w.u32(static_cast<std::uint32_t>(terms_.size()));
  for (const auto& t : terms_) {
    w.varint(static_cast<std::uint32_t>(t.text.size()));
    w.bytes(t.text);
    persist::save(w, t.postings);
  }
  w.u32(static_cast<std::uint32_t>(free_terms_.size()));
  for (std::uint32_t id : free_terms_) w.varint(id);
  w.u32(static_cast<std::uint32_t>(ordered_.size()));
  for (std::uint32_t id : ordered_) w.varint(id);
  w.end();

  w.begin(persist::section::term_documents);
  w.u32(static_cast<std::uint32_t>(length_.size()));
  for (std::uint32_t doc = 0; doc < length_.size(); ++doc) {
    w.varint(live(doc) ? length_[doc] + 1 : 0);
    persist::save(w, forward_[doc]);
  }
  w.end();
}

void text_index::load(persist::reader& r, const doc_table& docs) {
  assert(terms_.empty() && length_.empty());
  r.begin(persist::section::terms);
  terms_.resize(r.length(r.u32()));
  for (auto& t : terms_) {
    t.text = r.string(r.varint());
    persist::load(r, t.postings);
  }
  std::vector<char> seen(terms_.size(), 0);  // each id must be free or in the dictionary, once
  auto claim = [&](std::uint32_t id) {
    if (id >= terms_.size() || seen[id]) r.fail("a term id is out of range or listed twice");
    seen[id] = 1;
  };
  free_terms_.resize(r.length(r.u32()));
  for (auto& id : free_terms_) {
    claim(id = r.varint());
    if (!terms_[id].text.empty() || terms_[id].postings.entries() != 0) r.fail("a free term id holds a term");
  }
  const std::size_t in_use = r.length(r.u32());
  if (in_use + free_terms_.size() != terms_.size()) r.fail("term ids in use and free do not add up");
  by_text_.reserve(in_use);
  for (std::size_t i = 0; i < in_use; ++i) {
    const std::uint32_t id = r.varint();
    claim(id);
    const auto& list = terms_[id].postings;
    if (list.live() == 0) r.fail("a term has no documents");
    // Strictly ascending text: the ordered set can be built by appending, and no text repeats.
    if (!ordered_.empty() && !(terms_[*ordered_.rbegin()].text < terms_[id].text)) r.fail("terms out of order");
    ordered_.insert(ordered_.end(), id);
    by_text_.insert(id);
    postings_ += list.live();
    stale_ += list.dead();
  }
  r.end();

  r.begin(persist::section::term_documents);
  const std::size_t bound = r.length(r.u32());
  if (bound != docs.id_bound()) r.fail("the term documents do not match the doc table");
  length_.resize(bound);
  forward_.resize(bound);
  for (std::uint32_t doc = 0; doc < bound; ++doc) {
    const std::uint32_t length = r.varint();
    forward_[doc] = persist::load_blob(r);
    if ((length != 0) != docs.live(doc)) r.fail("the term documents do not match the doc table");
    if (length == 0) {
      if (forward_[doc].size() != 0) r.fail("a removed document has a forward record");
      length_[doc] = absent;
      continue;
    }
    length_[doc] = length - 1;
    total_length_ += length - 1;
    forward_bytes_ += forward_[doc].size();
    ++documents_;
  }
  r.end();
}

void text_index::check_invariants() const {
  auto fail = [](const std::string& what) { throw std::logic_error("text_index: " + what); };
  // What the lists must hold, from the forward records: term -> (doc, frequency), ascending doc.
  absl::flat_hash_map<std::uint32_t, std::vector<std::pair<std::uint32_t, std::uint32_t>>> expected;
  std::uint64_t documents = 0;
  std::uint64_t total_length = 0;
  std::uint64_t forward_bytes = 0;
  for (std::uint32_t doc = 0; doc < length_.size(); ++doc) {
    if (!live(doc)) {
      if (forward_[doc].size() != 0) fail("a removed document kept its forward record");
      continue;
    }
    ++documents;
    total_length += length_[doc];
    forward_bytes += forward_[doc].size();
    std::uint32_t length = 0;
    for (const auto& e : decode_forward(forward_[doc])) {
      expected[e.term].emplace_back(doc, e.frequency);
      length += e.frequency;
    }
    if (length != length_[doc]) fail("a document's length is not the sum of its term frequencies");
  }
  if (documents != documents_) fail("document count");
  if (total_length != total_length_) fail("total length");
  if (forward_bytes != forward_bytes_) fail("forward bytes");
  if (by_text_.size() != ordered_.size() || by_text_.size() != expected.size()) fail("dictionary size");
  std::uint64_t postings = 0;
  std::uint64_t stale = 0;
  for (std::uint32_t id : ordered_) {
    const auto& list = terms_[id].postings;
    auto it = expected.find(id);
    if (it == expected.end()) fail("term '" + terms_[id].text + "' has no document");
    if (by_text_.find(std::string_view(terms_[id].text)) == by_text_.end()) fail("term missing from the hash");
    std::vector<std::pair<std::uint32_t, std::uint32_t>> seen;
    std::uint32_t entries = 0;
    for (auto c = list.begin(); c.next();) {
      ++entries;
      if (live(c.doc)) seen.emplace_back(c.doc, c.count);
    }
    if (seen != it->second) fail("postings of '" + terms_[id].text + "' differ from the forward records");
    if (list.live() != seen.size() || list.entries() != entries) fail("live/dead counts of '" + terms_[id].text + "'");
    if (list.dead() > std::max(list.live(), posting_list<true>::compaction_slack)) fail("garbage unbounded");
    postings += list.live();
    stale += list.dead();
  }
  if (postings != postings_) fail("postings count");
  if (stale != stale_) fail("stale postings count");
}

}  // namespace kv::search

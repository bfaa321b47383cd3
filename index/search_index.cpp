#include "index/search_index.hpp"

#include "core/base/stable_hash.hpp"
#include "index/build_worker.hpp"
#include "index/doc_table.hpp"
#include "index/ngram_index.hpp"
#include "index/persist.hpp"
#include "index/posting_list.hpp"
#include "index/text_index.hpp"
#include "index/tokenizer.hpp"

#include <algorithm>
#include <array>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace kv::search {
namespace {

error_info failure(errc code, std::string message) {
  return error_info{make_error_code(code), std::move(message), {}};
}

const index_options& checked(const index_options& opts) {
  if (opts.ngram_size == 0) throw std::invalid_argument("ngram_size: must be at least 1");
  return opts;
}

// A document's share of the digest: its key, its terms in position order with their positions,
// and its gram set (gram_hash, already order-independent).
std::uint64_t document_digest(std::string_view key, const analyzed_text& text, std::uint64_t gram_hash) {
  std::uint64_t terms = 0;
  for (std::size_t i = 0; i < text.term_count(); ++i) terms = mix64(terms ^ stable_hash(text.term(i), text.position(i)));
  return stable_hash(key) ^ mix64(terms + mix64(gram_hash ^ 0x6a09e667f3bcc908ULL));
}

// What analysis depends on, as the header of a saved index records it: a file saved with other
// options holds other terms and grams.
persist::header analysis_options(const index_options& opts) {
  persist::header h;
  h.ngram_size = static_cast<std::uint32_t>(opts.ngram_size);
  std::set<std::string> stop_words;  // the tokenizer's set: folded, order and repeats ignored
  for (const auto& w : opts.stop_words) stop_words.insert(fold(w));
  h.stop_words_digest = mix64(stop_words.size());
  for (const auto& w : stop_words) h.stop_words_digest = mix64(h.stop_words_digest ^ stable_hash(w));
  h.stemming_digest = stable_hash(opts.stemming_language);
  h.analysis_flags = opts.remove_diacritics ? persist::flag_remove_diacritics : 0;
  return h;
}

// The options on which `saved` and `ours` differ, for a message; empty if none.
std::string options_mismatch(const persist::header& saved, const persist::header& ours) {
  std::string out;
  auto add = [&](const std::string& what) { out += (out.empty() ? "" : ", ") + what; };
  if (saved.ngram_size != ours.ngram_size) {
    add("ngram_size " + std::to_string(saved.ngram_size) + " in the file, " + std::to_string(ours.ngram_size) + " here");
  }
  if (saved.stop_words_digest != ours.stop_words_digest) add("other stop words");
  if (saved.stemming_digest != ours.stemming_digest) add("another stemming language");
  if (saved.analysis_flags != ours.analysis_flags) {
    add(std::string("remove_diacritics ") + ((saved.analysis_flags & persist::flag_remove_diacritics) ? "on" : "off") +
        " in the file");
  }
  return out;
}

}  // namespace

const std::vector<std::string>& default_stop_words() {
  static const std::vector<std::string> words{
      "a",  "an", "and", "are", "as",   "at",   "be", "by",   "for",  "from", "in",   "into",
      "is", "it", "its", "of",  "on",   "or",   "so", "than", "that", "the",  "this", "to",
      "was", "were", "which", "with",
      "s",  "t",  // what is left of "library's" and "don't" (apostrophes separate words)
  };
  return words;
}

struct search_index::state {
  explicit state(index_options o)
      : opts(std::move(o)),
        tokens(checked(opts).stop_words, opts.stemming_language, opts.remove_diacritics),
        query_tokens(opts.stop_words, opts.stemming_language, opts.remove_diacritics),
        grams(opts.ngram_size) {
    if (opts.build_threads > 1) {
      worker_tokens = std::make_unique<tokenizer>(opts.stop_words, opts.stemming_language, opts.remove_diacritics);
      worker = std::make_unique<build_worker>();
    }
  }

  // One document of a batch: what put() does, split into the parts that can run apart. `doc` is
  // its new id (no_doc: nothing to add, the value was not UTF-8), `previous` the id it replaces.
  struct batch_entry {
    std::string_view key;
    std::string_view value;
    std::uint32_t doc = no_doc;
    std::uint32_t previous = no_doc;
    std::uint64_t share = 0;  // its share of the digest (built with the n-grams)
    analyzed_text text;
  };
  // A batch is cut into chunks of this many documents (see put_pipelined).
  static constexpr std::size_t chunk_documents = 128;
  struct chunk {
    std::vector<batch_entry> entries;  // the first `size` are in use (the rest keep their buffers)
    std::size_t size = 0;
  };

  // Takes pairs[from..] into c and gives each its document id (its text is left to
  // analyze_entries()), until c is full or the doc table wants renumbering (then the caller must
  // renumber before the next chunk). Returns the index of the first pair not taken.
  std::size_t fill(chunk& c, std::span<const pair_view> pairs, std::size_t from) {
    c.size = 0;
    while (from < pairs.size() && c.size < chunk_documents) {
      const pair_view& p = pairs[from++];
      if (c.entries.size() == c.size) c.entries.emplace_back();
      batch_entry& e = c.entries[c.size++];
      e.key = p.key;
      e.value = p.value;
      e.share = 0;
      if (valid_utf8(p.value)) {
        e.doc = docs.assign(p.key, e.previous);
      } else {
        ++skipped_non_utf8;
        e.doc = no_doc;
        e.previous = docs.erase(p.key);
      }
      if (docs.should_renumber()) break;
    }
    return from;
  }

  // Tokenizes every other entry of c, from `first` (0 or 1), with `with`.
  static void analyze_entries(chunk& c, std::size_t first, const tokenizer& with) {
    for (std::size_t i = first; i < c.size; i += 2) {
      if (c.entries[i].doc != no_doc) with.analyze(c.entries[i].value, c.entries[i].text);
    }
  }

  // The n-gram half of a chunk (on the helper thread) with the documents' digest shares, then
  // the full-text half: the order of adds and removals each index sees is the one put() would
  // give it.
  void build_grams(chunk& c) {
    for (std::size_t i = 0; i < c.size; ++i) {
      batch_entry& e = c.entries[i];
      if (e.doc != no_doc) e.share = document_digest(e.key, e.text, grams.add(e.doc, e.text));
      if (e.previous != no_doc) grams.remove(e.previous);
    }
  }
  void build_text(const chunk& c) {
    for (std::size_t i = 0; i < c.size; ++i) {
      const batch_entry& e = c.entries[i];
      if (e.doc != no_doc) text.add(e.doc, e.text);
      if (e.previous != no_doc) text.remove(e.previous);
    }
  }
  // The digest shares, once both halves of the chunk are built.
  void account(const chunk& c) {
    for (std::size_t i = 0; i < c.size; ++i) {
      const batch_entry& e = c.entries[i];
      if (e.doc != no_doc) {
        if (doc_digests.size() <= e.doc) doc_digests.resize(e.doc + 1, 0);
        doc_digests[e.doc] = e.share;
        digest += doc_digests[e.doc];
      }
      if (e.previous != no_doc) {
        digest -= doc_digests[e.previous];
        doc_digests[e.previous] = 0;
      }
    }
  }

  // put() of every pair, over two threads: each chunk is tokenized by both (every other
  // document, each with its own tokenizer), then its n-grams are built on the helper while this
  // thread builds its full text (the smaller half) and gives the next chunk its ids.
  void put_pipelined(std::span<const pair_view> pairs) {
    chunk* in_flight = nullptr;  // the chunk whose n-grams the helper may still be building
    auto settle = [&] {
      if (in_flight == nullptr) return;
      worker->wait();
      account(*in_flight);
      in_flight = nullptr;
    };
    std::size_t next = 0;
    for (std::size_t turn = 0; next < pairs.size(); ++turn) {
      chunk& c = chunks[turn % chunks.size()];
      next = fill(c, pairs, next);
      settle();  // the helper may start on c only once it has left the previous chunk
      worker->start([this, &c] { analyze_entries(c, 1, *worker_tokens); });
      try {
        analyze_entries(c, 0, tokens);
      } catch (...) {
        worker->wait();
        throw;
      }
      worker->wait();
      worker->start([this, &c] { build_grams(c); });
      in_flight = &c;
      try {
        build_text(c);
      } catch (...) {
        worker->wait();
        throw;
      }
      if (docs.should_renumber()) {
        settle();
        renumber_if_sparse();
      }
    }
    settle();
  }

  void remove_document(std::uint32_t doc) {
    text.remove(doc);
    grams.remove(doc);
    digest -= doc_digests[doc];
    doc_digests[doc] = 0;
  }

  void renumber_if_sparse() {
    if (!docs.should_renumber()) return;
    std::vector<std::uint32_t> old_to_new = docs.renumber();
    text.remap(old_to_new, docs.id_bound());
    grams.remap(old_to_new, docs.id_bound());
    std::vector<std::uint64_t> digests(docs.id_bound(), 0);
    for (std::uint32_t old = 0; old < old_to_new.size() && old < doc_digests.size(); ++old) {
      if (old_to_new[old] != no_doc) digests[old_to_new[old]] = doc_digests[old];
    }
    doc_digests = std::move(digests);
  }

  index_options opts;
  tokenizer tokens;
  // Queries' (a tokenizer is not thread-safe, and queries may run side by side): held while a
  // query tokenizes, not while it runs.
  std::mutex query_tokens_mu;
  tokenizer query_tokens;
  doc_table docs;
  text_index text;
  ngram_index grams;
  std::vector<std::uint64_t> doc_digests;  // per document id: its share of `digest`
  std::uint64_t digest = 0;                // the sum of every live document's share
  std::uint64_t applied_index = 0;
  std::uint64_t skipped_non_utf8 = 0;
  analyzed_text scratch;
  std::array<chunk, 2> chunks;           // put_pipelined()'s
  std::unique_ptr<tokenizer> worker_tokens;  // the helper's (a tokenizer is not thread-safe)
  std::unique_ptr<build_worker> worker;  // set if opts.build_threads > 1; last: joined first
};

search_index::search_index(index_options opts) : state_(std::make_unique<state>(std::move(opts))) {}
search_index::~search_index() = default;
search_index::search_index(search_index&&) noexcept = default;
search_index& search_index::operator=(search_index&&) noexcept = default;

void search_index::put(std::string_view key, std::string_view value) {
  state& s = *state_;
  if (!valid_utf8(value)) {
    erase(key);
    ++s.skipped_non_utf8;
    return;
  }
  s.tokens.analyze(value, s.scratch);
  std::uint32_t previous = no_doc;
  std::uint32_t doc = s.docs.assign(key, previous);
  s.text.add(doc, s.scratch);
  std::uint64_t gram_hash = s.grams.add(doc, s.scratch);
  if (s.doc_digests.size() <= doc) s.doc_digests.resize(doc + 1, 0);
  s.doc_digests[doc] = document_digest(key, s.scratch, gram_hash);
  s.digest += s.doc_digests[doc];
  // Removing after adding keeps the terms the two versions share in the dictionary.
  if (previous != no_doc) s.remove_document(previous);
  s.renumber_if_sparse();
}

void search_index::erase(std::string_view key) {
  state& s = *state_;
  std::uint32_t doc = s.docs.erase(key);
  if (doc == no_doc) return;
  s.remove_document(doc);
  s.renumber_if_sparse();
}

void search_index::put_many(std::span<const pair_view> pairs) {
  state& s = *state_;
  if (s.worker == nullptr || pairs.size() < 2) {
    for (const auto& p : pairs) put(p.key, p.value);
    return;
  }
  s.put_pipelined(pairs);
}

void search_index::put_many(std::span<const kv_pair> pairs) {
  std::vector<pair_view> views;
  views.reserve(pairs.size());
  for (const auto& p : pairs) views.push_back({p.key, p.value});
  put_many(views);
}

void search_index::apply(std::uint64_t index, const command_view& cmd) {
  switch (cmd.type) {
    case command_type::set:
      put(cmd.key, cmd.value);
      break;
    case command_type::del:
      erase(cmd.key);
      break;
    case command_type::bulk_set: {
      std::vector<pair_view> pairs;
      pairs.reserve(cmd.count);
      cmd.for_each_pair([&](std::string_view key, std::string_view value) { pairs.push_back({key, value}); });
      put_many(pairs);
      break;
    }
    case command_type::changes:
      cmd.for_each_change([&](bool deleted, std::string_view key, std::string_view value) {
        if (deleted) {
          erase(key);
        } else {
          put(key, value);
        }
      });
      break;
    default:
      break;
  }
  state_->applied_index = index;
}

void search_index::set_applied_index(std::uint64_t index) { state_->applied_index = index; }
std::uint64_t search_index::applied_index() const { return state_->applied_index; }

void search_index::clear() { state_ = std::make_unique<state>(std::move(state_->opts)); }

void search_index::save(const std::filesystem::path& path) const {
  const state& s = *state_;
  persist::header h = analysis_options(s.opts);
  h.applied_index = s.applied_index;
  h.digest = s.digest;
  h.skipped_non_utf8 = s.skipped_non_utf8;
  h.doc_ids = s.docs.id_bound();
  h.documents = s.docs.size();
  h.terms = s.text.terms();
  h.postings = s.text.postings();
  h.ngrams = s.grams.grams();
  h.ngram_postings = s.grams.postings();
  persist::write_file(path, [&](const persist::writer::sink& sink) {
    persist::writer w(sink, h);
    w.begin(persist::section::documents);
    s.docs.save(w);
    for (std::uint32_t doc = 0; doc < h.doc_ids; ++doc) w.u64(doc < s.doc_digests.size() ? s.doc_digests[doc] : 0);
    w.end();
    s.text.save(w);
    s.grams.save(w);
    w.finish();
  });
}

result<std::uint64_t> search_index::load(const std::filesystem::path& path) {
  clear();  // frees the old contents first: loading needs the room
  try {
    persist::file_source file(path);
    persist::reader r([&](char* out, std::size_t n) { return file.read(out, n); }, file.size());
    const persist::header h = r.read_header();
    if (auto mismatch = options_mismatch(h, analysis_options(state_->opts)); !mismatch.empty()) {
      return failure(errc::bad_request, "search index file " + path.string() + " was saved with different options: " + mismatch);
    }
    state& s = *state_;
    r.begin(persist::section::documents);
    s.docs.load(r);
    if (s.docs.id_bound() != h.doc_ids) r.fail("the doc table does not match the header");
    s.doc_digests.resize(h.doc_ids);
    for (std::uint32_t doc = 0; doc < h.doc_ids; ++doc) {
      s.doc_digests[doc] = r.u64();
      if (!s.docs.live(doc) && s.doc_digests[doc] != 0) r.fail("a removed document has a digest share");
      s.digest += s.doc_digests[doc];
    }
    r.end();
    s.text.load(r, s.docs);
    s.grams.load(r, s.docs);
    r.finish();
    if (s.digest != h.digest || s.docs.size() != h.documents || s.text.terms() != h.terms ||
        s.text.postings() != h.postings || s.grams.grams() != h.ngrams || s.grams.postings() != h.ngram_postings ||
        s.text.documents() != h.documents || s.grams.documents() != h.documents) {
      throw persist::format_error(0, "the header's digest or counts do not match the sections");
    }
    s.applied_index = h.applied_index;
    s.skipped_non_utf8 = h.skipped_non_utf8;
    return h.applied_index;
  } catch (const persist::format_error& e) {
    clear();
    return failure(errc::corruption, "corrupt search index file " + path.string() + " at offset " +
                                         std::to_string(e.offset()) + ": " + e.what());
  } catch (const std::system_error& e) {
    clear();
    return failure(e.code() == std::errc::no_such_file_or_directory ? errc::not_found : errc::internal, e.what());
  } catch (...) {
    clear();
    throw;
  }
}

result<search_answer> search_index::search(const text_query& q, std::uint64_t postings_budget) const {
  state& s = *state_;
  if (q.terms.empty()) return failure(errc::bad_request, "the query has no terms");
  if (std::uint64_t{q.limit} + q.offset > s.opts.max_results) {
    return failure(errc::too_large, "limit + offset (" + std::to_string(std::uint64_t{q.limit} + q.offset) +
                                        ") exceeds index.max-results (" + std::to_string(s.opts.max_results) + ")");
  }
  text_search ts;
  ts.mode = q.mode;
  ts.offset = q.offset;
  ts.limit = q.limit;
  ts.key_prefix = q.key_prefix;
  ts.max_postings_scanned = std::min(s.opts.max_postings_scanned, postings_budget);
  {
    // Tokenizing only: the search itself runs unlocked.
    std::lock_guard lock(s.query_tokens_mu);
    const tokenizer& tokens = s.query_tokens;
    std::uint32_t position = 0;
    std::string scratch;
    std::vector<std::string> pieces;
    for (const std::string& raw : q.terms) {
      if (!valid_utf8(raw)) return failure(errc::bad_request, "a query term is not valid UTF-8");
      const bool prefix = raw.ends_with('*');
      pieces.clear();
      for_each_word(std::string_view(raw).substr(0, raw.size() - (prefix ? 1 : 0)), scratch, [&](std::string_view word) {
        for_each_piece(word, [&](std::string_view piece) { pieces.emplace_back(tokens.unaccent(piece)); });
      });
      if (prefix && pieces.empty()) {
        return failure(errc::bad_request, "a prefix term needs a letter or digit before the '*'");
      }
      for (std::size_t i = 0; i < pieces.size(); ++i, ++position) {
        query_term t;
        t.position = position;
        t.prefix = prefix && i + 1 == pieces.size();  // "new yo*": the last word is the prefix
        if (t.prefix) {
          t.text = pieces[i];  // folded, never stemmed nor dropped as a stop word
        } else if (tokens.is_stop_word(pieces[i])) {
          continue;  // keeps its position
        } else {
          t.text = tokens.stem(pieces[i]);
        }
        ts.terms.push_back(std::move(t));
        if (ts.terms.size() > s.opts.max_query_terms) {
          return failure(errc::too_large, "the query has more than index.max-query-terms (" +
                                              std::to_string(s.opts.max_query_terms) + ") terms");
        }
      }
    }
  }
  if (ts.terms.empty()) {
    return failure(errc::bad_request,
                   "no terms left after tokenizing: the query holds only stop words, punctuation or symbols");
  }
  auto answer = s.text.search(ts, s.docs);
  if (answer) answer->applied_index = s.applied_index;
  return answer;
}

result<search_answer> search_index::similar(const similar_query& q, std::uint64_t postings_budget) const {
  state& s = *state_;
  if (q.text.empty()) return failure(errc::bad_request, "the text is empty");
  if (!valid_utf8(q.text)) return failure(errc::bad_request, "the text is not valid UTF-8");
  if (q.k == 0) return failure(errc::bad_request, "k must be at least 1");
  if (!(q.threshold >= 0.0 && q.threshold <= 1.0)) return failure(errc::bad_request, "threshold must be in [0, 1]");
  if (q.k > s.opts.max_results) {
    return failure(errc::too_large, "k (" + std::to_string(q.k) + ") exceeds index.max-results (" +
                                        std::to_string(s.opts.max_results) + ")");
  }
  analyzed_text text;
  {
    std::lock_guard lock(s.query_tokens_mu);
    s.query_tokens.analyze(q.text, text);
  }
  auto answer = s.grams.similar(text, q.k, q.threshold, std::min(s.opts.max_postings_scanned, postings_budget), s.docs);
  if (answer) answer->applied_index = s.applied_index;
  return answer;
}

std::uint64_t search_index::digest() const { return state_->digest; }

std::uint64_t search_index::documents() const { return state_->docs.size(); }
std::uint64_t search_index::skipped_non_utf8() const { return state_->skipped_non_utf8; }

search_index::stats_t search_index::stats() const {
  const state& s = *state_;
  stats_t st{};
  st.documents = s.docs.size();
  st.terms = s.text.terms();
  st.postings = s.text.postings();
  st.ngrams = s.grams.grams();
  st.ngram_postings = s.grams.postings();
  st.skipped_non_utf8 = s.skipped_non_utf8;
  st.memory_bytes = s.docs.memory_bytes() + s.text.memory_bytes() + s.grams.memory_bytes() +
                    s.doc_digests.capacity() * sizeof(std::uint64_t);
  st.stale_postings = s.text.stale_postings() + s.grams.stale_postings();
  return st;
}

void search_index::check_invariants() const {
  const state& s = *state_;
  s.text.check_invariants();
  s.grams.check_invariants();
  if (s.text.documents() != s.docs.size() || s.grams.documents() != s.docs.size()) {
    throw std::logic_error("search_index: the indexes and the doc table disagree on the documents");
  }
  std::uint64_t digest = 0;
  for (std::uint32_t doc = 0; doc < s.doc_digests.size(); ++doc) {
    if (s.docs.live(doc)) {
      digest += s.doc_digests[doc];
    } else if (s.doc_digests[doc] != 0) {
      throw std::logic_error("search_index: a removed document's digest share was kept");
    }
  }
  if (digest != s.digest) throw std::logic_error("search_index: the digest is not the sum of the documents' shares");
}

}  // namespace kv::search

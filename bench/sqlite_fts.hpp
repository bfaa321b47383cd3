#pragma once
// SQLite FTS5, in-process, for the search benchmark: a table docs(key UNINDEXED, value) with the
// default unicode61 tokenizer, built in one transaction, and AND / OR / phrase queries ranked by
// bm25 (FTS5's `rank`).
//
// The database is a file in a directory the caller owns. One sqlite_fts object is one
// connection: use it from one thread at a time (read_only() opens further connections, for
// concurrent readers).

#include "bench/search_corpus.hpp"
#include "bench/search_queries.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace kv::bench {

class sqlite_fts {
 public:
  explicit sqlite_fts(const std::filesystem::path& file, bool read_only = false) {
    int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(file.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      auto why = std::string(sqlite3_errmsg(db_));
      sqlite3_close(db_);
      throw std::runtime_error("sqlite: cannot open " + file.string() + ": " + why);
    }
    // Reads through a memory map and a 256 MiB page cache, so that queries run from memory as
    // they do in kvnode; the build needs no journal (it is one transaction into a fresh file).
    exec("PRAGMA mmap_size = 8589934592; PRAGMA cache_size = -262144");
    if (!read_only) exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
  }
  ~sqlite_fts() {
    sqlite3_finalize(top_);
    sqlite3_finalize(count_);
    sqlite3_close(db_);
  }
  sqlite_fts(const sqlite_fts&) = delete;
  sqlite_fts& operator=(const sqlite_fts&) = delete;

  // Creates the table and inserts `docs` in one transaction.
  void build(const std::vector<document>& docs) {
    exec("CREATE VIRTUAL TABLE docs USING fts5(key UNINDEXED, value)");
    exec("BEGIN");
    sqlite3_stmt* insert = prepare("INSERT INTO docs(key, value) VALUES (?1, ?2)");
    for (const auto& d : docs) {
      sqlite3_bind_text(insert, 1, d.key.data(), static_cast<int>(d.key.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert, 2, d.value.data(), static_cast<int>(d.value.size()), SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) {
        sqlite3_finalize(insert);
        fail("insert");
      }
      sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    exec("COMMIT");
  }

  // Merges the index's segments into one (FTS5's 'optimize'), as a store would after a bulk load.
  void optimize() { exec("INSERT INTO docs(docs) VALUES ('optimize')"); }

  // The FTS5 expression for a query: every term in double quotes (so no punctuation or keyword
  // can change its meaning), joined by AND or OR, or one quoted phrase.
  static std::string expression(query_class kind, const std::vector<std::string>& terms) {
    auto quoted = [](const std::string& t) {
      std::string out = "\"";
      for (char c : t) out += c == '"' ? std::string("\"\"") : std::string(1, c);
      return out + "\"";
    };
    if (kind == query_class::phrase) {
      std::string joined;
      for (const auto& t : terms) joined += (joined.empty() ? "" : " ") + t;
      return quoted(joined);
    }
    std::string out;
    for (const auto& t : terms) out += (out.empty() ? "" : kind == query_class::all_words ? " AND " : " OR ") + quoted(t);
    return out;
  }

  // The keys of the best `limit` matches of `expr`, best first (bm25). Ties come in FTS5's order:
  // breaking them by key as kvnode does ("ORDER BY rank, key") made OR queries ~50% slower.
  std::vector<std::string> top(const std::string& expr, int limit) {
    if (!top_) top_ = prepare("SELECT key FROM docs WHERE docs MATCH ?1 ORDER BY rank LIMIT ?2");
    sqlite3_bind_text(top_, 1, expr.data(), static_cast<int>(expr.size()), SQLITE_STATIC);
    sqlite3_bind_int(top_, 2, limit);
    std::vector<std::string> keys;
    int rc;
    while ((rc = sqlite3_step(top_)) == SQLITE_ROW) {
      keys.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(top_, 0)),
                        static_cast<std::size_t>(sqlite3_column_bytes(top_, 0)));
    }
    sqlite3_reset(top_);
    if (rc != SQLITE_DONE) fail("query " + expr);
    return keys;
  }

  // How many documents match `expr`.
  std::uint64_t count(const std::string& expr) {
    if (!count_) count_ = prepare("SELECT count(*) FROM docs WHERE docs MATCH ?1");
    sqlite3_bind_text(count_, 1, expr.data(), static_cast<int>(expr.size()), SQLITE_STATIC);
    std::uint64_t n = 0;
    if (sqlite3_step(count_) == SQLITE_ROW) n = static_cast<std::uint64_t>(sqlite3_column_int64(count_, 0));
    sqlite3_reset(count_);
    return n;
  }

 private:
  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string why = error ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error("sqlite: " + sql + ": " + why);
    }
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) fail(sql);
    return s;
  }
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("sqlite: " + what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* top_ = nullptr;
  sqlite3_stmt* count_ = nullptr;
};

}  // namespace kv::bench

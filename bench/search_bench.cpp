// search_bench: kvnode's search (full text and similarity) side by side with SQLite FTS5 and
// PostgreSQL pg_trgm, on the same corpus and the same queries. Run by hand; see the Search
// section of docs/benchmarks.md for what each figure means.
//
//   search_bench [--docs 100000,1000000] [--queries 2000] [--clients 8] [--batch 500] [--builds 3] [--seed 1]
//                [--max-seconds 60] [--warmup 100] [--exact-max-docs 1000000] [--fsync always|never]
//                [--max-postings N] [--skip-kvnode] [--skip-sqlite] [--skip-pg] [--no-restart] [--pg-bin DIR]
//                [--node-index 'KEY = VALUE; ...'] [--node-storage 'KEY = VALUE; ...'] [--json]
//
// For each corpus size: the corpus (bench/search_corpus.hpp: Debian's package descriptions,
// copied to reach the size) and the queries (bench/search_queries.hpp) are built; then, one
// system at a time so that they do not compete for the CPU:
// - kvnode (the binary next to this one, fresh data directory, [index] enabled): load with
//   bulk_set from --clients clients, time until the index caught up, the four query classes
//   (one client, then --clients clients), then kill -9 and restart: time to serve a GET and to
//   catch the index up again (--node-index adds [index] settings to its configuration, for an
//   A/B of one: --node-index 'server-thread-postings = 0'; --node-storage likewise for [storage]);
// - kvnode's search index in this process, built alone, and SQLite FTS5's in-process build in one
//   transaction, taking turns --builds times each (median reported); the last kvnode index
//   answers the four query classes in process, one client ("kvindex" rows); SQLite's last
//   build is optimized, then its AND / OR / phrase queries;
// - PostgreSQL 15 with pg_trgm, a private server: COPY, GIN index, similarity queries;
// then the answers are compared (bench/search_compare.hpp). Every query is sent once as warmup
// (the first --warmup of each list) before the timed runs; a timed run stops sending after
// --max-seconds.
//
// Exit status: 0, or 3 if any query failed or a system did not load every document.

#include "bench/args.hpp"
#include "bench/pg_instance.hpp"
#include "bench/search_compare.hpp"
#include "bench/search_corpus.hpp"
#include "bench/search_kvnode.hpp"
#include "bench/search_queries.hpp"
#include "bench/search_run.hpp"
#include "bench/sqlite_fts.hpp"
#include "bench/trigram.hpp"
#include "harness/node_process.hpp"
#include "index/search_index.hpp"

#include <fmt/format.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono;
namespace kb = kv::bench;
using kb::query_class;

namespace {

struct options {
  std::vector<std::uint64_t> docs{100'000, 1'000'000};
  std::size_t queries = 2000;
  int clients = 8;
  std::size_t batch = 500;
  int builds = 3;  // in-process builds of kvnode's index and of SQLite's, alternating
  std::uint64_t seed = 1;
  kb::run_limits limits;
  std::uint64_t exact_max_docs = 1'000'000;
  std::string fsync = "always";
  std::uint64_t max_postings = 0;  // kvnode's [index] max-postings-scanned; 0: its default
  bool skip_kvnode = false;
  bool skip_sqlite = false;
  bool skip_pg = false;
  bool restart = true;
  std::string pg_bin;
  std::string node_index;  // more [index] lines for kvnode
  std::string node_storage;  // more [storage] lines for kvnode
  bool json = false;
};

options parse(int argc, char** argv) {
  options o;
  kb::flag_table flags("search_bench",
                       "kvnode's search side by side with SQLite FTS5 and PostgreSQL pg_trgm on the same corpus\n"
                       "and queries; the comment at the top of bench/search_bench.cpp and docs/benchmarks.md\n"
                       "describe the runs.");
  flags.add("--docs", "N,N,...", "corpus sizes, one run each", o.docs);
  flags.add("--queries", "N", "queries of each class", o.queries);
  flags.add("--clients", "N", "concurrent clients for the loads and the concurrent query runs", o.clients);
  flags.add("--batch", "N", "documents per bulk_set / transaction", o.batch);
  flags.add("--builds", "N", "in-process builds of each index; the median is reported", o.builds);
  flags.add("--seed", "N", "seed of the corpus and the queries", o.seed);
  flags.add("--max-seconds", "S", "a timed query run stops sending after this long", o.limits.max_seconds);
  flags.add("--warmup", "N", "queries of each list sent once before the timed runs", o.limits.warmup);
  flags.add("--exact-max-docs", "N", "largest corpus whose similarity answers are compared with an exact search",
            o.exact_max_docs);
  flags.add_parsed("--fsync", "always|never", "kvnode's [storage] fsync", o.fsync,
                   [&](const std::string& name, const std::string& v) {
                     if (v != "always" && v != "never") flags.usage_error(name + " takes always or never");
                     o.fsync = v;
                   });
  flags.add("--max-postings", "N", "kvnode's [index] max-postings-scanned; 0: the node's default", o.max_postings);
  flags.add_switch("--skip-kvnode", "do not run kvnode", o.skip_kvnode);
  flags.add_switch("--skip-sqlite", "do not run SQLite FTS5", o.skip_sqlite);
  flags.add_switch("--skip-pg", "do not run PostgreSQL pg_trgm", o.skip_pg);
  flags.add_switch("--no-restart", "skip kvnode's kill -9 and restart", o.restart, false);
  flags.add("--pg-bin", "DIR", "where initdb and postgres are (default: the newest /usr/lib/postgresql/*/bin)",
            o.pg_bin);
  flags.add_parsed("--node-index", "'KEY = VALUE; ...'", "more [index] settings for kvnode", "",
                   [&](const std::string&, const std::string& v) { o.node_index = kb::settings_lines(v); });
  flags.add_parsed("--node-storage", "'KEY = VALUE; ...'", "more [storage] settings for kvnode", "",
                   [&](const std::string&, const std::string& v) { o.node_storage = kb::settings_lines(v); });
  flags.add_switch("--json", "print the report as JSON", o.json);
  flags.parse(argc, argv);
  if (o.queries < 1 || o.clients < 1 || o.batch < 1 || o.builds < 1) {
    flags.usage_error("--queries, --clients, --batch and --builds must be at least 1");
  }
  return o;
}

// SIGINT / SIGTERM: end the servers this process started (kvnode, postgres: its direct children),
// then exit. Only async-signal-safe calls.
extern "C" void on_signal(int sig) {
  char path[64];
  auto self = ::getpid();
  int len = 0;
  char digits[16];
  for (auto p = self; p > 0; p /= 10) digits[len++] = static_cast<char>('0' + p % 10);
  const char prefix[] = "/proc/self/task/";
  int at = 0;
  for (const char* c = prefix; *c; ++c) path[at++] = *c;
  while (len > 0) path[at++] = digits[--len];
  for (const char* c = "/children"; *c; ++c) path[at++] = *c;
  path[at] = 0;
  int fd = ::open(path, O_RDONLY);
  if (fd >= 0) {
    char buf[512];
    auto n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    pid_t pid = 0;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] >= '0' && buf[i] <= '9') {
        pid = pid * 10 + (buf[i] - '0');
      } else if (pid > 0) {
        ::kill(pid, SIGTERM);
        pid = 0;
      }
    }
  }
  const char msg[] = "search_bench: interrupted; stopped the servers it started\n";
  [[maybe_unused]] auto w = ::write(2, msg, sizeof msg - 1);
  ::_exit(128 + sig);
}

constexpr query_class text_classes[] = {query_class::all_words, query_class::any_word, query_class::phrase};
constexpr query_class all_classes[] = {query_class::all_words, query_class::any_word, query_class::phrase,
                                       query_class::similar};

using kb::text_list;

// Everything measured at one corpus size.
struct size_report {
  std::uint64_t docs = 0;
  std::vector<kb::build_run> builds;
  std::vector<kb::class_run> runs;
  std::optional<kb::kvnode_load> load;
  std::optional<kb::kvnode_restart> restart;
  std::vector<kb::text_agreement> agreement;
  std::vector<kb::similarity_recall> recall;
  std::vector<std::string> notes;
  std::uint64_t errors = 0;

  void add(kb::class_run r) {
    errors += r.errors;
    runs.push_back(std::move(r));
  }
};

// The answers of the one-client runs, per system and class.
struct answers {
  std::vector<kb::answer> kvnode[4];
  std::vector<kb::answer> sqlite[3];
  std::vector<kb::answer> pg;
};

// A fresh directory under /tmp, removed with everything in it when the object goes.
struct temp_dir {
  explicit temp_dir(const char* name)
      : path(std::filesystem::temp_directory_path() / fmt::format("{}-{}", name, ::getpid())) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::filesystem::path path;
};

void run_kvnode(const options& o, const std::vector<kb::document>& docs, const kb::query_set& q, size_report& rep,
                answers& ans) {
  auto toml = fmt::format("[storage]\nfsync = \"{}\"\n{}\n[index]\nenabled = true\n", o.fsync, o.node_storage);
  if (o.max_postings > 0) toml += fmt::format("max-postings-scanned = {}\n", o.max_postings);
  toml += o.node_index + "\n";
  kv::harness::node_options no;
  no.extra_toml = toml;
  no.log_keys = "level = \"info\"\n";
  no.log = kv::harness::log_sink::file;
  kv::harness::node_process node(no);
  kb::wait_serving(node.endpoint(), milliseconds(30000));
  auto load = kb::load_kvnode(node.endpoint(), docs, o.clients, o.batch);
  rep.load = load;
  rep.builds.push_back({"kvnode", "load (bulk_set)", docs.size(), load.write_seconds,
                        fmt::format("{} clients x {} docs per bulk_set, fsync {}", o.clients, o.batch, o.fsync)});
  rep.builds.push_back({"kvnode", "index (while loading)", docs.size(), load.index_seconds,
                        fmt::format("caught up {:.2f} s after the last write; status: {} keys, {} indexed",
                                    load.lag_seconds, load.keys, load.index_documents)});
  if (load.index_documents != docs.size() || load.keys != docs.size()) {
    ++rep.errors;
    rep.notes.push_back(fmt::format("kvnode: status says {} keys, {} documents indexed; {} were written", load.keys,
                                    load.index_documents, docs.size()));
  }
  for (auto kind : all_classes) {
    auto& out = ans.kvnode[static_cast<int>(kind)];
    for (auto& r : kb::query_kvnode(node.endpoint(), q, kind, o.clients, o.limits, out)) {
      rep.add(std::move(r));
    }
  }
  if (!o.restart) return;
  rep.restart = kb::restart_kvnode(node, docs.front().key, load.last_index);
  std::istringstream log(node.log());
  std::vector<std::string> lines;  // what the restarted node said about recovery and its index
  for (std::string line; std::getline(log, line);) {
    if (line.find("config [") != std::string::npos) lines.clear();  // a start
    if (line.find("recover") != std::string::npos || line.find("index") != std::string::npos) lines.push_back(line);
  }
  for (auto i = lines.size() > 6 ? lines.size() - 6 : 0; i < lines.size(); ++i) rep.notes.push_back("kvnode log: " + lines[i]);
}

// kvnode's index alone, in this process like SQLite's build: the options the node gives it
// (index/node/node_index.cpp: default stop words, no stemming, two build threads) and put_many in
// batches of --batch, as the node applies each bulk_set. Returns the seconds it took; `built`
// holds the index.
double build_index_in_process(const options& o, const std::vector<kb::document>& docs, size_report& rep,
                              std::unique_ptr<kv::search::search_index>& built) {
  kv::search::index_options opts;
  opts.stop_words = kv::search::default_stop_words();
  opts.build_threads = 2;
  built = std::make_unique<kv::search::search_index>(opts);
  auto& index = *built;
  std::vector<kv::search::pair_view> batch;
  const auto start = steady_clock::now();
  for (std::size_t at = 0; at < docs.size(); at += o.batch) {
    batch.clear();
    for (std::size_t i = at; i < std::min(docs.size(), at + o.batch); ++i) batch.push_back({docs[i].key, docs[i].value});
    index.put_many(batch);
  }
  const double seconds = duration<double>(steady_clock::now() - start).count();
  if (index.documents() != docs.size()) {
    ++rep.errors;
    rep.notes.push_back(fmt::format("kvnode in process: {} documents indexed of {}", index.documents(), docs.size()));
  }
  return seconds;
}

// The median of `seconds` as a build row, every build's rate in its note.
kb::build_run median_build(std::string system, std::string operation, std::uint64_t docs, std::vector<double> seconds,
                           const std::string& note) {
  std::string rates;
  for (double s : seconds) rates += fmt::format("{}{:.1f}k", rates.empty() ? "" : " ", static_cast<double>(docs) / s / 1000);
  std::sort(seconds.begin(), seconds.end());
  auto n = seconds.size();
  double median = n % 2 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2;
  return {std::move(system), std::move(operation), docs, median,
          n == 1 ? note : fmt::format("median of {} builds ({} docs/s); {}", n, rates, note)};
}

// The two in-process builds, kvnode's index and SQLite FTS5, --builds times each, taking turns
// (this machine's speed moves by tens of percent from minute to minute: turns give both the same
// minutes). SQLite's last build, optimized, stays in `sqlite_file` for the queries.
void run_builds(const options& o, const std::vector<kb::document>& docs, const std::filesystem::path& sqlite_file,
                size_report& rep, std::unique_ptr<kv::search::search_index>& kvnode_index) {
  std::vector<double> kvnode_seconds, sqlite_seconds;
  std::optional<kb::build_run> optimized;
  for (int round = 0; round < o.builds; ++round) {
    if (!o.skip_kvnode) kvnode_seconds.push_back(build_index_in_process(o, docs, rep, kvnode_index));
    if (o.skip_sqlite) continue;
    std::filesystem::remove(sqlite_file);
    kb::sqlite_fts db(sqlite_file);
    auto start = steady_clock::now();
    db.build(docs);
    auto built = steady_clock::now();
    sqlite_seconds.push_back(duration<double>(built - start).count());
    if (round + 1 == o.builds) {
      db.optimize();
      optimized = kb::build_run{"sqlite", "optimize", docs.size(), duration<double>(steady_clock::now() - built).count(),
                                fmt::format("database {} MB", std::filesystem::file_size(sqlite_file) >> 20)};
    }
  }
  if (!kvnode_seconds.empty()) {
    rep.builds.push_back(median_build("kvnode", "index (in process)", docs.size(), kvnode_seconds,
                                      fmt::format("the search index alone, 2 build threads, {} docs per put_many", o.batch)));
  }
  if (!sqlite_seconds.empty()) {
    rep.builds.push_back(median_build("sqlite", "build (one transaction)", docs.size(), sqlite_seconds, "FTS5, unicode61"));
  }
  if (optimized) rep.builds.push_back(*optimized);
}

// The four query classes, one client, on kvnode's index in this process (system "kvindex"), as
// SQLite's are run: the engine's own latency, without the node's network round trip and thread
// hand-offs.
void run_index_queries(const options& o, const kv::search::search_index& index, const kb::query_set& q,
                       size_report& rep) {
  for (auto kind : all_classes) {
    std::vector<kb::answer> answers;
    auto ask = [&](std::size_t i, kb::answer& a, std::string& error) {
      kv::result<kv::search::search_answer> r = kv::search::search_answer{};
      if (kind == query_class::similar) {
        r = index.similar(kb::similar_request(q.similar[i]));
      } else {
        r = index.search(kb::text_request(kind, text_list(q, kind)[i]));
      }
      if (!r) {
        error = r.message();
        return false;
      }
      a.total = r->total;
      return true;
    };
    rep.add(kb::run_one_client("kvindex", kind, kb::class_size(q, kind), o.limits, ask, answers));
  }
}

void run_sqlite(const options& o, const std::filesystem::path& file, const kb::query_set& q, size_report& rep,
                answers& ans) {
  for (auto kind : text_classes) {
    const auto& list = text_list(q, kind);
    auto& out = ans.sqlite[static_cast<int>(kind)];
    kb::sqlite_fts db(file, true);
    auto ask = [&](std::size_t i, kb::answer& a, std::string&) {
      a.keys = db.top(kb::sqlite_fts::expression(kind, list[i]), 10);
      return true;
    };
    auto one = kb::run_one_client("sqlite", kind, list.size(), o.limits, ask, out);
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].ok) out[i].total = db.count(kb::sqlite_fts::expression(kind, list[i]));
    }
    rep.add(std::move(one));
    if (o.clients > 1) {
      auto many = kb::run_threads("sqlite", kind, list.size(), o.clients, o.limits, [&] {
        auto conn = std::make_shared<kb::sqlite_fts>(file, true);
        return [conn, &list, kind](std::size_t i, kb::answer& a, std::string&) {
          a.keys = conn->top(kb::sqlite_fts::expression(kind, list[i]), 10);
          return true;
        };
      });
      rep.add(std::move(many));
    }
  }
}

void run_pg(const options& o, const std::vector<kb::document>& docs, const kb::query_set& q, size_report& rep,
            answers& ans) {
  kb::pg_instance pg({.bin_dir = o.pg_bin});
  {
    kb::pg_trgm_client c(pg.conninfo());
    auto start = steady_clock::now();
    c.load(docs);
    auto loaded = steady_clock::now();
    c.create_index();
    auto indexed = steady_clock::now();
    rep.builds.push_back({"pg", "load (COPY)", docs.size(), duration<double>(loaded - start).count(),
                          c.value("SELECT version()").substr(0, 16)});
    rep.builds.push_back({"pg", "index (GIN gin_trgm_ops)", docs.size(), duration<double>(indexed - loaded).count(),
                          fmt::format("table {}, index {}", c.value("SELECT pg_size_pretty(pg_table_size('docs'))"),
                                      c.value("SELECT pg_size_pretty(pg_relation_size('docs_value_trgm'))"))});
    auto count = std::stoull(c.value("SELECT count(*) FROM docs"));
    if (count != docs.size()) {
      ++rep.errors;
      rep.notes.push_back(fmt::format("pg: the table holds {} rows; {} were loaded", count, docs.size()));
    }
    c.prepare_similar(0.3);
    auto plan = c.value(fmt::format("EXPLAIN EXECUTE similar_docs('{}')", "abc"));
    if (plan.find("docs_value_trgm") == std::string::npos) rep.notes.push_back("pg: the plan does not use the index:\n" + plan);
  }
  kb::pg_trgm_client c(pg.conninfo());
  c.prepare_similar(0.3);
  auto ask = [&](std::size_t i, kb::answer& a, std::string&) {
    for (auto& h : c.similar(q.similar[i])) {
      a.keys.push_back(std::move(h.key));
      a.scores.push_back(h.score);
    }
    return true;
  };
  auto one = kb::run_one_client("pg", query_class::similar, q.similar.size(), o.limits, ask, ans.pg);
  if (docs.size() <= 100'000) {  // where the time goes, for one query (at 1M it takes a minute)
    std::string literal;
    for (char ch : q.similar.front()) literal += ch == '\'' ? std::string("''") : std::string(1, ch);
    rep.notes.push_back("pg: the plan of the first similarity query:\n" +
                        c.value("EXPLAIN (ANALYZE) EXECUTE similar_docs('" + literal + "')"));
  }
  rep.add(std::move(one));
  if (o.clients > 1) {
    auto conninfo = pg.conninfo();
    auto many = kb::run_threads("pg", query_class::similar, q.similar.size(), o.clients, o.limits, [&] {
      auto conn = std::make_shared<kb::pg_trgm_client>(conninfo);
      conn->prepare_similar(0.3);
      return [conn, &q](std::size_t i, kb::answer& a, std::string&) {
        for (auto& h : conn->similar(q.similar[i])) a.keys.push_back(std::move(h.key));
        return true;
      };
    });
    rep.add(std::move(many));
  }
}

void compare(const options& o, const std::vector<kb::document>& docs, const kb::query_set& q, size_report& rep,
             answers& ans) {
  if (!o.skip_kvnode && !o.skip_sqlite) {
    for (auto kind : text_classes) {
      rep.agreement.push_back(kb::compare_text(kind, text_list(q, kind), ans.kvnode[static_cast<int>(kind)],
                                               ans.sqlite[static_cast<int>(kind)]));
    }
  }
  const auto& kvnode_similar = ans.kvnode[static_cast<int>(query_class::similar)];
  if (o.skip_kvnode && o.skip_pg) return;
  kb::similarity_judge judge(docs, 0.3);
  std::vector<kb::reference_answer> refs(q.similar.size());
  std::string reference;
  if (docs.size() <= o.exact_max_docs) {
    reference = "exact";
    kb::trigram_oracle oracle(docs);
    for (std::size_t i = 0; i < q.similar.size(); ++i) refs[i] = oracle.search(q.similar[i], 0.3);
  } else if (!o.skip_pg) {
    reference = "pg";
    for (std::size_t i = 0; i < ans.pg.size(); ++i) {
      if (ans.pg[i].ok) refs[i] = judge.from_answer(q.similar[i], ans.pg[i]);
    }
  } else {
    return;
  }
  auto judge_all = [&](const std::string& system, const std::vector<kb::answer>& a) {
    kb::similarity_recall r;
    r.system = system;
    r.reference = reference;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (reference == "pg" && !ans.pg[i].ok) continue;
      judge.judge(r, q.similar[i], a[i], refs[i]);
    }
    rep.recall.push_back(r);
  };
  if (!o.skip_kvnode) judge_all("kvnode", kvnode_similar);
  if (!o.skip_pg && reference == "exact") judge_all("pg", ans.pg);
}

std::string ms(double us) { return fmt::format("{:.3f}", us / 1000); }

void print_table(const options& o, const kb::corpus_source& src, size_report& rep) {
  auto copies = rep.docs > src.packages ? rep.docs - src.packages : 0;
  fmt::print("\n== {} documents ({} packages + {} copies), {} queries per class, seed {} ==\n", rep.docs,
             std::min<std::uint64_t>(rep.docs, src.packages), copies, o.queries, o.seed);
  fmt::print("{:<7} {:<26} {:>7} {:>9} {:>9} {:>9} {:>9}  {}\n", "system", "operation", "clients", "p50 ms", "p99 ms",
             "ops/s", "docs/s", "notes");
  for (const auto& b : rep.builds) {
    fmt::print("{:<7} {:<26} {:>7} {:>9} {:>9} {:>9} {:>9.0f}  {:.1f} s; {}\n", b.system, b.operation, "-", "-", "-",
               "-", b.docs_per_sec(), b.seconds, b.note);
  }
  for (auto& r : rep.runs) {
    fmt::print("{:<7} {:<26} {:>7} {:>9} {:>9} {:>9.0f} {:>9}  {} of {} in {:.1f} s{}\n", r.system,
               kb::class_name(r.kind), r.clients, ms(r.latency.percentile_us(0.5)), ms(r.latency.percentile_us(0.99)),
               r.ops_per_sec(), "-", r.ops, r.planned, r.seconds,
               r.errors ? fmt::format("; {} errors, first: {}", r.errors, r.first_error) : std::string());
  }
  if (rep.restart) {
    fmt::print("kvnode  restart after kill -9: GET served after {:.0f} ms; index caught up after {:.0f} ms ({} documents)\n",
               rep.restart->get_ms, rep.restart->index_ms, rep.restart->index_documents);
  }
  if (!rep.agreement.empty()) {
    fmt::print("\ntext answers, kvnode vs sqlite: queries, same match count, matches summed (kvnode / sqlite), top-10 overlap\n");
    for (const auto& a : rep.agreement) {
      fmt::print("  {:<7} {:>6} {:>6} ({:5.1f}%)  {:>12} / {:<12}  {:5.1f}%\n", kb::class_name(a.kind), a.queries,
                 a.equal_totals, a.queries ? 100.0 * static_cast<double>(a.equal_totals) / static_cast<double>(a.queries) : 0.0,
                 a.total_a, a.total_b, 100 * a.overlap());
      for (const auto& e : a.examples) fmt::print("          differs: {}\n", e);
    }
  }
  if (!rep.recall.empty()) {
    fmt::print("\nsimilarity (threshold 0.3, k 10): recall@10 against the reference, ties counted as hits\n");
    for (const auto& r : rep.recall) {
      fmt::print("  {:<7} vs {:<5} recall {:6.4f} over {} queries ({} with a match, {} matches in all); "
                 "{} below the threshold; score error <= {:.4f}\n",
                 r.system, r.reference, r.recall(), r.queries, r.with_matches,
                 r.reference_matches, r.false_positives, r.max_score_error);
      if (r.max_score_error > 1e-4) fmt::print("          largest score error: {}\n", r.worst);
    }
  }
  for (const auto& n : rep.notes) fmt::print("note: {}\n", n);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

std::string to_json(size_report& rep) {
  std::string builds, runs, agreement, recall;
  for (const auto& b : rep.builds) {
    builds += fmt::format("{}{{\"system\":\"{}\",\"operation\":{},\"docs\":{},\"seconds\":{:.3f},\"docs_per_sec\":{:.0f},"
                          "\"note\":{}}}",
                          builds.empty() ? "" : ",", b.system, json_string(b.operation), b.docs, b.seconds,
                          b.docs_per_sec(), json_string(b.note));
  }
  for (auto& r : rep.runs) {
    runs += fmt::format("{}{{\"system\":\"{}\",\"query\":\"{}\",\"clients\":{},\"ops\":{},\"planned\":{},\"errors\":{},"
                        "\"seconds\":{:.3f},\"ops_per_sec\":{:.1f},\"p50_ms\":{:.4f},\"p99_ms\":{:.4f}}}",
                        runs.empty() ? "" : ",", r.system, kb::class_name(r.kind), r.clients, r.ops, r.planned, r.errors,
                        r.seconds, r.ops_per_sec(), r.latency.percentile_us(0.5) / 1000,
                        r.latency.percentile_us(0.99) / 1000);
  }
  for (const auto& a : rep.agreement) {
    agreement += fmt::format("{}{{\"query\":\"{}\",\"queries\":{},\"equal_totals\":{},\"total_kvnode\":{},"
                             "\"total_sqlite\":{},\"top10_overlap\":{:.4f}}}",
                             agreement.empty() ? "" : ",", kb::class_name(a.kind), a.queries, a.equal_totals, a.total_a,
                             a.total_b, a.overlap());
  }
  for (const auto& r : rep.recall) {
    recall += fmt::format("{}{{\"system\":\"{}\",\"reference\":\"{}\",\"queries\":{},\"with_matches\":{},"
                          "\"recall_at_10\":{:.4f},\"below_threshold\":{},\"reference_matches\":{}}}",
                          recall.empty() ? "" : ",", r.system, r.reference, r.queries, r.with_matches, r.recall(),
                          r.false_positives, r.reference_matches);
  }
  std::string load = "null", restart = "null";
  if (rep.load) {
    load = fmt::format("{{\"write_seconds\":{:.3f},\"index_seconds\":{:.3f},\"lag_seconds\":{:.3f},\"last_index\":{},"
                       "\"index_documents\":{}}}",
                       rep.load->write_seconds, rep.load->index_seconds, rep.load->lag_seconds, rep.load->last_index,
                       rep.load->index_documents);
  }
  if (rep.restart) {
    restart = fmt::format("{{\"get_ms\":{:.1f},\"index_ms\":{:.1f},\"index_documents\":{}}}", rep.restart->get_ms,
                          rep.restart->index_ms, rep.restart->index_documents);
  }
  std::string notes;
  for (const auto& n : rep.notes) notes += (notes.empty() ? "" : ",") + json_string(n);
  return fmt::format("{{\"docs\":{},\"builds\":[{}],\"queries\":[{}],\"kvnode_load\":{},\"kvnode_restart\":{},"
                     "\"text_agreement\":[{}],\"similarity_recall\":[{}],\"notes\":[{}],\"errors\":{}}}",
                     rep.docs, builds, runs, load, restart, agreement, recall, notes, rep.errors);
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  kb::corpus_source src;
  std::vector<kb::document> packages;
  try {
    packages = kb::load_packages(src);
  } catch (const std::exception& e) {
    fmt::print(stderr, "search_bench: {}\n", e.what());
    return 3;
  }
  if (!o.json) {
    fmt::print("# search_bench: {} packages from apt-cache dumpavail, {} with a long description ({} Translation-en "
               "files); {} cores, load {}\n",
               src.packages, src.long_descriptions, src.translation_files, std::thread::hardware_concurrency(),
               [] {
                 std::ifstream in("/proc/loadavg");
                 std::string a, b, c;
                 in >> a >> b >> c;
                 return a + " " + b + " " + c;
               }());
    if (src.long_descriptions == 0) {
      fmt::print("# no long descriptions: run `apt-get update -o Acquire::Languages=en` (bench/search_bench.sh does)\n");
    }
  }
  std::vector<std::string> json_sizes;
  std::uint64_t errors = 0;
  for (auto n : o.docs) {
    size_report rep;
    rep.docs = n;
    answers ans;
    try {
      auto docs = kb::scaled_corpus(packages, n);
      auto queries = kb::make_queries(docs, o.queries, o.seed);
      if (!o.skip_kvnode) run_kvnode(o, docs, queries, rep, ans);
      temp_dir sqlite_dir("search-bench-sqlite");
      const auto sqlite_file = sqlite_dir.path / "fts.db";
      std::unique_ptr<kv::search::search_index> kvnode_index;
      run_builds(o, docs, sqlite_file, rep, kvnode_index);
      if (kvnode_index) run_index_queries(o, *kvnode_index, queries, rep);
      kvnode_index.reset();
      if (!o.skip_sqlite) run_sqlite(o, sqlite_file, queries, rep, ans);
      if (!o.skip_pg) run_pg(o, docs, queries, rep, ans);
      compare(o, docs, queries, rep, ans);
    } catch (const std::exception& e) {
      ++rep.errors;
      rep.notes.push_back(fmt::format("failed: {}", e.what()));
    }
    errors += rep.errors;
    if (o.json) {
      json_sizes.push_back(to_json(rep));
    } else {
      print_table(o, src, rep);
    }
    std::fflush(stdout);
  }
  if (o.json) {
    std::string sizes;
    for (const auto& s : json_sizes) sizes += (sizes.empty() ? "" : ",") + s;
    fmt::print("{{\"bench\":\"search\",\"packages\":{},\"long_descriptions\":{},\"queries_per_class\":{},\"clients\":{},"
               "\"seed\":{},\"sizes\":[{}]}}\n",
               src.packages, src.long_descriptions, o.queries, o.clients, o.seed, sizes);
  }
  return errors == 0 ? 0 : 3;
}

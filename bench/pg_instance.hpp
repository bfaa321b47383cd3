#pragma once
// A private PostgreSQL server for the search benchmark, and pg_trgm similarity search through
// libpq.
//
// pg_instance runs initdb into a fresh temporary directory and starts `postgres` on it, listening
// on a unix socket in that directory only (no TCP). PostgreSQL refuses to run as root, so when
// the benchmark runs as root both run as the `postgres` system user, which owns the directory.
// The cluster uses the C.UTF-8 locale (pg_trgm then takes runs of Unicode letters and digits as
// words, as kvnode and bench/trigram.hpp do; in the C locale every non-ASCII character would
// separate words) and fsync off: the data is thrown away at the end. The destructor stops
// the server (fast shutdown, SIGKILL after 10 s) and removes the directory; the server also gets
// SIGQUIT if the benchmark dies first (PR_SET_PDEATHSIG).
//
// pg_trgm_client is one connection: use it from one thread.

#include "bench/search_corpus.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kv::bench {

class pg_instance {
 public:
  struct options {
    std::filesystem::path bin_dir;  // initdb and postgres; empty: the newest /usr/lib/postgresql/*/bin
    std::string shared_buffers = "1GB";
    std::string maintenance_work_mem = "1GB";  // for CREATE INDEX
  };

  explicit pg_instance(options o) : bin_(o.bin_dir.empty() ? default_bin_dir() : o.bin_dir) {
    char tmpl[] = "/tmp/search-bench-pg-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("pg: cannot create a temporary directory");
    dir_ = tmpl;
    if (::geteuid() == 0) {
      auto* pw = ::getpwnam("postgres");
      if (!pw) throw std::runtime_error("pg: running as root needs a `postgres` user (apt-get install postgresql)");
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (::chown(dir_.c_str(), uid_, gid_) != 0) throw std::runtime_error("pg: cannot chown " + dir_.string());
    }
    auto data = (dir_ / "data").string();
    if (run_and_wait({(bin_ / "initdb").string(), "-D", data, "-U", "postgres", "--auth=trust", "--locale=C.UTF-8",
                      "--encoding=UTF8", "--no-sync"}) != 0) {
      throw std::runtime_error("pg: initdb failed; see " + (dir_ / "initdb.log").string());
    }
    pid_ = spawn({(bin_ / "postgres").string(), "-D", data, "-p", "5432", "-k", dir_.string(), "-c",
                  "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                  "-c", "shared_buffers=" + o.shared_buffers, "-c", "maintenance_work_mem=" + o.maintenance_work_mem,
                  "-c", "max_wal_size=8GB", "-c", "logging_collector=off"},
                 dir_ / "postgres.log");
    wait_ready();
  }
  ~pg_instance() {
    if (pid_ > 0) {
      ::kill(pid_, SIGINT);  // fast shutdown: disconnect clients, checkpoint, exit
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > until) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, nullptr, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  pg_instance(const pg_instance&) = delete;
  pg_instance& operator=(const pg_instance&) = delete;

  // A libpq connection string for this server.
  std::string conninfo() const { return fmt::format("host={} port=5432 user=postgres dbname=postgres", dir_.string()); }
  std::string log() const {
    std::ifstream in(dir_ / "postgres.log");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  pid_t pid() const { return pid_; }

 private:
  static std::filesystem::path default_bin_dir() {
    std::filesystem::path best;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      if (std::filesystem::exists(e.path() / "bin" / "postgres") && e.path() > best.parent_path()) best = e.path() / "bin";
    }
    if (best.empty()) throw std::runtime_error("pg: no /usr/lib/postgresql/*/bin/postgres (apt-get install postgresql)");
    return best;
  }

  // Forks `argv` as the postgres user (when root), output to `log`, dying with its parent.
  pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& log) const {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("pg: fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
      if (::getppid() != parent) ::_exit(1);
      int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (out >= 0) {
        if (uid_ != 0 && ::fchown(out, uid_, gid_) != 0) ::_exit(126);
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      if (uid_ != 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) ::_exit(126);
      if (::chdir(dir_.c_str()) != 0) ::_exit(126);  // the caller's directory may be closed to this user
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    return pid;
  }

  int run_and_wait(const std::vector<std::string>& argv) const {
    auto pid = spawn(argv, dir_ / "initdb.log");
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }

  void wait_ready() {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      if (PQping(conninfo().c_str()) == PQPING_OK) return;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("pg: postgres exited at startup:\n" + log());
      }
      if (std::chrono::steady_clock::now() > until) throw std::runtime_error("pg: postgres did not start in 60 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::filesystem::path bin_;
  std::filesystem::path dir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
};

// One libpq connection with the benchmark's statements.
class pg_trgm_client {
 public:
  explicit pg_trgm_client(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str()), PQfinish) {
    if (PQstatus(conn_.get()) != CONNECTION_OK) throw std::runtime_error(std::string("pg: ") + PQerrorMessage(conn_.get()));
  }

  // Runs `sql` (several statements allowed); throws on an error.
  void exec(const std::string& sql) {
    result r(PQexec(conn_.get(), sql.c_str()), PQclear);
    check(r.get(), sql);
  }

  // Text of the first column of the first row of `sql`'s answer.
  std::string value(const std::string& sql) {
    result r(PQexec(conn_.get(), sql.c_str()), PQclear);
    check(r.get(), sql);
    std::string out;
    for (int row = 0; row < PQntuples(r.get()); ++row) out += std::string(row ? "\n" : "") + PQgetvalue(r.get(), row, 0);
    return out;
  }

  // The table docs(key text, value text), filled with COPY.
  void load(const std::vector<document>& docs) {
    exec("CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE TABLE docs (key text, value text)");
    result start(PQexec(conn_.get(), "COPY docs (key, value) FROM STDIN"), PQclear);
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) check(start.get(), "COPY");
    std::string chunk;
    auto escape = [&](const std::string& s) {
      for (char c : s) {
        switch (c) {
          case '\\': chunk += "\\\\"; break;
          case '\t': chunk += "\\t"; break;
          case '\n': chunk += "\\n"; break;
          case '\r': chunk += "\\r"; break;
          default: chunk += c;
        }
      }
    };
    for (std::size_t i = 0; i < docs.size(); ++i) {
      escape(docs[i].key);
      chunk += '\t';
      escape(docs[i].value);
      chunk += '\n';
      if (chunk.size() > (1 << 20) || i + 1 == docs.size()) {
        if (PQputCopyData(conn_.get(), chunk.data(), static_cast<int>(chunk.size())) != 1) check(nullptr, "COPY data");
        chunk.clear();
      }
    }
    if (PQputCopyEnd(conn_.get(), nullptr) != 1) check(nullptr, "COPY end");
    result end(PQgetResult(conn_.get()), PQclear);
    check(end.get(), "COPY");
    while (auto* more = PQgetResult(conn_.get())) PQclear(more);
  }

  void create_index() { exec("CREATE INDEX docs_value_trgm ON docs USING gin (value gin_trgm_ops); ANALYZE docs"); }

  // Prepares the similarity query and sets its threshold for this session.
  void prepare_similar(double threshold) {
    exec(fmt::format("SET pg_trgm.similarity_threshold = {}", threshold));
    result r(PQprepare(conn_.get(), "similar_docs",
                       "SELECT key, similarity(value, $1) AS s FROM docs WHERE value % $1 ORDER BY s DESC, key LIMIT 10",
                       1, nullptr),
             PQclear);
    check(r.get(), "PREPARE similar_docs");
  }

  struct scored_key {
    std::string key;
    double score = 0;
  };
  std::vector<scored_key> similar(const std::string& text) {
    const char* params[] = {text.c_str()};
    result r(PQexecPrepared(conn_.get(), "similar_docs", 1, params, nullptr, nullptr, 0), PQclear);
    check(r.get(), "similar");
    std::vector<scored_key> out;
    for (int row = 0; row < PQntuples(r.get()); ++row) {
      out.push_back({PQgetvalue(r.get(), row, 0), std::stod(PQgetvalue(r.get(), row, 1))});
    }
    return out;
  }

 private:
  using result = std::unique_ptr<PGresult, void (*)(PGresult*)>;

  void check(PGresult* r, const std::string& what) {
    auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
    throw std::runtime_error("pg: " + what.substr(0, 200) + ": " + PQerrorMessage(conn_.get()));
  }

  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
};

}  // namespace kv::bench

// The SQLite side of the SQL layer: one connection in WAL mode behind a mutex.
// SQLite serialises writers anyway; one connection keeps the embedded default simple and
// makes every method safe from many threads (the lease holds the mutex).
#include <sqlite3.h>

#include <memory>
#include <mutex>

#include "base/unique_handle.hpp"
#include "db/sql.hpp"

namespace idphoto::db {

namespace {

using sqlite3_ptr = base::unique_handle<sqlite3, sqlite3_close_v2>;
using sqlite3_stmt_ptr = base::unique_handle<sqlite3_stmt, sqlite3_finalize>;

constexpr int busy_timeout_ms = 10000;

// Maps an SQLite result code to our error codes.
base::error sqlite_error(sqlite3* db, int rc, const std::string& what) {
  base::errc code = base::errc::internal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = base::errc::unavailable;
      break;
    case SQLITE_CONSTRAINT:
      code = base::errc::conflict;
      break;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = base::errc::io;
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = base::errc::corrupt;
      break;
    case SQLITE_TOOBIG:
      code = base::errc::too_large;
      break;
    default:
      break;
  }
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return base::make_error(code, "sqlite: " + what + ": " + (msg ? msg : sqlite3_errstr(rc)));
}

// Our statements use PostgreSQL's $N placeholders; SQLite's equivalent is ?N.
std::string to_sqlite_placeholders(const std::string& sql) {
  std::string out = sql;
  for (char& c : out)
    if (c == '$') c = '?';
  return out;
}

class sqlite_connection final : public sql_connection {
 public:
  explicit sqlite_connection(sqlite3_ptr db) : db_(std::move(db)) {}

  base::result<std::vector<sql_row>> query(const std::string& sql, const std::vector<sql_param>& params) override {
    sqlite3_stmt* raw = nullptr;
    const std::string text = to_sqlite_placeholders(sql);
    int rc = sqlite3_prepare_v2(db_.get(), text.c_str(), static_cast<int>(text.size()), &raw, nullptr);
    sqlite3_stmt_ptr stmt(raw);
    if (rc != SQLITE_OK) return sqlite_error(db_.get(), rc, "prepare");
    for (size_t i = 0; i < params.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      rc = params[i] ? sqlite3_bind_text64(stmt.get(), index, params[i]->data(), params[i]->size(), SQLITE_TRANSIENT,
                                           SQLITE_UTF8)
                     : sqlite3_bind_null(stmt.get(), index);
      if (rc != SQLITE_OK) return sqlite_error(db_.get(), rc, "bind");
    }
    std::vector<sql_row> rows;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      const int n = sqlite3_column_count(stmt.get());
      sql_row row(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        if (sqlite3_column_type(stmt.get(), c) == SQLITE_NULL) continue;
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), c));
        const int len = sqlite3_column_bytes(stmt.get(), c);
        row[static_cast<size_t>(c)] = std::string(p ? p : "", p ? static_cast<size_t>(len) : 0);
      }
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return sqlite_error(db_.get(), rc, "step");
    return rows;
  }

  base::result<void> exec_script(const std::string& sql) override {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &msg);
    std::unique_ptr<char, decltype(&sqlite3_free)> msg_owner(msg, &sqlite3_free);
    if (rc != SQLITE_OK) return sqlite_error(db_.get(), rc, "exec");
    return {};
  }

  bool broken() const override { return false; }

 private:
  sqlite3_ptr db_;
};

class sqlite_pool final : public sql_pool {
 public:
  explicit sqlite_pool(std::unique_ptr<sqlite_connection> c) : conn_(std::move(c)) {}
  sql_dialect dialect() const override { return sql_dialect::sqlite; }

  base::result<sql_lease> acquire() override {
    mutex_.lock();
    return sql_lease(conn_.get(), [this](sql_connection*) { mutex_.unlock(); });
  }

 private:
  std::mutex mutex_;
  std::unique_ptr<sqlite_connection> conn_;
};

}  // namespace

base::result<std::unique_ptr<sql_pool>> open_sqlite_pool(const std::string& path) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  sqlite3_ptr db(raw);
  if (rc != SQLITE_OK) {
    auto e = sqlite_error(db.get(), rc, "open " + path);
    if (e.code == base::errc::internal) e.code = base::errc::io;
    return e;
  }
  sqlite3_extended_result_codes(db.get(), 1);
  rc = sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  if (rc != SQLITE_OK) return sqlite_error(db.get(), rc, "busy_timeout");
  auto conn = std::make_unique<sqlite_connection>(std::move(db));
  // journal_mode=WAL answers "memory" for ":memory:", which is fine.
  auto wal = conn->query("PRAGMA journal_mode=WAL", {});
  if (!wal) return wal.err();
  if (wal->empty() || !(*wal)[0][0] || ((*(*wal)[0][0]) != "wal" && (*(*wal)[0][0]) != "memory"))
    return base::make_error(base::errc::io, "sqlite: cannot enable WAL on " + path);
  IDPHOTO_TRY(conn->exec_script("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"));
  // A quick read proves the file is a database (NOTADB shows up here, not at open).
  auto probe = conn->query("SELECT count(*) FROM sqlite_master", {});
  if (!probe) return probe.err();
  return std::unique_ptr<sql_pool>(std::make_unique<sqlite_pool>(std::move(conn)));
}

}  // namespace idphoto::db

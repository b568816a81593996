// The small SQL layer the repository is written against: a connection that runs one
// parameterised statement and returns text rows, and a pool that lends connections out.
// Implemented by sqlite_backend.cpp and postgres_backend.cpp; internal to idphoto_db.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace idphoto::db {

enum class sql_dialect { sqlite, postgresql };

using sql_param = std::optional<std::string>;  // nullopt = SQL NULL
using sql_row = std::vector<std::optional<std::string>>;

// One session; used by one thread at a time (the pool guarantees it).
class sql_connection {
 public:
  virtual ~sql_connection() = default;
  // Runs one statement written with $1..$n placeholders, every parameter bound as text.
  // unavailable when the server is gone, conflict on a constraint, internal otherwise.
  virtual base::result<std::vector<sql_row>> query(const std::string& sql, const std::vector<sql_param>& params) = 0;
  // Runs constant SQL (one or more statements, no parameters): migrations, BEGIN, COMMIT.
  virtual base::result<void> exec_script(const std::string& sql) = 0;
  // true when the session is lost and must not be reused.
  virtual bool broken() const = 0;
};

using sql_lease = std::unique_ptr<sql_connection, std::function<void(sql_connection*)>>;

class sql_pool {
 public:
  virtual ~sql_pool() = default;
  virtual sql_dialect dialect() const = 0;
  // A connection for the caller alone until the lease is dropped; unavailable when none
  // can be opened.
  virtual base::result<sql_lease> acquire() = 0;
};

/* Runs fn on a leased connection. A read that fails because its connection was lost
 * (a server restart) is retried once on a fresh connection; a write is not, since whether
 * it committed before the loss is unknown, and the caller gets unavailable. */
template <class F>
auto with_connection(sql_pool& pool, bool read_only, F&& fn) -> decltype(fn(std::declval<sql_connection&>())) {
  for (int attempt = 0;; ++attempt) {
    auto lease = pool.acquire();
    if (!lease) return lease.err();
    auto r = fn(**lease);
    if (!r.ok() && read_only && attempt == 0 && (*lease)->broken()) continue;
    return r;
  }
}

/* Runs fn inside one transaction on one leased connection: BEGIN IMMEDIATE on SQLite (the
 * write lock is taken up front, so two writers never deadlock upgrading a read lock), BEGIN on
 * PostgreSQL. COMMIT when fn succeeds, ROLLBACK on its error (and on a failed COMMIT), so the
 * connection always goes back to the pool outside a transaction. Never retried (a write). */
template <class F>
auto in_transaction(sql_pool& pool, F&& fn) -> decltype(fn(std::declval<sql_connection&>())) {
  auto lease = pool.acquire();
  if (!lease) return lease.err();
  sql_connection& c = **lease;
  auto begun = c.exec_script(pool.dialect() == sql_dialect::sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!begun) return begun.err();
  auto r = fn(c);
  if (!r.ok()) {
    (void)c.exec_script("ROLLBACK");
    return r;
  }
  auto committed = c.exec_script("COMMIT");
  if (!committed) {
    (void)c.exec_script("ROLLBACK");
    return committed.err();
  }
  return r;
}

// SQLite at path (":memory:" allowed): one connection behind a mutex, WAL, busy_timeout,
// foreign keys. io when the file cannot be opened.
base::result<std::unique_ptr<sql_pool>> open_sqlite_pool(const std::string& path);

// PostgreSQL at a libpq URL/conninfo; opens one connection now (unavailable when that fails)
// and up to max_connections on demand.
base::result<std::unique_ptr<sql_pool>> open_postgres_pool(const std::string& url, int max_connections);

struct open_report;
class repository;
// The pool named by a DATABASE_URL (see open_repository) with the pending migrations applied;
// fills *report when not null. The errors of open_repository.
base::result<std::shared_ptr<sql_pool>> open_migrated_pool(const std::string& database_url, open_report* report);
// The id-card repository over an open, migrated pool (the pool may be shared).
std::unique_ptr<repository> make_sql_repository(std::shared_ptr<sql_pool> pool);

}  // namespace idphoto::db

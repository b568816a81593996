// The small SQL layer the repository is written against: a connection that runs one
// parameterised statement and returns text rows, and a pool that lends connections out.
// Implemented by sqlite_backend.cpp and postgres_backend.cpp; internal to idphoto_db.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
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
  virtual base::result<std::vector<sql_row>> query(const std::string& sql,
                                                   const std::vector<sql_param>& params) = 0;
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

// SQLite at path (":memory:" allowed): one connection behind a mutex, WAL, busy_timeout,
// foreign keys. io when the file cannot be opened.
base::result<std::unique_ptr<sql_pool>> open_sqlite_pool(const std::string& path);

// PostgreSQL at a libpq URL/conninfo; opens one connection now (unavailable when that fails)
// and up to max_connections on demand.
base::result<std::unique_ptr<sql_pool>> open_postgres_pool(const std::string& url,
                                                           int max_connections);

}  // namespace idphoto::db

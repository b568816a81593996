// The schema, as an ordered list of versioned migrations shared by SQLite and PostgreSQL.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "db/repository.hpp"
#include "db/sql.hpp"

namespace idphoto::db {

struct migration {
  int version = 0;
  std::string name;
  // Portable SQL; the token {text} becomes TEXT (SQLite) or TEXT COLLATE "C" (PostgreSQL, so
  // comparisons are bytewise like SQLite's). A dialect-specific text, when not empty,
  // replaces it for that dialect.
  std::string sql;
  std::string sqlite_sql;
  std::string postgres_sql;
  // A step that must look at the data, run instead of the SQL when set, inside the migration
  // transaction; with rerun_each_open it runs again at every later open (it must then be
  // idempotent). It may add lines to report.warnings.
  std::function<base::result<void>(sql_connection&, sql_dialect, open_report&)> run;
  bool rerun_each_open = false;
};

// Migration 11's step: creates the unique index on id_cards (organization, id_number) for
// non-empty idNumbers, unless existing cards repeat a pair; then it leaves the index off and
// adds one warning naming the duplicates (and is tried again at the next open). The database's
// error for anything else.
base::result<void> ensure_id_number_index(sql_connection& c, sql_dialect d, open_report& report);

// Every migration, ascending by version.
const std::vector<migration>& all_migrations();

// The SQL of m for one dialect.
std::string migration_sql(const migration& m, sql_dialect d);

// Applies the pending migrations in one transaction holding a lock that serialises
// concurrent openers (SQLite: BEGIN IMMEDIATE; PostgreSQL: pg_advisory_xact_lock).
// Reports how many it applied and the resulting version; the error of the failing statement
// otherwise (then nothing is applied). A database newer than this binary is left alone.
base::result<open_report> apply_migrations(sql_connection& c, sql_dialect d);

}  // namespace idphoto::db

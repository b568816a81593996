// The migration list and the runner that applies it at open.
#include "db/migrations.hpp"

#include <charconv>
#include <set>

#include "db/records.hpp"

namespace idphoto::db {

const std::vector<migration>& all_migrations() {
  static const std::vector<migration> list = {
      {1, "id_cards",
       R"(CREATE TABLE id_cards (
  id {text} PRIMARY KEY,
  full_name {text} NOT NULL,
  id_number {text} NOT NULL DEFAULT '',
  organization {text} NOT NULL DEFAULT '',
  role {text} NOT NULL DEFAULT '',
  issued_at {text} NOT NULL DEFAULT '',
  expires_at {text} NOT NULL DEFAULT '',
  raw_photo_url {text} NOT NULL DEFAULT '',
  raw_photo_key {text} NOT NULL DEFAULT '',
  clean_photo_url {text} NOT NULL DEFAULT '',
  clean_photo_key {text} NOT NULL DEFAULT '',
  status {text} NOT NULL DEFAULT 'none'
    CHECK (status IN ('none', 'processing', 'clean', 'failed')),
  photo_error {text} NOT NULL DEFAULT '',
  photo_warning {text} NOT NULL DEFAULT '',
  created_at {text} NOT NULL,
  updated_at {text} NOT NULL
);)",
       "", ""},
      {2, "id_cards list and recovery indexes",
       R"(CREATE INDEX id_cards_created_at_id ON id_cards (created_at DESC, id DESC);
CREATE INDEX id_cards_processing ON id_cards (status) WHERE status = 'processing';)",
       "", ""},
  };
  return list;
}

std::string migration_sql(const migration& m, sql_dialect d) {
  if (d == sql_dialect::sqlite && !m.sqlite_sql.empty()) return m.sqlite_sql;
  if (d == sql_dialect::postgresql && !m.postgres_sql.empty()) return m.postgres_sql;
  const std::string token = "{text}";
  const std::string text = d == sql_dialect::sqlite ? "TEXT" : "TEXT COLLATE \"C\"";
  std::string out = m.sql;
  for (size_t pos = out.find(token); pos != std::string::npos; pos = out.find(token, pos)) {
    out.replace(pos, token.size(), text);
    pos += text.size();
  }
  return out;
}

namespace {

base::result<open_report> apply_locked(sql_connection& c, sql_dialect d) {
  IDPHOTO_TRY(c.exec_script(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "applied_at TEXT NOT NULL)"));
  auto rows = c.query("SELECT version FROM schema_migrations", {});
  if (!rows) return rows.err();
  std::set<int> applied;
  for (const auto& r : *rows) {
    int v = 0;
    if (r.size() != 1 || !r[0] ||
        std::from_chars(r[0]->data(), r[0]->data() + r[0]->size(), v).ec != std::errc())
      return base::make_error(base::errc::corrupt, "schema_migrations: a version is not a number");
    applied.insert(v);
  }
  open_report report;
  for (const auto& m : all_migrations()) {
    if (applied.count(m.version)) continue;
    auto done = c.exec_script(migration_sql(m, d));
    if (!done)
      return base::make_error(done.err().code, "migration " + std::to_string(m.version) + " (" +
                                                   m.name + "): " + done.err().detail);
    auto rec = c.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                       {std::to_string(m.version), now_timestamp()});
    if (!rec) return rec.err();
    applied.insert(m.version);
    ++report.migrations_applied;
  }
  report.schema_version = applied.empty() ? 0 : *applied.rbegin();
  return report;
}

}  // namespace

/* Concurrent openers (two processes starting at once) must not both apply a migration.
 * Each takes a database-wide write lock before reading schema_migrations and keeps it until
 * COMMIT: SQLite's BEGIN IMMEDIATE takes the RESERVED lock (the second opener waits in
 * busy_timeout), PostgreSQL's pg_advisory_xact_lock blocks the second opener until the first
 * commits; the second then reads the versions the first recorded and applies nothing. All
 * migrations run in that one transaction (DDL is transactional in both), so a failure leaves
 * the schema as it was. */
base::result<open_report> apply_migrations(sql_connection& c, sql_dialect d) {
  if (d == sql_dialect::sqlite) {
    IDPHOTO_TRY(c.exec_script("BEGIN IMMEDIATE"));
  } else {
    IDPHOTO_TRY(c.exec_script("BEGIN"));
    // The key is an arbitrary constant that names "idphoto schema migrations".
    auto lock = c.query("SELECT pg_advisory_xact_lock(7345012893)", {});
    if (!lock) {
      (void)c.exec_script("ROLLBACK");
      return lock.err();
    }
  }
  auto report = apply_locked(c, d);
  if (!report) {
    (void)c.exec_script("ROLLBACK");
    return report.err();
  }
  auto committed = c.exec_script("COMMIT");
  if (!committed) {
    (void)c.exec_script("ROLLBACK");
    return committed.err();
  }
  return report;
}

}  // namespace idphoto::db

// The migration list and the runner that applies it at open.
#include "db/migrations.hpp"

#include <charconv>
#include <set>

#include "db/records.hpp"

namespace idphoto::db {

const std::vector<migration>& all_migrations() {
  static const std::vector<migration> list = {
      {1,
       "id_cards",
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
       "",
       "",
       {},
       false},
      {2,
       "id_cards list and recovery indexes",
       R"(CREATE INDEX id_cards_created_at_id ON id_cards (created_at DESC, id DESC);
CREATE INDEX id_cards_processing ON id_cards (status) WHERE status = 'processing';)",
       "",
       "",
       {},
       false},
      // 3..9 are left to the HTTP hardening work that runs alongside; jobs start at 10.
      {10,
       "jobs, batches and batch_problems (numbered from 10 to leave 3-9 to the hardening work)",
       R"(CREATE TABLE batches (
  id {text} PRIMARY KEY,
  subject {text} NOT NULL,
  organization {text} NOT NULL DEFAULT '',
  status {text} NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
  total INTEGER NOT NULL DEFAULT 0,
  idempotency_key {text} NOT NULL DEFAULT '',
  request_fingerprint {text} NOT NULL DEFAULT '',
  created_at {text} NOT NULL,
  finished_at {text} NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX batches_idempotency ON batches (subject, idempotency_key)
  WHERE idempotency_key <> '';
CREATE INDEX batches_created_at_id ON batches (created_at DESC, id DESC);
CREATE TABLE batch_problems (
  batch_id {text} NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  batch_row INTEGER NOT NULL,
  id_number {text} NOT NULL DEFAULT '',
  code {text} NOT NULL CHECK (code IN ('no_photo', 'duplicate_photo', 'unreadable_photo',
                                        'compliance_fail', 'invalid_row')),
  message {text} NOT NULL DEFAULT '',
  PRIMARY KEY (batch_id, seq)
);
CREATE TABLE jobs (
  id {text} PRIMARY KEY,
  kind {text} NOT NULL,
  card_id {text} NOT NULL DEFAULT '',
  batch_id {text} REFERENCES batches (id) ON DELETE CASCADE,
  batch_row INTEGER NOT NULL DEFAULT 0,
  priority INTEGER NOT NULL CHECK (priority IN (0, 1)),
  status {text} NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'done', 'failed', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
  last_error {text} NOT NULL DEFAULT '',
  lease_owner {text} NOT NULL DEFAULT '',
  lease_expires_ms BIGINT NOT NULL DEFAULT 0,
  run_after_ms BIGINT NOT NULL DEFAULT 0,
  payload {text} NOT NULL DEFAULT '',
  output {text} NOT NULL DEFAULT '',
  problem_code {text} NOT NULL DEFAULT '',
  problem_message {text} NOT NULL DEFAULT '',
  subject {text} NOT NULL DEFAULT '',
  endpoint {text} NOT NULL DEFAULT '',
  idempotency_key {text} NOT NULL DEFAULT '',
  request_fingerprint {text} NOT NULL DEFAULT '',
  created_at {text} NOT NULL,
  started_at {text} NOT NULL DEFAULT '',
  finished_at {text} NOT NULL DEFAULT '',
  updated_at {text} NOT NULL
);
CREATE INDEX jobs_claim ON jobs (priority, created_at, id) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_expires_ms) WHERE status = 'running';
CREATE INDEX jobs_batch ON jobs (batch_id, status) WHERE batch_id IS NOT NULL;
CREATE UNIQUE INDEX jobs_one_active_per_card ON jobs (card_id)
  WHERE card_id <> '' AND status IN ('queued', 'running');
CREATE UNIQUE INDEX jobs_idempotency ON jobs (subject, endpoint, idempotency_key)
  WHERE idempotency_key <> '';)",
       "",
       "",
       {},
       false},
      {11, "idNumber unique per organization (index deferred while duplicates exist)", "", "", "",
       ensure_id_number_index, true},
      {12,
       "the spec a card's photo is framed to, and the framing report",
       R"(ALTER TABLE id_cards ADD COLUMN photo_spec {text} NOT NULL DEFAULT 'card';
ALTER TABLE id_cards ADD COLUMN photo_report {text} NOT NULL DEFAULT '';)",
       "",
       "",
       {},
       false},
      {13,
       "when the last failed photo attempt was (photo_error_at)",
       R"(ALTER TABLE id_cards ADD COLUMN photo_error_at {text} NOT NULL DEFAULT '';)",
       "",
       "",
       {},
       false},
      /* raw_photo_at drives IDPHOTO_RAW_RETENTION_DAYS. Rows that already hold a raw photo are
       * backfilled from updated_at: the raw photo was recorded by a write that set updated_at,
       * and later writes only move it forward, so the backfill is never earlier than the real
       * time (retention may keep such a photo longer than N days, never shorter). */
      {14,
       "when the raw photo was stored (raw_photo_at; existing raw photos backfilled from updated_at)",
       R"(ALTER TABLE id_cards ADD COLUMN raw_photo_at {text} NOT NULL DEFAULT '';
UPDATE id_cards SET raw_photo_at = updated_at WHERE raw_photo_key <> '';
CREATE INDEX id_cards_raw_photo_at ON id_cards (raw_photo_at) WHERE raw_photo_key <> '';)",
       "",
       "",
       {},
       false},
  };
  return list;
}

namespace {

// s made safe for one log line: control characters become '?', at most 60 bytes.
std::string log_safe(const std::string& s) {
  std::string out = s.substr(0, 60);
  for (char& ch : out)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  return out.size() < s.size() ? out + "..." : out;
}

}  // namespace

/* Creating the unique index fails when cards already repeat an (organization, idNumber)
 * pair. Failing the whole open would stop an upgraded server until someone edits the data
 * with the old binary; creating nothing silently would hide the problem. So the index is
 * tried under a savepoint: on a uniqueness failure the savepoint is rolled back (the rest
 * of the migration transaction survives on PostgreSQL too), the duplicates are listed in one
 * warning for the startup log, and the step is tried again at every open until the operator
 * has resolved them (PATCH one card of each pair). Trying the index first, rather than
 * counting duplicates and then creating it, leaves no window for a duplicate to slip in. */
base::result<void> ensure_id_number_index(sql_connection& c, sql_dialect d, open_report& report) {
  const std::string exists_sql =
      d == sql_dialect::sqlite ? "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'id_cards_org_id_number'"
                               : "SELECT 1 FROM pg_indexes WHERE indexname = 'id_cards_org_id_number' "
                                 "AND schemaname = current_schema()";
  auto exists = c.query(exists_sql, {});
  if (!exists) return exists.err();
  if (!exists->empty()) return {};
  IDPHOTO_TRY(c.exec_script("SAVEPOINT id_number_index"));
  auto made = c.exec_script(
      "CREATE UNIQUE INDEX id_cards_org_id_number ON id_cards (organization, id_number) "
      "WHERE id_number <> ''");
  if (made) return c.exec_script("RELEASE SAVEPOINT id_number_index");
  IDPHOTO_TRY(c.exec_script("ROLLBACK TO SAVEPOINT id_number_index"));
  IDPHOTO_TRY(c.exec_script("RELEASE SAVEPOINT id_number_index"));
  if (made.err().code != base::errc::conflict) return made.err();
  auto pairs = c.query(
      "SELECT organization, id_number, COUNT(*), MIN(id), MAX(id) FROM id_cards "
      "WHERE id_number <> '' GROUP BY organization, id_number HAVING COUNT(*) > 1 "
      "ORDER BY organization, id_number",
      {});
  if (!pairs) return pairs.err();
  std::string w = "idNumber is not unique per organization: " + std::to_string(pairs->size()) +
                  " (organization, idNumber) pair(s) repeat, so their unique index stays off "
                  "until each pair is resolved (give one card another idNumber; checked at every "
                  "start):";
  size_t shown = 0;
  for (const auto& r : *pairs) {
    if (r.size() != 5 || !r[0] || !r[1] || !r[2] || !r[3] || !r[4]) continue;
    if (++shown > 10) {
      w += " ...";
      break;
    }
    w += " [organization \"" + log_safe(*r[0]) + "\", idNumber \"" + log_safe(*r[1]) + "\": " + *r[2] +
         " cards, e.g. " + *r[3] + " and " + *r[4] + "]";
  }
  report.warnings.push_back(std::move(w));
  return {};
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
  IDPHOTO_TRY(
      c.exec_script("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "applied_at TEXT NOT NULL)"));
  auto rows = c.query("SELECT version FROM schema_migrations", {});
  if (!rows) return rows.err();
  std::set<int> applied;
  for (const auto& r : *rows) {
    int v = 0;
    if (r.size() != 1 || !r[0] || std::from_chars(r[0]->data(), r[0]->data() + r[0]->size(), v).ec != std::errc())
      return base::make_error(base::errc::corrupt, "schema_migrations: a version is not a number");
    applied.insert(v);
  }
  open_report report;
  for (const auto& m : all_migrations()) {
    if (applied.count(m.version)) {
      if (m.run && m.rerun_each_open) {
        auto again = m.run(c, d, report);
        if (!again)
          return base::make_error(
              again.err().code, "migration " + std::to_string(m.version) + " (" + m.name + "): " + again.err().detail);
      }
      continue;
    }
    auto done = m.run ? m.run(c, d, report) : c.exec_script(migration_sql(m, d));
    if (!done)
      return base::make_error(done.err().code,
                              "migration " + std::to_string(m.version) + " (" + m.name + "): " + done.err().detail);
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

// The job and batch repository written once against the SQL layer (sql.hpp), for SQLite and
// PostgreSQL. This file: the names of states and codes, a row to a job or batch, the checks of
// what callers send, enqueue and the reads of jobs, and open_repositories. Claims and how a job
// ends: job_repository_lease.cpp; batches: job_repository_batch.cpp.
#include "db/job_repository.hpp"

#include <chrono>

#include "db/job_repository_internal.hpp"
#include "db/records.hpp"
#include "db/sql.hpp"

namespace idphoto::db {

const char* job_status_name(job_status s) {
  switch (s) {
    case job_status::queued:
      return "queued";
    case job_status::running:
      return "running";
    case job_status::done:
      return "done";
    case job_status::failed:
      return "failed";
    case job_status::dead:
      return "dead";
  }
  return "queued";
}

std::optional<job_status> job_status_from(const std::string& s) {
  for (job_status v : {job_status::queued, job_status::running, job_status::done, job_status::failed, job_status::dead})
    if (s == job_status_name(v)) return v;
  return std::nullopt;
}

const char* batch_status_name(batch_status s) { return s == batch_status::done ? "done" : "running"; }

bool is_batch_problem_code(const std::string& code) {
  for (const char* c : {"no_photo", "duplicate_photo", "unreadable_photo", "compliance_fail", "invalid_row"})
    if (code == c) return true;
  return false;
}

namespace detail {

const std::string job_columns =
    "id, kind, card_id, batch_id, batch_row, priority, status, attempts, max_attempts, "
    "last_error, lease_owner, lease_expires_ms, run_after_ms, payload, output, problem_code, "
    "problem_message, subject, endpoint, idempotency_key, request_fingerprint, created_at, "
    "started_at, finished_at, updated_at";
const std::string batch_columns =
    "id, subject, organization, status, total, idempotency_key, request_fingerprint, "
    "created_at, finished_at";

namespace {
constexpr size_t n_job_columns = 25;
constexpr size_t n_batch_columns = 9;

bool is_visible_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}
}  // namespace

base::error corrupt(const std::string& what) { return base::make_error(base::errc::corrupt, what); }

base::result<job> job_from_row(const sql_row& r) {
  if (r.size() != n_job_columns) return corrupt("jobs: unexpected column count");
  for (size_t i = 0; i < r.size(); ++i)
    if (!r[i] && i != 3) return corrupt("jobs: NULL column");
  job j;
  j.id = *r[0];
  j.kind = *r[1];
  j.card_id = *r[2];
  j.batch_id = r[3].value_or("");
  int prio = 0;
  if (!parse_int(*r[4], j.batch_row) || !parse_int(*r[5], prio) || (prio != 0 && prio != 1) ||
      !parse_int(*r[7], j.attempts) || !parse_int(*r[8], j.max_attempts) || !parse_int(*r[11], j.lease_expires_ms) ||
      !parse_int(*r[12], j.run_after_ms))
    return corrupt("jobs: a number column does not parse");
  j.priority = static_cast<job_priority>(prio);
  auto st = job_status_from(*r[6]);
  if (!st) return corrupt("jobs: unknown status " + *r[6]);
  j.status = *st;
  j.last_error = *r[9];
  j.lease_owner = *r[10];
  j.payload = *r[13];
  j.output = *r[14];
  j.problem_code = *r[15];
  j.problem_message = *r[16];
  j.subject = *r[17];
  j.endpoint = *r[18];
  j.idempotency_key = *r[19];
  j.request_fingerprint = *r[20];
  j.created_at = *r[21];
  j.started_at = *r[22];
  j.finished_at = *r[23];
  j.updated_at = *r[24];
  return j;
}

base::result<batch> batch_from_row(const sql_row& r) {
  if (r.size() != n_batch_columns) return corrupt("batches: unexpected column count");
  for (const auto& v : r)
    if (!v) return corrupt("batches: NULL column");
  batch b;
  b.id = *r[0];
  b.subject = *r[1];
  b.organization = *r[2];
  if (*r[3] != "running" && *r[3] != "done") return corrupt("batches: unknown status " + *r[3]);
  b.status = *r[3] == "done" ? batch_status::done : batch_status::running;
  if (!parse_int(*r[4], b.total)) return corrupt("batches: total does not parse");
  b.idempotency_key = *r[5];
  b.request_fingerprint = *r[6];
  b.created_at = *r[7];
  b.finished_at = *r[8];
  return b;
}

base::error job_not_found(const std::string& id) {
  return base::make_error(base::errc::not_found, "job " + (is_valid_id(id) ? id : std::string("(malformed id)")));
}

base::error not_owned(const std::string& id, const std::string& owner) {
  return base::make_error(base::errc::conflict, "job " + id + " is not running under " + storable_text(owner, 200) +
                                                    " (its lease expired or it has ended)");
}

base::result<void> check_kind(const std::string& kind) {
  bool ok = !kind.empty() && kind.size() <= 40;
  for (char c : kind) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) return base::make_error(base::errc::invalid_argument, "kind: want [a-z0-9_]{1,40}");
  return {};
}

base::result<void> check_owner_lease(const std::string& owner, int64_t lease_ms) {
  if (owner.empty() || owner.size() > 200 || !is_visible_ascii(owner))
    return base::make_error(base::errc::invalid_argument, "owner: want 1..200 visible ASCII characters");
  if (lease_ms < 1 || lease_ms > max_lease_ms)
    return base::make_error(base::errc::invalid_argument, "lease_ms: want 1..86400000");
  return {};
}

base::result<void> check_idempotency(const std::string& subject, const std::string& endpoint, const std::string& key,
                                     const std::string& fingerprint) {
  IDPHOTO_TRY(check_text("subject", subject, max_field_bytes));
  IDPHOTO_TRY(check_text("endpoint", endpoint, max_field_bytes));
  if (key.size() > 200 || !is_visible_ascii(key))
    return base::make_error(base::errc::invalid_argument, "idempotency_key: want 1..200 visible ASCII characters");
  if (fingerprint.size() > 200 || !is_visible_ascii(fingerprint))
    return base::make_error(base::errc::invalid_argument,
                            "request_fingerprint: want up to 200 visible ASCII characters");
  return {};
}

base::result<void> check_payload(const char* field, const std::string& p) {
  if (p.size() > max_payload_bytes)
    return base::make_error(base::errc::invalid_argument, std::string(field) + ": longer than 65536 bytes");
  if (!is_valid_utf8(p) || p.find('\0') != std::string::npos)
    return base::make_error(base::errc::invalid_argument, std::string(field) + ": not UTF-8 text without NUL");
  return {};
}

base::result<void> check_end(const job_end& e) {
  IDPHOTO_TRY(check_payload("output", e.output));
  if (!e.problem_code.empty() && !is_batch_problem_code(e.problem_code))
    return base::make_error(base::errc::invalid_argument, "problem_code: unknown code");
  if (e.card) IDPHOTO_TRY(validate_photo_update(*e.card));
  return {};
}

const std::string set_photo_sql = photo_update_sql("id");

base::result<std::optional<job>> optional_job(const base::result<std::vector<sql_row>>& rows) {
  if (!rows) return rows.err();
  if (rows->empty()) return std::optional<job>();
  auto j = job_from_row(rows->front());
  if (!j) return j.err();
  return std::optional<job>(std::move(*j));
}

base::result<void> check_card_free(sql_connection& c, const std::string& card_id) {
  auto active = c.query("SELECT id FROM jobs WHERE card_id = $1 AND status IN ('queued', 'running')", {card_id});
  if (!active) return active.err();
  if (!active->empty() && active->front().size() == 1 && active->front()[0])
    return base::make_error(base::errc::conflict,
                            "card " + card_id + " has a photo job in flight: job " + *active->front()[0]);
  return {};
}

base::result<job> insert_job(sql_connection& c, std::string id, const std::string& kind, const std::string& card_id,
                             const std::optional<std::string>& batch_id, int batch_row, job_priority prio,
                             int max_attempts, const std::string& payload, const std::string& subject,
                             const std::string& endpoint, const std::string& key, const std::string& fingerprint,
                             const std::string& now) {
  if (id.empty()) {
    auto fresh = new_card_id();
    if (!fresh) return fresh.err();
    id = *fresh;
  }
  auto rows = c.query(
      "INSERT INTO jobs (id, kind, card_id, batch_id, batch_row, priority, max_attempts, "
      "payload, subject, endpoint, idempotency_key, request_fingerprint, run_after_ms, "
      "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, "
      "$13, $13) RETURNING " +
          job_columns,
      {id, kind, card_id, batch_id, std::to_string(batch_row), std::to_string(static_cast<int>(prio)),
       std::to_string(max_attempts), payload, subject, endpoint, key, fingerprint, now});
  if (!rows) return rows.err();
  if (rows->empty()) return corrupt("jobs: insert returned nothing");
  return job_from_row(rows->front());
}

/* Idempotent enqueue. Inside one transaction: a job with the same (subject, endpoint, key)
 * is returned as it is (or refused when its fingerprint differs); a card with a queued or
 * running job is refused; otherwise the job is inserted and the card written. On SQLite the
 * transaction holds the write lock, so the checks cannot race. On PostgreSQL two requests
 * can pass the checks at once; the unique indexes (jobs_idempotency,
 * jobs_one_active_per_card) then fail the second insert, its transaction rolls back, and it
 * is run once more, when the checks see the first one's row and answer as above. */
base::result<enqueued> sql_job_repository::enqueue(const new_job& nj) {
  IDPHOTO_TRY(check_kind(nj.kind));
  if (!nj.card_id.empty() && !is_valid_id(nj.card_id))
    return base::make_error(base::errc::invalid_argument, "card_id: not an id");
  IDPHOTO_TRY(check_payload("payload", nj.payload));
  if (nj.max_attempts < 1 || nj.max_attempts > 100)
    return base::make_error(base::errc::invalid_argument, "max_attempts: want 1..100");
  IDPHOTO_TRY(check_idempotency(nj.subject, nj.endpoint, nj.idempotency_key, nj.request_fingerprint));
  if (nj.card_on_create) {
    if (nj.card_id.empty()) return base::make_error(base::errc::invalid_argument, "card_on_create: needs a card_id");
    IDPHOTO_TRY(validate_photo_update(*nj.card_on_create));
  }
  for (int attempt = 0;; ++attempt) {
    bool raced = false;
    auto r = in_transaction(*pool_, [&](sql_connection& c) -> base::result<enqueued> {
      if (!nj.idempotency_key.empty()) {
        auto prior =
            prior_request<job>(c,
                               "SELECT " + job_columns +
                                   " FROM jobs WHERE subject = $1 AND endpoint = $2 AND "
                                   "idempotency_key = $3",
                               {nj.subject, nj.endpoint, nj.idempotency_key}, nj.request_fingerprint, job_from_row);
        if (!prior) return prior.err();
        if (*prior) return enqueued{std::move(**prior), false};
      }
      if (!nj.card_id.empty()) IDPHOTO_TRY(check_card_free(c, nj.card_id));
      auto id = new_card_id();
      if (!id) return id.err();
      const std::string now = now_timestamp();
      auto ins = insert_job(c, *id, nj.kind, nj.card_id, std::nullopt, 0, nj.priority, nj.max_attempts, nj.payload,
                            nj.subject, nj.endpoint, nj.idempotency_key, nj.request_fingerprint, now);
      if (!ins) {
        raced = ins.err().code == base::errc::conflict;
        return ins.err();
      }
      if (nj.card_on_create) {
        auto w = c.query(set_photo_sql, photo_update_params(nj.card_id, *nj.card_on_create, now));
        if (!w) return w.err();
        if (w->empty()) return base::make_error(base::errc::not_found, "id_card " + nj.card_id);
      }
      return enqueued{std::move(*ins), true};
    });
    if (!r.ok() && raced && attempt == 0) continue;
    return r;
  }
}

base::result<int> sql_job_repository::fail_processing_without_job(const std::string& photo_error) {
  auto rows = with_connection(*pool_, false, [&](sql_connection& c) {
    return c.query(
        "UPDATE id_cards SET status = 'failed', photo_error = $1, updated_at = $2, photo_error_at = $2 "
        "WHERE status = 'processing' AND NOT EXISTS (SELECT 1 FROM jobs WHERE "
        "jobs.card_id = id_cards.id AND jobs.status IN ('queued', 'running')) RETURNING id",
        {storable_text(photo_error, max_error_bytes), now_timestamp()});
  });
  if (!rows) return rows.err();
  return static_cast<int>(rows->size());
}

base::result<job> sql_job_repository::get(const std::string& id) {
  if (!is_valid_id(id)) return job_not_found(id);
  auto rows = with_connection(*pool_, true, [&](sql_connection& c) {
    return c.query("SELECT " + job_columns + " FROM jobs WHERE id = $1", {id});
  });
  if (!rows) return rows.err();
  if (rows->empty()) return job_not_found(id);
  return job_from_row(rows->front());
}

base::result<std::optional<job>> sql_job_repository::active_for_card(const std::string& card_id) {
  if (!is_valid_id(card_id)) return std::optional<job>();
  auto rows = with_connection(*pool_, true, [&](sql_connection& c) {
    return c.query("SELECT " + job_columns + " FROM jobs WHERE card_id = $1 AND status IN ('queued', 'running')",
                   {card_id});
  });
  return optional_job(rows);
}

}  // namespace detail

bool is_idempotency_mismatch(const base::error& e) {
  return e.code == base::errc::conflict && e.detail == detail::mismatch_detail;
}

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

base::result<repositories> open_repositories(const std::string& database_url, open_report* report, clock_fn clock) {
  auto pool = open_migrated_pool(database_url, report);
  if (!pool) return pool.err();
  repositories out;
  out.cards = make_sql_repository(*pool);
  out.jobs = std::make_unique<detail::sql_job_repository>(*pool, clock ? std::move(clock) : system_now_ms);
  return out;
}

}  // namespace idphoto::db

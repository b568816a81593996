// The job and batch repository written once against the SQL layer (sql.hpp), for SQLite and
// PostgreSQL; only the claim statement differs (FOR UPDATE SKIP LOCKED on PostgreSQL).
#include "db/job_repository.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <set>
#include <tuple>

#include "db/records.hpp"
#include "db/sql.hpp"

namespace idphoto::db {

const char* job_status_name(job_status s) {
  switch (s) {
    case job_status::queued: return "queued";
    case job_status::running: return "running";
    case job_status::done: return "done";
    case job_status::failed: return "failed";
    case job_status::dead: return "dead";
  }
  return "queued";
}

std::optional<job_status> job_status_from(const std::string& s) {
  for (job_status v : {job_status::queued, job_status::running, job_status::done,
                       job_status::failed, job_status::dead})
    if (s == job_status_name(v)) return v;
  return std::nullopt;
}

const char* batch_status_name(batch_status s) {
  return s == batch_status::done ? "done" : "running";
}

bool is_batch_problem_code(const std::string& code) {
  for (const char* c :
       {"no_photo", "duplicate_photo", "unreadable_photo", "compliance_fail", "invalid_row"})
    if (code == c) return true;
  return false;
}

namespace {

constexpr const char* mismatch_detail =
    "idempotency_key: already used with a different request";
constexpr size_t max_payload_bytes = 64 * 1024;
constexpr size_t max_error_bytes = 4096;
constexpr size_t max_message_bytes = 400;
constexpr int64_t max_lease_ms = 24LL * 3600 * 1000;
constexpr size_t max_batch_rows = 100000;

const std::string job_columns =
    "id, kind, card_id, batch_id, batch_row, priority, status, attempts, max_attempts, "
    "last_error, lease_owner, lease_expires_ms, run_after_ms, payload, output, problem_code, "
    "problem_message, subject, endpoint, idempotency_key, request_fingerprint, created_at, "
    "started_at, finished_at, updated_at";
constexpr size_t n_job_columns = 25;

const std::string batch_columns =
    "id, subject, organization, status, total, idempotency_key, request_fingerprint, "
    "created_at, finished_at";
constexpr size_t n_batch_columns = 9;

base::error corrupt(const std::string& what) {
  return base::make_error(base::errc::corrupt, what);
}

template <class T>
bool parse_int(const std::string& s, T& out) {
  return std::from_chars(s.data(), s.data() + s.size(), out).ec == std::errc() && !s.empty();
}

// The job in a row selected with job_columns; corrupt when the row does not fit.
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
      !parse_int(*r[7], j.attempts) || !parse_int(*r[8], j.max_attempts) ||
      !parse_int(*r[11], j.lease_expires_ms) || !parse_int(*r[12], j.run_after_ms))
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
  return base::make_error(base::errc::not_found,
                          "job " + (is_valid_id(id) ? id : std::string("(malformed id)")));
}

base::error not_owned(const std::string& id, const std::string& owner) {
  return base::make_error(base::errc::conflict, "job " + id + " is not running under " +
                                                    storable_text(owner, 200) +
                                                    " (its lease expired or it has ended)");
}

bool is_visible_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

base::result<void> check_kind(const std::string& kind) {
  bool ok = !kind.empty() && kind.size() <= 40;
  for (char c : kind) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok)
    return base::make_error(base::errc::invalid_argument, "kind: want [a-z0-9_]{1,40}");
  return {};
}

base::result<void> check_owner_lease(const std::string& owner, int64_t lease_ms) {
  if (owner.empty() || owner.size() > 200 || !is_visible_ascii(owner))
    return base::make_error(base::errc::invalid_argument,
                            "owner: want 1..200 visible ASCII characters");
  if (lease_ms < 1 || lease_ms > max_lease_ms)
    return base::make_error(base::errc::invalid_argument, "lease_ms: want 1..86400000");
  return {};
}

// The idempotency scope fields shared by jobs and batches.
base::result<void> check_idempotency(const std::string& subject, const std::string& endpoint,
                                     const std::string& key, const std::string& fingerprint) {
  IDPHOTO_TRY(check_text("subject", subject, max_field_bytes));
  IDPHOTO_TRY(check_text("endpoint", endpoint, max_field_bytes));
  if (key.size() > 200 || !is_visible_ascii(key))
    return base::make_error(base::errc::invalid_argument,
                            "idempotency_key: want 1..200 visible ASCII characters");
  if (fingerprint.size() > 200 || !is_visible_ascii(fingerprint))
    return base::make_error(base::errc::invalid_argument,
                            "request_fingerprint: want up to 200 visible ASCII characters");
  return {};
}

base::result<void> check_payload(const char* field, const std::string& p) {
  if (p.size() > max_payload_bytes)
    return base::make_error(base::errc::invalid_argument,
                            std::string(field) + ": longer than 65536 bytes");
  if (!is_valid_utf8(p) || p.find('\0') != std::string::npos)
    return base::make_error(base::errc::invalid_argument,
                            std::string(field) + ": not UTF-8 text without NUL");
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

class sql_job_repository final : public job_repository {
 public:
  sql_job_repository(std::shared_ptr<sql_pool> pool, clock_fn clock)
      : pool_(std::move(pool)), clock_(std::move(clock)) {}

  int64_t now_ms() const override { return clock_(); }

  /* Idempotent enqueue. Inside one transaction: a job with the same (subject, endpoint, key)
   * is returned as it is (or refused when its fingerprint differs); a card with a queued or
   * running job is refused; otherwise the job is inserted and the card written. On SQLite the
   * transaction holds the write lock, so the checks cannot race. On PostgreSQL two requests
   * can pass the checks at once; the unique indexes (jobs_idempotency,
   * jobs_one_active_per_card) then fail the second insert, its transaction rolls back, and it
   * is run once more, when the checks see the first one's row and answer as above. */
  base::result<enqueued> enqueue(const new_job& nj) override {
    IDPHOTO_TRY(check_kind(nj.kind));
    if (!nj.card_id.empty() && !is_valid_id(nj.card_id))
      return base::make_error(base::errc::invalid_argument, "card_id: not an id");
    IDPHOTO_TRY(check_payload("payload", nj.payload));
    if (nj.max_attempts < 1 || nj.max_attempts > 100)
      return base::make_error(base::errc::invalid_argument, "max_attempts: want 1..100");
    IDPHOTO_TRY(check_idempotency(nj.subject, nj.endpoint, nj.idempotency_key,
                                  nj.request_fingerprint));
    if (nj.card_on_create) {
      if (nj.card_id.empty())
        return base::make_error(base::errc::invalid_argument, "card_on_create: needs a card_id");
      IDPHOTO_TRY(validate_photo_update(*nj.card_on_create));
    }
    for (int attempt = 0;; ++attempt) {
      bool raced = false;
      auto r = in_transaction(*pool_, [&](sql_connection& c) -> base::result<enqueued> {
        if (!nj.idempotency_key.empty()) {
          auto prior = c.query("SELECT " + job_columns +
                                   " FROM jobs WHERE subject = $1 AND endpoint = $2 AND "
                                   "idempotency_key = $3",
                               {nj.subject, nj.endpoint, nj.idempotency_key});
          if (!prior) return prior.err();
          if (!prior->empty()) {
            auto j = job_from_row(prior->front());
            if (!j) return j.err();
            if (j->request_fingerprint != nj.request_fingerprint)
              return base::make_error(base::errc::conflict, mismatch_detail);
            return enqueued{std::move(*j), false};
          }
        }
        if (!nj.card_id.empty()) IDPHOTO_TRY(check_card_free(c, nj.card_id));
        auto id = new_card_id();
        if (!id) return id.err();
        const std::string now = now_timestamp();
        auto ins = insert_job(c, *id, nj.kind, nj.card_id, std::nullopt, 0, nj.priority,
                              nj.max_attempts, nj.payload, nj.subject, nj.endpoint,
                              nj.idempotency_key, nj.request_fingerprint, now);
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

  base::result<std::optional<job>> claim_next(const std::string& owner, int64_t lease_ms) override {
    IDPHOTO_TRY(check_owner_lease(owner, lease_ms));
    const bool pg = pool_->dialect() == sql_dialect::postgresql;
    /* The claim is one UPDATE of the first claimable row. PostgreSQL: the subquery locks that
     * row with FOR UPDATE SKIP LOCKED, so concurrent claimers each lock a different row
     * instead of queueing on the same one, and the outer status check re-verifies it. SQLite:
     * the statement runs inside BEGIN IMMEDIATE, which holds the database's write lock from
     * before the SELECT until COMMIT, so no other connection or process can claim between. */
    const std::string sql =
        "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_ms = $2, "
        "attempts = attempts + 1, started_at = CASE WHEN started_at = '' THEN $3 ELSE "
        "started_at END, updated_at = $3 WHERE status = 'queued' AND id = (SELECT id FROM jobs "
        "WHERE status = 'queued' AND run_after_ms <= $4 ORDER BY priority, created_at, id LIMIT 1" +
        std::string(pg ? " FOR UPDATE SKIP LOCKED" : "") + ") RETURNING " + job_columns;
    const int64_t now = clock_();
    auto rows = in_transaction(*pool_, [&](sql_connection& c) {
      return c.query(sql, {owner, std::to_string(now + lease_ms), now_timestamp(),
                           std::to_string(now)});
    });
    return optional_job(rows);
  }

  base::result<std::optional<job>> claim(const std::string& id, const std::string& owner,
                                         int64_t lease_ms) override {
    IDPHOTO_TRY(check_owner_lease(owner, lease_ms));
    if (!is_valid_id(id)) return std::optional<job>();
    const int64_t now = clock_();
    auto rows = in_transaction(*pool_, [&](sql_connection& c) {
      return c.query(
          "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_ms = $2, "
          "attempts = attempts + 1, started_at = CASE WHEN started_at = '' THEN $3 ELSE "
          "started_at END, updated_at = $3 WHERE id = $5 AND status = 'queued' AND "
          "run_after_ms <= $4 RETURNING " + job_columns,
          {owner, std::to_string(now + lease_ms), now_timestamp(), std::to_string(now), id});
    });
    return optional_job(rows);
  }

  base::result<void> heartbeat(const std::string& id, const std::string& owner,
                               int64_t lease_ms) override {
    IDPHOTO_TRY(check_owner_lease(owner, lease_ms));
    if (!is_valid_id(id)) return not_owned("(malformed id)", owner);
    auto rows = with_connection(*pool_, false, [&](sql_connection& c) {
      return c.query(
          "UPDATE jobs SET lease_expires_ms = $3, updated_at = $4 WHERE id = $1 AND "
          "lease_owner = $2 AND status = 'running' RETURNING id",
          {id, owner, std::to_string(clock_() + lease_ms), now_timestamp()});
    });
    if (!rows) return rows.err();
    if (rows->empty()) return not_owned(id, owner);
    return {};
  }

  base::result<job> complete(const std::string& id, const std::string& owner,
                             const job_end& e) override {
    return finish(id, owner, e, "'done'", "output = $4, ", e.output, 0, false);
  }

  base::result<job> fail(const std::string& id, const std::string& owner,
                         const job_end& e) override {
    return finish(id, owner, e, "'failed'", "last_error = $4, ",
                  storable_text(e.error, max_error_bytes), 0, false);
  }

  base::result<job> retry(const std::string& id, const std::string& owner, const job_end& e,
                          int64_t backoff_ms) override {
    if (backoff_ms < 0 || backoff_ms > max_lease_ms)
      return base::make_error(base::errc::invalid_argument, "backoff_ms: want 0..86400000");
    return finish(id, owner, e,
                  "CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END",
                  "last_error = $4, ", storable_text(e.error, max_error_bytes), backoff_ms, true);
  }

  /* One UPDATE moves every expired lease; the jobs that died are then applied to their cards
   * (processing → failed) and batches in the same transaction. Two instances doing this at
   * once are safe: PostgreSQL's row locks make the second UPDATE re-check each row and skip
   * those the first already moved. */
  base::result<std::vector<job>> requeue_expired(const std::string& dead_photo_error) override {
    const std::string card_error = storable_text(dead_photo_error, max_error_bytes);
    const int64_t now = clock_();
    return in_transaction(*pool_, [&](sql_connection& c) -> base::result<std::vector<job>> {
      const std::string ts = now_timestamp();
      auto rows = c.query(
          "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' "
          "END, finished_at = CASE WHEN attempts >= max_attempts THEN $2 ELSE '' END, "
          "last_error = $1, lease_owner = '', lease_expires_ms = 0, updated_at = $2 "
          "WHERE status = 'running' AND lease_expires_ms < $3 RETURNING " + job_columns,
          {std::string("lease expired: its worker stopped or lost the database"), ts,
           std::to_string(now)});
      if (!rows) return rows.err();
      std::vector<job> moved;
      std::set<std::string> batches;
      for (const auto& r : *rows) {
        auto j = job_from_row(r);
        if (!j) return j.err();
        if (j->status == job_status::dead) {
          if (!j->card_id.empty()) {
            auto w = c.query(
                "UPDATE id_cards SET status = 'failed', photo_error = $2, updated_at = $3 "
                "WHERE id = $1 AND status = 'processing' RETURNING id",
                {j->card_id, card_error, ts});
            if (!w) return w.err();
          }
          if (!j->batch_id.empty()) batches.insert(j->batch_id);
        }
        moved.push_back(std::move(*j));
      }
      for (const auto& b : batches) IDPHOTO_TRY(close_batch_if_idle(c, b, ts));
      return moved;
    });
  }

  base::result<int> fail_processing_without_job(const std::string& photo_error) override {
    auto rows = with_connection(*pool_, false, [&](sql_connection& c) {
      return c.query(
          "UPDATE id_cards SET status = 'failed', photo_error = $1, updated_at = $2 "
          "WHERE status = 'processing' AND NOT EXISTS (SELECT 1 FROM jobs WHERE "
          "jobs.card_id = id_cards.id AND jobs.status IN ('queued', 'running')) RETURNING id",
          {storable_text(photo_error, max_error_bytes), now_timestamp()});
    });
    if (!rows) return rows.err();
    return static_cast<int>(rows->size());
  }

  base::result<job> get(const std::string& id) override {
    if (!is_valid_id(id)) return job_not_found(id);
    auto rows = with_connection(*pool_, true, [&](sql_connection& c) {
      return c.query("SELECT " + job_columns + " FROM jobs WHERE id = $1", {id});
    });
    if (!rows) return rows.err();
    if (rows->empty()) return job_not_found(id);
    return job_from_row(rows->front());
  }

  base::result<std::optional<job>> active_for_card(const std::string& card_id) override {
    if (!is_valid_id(card_id)) return std::optional<job>();
    auto rows = with_connection(*pool_, true, [&](sql_connection& c) {
      return c.query("SELECT " + job_columns +
                         " FROM jobs WHERE card_id = $1 AND status IN ('queued', 'running')",
                     {card_id});
    });
    return optional_job(rows);
  }

  base::result<batch_created> create_batch(const new_batch& nb) override {
    IDPHOTO_TRY(validate_batch(nb));
    return in_transaction(*pool_, [&](sql_connection& c) -> base::result<batch_created> {
      if (!nb.idempotency_key.empty()) {
        auto prior = c.query("SELECT " + batch_columns +
                                 " FROM batches WHERE subject = $1 AND idempotency_key = $2",
                             {nb.subject, nb.idempotency_key});
        if (!prior) return prior.err();
        if (!prior->empty()) {
          auto b = batch_from_row(prior->front());
          if (!b) return b.err();
          if (b->request_fingerprint != nb.request_fingerprint)
            return base::make_error(base::errc::conflict, mismatch_detail);
          return batch_created{std::move(*b), false, {}};
        }
      }
      IDPHOTO_TRY(lock_organizations(c, nb));
      auto id = new_card_id();
      if (!id) return id.err();
      const std::string now = now_timestamp();
      auto ins = c.query("INSERT INTO batches (id, subject, organization, total, "
                         "idempotency_key, request_fingerprint, created_at) VALUES ($1, $2, $3, "
                         "$4, $5, $6, $7) RETURNING " + batch_columns,
                         {*id, nb.subject, nb.organization, std::to_string(nb.rows.size()),
                          nb.idempotency_key, nb.request_fingerprint, now});
      if (!ins) return ins.err();
      if (ins->empty()) return corrupt("batches: insert returned nothing");
      auto b = batch_from_row(ins->front());
      if (!b) return b.err();
      batch_created out{std::move(*b), true, {}};
      std::vector<batch_problem> problems = nb.problems;
      for (const auto& row : nb.rows) {
        auto card_id = upsert_card(c, row.fields, now);
        if (!card_id) return base::make_error(card_id.err().code, "row " +
                                                                      std::to_string(row.row) +
                                                                      ": " + card_id.err().detail);
        batch_item item{row.row, *card_id, ""};
        if (row.with_photo) {
          auto busy = check_card_free(c, *card_id);
          if (!busy) {
            if (busy.err().code != base::errc::conflict) return busy.err();
            problems.push_back({row.row, row.fields.id_number.value_or(""), "invalid_row",
                                "this card already has a photo job in flight; send the photo "
                                "again when it is done"});
          } else {
            auto w = c.query(set_photo_sql, photo_update_params(*card_id, row.with_photo->card, now));
            if (!w) return w.err();
            auto j = insert_job(c, "", nb.job_kind, *card_id, out.b.id, row.row,
                                job_priority::batch, nb.max_attempts, row.with_photo->payload,
                                "", "", "", "", now_timestamp());
            if (!j) return j.err();
            item.job_id = j->id;
          }
        }
        out.items.push_back(std::move(item));
      }
      for (size_t i = 0; i < problems.size(); ++i) {
        const auto& p = problems[i];
        auto w = c.query("INSERT INTO batch_problems (batch_id, seq, batch_row, id_number, code, "
                         "message) VALUES ($1, $2, $3, $4, $5, $6)",
                         {out.b.id, std::to_string(i + 1), std::to_string(p.row),
                          storable_text(p.id_number, max_field_bytes), p.code,
                          storable_text(p.message, max_message_bytes)});
        if (!w) return w.err();
      }
      IDPHOTO_TRY(close_batch_if_idle(c, out.b.id, now));
      auto again = c.query("SELECT " + batch_columns + " FROM batches WHERE id = $1", {out.b.id});
      if (!again) return again.err();
      if (again->empty()) return corrupt("batches: row vanished");
      auto fresh = batch_from_row(again->front());
      if (!fresh) return fresh.err();
      out.b = std::move(*fresh);
      return out;
    });
  }

  base::result<batch> get_batch(const std::string& id) override {
    const auto missing = [&] {
      return base::make_error(base::errc::not_found,
                              "batch " + (is_valid_id(id) ? id : std::string("(malformed id)")));
    };
    if (!is_valid_id(id)) return missing();
    auto rows = with_connection(*pool_, true, [&](sql_connection& c) {
      return c.query("SELECT " + batch_columns + " FROM batches WHERE id = $1", {id});
    });
    if (!rows) return rows.err();
    if (rows->empty()) return missing();
    return batch_from_row(rows->front());
  }

  base::result<std::vector<batch_problem>> batch_problems(const std::string& batch_id) override {
    if (!is_valid_id(batch_id)) return std::vector<batch_problem>();
    auto rows = with_connection(*pool_, true, [&](sql_connection& c) {
      return c.query(
          "SELECT batch_row, id_number, code, message, 0, seq FROM batch_problems "
          "WHERE batch_id = $1 UNION ALL "
          "SELECT j.batch_row, COALESCE(c.id_number, ''), j.problem_code, j.problem_message, 1, 0 "
          "FROM jobs j LEFT JOIN id_cards c ON c.id = j.card_id "
          "WHERE j.batch_id = $1 AND j.problem_code <> ''",
          {batch_id});
    });
    if (!rows) return rows.err();
    struct keyed {
      int row, source, seq;
      batch_problem p;
    };
    std::vector<keyed> all;
    for (const auto& r : *rows) {
      if (r.size() != 6) return corrupt("batch_problems: unexpected column count");
      for (const auto& v : r)
        if (!v) return corrupt("batch_problems: NULL column");
      keyed k{};
      if (!parse_int(*r[0], k.row) || !parse_int(*r[4], k.source) || !parse_int(*r[5], k.seq))
        return corrupt("batch_problems: a number does not parse");
      k.p = {k.row, *r[1], *r[2], *r[3]};
      all.push_back(std::move(k));
    }
    std::sort(all.begin(), all.end(), [](const keyed& a, const keyed& b) {
      return std::tie(a.row, a.source, a.seq, a.p.code) < std::tie(b.row, b.source, b.seq, b.p.code);
    });
    std::vector<batch_problem> out;
    out.reserve(all.size());
    for (auto& k : all) out.push_back(std::move(k.p));
    return out;
  }

  base::result<job_counts> counts_by_batch(const std::string& batch_id) override {
    job_counts counts;
    if (!is_valid_id(batch_id)) return counts;
    auto rows = with_connection(*pool_, true, [&](sql_connection& c) {
      return c.query("SELECT status, COUNT(*) FROM jobs WHERE batch_id = $1 GROUP BY status",
                     {batch_id});
    });
    if (!rows) return rows.err();
    for (const auto& r : *rows) {
      int n = 0;
      if (r.size() != 2 || !r[0] || !r[1] || !parse_int(*r[1], n))
        return corrupt("jobs: count does not parse");
      auto st = job_status_from(*r[0]);
      if (!st) return corrupt("jobs: unknown status " + *r[0]);
      switch (*st) {
        case job_status::queued: counts.queued = n; break;
        case job_status::running: counts.running = n; break;
        case job_status::done: counts.done = n; break;
        case job_status::failed: counts.failed = n; break;
        case job_status::dead: counts.dead = n; break;
      }
    }
    return counts;
  }

  /* Keyset pages in creation order: a batch's jobs are inserted in roster order within one
   * transaction, and created_at strictly increases within a process, so (created_at, id)
   * ascending is roster order; the cursor is the last job served, as for the card list. */
  base::result<job_page> list_by_batch(const std::string& batch_id, int limit,
                                       const std::string& cursor) override {
    if (limit < 1 || limit > 1000)
      return base::make_error(base::errc::invalid_argument,
                              "limit: must be 1..1000 (got " + std::to_string(limit) + ")");
    std::vector<sql_param> params = {batch_id, std::to_string(limit + 1)};
    std::string sql = "SELECT " + job_columns + " FROM jobs WHERE batch_id = $1 ";
    if (!cursor.empty()) {
      auto pos = decode_cursor(cursor);
      if (!pos) return pos.err();
      sql += "AND (created_at, id) > ($3, $4) ";
      params.push_back(pos->first);
      params.push_back(pos->second);
    }
    sql += "ORDER BY created_at, id LIMIT CAST($2 AS INTEGER)";
    job_page out;
    if (!is_valid_id(batch_id)) return out;
    auto rows = with_connection(*pool_, true, [&](sql_connection& c) { return c.query(sql, params); });
    if (!rows) return rows.err();
    for (const auto& r : *rows) {
      if (out.items.size() == static_cast<size_t>(limit)) {
        out.next_cursor = encode_cursor(out.items.back().created_at, out.items.back().id);
        break;
      }
      auto j = job_from_row(r);
      if (!j) return j.err();
      out.items.push_back(std::move(*j));
    }
    return out;
  }

 private:
  static base::result<std::optional<job>> optional_job(const base::result<std::vector<sql_row>>& rows) {
    if (!rows) return rows.err();
    if (rows->empty()) return std::optional<job>();
    auto j = job_from_row(rows->front());
    if (!j) return j.err();
    return std::optional<job>(std::move(*j));
  }

  // conflict naming the card's queued or running job, when it has one.
  static base::result<void> check_card_free(sql_connection& c, const std::string& card_id) {
    auto active = c.query(
        "SELECT id FROM jobs WHERE card_id = $1 AND status IN ('queued', 'running')", {card_id});
    if (!active) return active.err();
    if (!active->empty() && active->front().size() == 1 && active->front()[0])
      return base::make_error(base::errc::conflict, "card " + card_id +
                                                        " has a photo job in flight: job " +
                                                        *active->front()[0]);
    return {};
  }

  // Inserts a queued job (id "" = a new one); conflict when a unique index refuses it.
  base::result<job> insert_job(sql_connection& c, std::string id, const std::string& kind,
                               const std::string& card_id, const std::optional<std::string>& batch_id,
                               int batch_row, job_priority prio, int max_attempts,
                               const std::string& payload, const std::string& subject,
                               const std::string& endpoint, const std::string& key,
                               const std::string& fingerprint, const std::string& now) {
    if (id.empty()) {
      auto fresh = new_card_id();
      if (!fresh) return fresh.err();
      id = *fresh;
    }
    auto rows = c.query(
        "INSERT INTO jobs (id, kind, card_id, batch_id, batch_row, priority, max_attempts, "
        "payload, subject, endpoint, idempotency_key, request_fingerprint, run_after_ms, "
        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, "
        "$13, $13) RETURNING " + job_columns,
        {id, kind, card_id, batch_id, std::to_string(batch_row),
         std::to_string(static_cast<int>(prio)), std::to_string(max_attempts), payload, subject,
         endpoint, key, fingerprint, now});
    if (!rows) return rows.err();
    if (rows->empty()) return corrupt("jobs: insert returned nothing");
    return job_from_row(rows->front());
  }

  /* The end of a running job, in one transaction: the job's row changes only when it is still
   * running under owner (the compare-and-set that makes a taken-over worker's late answer
   * harmless); then, when the job ended (not requeued), its card gets e.card and its batch is
   * closed if nothing of it is left queued or running. */
  base::result<job> finish(const std::string& id, const std::string& owner, const job_end& e,
                           const std::string& status_expr, const std::string& text_column,
                           const std::string& text_value, int64_t backoff_ms, bool is_retry) {
    if (!is_valid_id(id)) return not_owned("(malformed id)", owner);
    IDPHOTO_TRY(check_end(e));
    const int64_t now = clock_();
    return in_transaction(*pool_, [&](sql_connection& c) -> base::result<job> {
      const std::string ts = now_timestamp();
      // $6 is 1 when the problem fields are written whatever the outcome (complete, fail),
      // 0 when only a job that dies writes them (retry).
      const std::string ends = "(" + status_expr + ") <> 'queued'";
      const std::string write_problem = "(CAST($6 AS INTEGER) = 1 OR " + ends + ")";
      auto rows = c.query(
          "UPDATE jobs SET " + text_column + "status = " + status_expr + ", "
          "problem_code = CASE WHEN " + write_problem + " THEN $7 ELSE problem_code END, "
          "problem_message = CASE WHEN " + write_problem + " THEN $8 ELSE problem_message END, "
          "finished_at = CASE WHEN " + ends + " THEN $3 ELSE '' END, "
          "run_after_ms = $5, lease_owner = '', lease_expires_ms = 0, updated_at = $3 "
          "WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING " + job_columns,
          {id, owner, ts, text_value, std::to_string(is_retry ? now + backoff_ms : 0),
           std::string(is_retry ? "0" : "1"), e.problem_code,
           storable_text(e.problem_message, max_message_bytes)});
      if (!rows) return rows.err();
      if (rows->empty()) return not_owned(id, owner);
      auto j = job_from_row(rows->front());
      if (!j) return j.err();
      if (j->status == job_status::queued) return j;
      if (e.card && !j->card_id.empty()) {
        auto w = c.query(set_photo_sql, photo_update_params(j->card_id, *e.card, ts));
        if (!w) return w.err();
      }
      if (!j->batch_id.empty()) IDPHOTO_TRY(close_batch_if_idle(c, j->batch_id, ts));
      return j;
    });
  }

  static base::result<void> close_batch_if_idle(sql_connection& c, const std::string& batch_id,
                                                const std::string& ts) {
    auto w = c.query(
        "UPDATE batches SET status = 'done', finished_at = $2 WHERE id = $1 AND "
        "status = 'running' AND NOT EXISTS (SELECT 1 FROM jobs WHERE batch_id = $1 AND "
        "status IN ('queued', 'running')) RETURNING id",
        {batch_id, ts});
    if (!w) return w.err();
    return {};
  }

  /* PostgreSQL: concurrent batches for the same organization would both find no card for a
   * new idNumber and both insert it; one transaction-scoped advisory lock per organization
   * (taken in sorted order, so two batches never wait on each other in a cycle) serialises
   * them. SQLite's BEGIN IMMEDIATE already serialises every writer. */
  base::result<void> lock_organizations(sql_connection& c, const new_batch& nb) {
    if (pool_->dialect() != sql_dialect::postgresql) return {};
    std::set<std::string> orgs;
    for (const auto& r : nb.rows)
      if (r.fields.id_number && !r.fields.id_number->empty())
        orgs.insert(r.fields.organization.value_or(""));
    for (const auto& o : orgs) {
      auto l = c.query("SELECT pg_advisory_xact_lock(7345, hashtext($1))", {o});
      if (!l) return l.err();
    }
    return {};
  }

  // The card of a roster row: found by (organization, idNumber) and rewritten from the row,
  // or created. Its id.
  static base::result<std::string> upsert_card(sql_connection& c, const id_card_fields& f,
                                               const std::string& now) {
    const auto text = [](const std::optional<std::string>& v) { return v.value_or(""); };
    const std::string org = text(f.organization), number = text(f.id_number);
    if (!number.empty()) {
      auto found = c.query(
          "UPDATE id_cards SET full_name = $3, role = $4, issued_at = $5, expires_at = $6, "
          "updated_at = $7 WHERE id = (SELECT id FROM id_cards WHERE organization = $1 AND "
          "id_number = $2 ORDER BY created_at, id LIMIT 1) RETURNING id",
          {org, number, text(f.full_name), text(f.role), text(f.issued_at), text(f.expires_at),
           now});
      if (!found) return found.err();
      if (!found->empty() && found->front()[0]) return *found->front()[0];
    }
    auto id = new_card_id();
    if (!id) return id.err();
    const std::string created = now_timestamp();
    auto ins = c.query(
        "INSERT INTO id_cards (id, full_name, id_number, organization, role, issued_at, "
        "expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) "
        "RETURNING id",
        {*id, text(f.full_name), number, org, text(f.role), text(f.issued_at), text(f.expires_at),
         created});
    if (!ins) return ins.err();
    return *id;
  }

  static base::result<void> validate_batch(const new_batch& nb) {
    IDPHOTO_TRY(check_idempotency(nb.subject, "batches", nb.idempotency_key,
                                  nb.request_fingerprint));
    IDPHOTO_TRY(check_text("organization", nb.organization, max_field_bytes));
    IDPHOTO_TRY(check_kind(nb.job_kind));
    if (nb.max_attempts < 1 || nb.max_attempts > 100)
      return base::make_error(base::errc::invalid_argument, "max_attempts: want 1..100");
    if (nb.rows.size() > max_batch_rows)
      return base::make_error(base::errc::too_large, "rows: more than 100000");
    for (const auto& r : nb.rows) {
      const std::string at = "row " + std::to_string(r.row) + ": ";
      auto v = validate_fields(r.fields, true);
      if (!v) return base::make_error(v.err().code, at + v.err().detail);
      if (r.with_photo) {
        auto p = validate_photo_update(r.with_photo->card);
        if (!p) return base::make_error(p.err().code, at + p.err().detail);
        auto q = check_payload("payload", r.with_photo->payload);
        if (!q) return base::make_error(q.err().code, at + q.err().detail);
      }
    }
    for (const auto& p : nb.problems)
      if (!is_batch_problem_code(p.code))
        return base::make_error(base::errc::invalid_argument,
                                "problems: unknown code " + storable_text(p.code, 40));
    return {};
  }

  std::shared_ptr<sql_pool> pool_;
  clock_fn clock_;
};

}  // namespace

bool is_idempotency_mismatch(const base::error& e) {
  return e.code == base::errc::conflict && e.detail == mismatch_detail;
}

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

base::result<repositories> open_repositories(const std::string& database_url, open_report* report,
                                             clock_fn clock) {
  auto pool = open_migrated_pool(database_url, report);
  if (!pool) return pool.err();
  repositories out;
  out.cards = make_sql_repository(*pool);
  out.jobs = std::make_unique<sql_job_repository>(*pool, clock ? std::move(clock) : system_now_ms);
  return out;
}

}  // namespace idphoto::db

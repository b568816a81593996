// The job repository's leases: claims (claim_next, claim), heartbeats, how a running job ends
// (complete, fail, retry, all through finish) and crash recovery (requeue_expired).
#include <set>

#include "db/job_repository_internal.hpp"
#include "db/records.hpp"
#include "db/sql.hpp"

namespace idphoto::db::detail {

base::result<std::optional<job>> sql_job_repository::claim_next(const std::string& owner, int64_t lease_ms) {
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
    return c.query(sql, {owner, std::to_string(now + lease_ms), now_timestamp(), std::to_string(now)});
  });
  return optional_job(rows);
}

base::result<std::optional<job>> sql_job_repository::claim(const std::string& id, const std::string& owner,
                                                           int64_t lease_ms) {
  IDPHOTO_TRY(check_owner_lease(owner, lease_ms));
  if (!is_valid_id(id)) return std::optional<job>();
  const int64_t now = clock_();
  auto rows = in_transaction(*pool_, [&](sql_connection& c) {
    return c.query(
        "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_ms = $2, "
        "attempts = attempts + 1, started_at = CASE WHEN started_at = '' THEN $3 ELSE "
        "started_at END, updated_at = $3 WHERE id = $5 AND status = 'queued' AND "
        "run_after_ms <= $4 RETURNING " +
            job_columns,
        {owner, std::to_string(now + lease_ms), now_timestamp(), std::to_string(now), id});
  });
  return optional_job(rows);
}

base::result<void> sql_job_repository::heartbeat(const std::string& id, const std::string& owner, int64_t lease_ms) {
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

base::result<job> sql_job_repository::complete(const std::string& id, const std::string& owner, const job_end& e) {
  return finish(id, owner, e, "'done'", "output = $4, ", e.output, 0, false);
}

base::result<job> sql_job_repository::fail(const std::string& id, const std::string& owner, const job_end& e) {
  return finish(id, owner, e, "'failed'", "last_error = $4, ", storable_text(e.error, max_error_bytes), 0, false);
}

base::result<job> sql_job_repository::retry(const std::string& id, const std::string& owner, const job_end& e,
                                            int64_t backoff_ms) {
  if (backoff_ms < 0 || backoff_ms > max_lease_ms)
    return base::make_error(base::errc::invalid_argument, "backoff_ms: want 0..86400000");
  return finish(id, owner, e, "CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END", "last_error = $4, ",
                storable_text(e.error, max_error_bytes), backoff_ms, true);
}

/* One UPDATE moves every expired lease; the jobs that died are then applied to their cards
 * (processing → failed) and batches in the same transaction. Two instances doing this at
 * once are safe: PostgreSQL's row locks make the second UPDATE re-check each row and skip
 * those the first already moved. */
base::result<std::vector<job>> sql_job_repository::requeue_expired(const std::string& dead_photo_error) {
  const std::string card_error = storable_text(dead_photo_error, max_error_bytes);
  const int64_t now = clock_();
  return in_transaction(*pool_, [&](sql_connection& c) -> base::result<std::vector<job>> {
    const std::string ts = now_timestamp();
    auto rows = c.query(
        "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' "
        "END, finished_at = CASE WHEN attempts >= max_attempts THEN $2 ELSE '' END, "
        "last_error = $1, lease_owner = '', lease_expires_ms = 0, updated_at = $2 "
        "WHERE status = 'running' AND lease_expires_ms < $3 RETURNING " +
            job_columns,
        {std::string("lease expired: its worker stopped or lost the database"), ts, std::to_string(now)});
    if (!rows) return rows.err();
    std::vector<job> moved;
    std::set<std::string> batches;
    for (const auto& r : *rows) {
      auto j = job_from_row(r);
      if (!j) return j.err();
      if (j->status == job_status::dead) {
        if (!j->card_id.empty()) {
          auto w = c.query(
              "UPDATE id_cards SET status = 'failed', photo_error = $2, updated_at = $3, photo_error_at = $3 "
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

/* The end of a running job, in one transaction: the job's row changes only when it is still
 * running under owner (the compare-and-set that makes a taken-over worker's late answer
 * harmless); then, when the job ended (not requeued), its card gets e.card and its batch is
 * closed if nothing of it is left queued or running. */
base::result<job> sql_job_repository::finish(const std::string& id, const std::string& owner, const job_end& e,
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
        "UPDATE jobs SET " + text_column + "status = " + status_expr +
            ", "
            "problem_code = CASE WHEN " +
            write_problem +
            " THEN $7 ELSE problem_code END, "
            "problem_message = CASE WHEN " +
            write_problem +
            " THEN $8 ELSE problem_message END, "
            "finished_at = CASE WHEN " +
            ends +
            " THEN $3 ELSE '' END, "
            "run_after_ms = $5, lease_owner = '', lease_expires_ms = 0, updated_at = $3 "
            "WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING " +
            job_columns,
        {id, owner, ts, text_value, std::to_string(is_retry ? now + backoff_ms : 0), std::string(is_retry ? "0" : "1"),
         e.problem_code, storable_text(e.problem_message, max_message_bytes)});
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

}  // namespace idphoto::db::detail

// Internal to idphoto_db: the SQL job repository's class, shared by its three files —
// job_repository.cpp (rows, checks, enqueue, reads, open_repositories), job_repository_lease.cpp
// (claims, heartbeats, how a job ends, crash recovery) and job_repository_batch.cpp (batches).
#pragma once
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "db/job_repository.hpp"
#include "db/sql.hpp"

namespace idphoto::db::detail {

inline constexpr const char* mismatch_detail = "idempotency_key: already used with a different request";
inline constexpr size_t max_payload_bytes = 64 * 1024;
inline constexpr size_t max_error_bytes = 4096;
inline constexpr size_t max_message_bytes = 400;
inline constexpr int64_t max_lease_ms = 24LL * 3600 * 1000;
inline constexpr size_t max_batch_rows = 100000;

// The columns job_from_row / batch_from_row read, in their order.
extern const std::string job_columns;
extern const std::string batch_columns;
// photo_update_sql("id"): writes a photo_update to the card $1 inside a job's transaction.
extern const std::string set_photo_sql;

// corrupt with that text.
base::error corrupt(const std::string& what);

// false when s is empty or not entirely a number of T.
template <class T>
bool parse_int(const std::string& s, T& out) {
  return std::from_chars(s.data(), s.data() + s.size(), out).ec == std::errc() && !s.empty();
}

// The job in a row selected with job_columns; corrupt when the row does not fit.
base::result<job> job_from_row(const sql_row& r);
// The batch in a row selected with batch_columns; corrupt when the row does not fit.
base::result<batch> batch_from_row(const sql_row& r);
// The first row's job, nullopt for no rows; the query's error or corrupt.
base::result<std::optional<job>> optional_job(const base::result<std::vector<sql_row>>& rows);

/* An earlier request with the same idempotency key: the row `sql` selects (with `params`),
 * made into T by from_row (T has request_fingerprint), or nullopt when there is none. conflict
 * (is_idempotency_mismatch) when that request came with another fingerprint. Shared by
 * enqueue (a job) and create_batch (a batch). */
template <class T, class FromRow>
base::result<std::optional<T>> prior_request(sql_connection& c, const std::string& sql,
                                             const std::vector<sql_param>& params, const std::string& fingerprint,
                                             FromRow from_row) {
  auto prior = c.query(sql, params);
  if (!prior) return prior.err();
  if (prior->empty()) return std::optional<T>();
  base::result<T> found = from_row(prior->front());
  if (!found) return found.err();
  if (found->request_fingerprint != fingerprint) return base::make_error(base::errc::conflict, mismatch_detail);
  return std::optional<T>(std::move(*found));
}

// not_found naming the id (or "(malformed id)").
base::error job_not_found(const std::string& id);
// conflict: the job is not running under owner.
base::error not_owned(const std::string& id, const std::string& owner);

// invalid_argument naming the field for each of these.
base::result<void> check_kind(const std::string& kind);
base::result<void> check_owner_lease(const std::string& owner, int64_t lease_ms);
// The idempotency scope fields shared by jobs and batches.
base::result<void> check_idempotency(const std::string& subject, const std::string& endpoint, const std::string& key,
                                     const std::string& fingerprint);
base::result<void> check_payload(const char* field, const std::string& p);
base::result<void> check_end(const job_end& e);

// conflict naming the card's queued or running job, when it has one.
base::result<void> check_card_free(sql_connection& c, const std::string& card_id);
// Inserts a queued job (id "" = a new one); conflict when a unique index refuses it.
base::result<job> insert_job(sql_connection& c, std::string id, const std::string& kind, const std::string& card_id,
                             const std::optional<std::string>& batch_id, int batch_row, job_priority prio,
                             int max_attempts, const std::string& payload, const std::string& subject,
                             const std::string& endpoint, const std::string& key, const std::string& fingerprint,
                             const std::string& now);
// The batch becomes done when none of its jobs is queued or running.
base::result<void> close_batch_if_idle(sql_connection& c, const std::string& batch_id, const std::string& ts);

// The job repository written once against the SQL layer, for SQLite and PostgreSQL.
class sql_job_repository final : public job_repository {
 public:
  sql_job_repository(std::shared_ptr<sql_pool> pool, clock_fn clock)
      : pool_(std::move(pool)), clock_(std::move(clock)) {}

  int64_t now_ms() const override { return clock_(); }

  // job_repository.cpp
  base::result<enqueued> enqueue(const new_job& nj) override;
  base::result<int> fail_processing_without_job(const std::string& photo_error) override;
  base::result<job> get(const std::string& id) override;
  base::result<std::optional<job>> active_for_card(const std::string& card_id) override;

  // job_repository_lease.cpp
  base::result<std::optional<job>> claim_next(const std::string& owner, int64_t lease_ms) override;
  base::result<std::optional<job>> claim(const std::string& id, const std::string& owner, int64_t lease_ms) override;
  base::result<void> heartbeat(const std::string& id, const std::string& owner, int64_t lease_ms) override;
  base::result<job> complete(const std::string& id, const std::string& owner, const job_end& e) override;
  base::result<job> fail(const std::string& id, const std::string& owner, const job_end& e) override;
  base::result<job> retry(const std::string& id, const std::string& owner, const job_end& e,
                          int64_t backoff_ms) override;
  base::result<std::vector<job>> requeue_expired(const std::string& dead_photo_error) override;

  // job_repository_batch.cpp
  base::result<batch_created> create_batch(const new_batch& nb) override;
  base::result<batch> get_batch(const std::string& id) override;
  base::result<std::vector<batch_problem>> batch_problems(const std::string& batch_id) override;
  base::result<job_counts> counts_by_batch(const std::string& batch_id) override;
  base::result<job_page> list_by_batch(const std::string& batch_id, int limit, const std::string& cursor) override;

 private:
  // job_repository_lease.cpp: the end of a running job (complete, fail, retry).
  base::result<job> finish(const std::string& id, const std::string& owner, const job_end& e,
                           const std::string& status_expr, const std::string& text_column,
                           const std::string& text_value, int64_t backoff_ms, bool is_retry);
  // job_repository_batch.cpp
  base::result<void> lock_organizations(sql_connection& c, const new_batch& nb);

  std::shared_ptr<sql_pool> pool_;
  clock_fn clock_;
};

}  // namespace idphoto::db::detail

// Durable jobs and batches: the jobs table is the truth of what work exists, who runs it and
// how it ended; dispatchers (in-process today, a broker later) only deliver job ids.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "db/repository.hpp"

namespace idphoto::db {

/* A job's life (docs/architecture.md, "Jobs"):
 *   queued --claim--> running --complete--> done
 *                        |----fail--------> failed   (the client's fault: never retried)
 *                        |----retry-------> queued   (our transient fault, after a backoff)
 *                        |                  dead     (... past max_attempts)
 *                        '----lease expires (worker died)--> queued, or dead past max_attempts
 * Every transition out of running names the lease owner and changes nothing when the job is
 * no longer running under that owner, so a worker whose lease was taken over cannot commit. */
enum class job_status { queued, running, done, failed, dead };
const char* job_status_name(job_status s);                        // "queued", "running", …
std::optional<job_status> job_status_from(const std::string& s);  // nullopt when unknown

// Interactive requests are claimed before any batch job, oldest first within a priority.
enum class job_priority : int { interactive = 0, batch = 1 };

struct job {
  std::string id;        // 32 lowercase hex chars
  std::string kind;      // what to run, the app's name for it: [a-z0-9_]{1,40}
  std::string card_id;   // the card whose photo this job makes, or ""
  std::string batch_id;  // the batch it belongs to, or ""
  int batch_row = 0;     // its roster row (from 1), 0 outside a batch
  job_priority priority = job_priority::interactive;
  job_status status = job_status::queued;
  int attempts = 0;  // claims so far (a claim counts even when its worker died)
  int max_attempts = 3;
  std::string last_error;        // the last failure's text (for the log and GET /api/jobs)
  std::string lease_owner;       // "" unless running
  int64_t lease_expires_ms = 0;  // Unix ms; 0 unless running
  int64_t run_after_ms = 0;      // Unix ms before which it is not claimed (retry backoff)
  std::string payload;           // the job's input, opaque here
  std::string output;            // its output when done, opaque here
  std::string problem_code;      // a batch problem this job reports for its row, or ""
  std::string problem_message;
  std::string subject, endpoint, idempotency_key, request_fingerprint;  // "" when not given
  std::string created_at, started_at, finished_at, updated_at;          // RFC 3339 ms; "" until it happens
};

struct new_job {
  std::string kind;
  std::string card_id;  // "" = no card
  std::string payload;  // ≤ 64 KiB of UTF-8 without NUL
  job_priority priority = job_priority::interactive;
  int max_attempts = 3;  // 1..100
  // Idempotency: the key (1..200 visible ASCII chars, "" = none) is unique per subject and
  // endpoint; the fingerprint (≤ 200 bytes) identifies the request it came with.
  std::string subject, endpoint, idempotency_key, request_fingerprint;
  // Written to card_id in the same transaction when the job is created (not on a replay):
  // the raw photo recorded and photoStatus processing.
  std::optional<photo_update> card_on_create;
};

struct enqueued {
  job j;
  bool created = false;  // false: an earlier request with the same key made it
};

// How a running job ends; applied only while the caller still holds the job's lease.
struct job_end {
  std::string output;  // complete: the job's output
  std::string error;   // fail / retry: why (stored in last_error)
  // A problem for the batch's list (codes of batch_problem); "" = none. For retry, only when
  // the job dies.
  std::string problem_code, problem_message;
  // Every photo column of the job's card, written in the same transaction (a card deleted
  // meanwhile is not an error). For retry, only when the job dies.
  std::optional<photo_update> card;
};

struct job_counts {
  int queued = 0, running = 0, done = 0, failed = 0, dead = 0;
  int total() const { return queued + running + done + failed + dead; }
};

struct job_page {
  std::vector<job> items;
  std::string next_cursor;  // "" when this is the last page
};

// ---- batches

// One roster problem. row counts data rows from 1 (the header excluded); 0 = the whole batch.
struct batch_problem {
  int row = 0;
  std::string id_number;
  std::string code;     // no_photo, duplicate_photo, unreadable_photo, compliance_fail, invalid_row
  std::string message;  // public text
};
// true for the five codes above.
bool is_batch_problem_code(const std::string& code);

enum class batch_status { running, done };
const char* batch_status_name(batch_status s);

struct batch {
  std::string id;
  std::string subject;                          // who created it (token subject)
  std::string organization;                     // the organization given for the whole batch, or ""
  batch_status status = batch_status::running;  // done once no job is queued or running
  int total = 0;                                // roster rows that became cards
  std::string idempotency_key, request_fingerprint;
  std::string created_at, finished_at;
};

// One valid roster row. The card is found by (organization, id_number) when id_number is set
// and updated with these fields, else created.
struct batch_row {
  int row = 0;            // from 1
  id_card_fields fields;  // full_name required; unset = "" (the roster is the truth)
  // The row's photo, already in the blob store: its card gets these photo columns (raw photo,
  // photoStatus processing) and a job of job_kind with this payload. nullopt = no photo, no job.
  struct photo {
    photo_update card;
    std::string payload;
  };
  std::optional<photo> with_photo;
};

struct new_batch {
  std::string subject, organization, idempotency_key, request_fingerprint;
  std::vector<batch_row> rows;
  std::vector<batch_problem> problems;  // found while reading the roster and the photos
  std::string job_kind = "clean_photo";
  int max_attempts = 3;
};

struct batch_item {
  int row = 0;
  std::string card_id;
  std::string job_id;  // "" when the row had no photo (or its card had a photo job in flight)
};

struct batch_created {
  batch b;
  bool created = false;  // false: an earlier request with the same key made it (items empty)
  std::vector<batch_item> items;
};

/* Every method is safe from many threads and many processes at once, and every write is one
 * transaction. Times that decide anything (leases, backoff) come from the clock given at open
 * (Unix ms), so instances sharing a database must keep their clocks in step (NTP); the
 * RFC 3339 times are for people. */
class job_repository {
 public:
  virtual ~job_repository() = default;

  // invalid_argument naming a bad field; conflict when the card has a queued or running job
  // already (detail names it) or when the key was used with another fingerprint
  // (is_idempotency_mismatch). The same key and fingerprint return the first job, created false.
  virtual base::result<enqueued> enqueue(const new_job& j) = 0;

  // The next claimable job (queued, run_after passed; interactive first, then oldest), now
  // running under owner until now + lease_ms, attempts + 1; nullopt when there is none.
  // invalid_argument for an empty owner or a lease outside 1 ms..1 day.
  virtual base::result<std::optional<job>> claim_next(const std::string& owner, int64_t lease_ms) = 0;
  // That job, claimed as claim_next would (for a broker that delivers ids); nullopt when it is
  // not claimable now (running elsewhere, finished, backing off, unknown id).
  virtual base::result<std::optional<job>> claim(const std::string& id, const std::string& owner, int64_t lease_ms) = 0;
  // Extends the lease to now + lease_ms. conflict when the job is not running under owner.
  virtual base::result<void> heartbeat(const std::string& id, const std::string& owner, int64_t lease_ms) = 0;

  // running → done. conflict when the job is not running under owner (then nothing changes).
  virtual base::result<job> complete(const std::string& id, const std::string& owner, const job_end& e) = 0;
  // running → failed (the client's fault). conflict as for complete.
  virtual base::result<job> fail(const std::string& id, const std::string& owner, const job_end& e) = 0;
  // running → queued, claimable after now + backoff_ms; dead instead when attempts have
  // reached max_attempts. conflict as for complete.
  virtual base::result<job> retry(const std::string& id, const std::string& owner, const job_end& e,
                                  int64_t backoff_ms) = 0;
  // Crash recovery: every running job whose lease has expired goes back to queued (dead when
  // its attempts are used up; its card, when still processing, becomes failed with
  // dead_photo_error). Returns the jobs it moved, as they are now.
  virtual base::result<std::vector<job>> requeue_expired(const std::string& dead_photo_error) = 0;

  // Startup (service::recover): cards left
  // "processing" with no queued or running job (a synchronous upload cut by a crash) become
  // "failed" with photo_error; cards whose job will resume are left to it. Returns how many.
  virtual base::result<int> fail_processing_without_job(const std::string& photo_error) = 0;

  // not_found (a malformed id included).
  virtual base::result<job> get(const std::string& id) = 0;
  // The card's queued or running job, nullopt when it has none.
  virtual base::result<std::optional<job>> active_for_card(const std::string& card_id) = 0;

  // Batches. create_batch: one transaction for the batch row, its problems, every card
  // (created, or updated by organization + idNumber) and a job per photo, at batch priority.
  // invalid_argument naming the row and field; conflict on a reused key with another
  // fingerprint (is_idempotency_mismatch). A row whose card has a photo job in flight gets
  // no job and an invalid_row problem saying so.
  virtual base::result<batch_created> create_batch(const new_batch& b) = 0;
  // not_found.
  virtual base::result<batch> get_batch(const std::string& id) = 0;
  // The roster's problems and those the batch's jobs reported, by row.
  virtual base::result<std::vector<batch_problem>> batch_problems(const std::string& batch_id) = 0;
  // Jobs of the batch by status (zeros for an unknown batch).
  virtual base::result<job_counts> counts_by_batch(const std::string& batch_id) = 0;
  // The batch's jobs in roster order (batch_row, then id); limit 1..1000; cursor "" or a
  // next_cursor. invalid_argument for a bad limit or cursor.
  virtual base::result<job_page> list_by_batch(const std::string& batch_id, int limit, const std::string& cursor) = 0;

  virtual int64_t now_ms() const = 0;  // the clock leases are measured with
};

// true when e is enqueue's / create_batch's "same key, different request" conflict (a 422).
bool is_idempotency_mismatch(const base::error& e);

// Unix ms, for the clock parameter; tests pass their own.
using clock_fn = std::function<int64_t()>;
int64_t system_now_ms();

// The card and job repositories over one database (one pool: one SQLite connection, or up to
// 8 PostgreSQL connections). The errors of open_repository; report as there.
struct repositories {
  std::unique_ptr<repository> cards;
  std::unique_ptr<job_repository> jobs;
};
base::result<repositories> open_repositories(const std::string& database_url, open_report* report = nullptr,
                                             clock_fn clock = system_now_ms);

}  // namespace idphoto::db

// The dispatcher: how the service hands a committed job to workers and how workers report
// back. The jobs table is the truth; a dispatcher only moves job ids (in-process now, a
// broker later) and turns each run's outcome into the job's next state.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "db/job_repository.hpp"

namespace idphoto::app {

// Whose fault a run's failure was, which decides what happens next.
enum class job_fault {
  none,       // it worked: done
  client,     // the client's input (undecodable photo, unsupported format): failed at once
  transient,  // ours and maybe passing (store or database down, a bug): retried with backoff,
              // dead past max_attempts
};

struct job_outcome {
  job_fault fault = job_fault::none;
  db::job_end end;  // output, error text, batch problem, the card's photo columns
};

// Runs claimed jobs, one at a time, on one worker thread (it may own an engine).
class job_runner {
 public:
  virtual ~job_runner() = default;
  // The outcome of j. May throw: the dispatcher records an exception as a transient fault.
  virtual job_outcome run(const db::job& j) = 0;
  // After run(j)'s outcome was committed, with the job as it is now (queued again after a
  // retry): the place for effects that must follow the commit, such as removing the blobs the
  // card stopped referencing. Not called when the commit was refused (the lease was lost) or
  // failed; a crash before it leaves what it would have removed (orphans, swept). May throw:
  // the dispatcher logs it.
  virtual void committed(const db::job& now, const job_outcome& o) {
    (void)now;
    (void)o;
  }
};
// Makes one runner per worker thread; its error stops the dispatcher from starting.
using runner_factory = std::function<base::result<std::unique_ptr<job_runner>>()>;

struct dispatcher_options {
  int n_workers = 1;                // worker threads, each with its own runner
  int64_t lease_ms = 30000;         // a claim holds its job this long without a heartbeat
  int64_t heartbeat_ms = 10000;     // running jobs' leases are extended this often (< lease_ms)
  int64_t poll_ms = 1000;           // idle workers look for work this often (jobs committed by
                                    // other instances, backoffs that ended) and expired leases
                                    // are requeued
  int64_t backoff_base_ms = 2000;   // transient retry n waits base * 2^(n-1), ±20% jitter,
  int64_t backoff_max_ms = 300000;  // at most this
  std::string owner;                // the lease owner name; "" = host:pid:random
  // photoError of a card whose job died because its workers kept stopping mid-run.
  std::string dead_photo_error =
      "interrupted: the server stopped while cleaning this photo too many times; upload again";
  // One line per event worth logging (commit refused, database errors); nullptr = stderr.
  std::function<void(const std::string&)> log;

  // invalid_argument listing every bad field.
  base::result<void> validate() const;
};

struct dispatcher_stats {
  int n_workers = 0;
  int running = 0;      // jobs being run by this instance now
  int64_t claimed = 0;  // totals since start
  int64_t done = 0, failed = 0, retried = 0, dead = 0;
  int64_t exceptions = 0;  // runs that threw (counted in retried/dead too)
  int64_t lost = 0;        // outcomes refused because the lease had been taken over
  int64_t requeued = 0;    // expired leases this instance moved back to queued (or dead)
  int64_t db_errors = 0;   // repository calls that failed (claims, heartbeats, commits)
};

class dispatcher {
 public:
  virtual ~dispatcher() = default;
  // Tells the workers a job has been committed (in-process: wakes an idle worker; with a
  // broker: publishes the id). unavailable when stopping. The job runs even if this is never
  // called (workers poll), only later.
  virtual base::result<void> submit(const std::string& job_id, db::job_priority p) = 0;
  // The job once it has ended (done, failed or dead). timeout when it has not ended within
  // timeout_ms (it goes on); not_found; the repository's errors.
  virtual base::result<db::job> wait(const std::string& job_id, int64_t timeout_ms) = 0;
  // Stops claiming, lets the jobs in hand finish and commit, joins every thread. Idempotent.
  virtual void stop() = 0;
  virtual dispatcher_stats stats() const = 0;
  virtual const std::string& owner() const = 0;
};

// The backoff before transient retry number `attempt` (1 = after the first run), jitter_unit in
// [-1, 1] scaling the ±20%: base * 2^(attempt-1) * (1 + 0.2 * jitter_unit), at most max.
int64_t retry_backoff_ms(const dispatcher_options& o, int attempt, double jitter_unit);

}  // namespace idphoto::app

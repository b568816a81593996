// The in-process dispatcher: worker threads that claim from the job repository, run a
// job_runner and commit its outcome; a housekeeping thread for heartbeats and expired leases.
#include "app/dispatcher_local.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "base/catching.hpp"

namespace idphoto::app {

base::result<void> dispatcher_options::validate() const {
  std::string bad;
  const auto need = [&](bool ok, const char* what) {
    if (!ok) bad += (bad.empty() ? "" : "; ") + std::string(what);
  };
  need(n_workers >= 1 && n_workers <= 64, "n_workers: want 1..64");
  need(lease_ms >= 100 && lease_ms <= 86400000, "lease_ms: want 100..86400000");
  need(heartbeat_ms >= 10 && heartbeat_ms < lease_ms, "heartbeat_ms: want 10..lease_ms-1");
  need(poll_ms >= 10 && poll_ms <= 60000, "poll_ms: want 10..60000");
  need(backoff_max_ms >= 0 && backoff_max_ms <= 86400000, "backoff_max_ms: want 0..86400000");
  need(backoff_base_ms >= 0 && backoff_base_ms <= backoff_max_ms, "backoff_base_ms: want 0..backoff_max_ms");
  bool owner_ok = owner.size() <= 200;
  for (unsigned char c : owner) owner_ok = owner_ok && c > 0x20 && c < 0x7f;
  need(owner_ok, "owner: want up to 200 visible ASCII characters");
  need(!dead_photo_error.empty(), "dead_photo_error: must not be empty");
  if (!bad.empty()) return base::make_error(base::errc::invalid_argument, bad);
  return {};
}

int64_t retry_backoff_ms(const dispatcher_options& o, int attempt, double jitter_unit) {
  const int n = std::clamp(attempt, 1, 62);
  const double raw = static_cast<double>(o.backoff_base_ms) * std::ldexp(1.0, n - 1);
  const double jittered =
      std::min(raw, static_cast<double>(o.backoff_max_ms)) * (1.0 + 0.2 * std::clamp(jitter_unit, -1.0, 1.0));
  return std::clamp<int64_t>(static_cast<int64_t>(jittered), 0, o.backoff_max_ms);
}

namespace {

using steady = std::chrono::steady_clock;

bool ended(db::job_status s) {
  return s == db::job_status::done || s == db::job_status::failed || s == db::job_status::dead;
}

// host:pid:random, with anything but visible ASCII in the host name replaced.
std::string default_owner() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  std::string h = host;
  for (char& c : h)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == ':') c = '_';
  if (h.size() > 100) h.resize(100);
  std::random_device rd;
  char tail[16];
  std::snprintf(tail, sizeof tail, "%08x", static_cast<unsigned>(rd()));
  return h + ":" + std::to_string(getpid()) + ":" + tail;
}

class local_dispatcher final : public dispatcher {
 public:
  local_dispatcher(db::job_repository& jobs, dispatcher_options o)
      : jobs_(jobs), o_(std::move(o)), rng_(std::random_device{}()) {
    owner_ = o_.owner.empty() ? default_owner() : o_.owner;
  }
  ~local_dispatcher() override { stop(); }

  base::result<void> start(const runner_factory& make_runner) {
    auto requeued = jobs_.requeue_expired(o_.dead_photo_error);
    if (!requeued) return requeued.err();
    stats_.requeued += static_cast<int64_t>(requeued->size());
    std::vector<std::unique_ptr<job_runner>> runners;
    for (int i = 0; i < o_.n_workers; ++i) {
      base::result<std::unique_ptr<job_runner>> r = base::catching("runner factory", make_runner);
      if (!r) return r.err();
      if (!*r) return base::make_error(base::errc::internal, "runner factory returned nothing");
      runners.push_back(std::move(*r));
    }
    runners_ = std::move(runners);
    stats_.n_workers = o_.n_workers;
    housekeeper_ = std::thread([this] { housekeeper_main(); });
    for (auto& r : runners_) workers_.emplace_back([this, p = r.get()] { worker_main(*p); });
    return {};
  }

  base::result<void> submit(const std::string& job_id, db::job_priority) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return base::make_error(base::errc::unavailable, "dispatcher: stopping");
    ++work_generation_;
    work_cv_.notify_one();
    return {};
  }

  /* Waits for the end of a job by re-reading its row: after every local commit (done_cv_)
   * and at least every poll_ms, since another instance, or the housekeeper moving an expired
   * job to dead, may end it without a local notification. */
  base::result<db::job> wait(const std::string& job_id, int64_t timeout_ms) override {
    const auto deadline = steady::now() + std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0));
    for (;;) {
      uint64_t seen;
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen = done_generation_;
      }
      auto j = jobs_.get(job_id);
      if (!j) return j.err();
      if (ended(j->status)) return j;
      std::unique_lock<std::mutex> lock(mu_);
      const auto now = steady::now();
      if (now >= deadline)
        return base::make_error(base::errc::timeout,
                                "job " + job_id + " has not ended after " + std::to_string(timeout_ms) + " ms");
      const auto until = std::min(deadline, now + std::chrono::milliseconds(o_.poll_ms));
      done_cv_.wait_until(lock, until, [&] { return done_generation_ != seen; });
    }
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_)
      if (t.joinable()) t.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      housekeeper_stop_ = true;  // only now: the last jobs kept their leases alive until done
    }
    housekeeper_cv_.notify_all();
    if (housekeeper_.joinable()) housekeeper_.join();
    done_cv_.notify_all();
  }

  dispatcher_stats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    dispatcher_stats s = stats_;
    s.running = static_cast<int>(in_flight_.size());
    return s;
  }

  const std::string& owner() const override { return owner_; }

 private:
  void log(const std::string& line) {
    if (o_.log) {
      o_.log(line);
      return;
    }
    std::fprintf(stderr, "idphoto: dispatcher %s: %s\n", owner_.c_str(), line.c_str());
  }

  void worker_main(job_runner& runner) {
    for (;;) {
      uint64_t seen;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        seen = work_generation_;
      }
      const base::result<bool> worked =
          base::catching("worker", [&]() -> base::result<bool> { return claim_and_run(runner); });
      if (!worked) log(worked.err().to_string());
      if (worked && *worked) continue;
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait_for(lock, std::chrono::milliseconds(o_.poll_ms),
                        [&] { return stopping_ || work_generation_ != seen; });
    }
  }

  // true when a job was claimed (and run and committed, or its commit given up).
  bool claim_and_run(job_runner& runner) {
    auto claimed = jobs_.claim_next(owner_, o_.lease_ms);
    if (!claimed) {
      count_db_error("claim: " + claimed.err().to_string());
      return false;
    }
    if (!claimed->has_value()) return false;
    const db::job j = std::move(**claimed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_.insert(j.id);
      ++stats_.claimed;
    }
    job_outcome out = run_guarded(runner, j);
    commit(runner, j, out);
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_.erase(j.id);
      ++done_generation_;
    }
    done_cv_.notify_all();
    return true;
  }

  job_outcome run_guarded(job_runner& runner, const db::job& j) {
    base::result<job_outcome> ran =
        base::catching("the job", [&]() -> base::result<job_outcome> { return runner.run(j); });
    if (ran) return std::move(*ran);
    job_outcome out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.exceptions;
    }
    out.fault = job_fault::transient;
    out.end.error = ran.err().to_string();
    return out;
  }

  /* Commits the outcome. The repository refuses it (conflict) when the lease was taken over
   * meanwhile: then another worker owns the job and this result is dropped. A database error
   * is retried a few times (the job is done; losing the answer would rerun it); after that
   * the lease expires and the job runs again, which its idempotent effects allow. An outcome
   * the repository cannot store (invalid_argument) is recorded as a transient failure. */
  void commit(job_runner& runner, const db::job& j, job_outcome out) {
    for (int attempt = 0; attempt < 4; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
      base::result<db::job> r = base::make_error(base::errc::internal, "");
      switch (out.fault) {
        case job_fault::none:
          r = jobs_.complete(j.id, owner_, out.end);
          break;
        case job_fault::client:
          r = jobs_.fail(j.id, owner_, out.end);
          break;
        case job_fault::transient:
          r = jobs_.retry(j.id, owner_, out.end, backoff(j.attempts));
          break;
      }
      if (r.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        switch (r->status) {
          case db::job_status::done:
            ++stats_.done;
            break;
          case db::job_status::failed:
            ++stats_.failed;
            break;
          case db::job_status::dead:
            ++stats_.dead;
            break;
          default:
            ++stats_.retried;
            break;
        }
      }
      if (r.ok()) {
        const base::result<void> after = base::catching("after the commit", [&]() -> base::result<void> {
          runner.committed(*r, out);
          return {};
        });
        if (!after) log("job " + j.id + ": " + after.err().to_string());
        return;
      }
      if (r.err().code == base::errc::conflict) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.lost;
        }
        log("job " + j.id + ": outcome dropped, " + r.err().detail);
        return;
      }
      if (r.err().code == base::errc::invalid_argument && out.fault != job_fault::transient) {
        log("job " + j.id + ": outcome not recordable (" + r.err().detail + "), recorded as a failure");
        job_outcome replacement;
        replacement.fault = job_fault::transient;
        replacement.end.error = "internal: the job's outcome could not be recorded: " + r.err().detail;
        out = std::move(replacement);
        --attempt;  // the replacement gets its own tries
        continue;
      }
      count_db_error("job " + j.id + ": commit: " + r.err().to_string());
      if (r.err().code == base::errc::invalid_argument) return;
    }
  }

  int64_t backoff(int attempt) {
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    std::lock_guard<std::mutex> lock(mu_);
    return retry_backoff_ms(o_, attempt, unit(rng_));
  }

  void count_db_error(const std::string& what) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.db_errors;
    }
    log(what);
  }

  /* One round: heartbeats for the jobs running here, then the expired leases moved back to
   * the queue, each when its time has come. */
  void housekeep(const std::vector<std::string>& ids, steady::time_point* next_heartbeat,
                 steady::time_point* next_requeue) {
    const auto now = steady::now();
    if (now >= *next_heartbeat) {
      for (const auto& id : ids) {
        auto h = jobs_.heartbeat(id, owner_, o_.lease_ms);
        if (!h && h.err().code == base::errc::conflict) log("job " + id + ": lease lost while running");
        else if (!h) count_db_error("heartbeat: " + h.err().to_string());
      }
      *next_heartbeat = now + std::chrono::milliseconds(o_.heartbeat_ms);
    }
    if (now >= *next_requeue) {
      auto moved = jobs_.requeue_expired(o_.dead_photo_error);
      if (!moved) {
        count_db_error("requeue: " + moved.err().to_string());
      } else if (!moved->empty()) {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.requeued += static_cast<int64_t>(moved->size());
        ++work_generation_;
        ++done_generation_;
      }
      if (moved && !moved->empty()) {
        work_cv_.notify_all();
        done_cv_.notify_all();
      }
      *next_requeue = now + std::chrono::milliseconds(o_.poll_ms);
    }
  }

  /* Heartbeats every heartbeat_ms for the jobs in hand (a lease lost meanwhile is only logged:
   * a running clean cannot be interrupted, and its commit will be refused), and every poll_ms
   * requeues expired leases of any instance and wakes the workers when it moved some. */
  void housekeeper_main() {
    auto next_heartbeat = steady::now() + std::chrono::milliseconds(o_.heartbeat_ms);
    auto next_requeue = steady::now() + std::chrono::milliseconds(o_.poll_ms);
    for (;;) {
      std::vector<std::string> ids;
      {
        std::unique_lock<std::mutex> lock(mu_);
        housekeeper_cv_.wait_until(lock, std::min(next_heartbeat, next_requeue), [&] { return housekeeper_stop_; });
        if (housekeeper_stop_) return;
        ids.assign(in_flight_.begin(), in_flight_.end());
      }
      const base::result<void> kept = base::catching("housekeeper", [&]() -> base::result<void> {
        housekeep(ids, &next_heartbeat, &next_requeue);
        return {};
      });
      if (!kept) log(kept.err().to_string());
    }
  }

  db::job_repository& jobs_;
  dispatcher_options o_;
  std::string owner_;
  std::vector<std::unique_ptr<job_runner>> runners_;
  std::vector<std::thread> workers_;
  std::thread housekeeper_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // idle workers wait here
  std::condition_variable housekeeper_cv_;
  std::condition_variable done_cv_;  // wait() callers
  uint64_t work_generation_ = 0;     // bumped by submit and by requeues
  uint64_t done_generation_ = 0;     // bumped by every local commit and requeue
  std::set<std::string> in_flight_;
  dispatcher_stats stats_;
  std::mt19937 rng_;
  bool stopping_ = false, housekeeper_stop_ = false, stopped_ = false;
};

}  // namespace

base::result<std::unique_ptr<dispatcher>> make_local_dispatcher(db::job_repository& jobs, const runner_factory& runners,
                                                                const dispatcher_options& o) {
  IDPHOTO_TRY(o.validate());
  if (!runners) return base::make_error(base::errc::invalid_argument, "runner factory: missing");
  auto d = std::make_unique<local_dispatcher>(jobs, o);
  IDPHOTO_TRY(d->start(runners));
  return std::unique_ptr<dispatcher>(std::move(d));
}

}  // namespace idphoto::app

// The bounded worker pool: N inference slots, each owning one engine (a pipeline::cleaner),
// and a short queue in front of them. Admission is decided up front (reserve), so an
// overloaded server refuses at once with errc::unavailable instead of buffering photos.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "pipeline/clean.hpp"

namespace idphoto::app {

// What a worker runs: a cleaner in production; tests may give their own.
class clean_engine {
 public:
  virtual ~clean_engine() = default;
  // The cleaner's errors (unsupported, too_large, corrupt, invalid_argument, internal).
  virtual base::result<pipeline::clean_result> clean(std::span<const uint8_t> bytes,
                                                     const pipeline::clean_options& o) = 0;
};
// Makes one engine per worker; fails as pipeline::cleaner::create does.
using engine_factory = std::function<base::result<std::unique_ptr<clean_engine>>()>;
// The production factory: one pipeline::cleaner per call.
engine_factory cleaner_factory(const pipeline::pipeline_config& cfg);

class worker_pool;

// One admitted job's place: held from admission until its clean has finished (or was
// skipped), so the memory of admitted work stays bounded even when a waiter times out.
class ticket {
 public:
  ticket() = default;
  ticket(ticket&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), dispatched_(o.dispatched_) {}
  ticket& operator=(ticket&& o) noexcept;
  ~ticket() { release(); }
  bool valid() const { return pool_ != nullptr; }

 private:
  friend class worker_pool;
  ticket(worker_pool* p, bool dispatched) : pool_(p), dispatched_(dispatched) {}
  void release();
  worker_pool* pool_ = nullptr;
  bool dispatched_ = false;  // a job worker's place (reserve_dispatched), outside the capacity
};

struct pool_stats {
  int n_workers = 0;
  int capacity = 0;    // workers + queue
  int admitted = 0;    // tickets held (waiting, running, or between admission and submit)
  int dispatched = 0;  // places held by job workers (reserve_dispatched), not in admitted
  int queued = 0;      // submitted jobs not started yet
  int running = 0;
};

class worker_pool {
 public:
  /* Starts n_workers threads, each creating its own engine first (all must load, or
   * create fails with the factory's error and no thread is left running).
   * Admission: at most n_workers + queue_size tickets exist at once; the rest are refused. */
  static base::result<std::unique_ptr<worker_pool>> create(const engine_factory& f, int n_workers, int queue_size);
  ~worker_pool();  // finishes running jobs, drops queued ones (their waiters get unavailable)

  // unavailable ("queue full") when n_workers + queue_size tickets are held.
  base::result<ticket> reserve();
  // A place for a job worker (app/dispatcher.hpp), outside the admission capacity: job workers
  // are as many as the engines, so they are bounded by their own count, and a full queue of
  // synchronous requests (which hold admitted tickets while they wait for their jobs) must not
  // stop the very jobs they wait for. unavailable only when stopping.
  base::result<ticket> reserve_dispatched();

  // Runs the clean on a worker with the ticket's place and waits at most timeout_ms (queue
  // wait included). timeout when it takes longer: the result is then discarded, and the
  // place is freed when the worker is done with it. The engine's error otherwise.
  // Reports the clean's duration (ms) to the observer (set_observer) when it ran.
  base::result<pipeline::clean_result> run(ticket t, std::shared_ptr<const std::string> bytes,
                                           const pipeline::clean_options& o, int timeout_ms);

  pool_stats stats() const;
  // Called with the duration of every clean that ran (ms), from the worker thread.
  void set_observer(std::function<void(double ms, bool ok)> f);

 private:
  struct job;
  worker_pool() = default;
  void worker_main(clean_engine* engine);
  void release_one(bool dispatched);
  friend class ticket;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<job>> queue_;
  std::vector<std::unique_ptr<clean_engine>> engines_;
  std::vector<std::thread> threads_;
  std::function<void(double, bool)> observer_;
  int capacity_ = 0;
  int admitted_ = 0;
  int dispatched_ = 0;
  int running_ = 0;
  bool stopping_ = false;
};

}  // namespace idphoto::app

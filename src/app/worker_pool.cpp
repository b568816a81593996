// The bounded worker pool: admission by ticket, a FIFO queue, N worker threads.
#include "app/worker_pool.hpp"

#include <chrono>

#include "base/catching.hpp"

namespace idphoto::app {

using base::errc;

namespace {
class cleaner_engine final : public clean_engine {
 public:
  explicit cleaner_engine(std::unique_ptr<pipeline::cleaner> c) : c_(std::move(c)) {}
  base::result<pipeline::clean_result> clean(std::span<const uint8_t> bytes,
                                             const pipeline::clean_options& o) override {
    return c_->clean(bytes, o);
  }

 private:
  std::unique_ptr<pipeline::cleaner> c_;
};
}  // namespace

engine_factory cleaner_factory(const pipeline::pipeline_config& cfg) {
  return [cfg]() -> base::result<std::unique_ptr<clean_engine>> {
    auto c = pipeline::cleaner::create(cfg);
    if (!c.ok()) return c.err();
    return std::unique_ptr<clean_engine>(new cleaner_engine(std::move(*c)));
  };
}

ticket& ticket::operator=(ticket&& o) noexcept {
  if (this != &o) {
    release();
    pool_ = std::exchange(o.pool_, nullptr);
    dispatched_ = o.dispatched_;
  }
  return *this;
}

void ticket::release() {
  if (pool_) std::exchange(pool_, nullptr)->release_one(dispatched_);
}

// The state one job shares between its waiter and its worker. The worker owns the
// ticket from the moment the job is queued; the waiter may give up (timeout) at any time.
struct worker_pool::job {
  ticket place;
  std::shared_ptr<const std::string> bytes;
  pipeline::clean_options options;
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  bool abandoned = false;
  base::result<pipeline::clean_result> out = base::make_error(errc::internal, "not run");
};

base::result<std::unique_ptr<worker_pool>> worker_pool::create(const engine_factory& f, int n_workers, int queue_size) {
  if (n_workers < 1 || queue_size < 0)
    return base::make_error(errc::invalid_argument, "worker pool: n_workers >= 1 and queue_size >= 0");
  std::unique_ptr<worker_pool> p(new worker_pool());
  p->capacity_ = n_workers + queue_size;
  for (int i = 0; i < n_workers; ++i) {
    auto e = f();
    if (!e.ok()) return e.err();
    p->engines_.push_back(std::move(*e));
  }
  for (auto& e : p->engines_) p->threads_.emplace_back(&worker_pool::worker_main, p.get(), e.get());
  return p;
}

worker_pool::~worker_pool() {
  std::deque<std::shared_ptr<job>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& j : dropped) {
    {
      std::lock_guard<std::mutex> lock(j->mu);
      j->out = base::make_error(errc::unavailable, "the server is stopping");
      j->done = true;
    }
    j->done_cv.notify_all();
    j->place.release();
  }
  for (auto& t : threads_) t.join();
}

base::result<ticket> worker_pool::reserve() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return base::make_error(errc::unavailable, "the server is stopping");
  if (admitted_ >= capacity_)
    return base::make_error(errc::unavailable, "queue full: " + std::to_string(admitted_) +
                                                   " jobs admitted, capacity " + std::to_string(capacity_));
  ++admitted_;
  return ticket(this, false);
}

base::result<ticket> worker_pool::reserve_dispatched() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return base::make_error(errc::unavailable, "the server is stopping");
  ++dispatched_;
  return ticket(this, true);
}

void worker_pool::release_one(bool dispatched) {
  std::lock_guard<std::mutex> lock(mu_);
  --(dispatched ? dispatched_ : admitted_);
}

void worker_pool::set_observer(std::function<void(double ms, bool ok)> f) {
  std::lock_guard<std::mutex> lock(mu_);
  observer_ = std::move(f);
}

pool_stats worker_pool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  pool_stats s;
  s.n_workers = static_cast<int>(engines_.size());
  s.capacity = capacity_;
  s.admitted = admitted_;
  s.dispatched = dispatched_;
  s.queued = static_cast<int>(queue_.size());
  s.running = running_;
  return s;
}

base::result<pipeline::clean_result> worker_pool::run(ticket t, std::shared_ptr<const std::string> bytes,
                                                      const pipeline::clean_options& o, int timeout_ms) {
  if (!t.valid() || t.pool_ != this) return base::make_error(errc::internal, "run without a ticket of this pool");
  auto j = std::make_shared<job>();
  j->place = std::move(t);
  j->bytes = std::move(bytes);
  j->options = o;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return base::make_error(errc::unavailable, "the server is stopping");
    queue_.push_back(j);
  }
  cv_.notify_one();
  std::unique_lock<std::mutex> lock(j->mu);
  if (!j->done_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return j->done; })) {
    j->abandoned = true;  // a queued job is skipped; a running one finishes and is dropped
    return base::make_error(errc::timeout, "the clean did not finish within " + std::to_string(timeout_ms) + " ms");
  }
  return std::move(j->out);
}

/* Each worker takes the oldest job, skips it when its waiter already gave up, runs it
 * with its own engine, and hands the result back. The job's ticket is released only
 * after the run, so admitted_ counts work in memory, not waiters. */
void worker_pool::worker_main(clean_engine* engine) {
  for (;;) {
    std::shared_ptr<job> j;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      j = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    bool skip;
    {
      std::lock_guard<std::mutex> lock(j->mu);
      skip = j->abandoned;
    }
    base::result<pipeline::clean_result> r = base::make_error(errc::timeout, "abandoned before it started");
    if (!skip) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto& b = *j->bytes;
      // An engine's exception is this job's error: on a worker thread it would end serve.
      r = base::catching("engine", [&] {
        return engine->clean(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data()), b.size()),
                             j->options);
      });
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::function<void(double, bool)> obs;
      {
        std::lock_guard<std::mutex> lock(mu_);
        obs = observer_;
      }
      if (obs) obs(ms, r.ok());
    }
    {
      std::lock_guard<std::mutex> lock(j->mu);
      j->out = std::move(r);
      j->done = true;
    }
    j->done_cv.notify_all();
    j->bytes.reset();
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
    }
    j->place.release();
  }
}

}  // namespace idphoto::app

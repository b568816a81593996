// The bounded worker pool with a test engine that blocks until released: admission,
// refusal when full, FIFO completion, timeouts that keep the place until the work ends.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "app/worker_pool.hpp"

using namespace idphoto;

namespace {

// Blocks each clean until open() is called; counts runs. Returns the input as the output.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool is_open = false;
  std::atomic<int> started{0}, finished{0};
  void open() {
    std::lock_guard<std::mutex> l(mu);
    is_open = true;
    cv.notify_all();
  }
};

class gated_engine final : public app::clean_engine {
 public:
  explicit gated_engine(gate* g) : g_(g) {}
  base::result<pipeline::clean_result> clean(std::span<const uint8_t> bytes, const pipeline::clean_options&) override {
    ++g_->started;
    std::unique_lock<std::mutex> l(g_->mu);
    g_->cv.wait(l, [&] { return g_->is_open; });
    ++g_->finished;
    if (bytes.empty()) return base::make_error(base::errc::corrupt, "empty");
    pipeline::clean_result r;
    r.bytes.assign(bytes.begin(), bytes.end());
    return r;
  }

 private:
  gate* g_;
};

app::engine_factory factory(gate* g) {
  return [g]() -> base::result<std::unique_ptr<app::clean_engine>> {
    return std::unique_ptr<app::clean_engine>(new gated_engine(g));
  };
}

auto bytes_of(const std::string& s) { return std::make_shared<const std::string>(s); }

}  // namespace

TEST(worker_pool, refuses_when_workers_and_queue_are_full) {
  gate g;
  auto pool = app::worker_pool::create(factory(&g), 1, 1);
  ASSERT_TRUE(pool.ok()) << pool.err().detail;
  auto t1 = (*pool)->reserve();
  auto t2 = (*pool)->reserve();
  ASSERT_TRUE(t1.ok());
  ASSERT_TRUE(t2.ok());
  auto t3 = (*pool)->reserve();
  ASSERT_FALSE(t3.ok());
  EXPECT_EQ(t3.err().code, base::errc::unavailable);
  EXPECT_EQ((*pool)->stats().admitted, 2);
  {
    app::ticket dropped = std::move(*t2);  // a ticket never used gives its place back
  }
  EXPECT_EQ((*pool)->stats().admitted, 1);
  EXPECT_TRUE((*pool)->reserve().ok());
  g.open();
}

// A job worker's place is outside the capacity: a full queue of waiting requests does not stop
// the jobs they wait for, and its release gives back its own count, not an admitted place.
TEST(worker_pool, dispatched_places_are_outside_the_capacity) {
  gate g;
  auto pool = app::worker_pool::create(factory(&g), 1, 0);
  ASSERT_TRUE(pool.ok()) << pool.err().detail;
  auto admitted = (*pool)->reserve();
  ASSERT_TRUE(admitted.ok());
  EXPECT_FALSE((*pool)->reserve().ok()) << "full";
  auto d = (*pool)->reserve_dispatched();
  ASSERT_TRUE(d.ok()) << d.err().detail;
  EXPECT_EQ((*pool)->stats().admitted, 1);
  EXPECT_EQ((*pool)->stats().dispatched, 1);
  auto run = std::async(std::launch::async, [&] { return (*pool)->run(std::move(*d), bytes_of("job"), {}, 60000); });
  g.open();
  auto r = run.get();
  ASSERT_TRUE(r.ok()) << r.err().detail;
  EXPECT_EQ(std::string(r->bytes.begin(), r->bytes.end()), "job");
  EXPECT_EQ((*pool)->stats().dispatched, 0);
  EXPECT_EQ((*pool)->stats().admitted, 1) << "the dispatched release did not take an admitted place";
}

TEST(worker_pool, runs_jobs_and_returns_results_and_errors) {
  gate g;
  g.open();
  auto pool = app::worker_pool::create(factory(&g), 2, 2);
  ASSERT_TRUE(pool.ok());
  std::vector<std::future<base::result<pipeline::clean_result>>> fs;
  for (int i = 0; i < 4; ++i) {
    auto t = (*pool)->reserve();
    ASSERT_TRUE(t.ok());
    const std::string payload = i == 3 ? "" : "job" + std::to_string(i);
    fs.push_back(std::async(std::launch::async, [&, t = std::move(*t), payload]() mutable {
      return (*pool)->run(std::move(t), bytes_of(payload), {}, 10000);
    }));
  }
  for (int i = 0; i < 4; ++i) {
    auto r = fs[i].get();
    if (i == 3) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.err().code, base::errc::corrupt);
    } else {
      ASSERT_TRUE(r.ok()) << r.err().detail;
      EXPECT_EQ(std::string(r->bytes.begin(), r->bytes.end()), "job" + std::to_string(i));
    }
  }
  EXPECT_EQ((*pool)->stats().admitted, 0);
}

TEST(worker_pool, timeout_keeps_the_place_until_the_work_ends) {
  gate g;
  auto pool = app::worker_pool::create(factory(&g), 1, 0);
  ASSERT_TRUE(pool.ok());
  auto t = (*pool)->reserve();
  ASSERT_TRUE(t.ok());
  auto r = (*pool)->run(std::move(*t), bytes_of("x"), {}, 50);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, base::errc::timeout);
  // The clean is still running on the worker: its memory is still in use, so no new admission.
  auto refused = (*pool)->reserve();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.err().code, base::errc::unavailable);
  g.open();
  for (int i = 0; i < 2000 && (*pool)->stats().admitted != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ((*pool)->stats().admitted, 0);
  EXPECT_TRUE((*pool)->reserve().ok());
}

TEST(worker_pool, factory_failure_fails_create) {
  auto pool = app::worker_pool::create(
      []() -> base::result<std::unique_ptr<app::clean_engine>> {
        return base::make_error(base::errc::not_found, "model missing");
      },
      1, 1);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.err().code, base::errc::not_found);
  gate g;
  EXPECT_FALSE(app::worker_pool::create(factory(&g), 0, 1).ok());
  EXPECT_FALSE(app::worker_pool::create(factory(&g), 1, -1).ok());
}

TEST(worker_pool, destroying_with_queued_jobs_answers_them) {
  gate g;
  auto pool = app::worker_pool::create(factory(&g), 1, 2);
  ASSERT_TRUE(pool.ok());
  std::vector<std::future<base::result<pipeline::clean_result>>> fs;
  for (int i = 0; i < 3; ++i) {
    auto t = (*pool)->reserve();
    ASSERT_TRUE(t.ok());
    fs.push_back(std::async(std::launch::async, [&, t = std::move(*t)]() mutable {
      return (*pool)->run(std::move(t), bytes_of("y"), {}, 30000);
    }));
  }
  for (int i = 0; g.started < 1 || (*pool)->stats().queued < 2; ++i) {  // bounded: fails after 60 s instead of hanging
    if (i >= 30000) {
      g.open();  // so the pending cleans end and the test fails instead of hanging
      FAIL() << "the pool never reached one running and two queued";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    g.open();
  });
  pool->reset();
  opener.join();
  int ok = 0, unavailable = 0;
  for (auto& f : fs) {
    auto r = f.get();
    if (r.ok()) ++ok;
    else if (r.err().code == base::errc::unavailable) ++unavailable;
  }
  EXPECT_EQ(ok, 1) << "the running job finishes";
  EXPECT_EQ(unavailable, 2) << "queued jobs are answered, not left hanging";
}

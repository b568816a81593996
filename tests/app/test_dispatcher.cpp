// The in-process dispatcher over a real job repository (SQLite files in a temp dir) with
// fake runners: every job runs once, transient faults are retried then dead, client faults
// fail at once, exceptions become job errors, interactive jobs go first, and a second
// dispatcher over the same database finishes what a "killed" one left behind, once.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "app/dispatcher_local.hpp"
#include "db/job_repository.hpp"

using namespace idphoto;
using app::job_fault;
using app::job_outcome;
using base::errc;

namespace {

// A runner whose behaviour is a function; counts how often each job ran.
struct shared_runs {
  std::mutex mu;
  std::map<std::string, int> runs;
  std::vector<std::string> order;
  std::function<job_outcome(const db::job&, int run_number)> behave;
};

class fake_runner final : public app::job_runner {
 public:
  explicit fake_runner(shared_runs& s) : s_(s) {}
  job_outcome run(const db::job& j) override {
    int n;
    {
      std::lock_guard<std::mutex> lock(s_.mu);
      n = ++s_.runs[j.id];
      s_.order.push_back(j.id);
    }
    return s_.behave ? s_.behave(j, n) : job_outcome{};
  }

 private:
  shared_runs& s_;
};

app::runner_factory factory_of(shared_runs& s) {
  return [&s]() -> base::result<std::unique_ptr<app::job_runner>> {
    return std::unique_ptr<app::job_runner>(std::make_unique<fake_runner>(s));
  };
}

// A gate a runner can wait at until the test opens it.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
  void pass() {
    std::unique_lock<std::mutex> lock(mu);
    ++waiting;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void wait_for_waiters(int n) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return waiting >= n; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  }
};

app::dispatcher_options fast_options(int n_workers = 2) {
  app::dispatcher_options o;
  o.n_workers = n_workers;
  o.lease_ms = 60000;
  o.heartbeat_ms = 50;
  o.poll_ms = 20;
  o.backoff_base_ms = 1;
  o.backoff_max_ms = 5;
  o.log = [](const std::string&) {};
  return o;
}

class dispatcher_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/idphoto-dispatcher.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    url_ = "sqlite:" + dir_ + "/jobs.db";
    auto r = db::open_repositories(url_, nullptr, clock());
    ASSERT_TRUE(r.ok()) << r.err().to_string();
    cards_ = std::move(r->cards);
    jobs_ = std::move(r->jobs);
  }
  void TearDown() override {
    cards_.reset();
    jobs_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Real time unless a test moves it forward (leases are then expired without sleeping).
  db::clock_fn clock() {
    return [this] { return db::system_now_ms() + offset_ms_.load(); };
  }

  db::job enqueue(db::job_priority p = db::job_priority::interactive, const std::string& card = "",
                  int max_attempts = 3) {
    db::new_job nj;
    nj.kind = "clean_photo";
    nj.card_id = card;
    nj.priority = p;
    nj.max_attempts = max_attempts;
    auto e = jobs_->enqueue(nj);
    EXPECT_TRUE(e.ok()) << e.err().to_string();
    return e.ok() ? e->j : db::job{};
  }

  std::unique_ptr<app::dispatcher> start(shared_runs& s, const app::dispatcher_options& o,
                                         db::job_repository* repo = nullptr) {
    auto d = app::make_local_dispatcher(repo ? *repo : *jobs_, factory_of(s), o);
    EXPECT_TRUE(d.ok()) << d.err().to_string();
    return d.ok() ? std::move(*d) : nullptr;
  }

  db::job wait_end(app::dispatcher& d, const std::string& id) {
    auto j = d.wait(id, 60000);
    EXPECT_TRUE(j.ok()) << j.err().to_string();
    return j.ok() ? *j : db::job{};
  }

  std::string dir_, url_;
  std::atomic<int64_t> offset_ms_{0};
  std::unique_ptr<db::repository> cards_;
  std::unique_ptr<db::job_repository> jobs_;
};

TEST_F(dispatcher_test, runs_every_job_once) {
  shared_runs s;
  s.behave = [](const db::job& j, int) {
    job_outcome o;
    o.end.output = "ran " + j.id;
    return o;
  };
  auto d = start(s, fast_options(3));
  ASSERT_TRUE(d);
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    ids.push_back(enqueue(i % 2 ? db::job_priority::batch : db::job_priority::interactive).id);
    ASSERT_TRUE(d->submit(ids.back(), db::job_priority::interactive).ok());
  }
  for (const auto& id : ids) {
    auto j = wait_end(*d, id);
    EXPECT_EQ(j.status, db::job_status::done) << id;
    EXPECT_EQ(j.output, "ran " + id);
    EXPECT_EQ(j.attempts, 1);
  }
  d->stop();
  EXPECT_EQ(s.runs.size(), ids.size());
  for (const auto& [id, n] : s.runs) EXPECT_EQ(n, 1) << id;
  auto st = d->stats();
  EXPECT_EQ(st.n_workers, 3);
  EXPECT_EQ(st.claimed, 40);
  EXPECT_EQ(st.done, 40);
  EXPECT_EQ(st.lost + st.db_errors + st.exceptions + st.failed + st.dead + st.retried, 0);
  EXPECT_EQ(d->submit(ids[0], db::job_priority::interactive).err().code, errc::unavailable);
}

TEST_F(dispatcher_test, jobs_run_without_a_submit) {
  // A job committed by someone else (another instance) is found by polling.
  shared_runs s;
  auto d = start(s, fast_options(1));
  ASSERT_TRUE(d);
  auto j = enqueue();
  EXPECT_EQ(wait_end(*d, j.id).status, db::job_status::done);
}

TEST_F(dispatcher_test, transient_faults_are_retried_then_dead) {
  db::id_card_fields fields;
  fields.full_name = "T";
  auto card = cards_->create(fields);
  ASSERT_TRUE(card.ok());
  shared_runs s;
  s.behave = [](const db::job&, int n) {
    job_outcome o;
    o.fault = job_fault::transient;
    o.end.error = "unavailable: store down (run " + std::to_string(n) + ")";
    db::photo_update u;
    u.status = db::photo_status::failed;
    u.photo_error = "could not be cleaned; try again later";
    o.end.card = u;
    return o;
  };
  auto d = start(s, fast_options(2));
  ASSERT_TRUE(d);
  auto j = enqueue(db::job_priority::interactive, card->id, 3);
  auto end = wait_end(*d, j.id);
  EXPECT_EQ(end.status, db::job_status::dead);
  EXPECT_EQ(end.attempts, 3);
  EXPECT_EQ(end.last_error, "unavailable: store down (run 3)");
  d->stop();
  EXPECT_EQ(s.runs[j.id], 3);
  EXPECT_EQ(cards_->get(card->id)->status, db::photo_status::failed);  // written once, at death
  EXPECT_EQ(d->stats().retried, 2);
  EXPECT_EQ(d->stats().dead, 1);
}

TEST_F(dispatcher_test, a_transient_fault_that_passes_ends_done) {
  shared_runs s;
  s.behave = [](const db::job&, int n) {
    job_outcome o;
    if (n < 3) {
      o.fault = job_fault::transient;
      o.end.error = "timeout";
    }
    return o;
  };
  auto d = start(s, fast_options(1));
  ASSERT_TRUE(d);
  auto j = enqueue(db::job_priority::interactive, "", 5);
  auto end = wait_end(*d, j.id);
  EXPECT_EQ(end.status, db::job_status::done);
  EXPECT_EQ(end.attempts, 3);
}

TEST_F(dispatcher_test, client_faults_fail_at_once) {
  shared_runs s;
  s.behave = [](const db::job&, int) {
    job_outcome o;
    o.fault = job_fault::client;
    o.end.error = "corrupt: not an image";
    o.end.problem_code = "unreadable_photo";
    o.end.problem_message = "the photo could not be read";
    return o;
  };
  auto d = start(s, fast_options(2));
  ASSERT_TRUE(d);
  auto j = enqueue(db::job_priority::interactive, "", 5);
  auto end = wait_end(*d, j.id);
  EXPECT_EQ(end.status, db::job_status::failed);
  EXPECT_EQ(end.attempts, 1);
  EXPECT_EQ(end.problem_code, "unreadable_photo");
  d->stop();
  EXPECT_EQ(s.runs[j.id], 1);
  EXPECT_EQ(d->stats().failed, 1);
}

TEST_F(dispatcher_test, exceptions_become_job_errors) {
  shared_runs s;
  s.behave = [](const db::job& j, int n) -> job_outcome {
    if (j.max_attempts == 2) throw std::runtime_error("boom " + std::to_string(n));
    throw 42;  // not even a std::exception
  };
  auto d = start(s, fast_options(2));
  ASSERT_TRUE(d);
  auto a = enqueue(db::job_priority::interactive, "", 2);
  auto b = enqueue(db::job_priority::interactive, "", 1);
  auto ea = wait_end(*d, a.id);
  EXPECT_EQ(ea.status, db::job_status::dead);
  EXPECT_EQ(ea.attempts, 2);
  EXPECT_NE(ea.last_error.find("boom 2"), std::string::npos) << ea.last_error;
  auto eb = wait_end(*d, b.id);
  EXPECT_EQ(eb.status, db::job_status::dead);
  EXPECT_NE(eb.last_error.find("threw"), std::string::npos) << eb.last_error;
  EXPECT_EQ(d->stats().exceptions, 3);
  // The workers are still alive and serving.
  s.behave = nullptr;
  auto c = enqueue();
  EXPECT_EQ(wait_end(*d, c.id).status, db::job_status::done);
}

TEST_F(dispatcher_test, an_unrecordable_outcome_becomes_a_failure) {
  shared_runs s;
  s.behave = [](const db::job&, int) {
    job_outcome o;
    o.end.output = std::string("nul\0inside", 10);  // not storable as text
    return o;
  };
  auto d = start(s, fast_options(1));
  ASSERT_TRUE(d);
  auto j = enqueue(db::job_priority::interactive, "", 2);
  auto end = wait_end(*d, j.id);
  EXPECT_EQ(end.status, db::job_status::dead);
  EXPECT_NE(end.last_error.find("could not be recorded"), std::string::npos) << end.last_error;
}

TEST_F(dispatcher_test, interactive_jobs_go_before_batch_jobs) {
  gate g;
  shared_runs s;
  std::atomic<bool> first{true};
  s.behave = [&](const db::job&, int) {
    if (first.exchange(false)) g.pass();
    return job_outcome{};
  };
  auto d = start(s, fast_options(1));
  ASSERT_TRUE(d);
  auto blocker = enqueue(db::job_priority::batch);
  g.wait_for_waiters(1);  // the only worker is busy with it
  std::vector<std::string> batch_ids, interactive_ids;
  for (int i = 0; i < 4; ++i) batch_ids.push_back(enqueue(db::job_priority::batch).id);
  for (int i = 0; i < 2; ++i) interactive_ids.push_back(enqueue(db::job_priority::interactive).id);
  g.release();
  for (const auto& id : batch_ids) wait_end(*d, id);
  d->stop();
  std::vector<std::string> want = {blocker.id};
  want.insert(want.end(), interactive_ids.begin(), interactive_ids.end());
  want.insert(want.end(), batch_ids.begin(), batch_ids.end());
  EXPECT_EQ(s.order, want);
}

// Restart: a "killed" instance left jobs running with leases that have since expired, and
// others queued. A new dispatcher over the same database requeues and runs all of them.
TEST_F(dispatcher_test, restart_recovers_expired_and_queued_jobs) {
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(enqueue().id);
  for (int i = 0; i < 3; ++i) {
    auto c = jobs_->claim_next("killed-instance:1:dead", 1000);
    ASSERT_TRUE(c.ok() && c->has_value());
  }
  offset_ms_ = 2000;                                              // the restart comes after the leases ran out
  auto reopened = db::open_repositories(url_, nullptr, clock());  // the new process's own
  ASSERT_TRUE(reopened.ok());
  shared_runs s;
  auto d = start(s, fast_options(2), reopened->jobs.get());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->stats().requeued, 3);  // at start, before any worker claimed
  for (const auto& id : ids) {
    auto j = wait_end(*d, id);
    EXPECT_EQ(j.status, db::job_status::done);
  }
  d->stop();
  for (const auto& id : ids) EXPECT_EQ(s.runs[id], 1) << id;
  int second_attempts = 0;
  for (const auto& id : ids) second_attempts += jobs_->get(id)->attempts == 2;
  EXPECT_EQ(second_attempts, 3);
}

// A worker whose lease ran out (stuck, or its heartbeats lost) while another instance took
// its job over: the card is written by the one that owns the job, once; the late answer is
// dropped.
TEST_F(dispatcher_test, a_job_taken_over_is_committed_once) {
  db::id_card_fields fields;
  fields.full_name = "Once";
  auto card = cards_->create(fields);
  ASSERT_TRUE(card.ok());
  gate stuck;
  shared_runs sa, sb;
  const auto clean_as = [&](const std::string& who) {
    return [&, who](const db::job&, int) {
      if (who == "a") stuck.pass();
      job_outcome o;
      db::photo_update u;
      u.status = db::photo_status::clean;
      u.clean_photo_key = "clean/by-" + who + ".png";
      o.end.card = u;
      o.end.output = who;
      return o;
    };
  };
  sa.behave = clean_as("a");
  sb.behave = clean_as("b");
  app::dispatcher_options oa = fast_options(1);
  oa.owner = "instance-a";
  oa.heartbeat_ms = oa.lease_ms - 1;  // its heartbeats never come in time
  auto a = start(sa, oa);
  ASSERT_TRUE(a);
  auto j = enqueue(db::job_priority::interactive, card->id);
  stuck.wait_for_waiters(1);
  offset_ms_ = oa.lease_ms + 1000;  // a's lease is over
  auto other = db::open_repositories(url_, nullptr, clock());
  ASSERT_TRUE(other.ok());
  app::dispatcher_options ob = fast_options(1);
  ob.owner = "instance-b";
  auto b = start(sb, ob, other->jobs.get());
  ASSERT_TRUE(b);
  auto end = wait_end(*b, j.id);
  EXPECT_EQ(end.status, db::job_status::done);
  EXPECT_EQ(end.output, "b");
  EXPECT_EQ(end.attempts, 2);
  stuck.release();  // a finally answers
  a->stop();
  b->stop();
  EXPECT_EQ(a->stats().lost, 1);
  EXPECT_EQ(a->stats().done, 0);
  auto g = jobs_->get(j.id);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->output, "b");
  EXPECT_EQ(cards_->get(card->id)->clean_photo_key, "clean/by-b.png");
}

TEST_F(dispatcher_test, stop_lets_jobs_in_hand_finish) {
  gate g;
  shared_runs s;
  s.behave = [&](const db::job&, int) {
    g.pass();
    job_outcome o;
    o.end.output = "finished";
    return o;
  };
  auto d = start(s, fast_options(1));
  ASSERT_TRUE(d);
  auto j = enqueue();
  auto queued = enqueue();
  g.wait_for_waiters(1);
  std::thread stopper([&] { d->stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  g.release();
  stopper.join();
  auto done = jobs_->get(j.id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status, db::job_status::done);
  EXPECT_EQ(done->output, "finished");
  // The one not started stays queued for the next start; nothing is left running.
  EXPECT_EQ(jobs_->get(queued.id)->status, db::job_status::queued);
  d->stop();  // idempotent
}

TEST_F(dispatcher_test, wait_times_out_and_knows_unknown_jobs) {
  gate g;
  shared_runs s;
  s.behave = [&](const db::job&, int) {
    g.pass();
    return job_outcome{};
  };
  auto d = start(s, fast_options(1));
  ASSERT_TRUE(d);
  auto busy = enqueue();
  g.wait_for_waiters(1);
  auto waiting = enqueue();
  auto t = d->wait(waiting.id, 100);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.err().code, errc::timeout);
  auto unknown = d->wait("0123456789abcdef0123456789abcdef", 100);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.err().code, errc::not_found);
  EXPECT_EQ(d->wait("../../etc", 100).err().code, errc::not_found);
  g.release();
  EXPECT_EQ(wait_end(*d, waiting.id).status, db::job_status::done);
  EXPECT_EQ(wait_end(*d, busy.id).status, db::job_status::done);
}

TEST_F(dispatcher_test, bad_options_and_factories_start_nothing) {
  shared_runs s;
  app::dispatcher_options o = fast_options(0);
  o.heartbeat_ms = o.lease_ms;
  o.poll_ms = 0;
  o.owner = "has space";
  auto bad = app::make_local_dispatcher(*jobs_, factory_of(s), o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::invalid_argument);
  for (const char* field : {"n_workers", "heartbeat_ms", "poll_ms", "owner"})
    EXPECT_NE(bad.err().detail.find(field), std::string::npos) << bad.err().detail;

  int made = 0;
  auto failing = [&]() -> base::result<std::unique_ptr<app::job_runner>> {
    if (++made == 2) return base::make_error(errc::not_found, "model missing");
    return std::unique_ptr<app::job_runner>(std::make_unique<fake_runner>(s));
  };
  auto f = app::make_local_dispatcher(*jobs_, failing, fast_options(3));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.err().code, errc::not_found);
  auto throwing = []() -> base::result<std::unique_ptr<app::job_runner>> {
    throw std::runtime_error("factory exploded");
  };
  auto t = app::make_local_dispatcher(*jobs_, throwing, fast_options(1));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.err().detail.find("factory exploded"), std::string::npos);
  EXPECT_FALSE(app::make_local_dispatcher(*jobs_, nullptr, fast_options(1)).ok());
  // Nothing ran: a job enqueued now is still queued.
  auto j = enqueue();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(jobs_->get(j.id)->status, db::job_status::queued);
}

TEST(dispatcher, retry_backoff_doubles_with_jitter_and_a_cap) {
  app::dispatcher_options o;
  o.backoff_base_ms = 2000;
  o.backoff_max_ms = 60000;
  EXPECT_EQ(app::retry_backoff_ms(o, 1, 0.0), 2000);
  EXPECT_EQ(app::retry_backoff_ms(o, 2, 0.0), 4000);
  EXPECT_EQ(app::retry_backoff_ms(o, 3, 0.0), 8000);
  EXPECT_EQ(app::retry_backoff_ms(o, 1, 1.0), 2400);
  EXPECT_EQ(app::retry_backoff_ms(o, 1, -1.0), 1600);
  EXPECT_EQ(app::retry_backoff_ms(o, 1, 7.0), 2400);  // jitter clamped
  EXPECT_EQ(app::retry_backoff_ms(o, 10, 0.0), 60000);
  EXPECT_EQ(app::retry_backoff_ms(o, 10, 1.0), 60000);  // never above the cap
  EXPECT_EQ(app::retry_backoff_ms(o, 1000000, 0.0), 60000);
  EXPECT_EQ(app::retry_backoff_ms(o, 0, 0.0), 2000);
  EXPECT_EQ(app::retry_backoff_ms(o, -5, 0.0), 2000);
  o.backoff_base_ms = 0;
  EXPECT_EQ(app::retry_backoff_ms(o, 5, 1.0), 0);
}

}  // namespace

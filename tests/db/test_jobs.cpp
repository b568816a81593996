// The job and batch repository conformance suite: every TEST_P runs against SQLite and
// PostgreSQL (CTest db.jobs.sqlite.<name>, db.jobs.postgresql.<name>). Time is a fake clock,
// so leases and backoffs expire when a test says so, never by sleeping.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "db/backends.hpp"
#include "db/job_repository.hpp"
#include "db/records.hpp"
#include "db/migrations.hpp"
#include "db/sql.hpp"

using namespace idphoto;
using namespace idphoto::db;
using base::errc;

namespace {

constexpr int64_t t0_ms = 1'800'000'000'000;

new_job photo_job(const std::string& card_id = "", job_priority p = job_priority::interactive) {
  new_job j;
  j.kind = "clean_photo";
  j.card_id = card_id;
  j.payload = "raw_key=raw/x.jpg";
  j.priority = p;
  return j;
}

class conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto b = test::make_backend(GetParam());
    ASSERT_TRUE(b.ok()) << b.err().to_string();
    backend_ = std::move(*b);
    auto url = backend_->fresh_url();
    ASSERT_TRUE(url.ok()) << url.err().to_string();
    url_ = *url;
    auto r = open_repositories(url_, nullptr, clock());
    ASSERT_TRUE(r.ok()) << r.err().to_string();
    cards_ = std::move(r->cards);
    jobs_ = std::move(r->jobs);
  }
  void TearDown() override {
    cards_.reset();
    jobs_.reset();
    backend_.reset();
  }

  clock_fn clock() {
    return [this] { return now_.load(); };
  }
  void advance(int64_t ms) { now_ += ms; }

  id_card must_card(const std::string& name, const std::string& org = "", const std::string& number = "") {
    id_card_fields f;
    f.full_name = name;
    f.organization = org;
    f.id_number = number;
    auto c = cards_->create(f);
    EXPECT_TRUE(c.ok()) << c.err().to_string();
    return c.ok() ? *c : id_card{};
  }

  job must_enqueue(const new_job& nj) {
    auto e = jobs_->enqueue(nj);
    EXPECT_TRUE(e.ok()) << e.err().to_string();
    if (!e.ok()) return job{};
    EXPECT_TRUE(e->created);
    return e->j;
  }

  job must_claim(const std::string& owner, int64_t lease_ms = 30000) {
    auto c = jobs_->claim_next(owner, lease_ms);
    EXPECT_TRUE(c.ok()) << c.err().to_string();
    if (!c.ok() || !c->has_value()) {
      ADD_FAILURE() << "nothing to claim";
      return job{};
    }
    return **c;
  }

  bool nothing_to_claim() {
    auto c = jobs_->claim_next("probe", 1000);
    EXPECT_TRUE(c.ok()) << c.err().to_string();
    return c.ok() && !c->has_value();
  }

  std::unique_ptr<test::backend> backend_;
  std::string url_;
  std::atomic<int64_t> now_{t0_ms};
  std::unique_ptr<repository> cards_;
  std::unique_ptr<job_repository> jobs_;
};

TEST_P(conformance, enqueue_and_get) {
  auto card = must_card("Ada");
  new_job nj = photo_job(card.id);
  nj.payload = "raw_key=raw/1.jpg&bg=blue \xe2\x82\xac 'quoted' \"double\" $1 ?1";
  nj.max_attempts = 5;
  nj.subject = "alice";
  nj.endpoint = "POST /api/id-cards/{id}/photo";
  nj.idempotency_key = "key-1";
  nj.request_fingerprint = "sha256:abc";
  auto j = must_enqueue(nj);
  EXPECT_TRUE(is_valid_id(j.id)) << j.id;
  EXPECT_EQ(j.kind, "clean_photo");
  EXPECT_EQ(j.card_id, card.id);
  EXPECT_EQ(j.batch_id, "");
  EXPECT_EQ(j.batch_row, 0);
  EXPECT_EQ(j.priority, job_priority::interactive);
  EXPECT_EQ(j.status, job_status::queued);
  EXPECT_EQ(j.attempts, 0);
  EXPECT_EQ(j.max_attempts, 5);
  EXPECT_EQ(j.lease_owner, "");
  EXPECT_EQ(j.lease_expires_ms, 0);
  EXPECT_EQ(j.payload, nj.payload);
  EXPECT_TRUE(is_valid_timestamp(j.created_at)) << j.created_at;
  EXPECT_EQ(j.started_at, "");
  EXPECT_EQ(j.finished_at, "");
  auto g = jobs_->get(j.id);
  ASSERT_TRUE(g.ok()) << g.err().to_string();
  EXPECT_EQ(g->payload, nj.payload);
  EXPECT_EQ(g->subject, "alice");
  EXPECT_EQ(g->endpoint, nj.endpoint);
  EXPECT_EQ(g->idempotency_key, "key-1");
  EXPECT_EQ(g->request_fingerprint, "sha256:abc");
  EXPECT_EQ(g->created_at, j.created_at);
  auto active = jobs_->active_for_card(card.id);
  ASSERT_TRUE(active.ok());
  ASSERT_TRUE(active->has_value());
  EXPECT_EQ((*active)->id, j.id);
  // A job without a card.
  auto free_job = must_enqueue(photo_job());
  EXPECT_EQ(free_job.card_id, "");
  EXPECT_NE(free_job.id, j.id);

  for (const std::string& id : {std::string(""), std::string("zz"), std::string(32, 'A'), std::string("' OR '1'='1"),
                                std::string(1 << 16, 'a')}) {
    auto m = jobs_->get(id);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.err().code, errc::not_found);
  }
  auto unknown = new_card_id();
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(jobs_->get(*unknown).err().code, errc::not_found);
}

TEST_P(conformance, enqueue_refuses_bad_fields) {
  struct bad_case {
    new_job j;
    std::string field;
  };
  std::vector<bad_case> cases;
  auto with = [](auto f) {
    new_job j = photo_job();
    f(j);
    return j;
  };
  cases.push_back({with([](new_job& j) { j.kind = ""; }), "kind"});
  cases.push_back({with([](new_job& j) { j.kind = "Clean"; }), "kind"});
  cases.push_back({with([](new_job& j) { j.kind = std::string(41, 'a'); }), "kind"});
  cases.push_back({with([](new_job& j) { j.kind = "a b"; }), "kind"});
  cases.push_back({with([](new_job& j) { j.card_id = "not-an-id"; }), "card_id"});
  cases.push_back({with([](new_job& j) { j.payload = std::string(65537, 'p'); }), "payload"});
  cases.push_back({with([](new_job& j) { j.payload = std::string("a\0b", 3); }), "payload"});
  cases.push_back({with([](new_job& j) { j.payload = "\xff\xfe"; }), "payload"});
  cases.push_back({with([](new_job& j) { j.max_attempts = 0; }), "max_attempts"});
  cases.push_back({with([](new_job& j) { j.max_attempts = 101; }), "max_attempts"});
  cases.push_back({with([](new_job& j) { j.idempotency_key = "has space"; }), "idempotency_key"});
  cases.push_back({with([](new_job& j) { j.idempotency_key = std::string(201, 'k'); }), "idempotency_key"});
  cases.push_back({with([](new_job& j) { j.idempotency_key = "k\n"; }), "idempotency_key"});
  cases.push_back({with([](new_job& j) { j.subject = std::string(201, 's'); }), "subject"});
  cases.push_back({with([](new_job& j) { j.subject = "bad \xc3\x28"; }), "subject"});
  cases.push_back({with([](new_job& j) { j.request_fingerprint = "f p"; }), "request_fingerprint"});
  cases.push_back({with([](new_job& j) { j.card_on_create = photo_update{}; }), "card_on_create"});
  for (const auto& c : cases) {
    auto r = jobs_->enqueue(c.j);
    ASSERT_FALSE(r.ok()) << "accepted, expected a complaint about " << c.field;
    EXPECT_EQ(r.err().code, errc::invalid_argument) << r.err().to_string();
    EXPECT_EQ(r.err().detail.rfind(c.field + ":", 0), 0u) << r.err().detail;
  }
  EXPECT_TRUE(nothing_to_claim());  // nothing was written
  // The limits themselves are accepted.
  new_job max = photo_job();
  max.payload = std::string(65536, 'p');
  max.max_attempts = 100;
  max.idempotency_key = std::string(200, 'k');
  max.kind = std::string(40, 'k');
  EXPECT_TRUE(jobs_->enqueue(max).ok());
}

TEST_P(conformance, idempotency_key_returns_the_first_job) {
  new_job nj = photo_job();
  nj.subject = "alice";
  nj.endpoint = "POST /api/id-cards/{id}/photo";
  nj.idempotency_key = "abc-123";
  nj.request_fingerprint = "f1";
  auto first = jobs_->enqueue(nj);
  ASSERT_TRUE(first.ok()) << first.err().to_string();
  EXPECT_TRUE(first->created);
  auto again = jobs_->enqueue(nj);
  ASSERT_TRUE(again.ok()) << again.err().to_string();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->j.id, first->j.id);
  // Still the same after the job has run.
  auto claimed = must_claim("w1");
  EXPECT_EQ(claimed.id, first->j.id);
  ASSERT_TRUE(jobs_->complete(claimed.id, "w1", job_end{"out", "", "", "", std::nullopt}).ok());
  again = jobs_->enqueue(nj);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->j.id, first->j.id);
  EXPECT_EQ(again->j.status, job_status::done);
  // Same key, another body: refused, recognisably.
  new_job other = nj;
  other.request_fingerprint = "f2";
  auto mismatch = jobs_->enqueue(other);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_TRUE(is_idempotency_mismatch(mismatch.err())) << mismatch.err().to_string();
  // The scope is (subject, endpoint): another subject or endpoint is a new job.
  new_job bob = nj;
  bob.subject = "bob";
  auto b = jobs_->enqueue(bob);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->created);
  new_job fetch = nj;
  fetch.endpoint = "POST /api/id-cards/{id}/fetch";
  auto f = jobs_->enqueue(fetch);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->created);
  EXPECT_NE(f->j.id, b->j.id);
  // No key: no deduplication.
  EXPECT_TRUE(must_enqueue(photo_job()).id != must_enqueue(photo_job()).id);
  base::error plain_conflict = base::make_error(errc::conflict, "card x has a photo job");
  EXPECT_FALSE(is_idempotency_mismatch(plain_conflict));
}

TEST_P(conformance, idempotent_enqueue_from_many_threads) {
  // Eight requests with one key at once: one job, every caller gets it.
  new_job nj = photo_job();
  nj.subject = "alice";
  nj.endpoint = "e";
  nj.idempotency_key = "same";
  nj.request_fingerprint = "f";
  std::vector<std::string> ids(8), errors(8);
  std::vector<int> created(8, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      auto r = jobs_->enqueue(nj);
      if (!r.ok()) {
        errors[i] = r.err().to_string();
        return;
      }
      ids[i] = r->j.id;
      created[i] = r->created ? 1 : 0;
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(errors[i], "") << i;
    EXPECT_EQ(ids[i], ids[0]) << i;
  }
  EXPECT_EQ(std::count(created.begin(), created.end(), 1), 1);
}

TEST_P(conformance, one_photo_job_per_card) {
  auto a = must_card("A");
  auto b = must_card("B");
  photo_update processing;
  processing.raw_photo_key = "raw/a.jpg";
  processing.raw_photo_url = "http://x/raw/a.jpg";
  processing.status = photo_status::processing;
  new_job nj = photo_job(a.id);
  nj.card_on_create = processing;
  auto first = must_enqueue(nj);
  auto card = cards_->get(a.id);
  ASSERT_TRUE(card.ok());
  EXPECT_EQ(card->status, photo_status::processing);
  EXPECT_EQ(card->raw_photo_key, "raw/a.jpg");

  auto second = jobs_->enqueue(photo_job(a.id));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.err().code, errc::conflict);
  EXPECT_NE(second.err().detail.find(first.id), std::string::npos) << second.err().detail;
  EXPECT_FALSE(is_idempotency_mismatch(second.err()));
  EXPECT_TRUE(jobs_->enqueue(photo_job(b.id)).ok());  // another card is not affected

  // Running still counts as in flight; once it has ended the card takes a new job.
  auto running = must_claim("w");
  EXPECT_EQ(running.id, first.id);
  EXPECT_EQ(jobs_->enqueue(photo_job(a.id)).err().code, errc::conflict);
  ASSERT_TRUE(jobs_->fail(first.id, "w", job_end{"", "not an image", "", "", std::nullopt}).ok());
  auto third = jobs_->enqueue(photo_job(a.id));
  ASSERT_TRUE(third.ok()) << third.err().to_string();

  // card_on_create for a card that does not exist: nothing is created.
  auto ghost = new_card_id();
  ASSERT_TRUE(ghost.ok());
  new_job orphan = photo_job(*ghost);
  orphan.card_on_create = processing;
  auto o = jobs_->enqueue(orphan);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.err().code, errc::not_found);
  auto none = jobs_->active_for_card(*ghost);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(conformance, one_photo_job_per_card_under_contention) {
  auto a = must_card("A");
  std::atomic<int> ok{0}, conflicts{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      auto r = jobs_->enqueue(photo_job(a.id));
      if (r.ok()) ++ok;
      else if (r.err().code == errc::conflict) ++conflicts;
      else ++other;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflicts.load(), 7);
  EXPECT_EQ(other.load(), 0);
}

TEST_P(conformance, claim_order_interactive_first_then_oldest) {
  std::vector<std::string> order;
  const auto b1 = must_enqueue(photo_job("", job_priority::batch)).id;
  const auto b2 = must_enqueue(photo_job("", job_priority::batch)).id;
  const auto i1 = must_enqueue(photo_job("", job_priority::interactive)).id;
  const auto b3 = must_enqueue(photo_job("", job_priority::batch)).id;
  const auto i2 = must_enqueue(photo_job("", job_priority::interactive)).id;
  for (int i = 0; i < 5; ++i) {
    auto j = must_claim("w");
    EXPECT_EQ(j.status, job_status::running);
    EXPECT_EQ(j.lease_owner, "w");
    EXPECT_EQ(j.lease_expires_ms, t0_ms + 30000);
    EXPECT_EQ(j.attempts, 1);
    EXPECT_TRUE(is_valid_timestamp(j.started_at));
    order.push_back(j.id);
  }
  EXPECT_EQ(order, (std::vector<std::string>{i1, i2, b1, b2, b3}));
  EXPECT_TRUE(nothing_to_claim());
}

TEST_P(conformance, claim_by_id) {
  auto j = must_enqueue(photo_job());
  auto c = jobs_->claim(j.id, "broker-worker", 5000);
  ASSERT_TRUE(c.ok()) << c.err().to_string();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->status, job_status::running);
  EXPECT_EQ((*c)->lease_owner, "broker-worker");
  EXPECT_EQ((*c)->lease_expires_ms, t0_ms + 5000);
  auto twice = jobs_->claim(j.id, "another", 5000);  // a duplicate delivery
  ASSERT_TRUE(twice.ok());
  EXPECT_FALSE(twice->has_value());
  auto unknown = new_card_id();
  ASSERT_TRUE(unknown.ok());
  for (const std::string& id : {*unknown, std::string("bad"), std::string()}) {
    auto u = jobs_->claim(id, "w", 5000);
    ASSERT_TRUE(u.ok()) << u.err().to_string();
    EXPECT_FALSE(u->has_value());
  }
}

TEST_P(conformance, complete_only_by_the_owner) {
  auto card = must_card("C");
  auto j = must_enqueue(photo_job(card.id));
  auto claimed = must_claim("owner-a");
  photo_update clean;
  clean.raw_photo_key = "raw/c.jpg";
  clean.clean_photo_key = "clean/" + j.id + ".png";
  clean.clean_photo_url = "http://x/clean.png";
  clean.status = photo_status::clean;
  const job_end done{"clean_key=clean/" + j.id + ".png", "", "", "", clean};

  auto stolen = jobs_->complete(j.id, "owner-b", done);
  ASSERT_FALSE(stolen.ok());
  EXPECT_EQ(stolen.err().code, errc::conflict) << stolen.err().to_string();
  EXPECT_EQ(jobs_->fail(j.id, "owner-b", done).err().code, errc::conflict);
  EXPECT_EQ(jobs_->retry(j.id, "owner-b", done, 10).err().code, errc::conflict);
  auto still = jobs_->get(j.id);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->status, job_status::running);
  EXPECT_EQ(still->lease_owner, "owner-a");
  EXPECT_EQ(cards_->get(card.id)->status, photo_status::none);  // no effect on the card

  auto fin = jobs_->complete(j.id, "owner-a", done);
  ASSERT_TRUE(fin.ok()) << fin.err().to_string();
  EXPECT_EQ(fin->status, job_status::done);
  EXPECT_EQ(fin->output, done.output);
  EXPECT_EQ(fin->lease_owner, "");
  EXPECT_TRUE(is_valid_timestamp(fin->finished_at));
  auto c = cards_->get(card.id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->status, photo_status::clean);
  EXPECT_EQ(c->clean_photo_key, clean.clean_photo_key);
  // A second answer (the same worker retrying its commit, or a late duplicate) changes nothing.
  auto again = jobs_->complete(j.id, "owner-a", done);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.err().code, errc::conflict);
  EXPECT_EQ(jobs_->heartbeat(j.id, "owner-a", 1000).err().code, errc::conflict);
  // Malformed ids are refused the same way.
  EXPECT_EQ(jobs_->complete("nope", "owner-a", done).err().code, errc::conflict);
}

TEST_P(conformance, fail_is_final) {
  auto card = must_card("F");
  auto j = must_enqueue(photo_job(card.id));
  must_claim("w");
  photo_update failed;
  failed.raw_photo_key = "raw/f.jpg";
  failed.status = photo_status::failed;
  failed.photo_error = "the image data is corrupt";
  auto f = jobs_->fail(j.id, "w",
                       job_end{"", "corrupt: not a JPEG", "unreadable_photo", "the photo could not be read", failed});
  ASSERT_TRUE(f.ok()) << f.err().to_string();
  EXPECT_EQ(f->status, job_status::failed);
  EXPECT_EQ(f->attempts, 1);
  EXPECT_EQ(f->last_error, "corrupt: not a JPEG");
  EXPECT_EQ(f->problem_code, "unreadable_photo");
  EXPECT_EQ(f->problem_message, "the photo could not be read");
  EXPECT_TRUE(is_valid_timestamp(f->finished_at));
  EXPECT_TRUE(nothing_to_claim());
  advance(3600 * 1000);
  EXPECT_TRUE(nothing_to_claim());
  auto none = jobs_->requeue_expired("x");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(cards_->get(card.id)->photo_error, "the image data is corrupt");
  EXPECT_EQ(jobs_->fail(j.id, "w", job_end{}).err().code, errc::conflict);
  // An unknown problem code is refused before anything changes.
  auto j2 = must_enqueue(photo_job());
  must_claim("w");
  auto bad = jobs_->fail(j2.id, "w", job_end{"", "e", "made_up", "", std::nullopt});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::invalid_argument);
  EXPECT_EQ(jobs_->get(j2.id)->status, job_status::running);
}

TEST_P(conformance, retry_backs_off_then_dies) {
  auto card = must_card("R");
  new_job nj = photo_job(card.id);
  nj.max_attempts = 3;
  auto j = must_enqueue(nj);
  photo_update dead_card;
  dead_card.raw_photo_key = "raw/r.jpg";
  dead_card.status = photo_status::failed;
  dead_card.photo_error = "we could not clean this photo; upload again later";
  const job_end transient{"", "unavailable: store down", "unreadable_photo", "gave up", dead_card};

  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto c = must_claim("w");
    EXPECT_EQ(c.attempts, attempt);
    auto r = jobs_->retry(j.id, "w", transient, 1000);
    ASSERT_TRUE(r.ok()) << r.err().to_string();
    EXPECT_EQ(r->status, job_status::queued);
    EXPECT_EQ(r->run_after_ms, now_.load() + 1000);
    EXPECT_EQ(r->last_error, "unavailable: store down");
    EXPECT_EQ(r->problem_code, "");  // only a job that dies reports its problem
    EXPECT_EQ(r->lease_owner, "");
    EXPECT_EQ(r->finished_at, "");
    EXPECT_EQ(cards_->get(card.id)->status, photo_status::none);  // nor writes its card
    EXPECT_TRUE(nothing_to_claim());                              // backing off
    advance(999);
    EXPECT_TRUE(nothing_to_claim());
    advance(1);
  }
  auto c = must_claim("w");
  EXPECT_EQ(c.attempts, 3);
  auto dead = jobs_->retry(j.id, "w", transient, 1000);
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->status, job_status::dead);
  EXPECT_EQ(dead->problem_code, "unreadable_photo");
  EXPECT_TRUE(is_valid_timestamp(dead->finished_at));
  auto card_now = cards_->get(card.id);
  ASSERT_TRUE(card_now.ok());
  EXPECT_EQ(card_now->status, photo_status::failed);
  EXPECT_EQ(card_now->photo_error, dead_card.photo_error);
  advance(3600 * 1000);
  EXPECT_TRUE(nothing_to_claim());
  EXPECT_EQ(jobs_->retry(j.id, "w", transient, -1).err().code, errc::invalid_argument);
}

TEST_P(conformance, heartbeat_extends_the_lease) {
  auto j = must_enqueue(photo_job());
  must_claim("w", 1000);
  advance(800);
  ASSERT_TRUE(jobs_->heartbeat(j.id, "w", 1000).ok());
  EXPECT_EQ(jobs_->get(j.id)->lease_expires_ms, now_.load() + 1000);
  advance(800);  // 1600 ms after the claim: the first lease would have expired
  auto none = jobs_->requeue_expired("x");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(jobs_->get(j.id)->status, job_status::running);
  auto other = jobs_->heartbeat(j.id, "intruder", 1000);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.err().code, errc::conflict);
  advance(201);
  auto moved = jobs_->requeue_expired("x");
  ASSERT_TRUE(moved.ok());
  ASSERT_EQ(moved->size(), 1u);
  EXPECT_EQ(moved->front().id, j.id);
  EXPECT_EQ(jobs_->heartbeat(j.id, "w", 1000).err().code, errc::conflict);
}

TEST_P(conformance, expired_lease_is_requeued_and_the_old_owner_cannot_commit) {
  auto card = must_card("E");
  auto j = must_enqueue(photo_job(card.id));
  must_claim("crashed", 1000);
  advance(1000);
  auto early = jobs_->requeue_expired("x");  // expires strictly after now + lease
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty());
  advance(1);
  auto moved = jobs_->requeue_expired("x");
  ASSERT_TRUE(moved.ok()) << moved.err().to_string();
  ASSERT_EQ(moved->size(), 1u);
  EXPECT_EQ(moved->front().status, job_status::queued);
  EXPECT_EQ(moved->front().lease_owner, "");
  EXPECT_NE(moved->front().last_error.find("lease expired"), std::string::npos);
  auto again = jobs_->requeue_expired("x");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());

  auto taken = must_claim("rescuer");
  EXPECT_EQ(taken.id, j.id);
  EXPECT_EQ(taken.attempts, 2);
  photo_update late;
  late.status = photo_status::clean;
  late.clean_photo_key = "clean/late.png";
  EXPECT_EQ(jobs_->complete(j.id, "crashed", job_end{"late", "", "", "", late}).err().code, errc::conflict);
  EXPECT_EQ(cards_->get(card.id)->clean_photo_key, "");
  photo_update good = late;
  good.clean_photo_key = "clean/good.png";
  ASSERT_TRUE(jobs_->complete(j.id, "rescuer", job_end{"good", "", "", "", good}).ok());
  EXPECT_EQ(cards_->get(card.id)->clean_photo_key, "clean/good.png");
  EXPECT_EQ(jobs_->get(j.id)->output, "good");
}

TEST_P(conformance, expired_lease_past_the_attempts_is_dead_and_fails_its_card) {
  auto card = must_card("D");
  photo_update processing;
  processing.raw_photo_key = "raw/d.jpg";
  processing.status = photo_status::processing;
  new_job nj = photo_job(card.id);
  nj.max_attempts = 2;
  nj.card_on_create = processing;
  auto j = must_enqueue(nj);
  for (int i = 0; i < 2; ++i) {
    must_claim("crashing", 1000);
    advance(1001);
    auto moved = jobs_->requeue_expired("the server stopped while cleaning this photo");
    ASSERT_TRUE(moved.ok());
    ASSERT_EQ(moved->size(), 1u);
    EXPECT_EQ(moved->front().status, i == 0 ? job_status::queued : job_status::dead);
  }
  auto c = cards_->get(card.id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->status, photo_status::failed);
  EXPECT_EQ(c->photo_error, "the server stopped while cleaning this photo");
  EXPECT_EQ(c->photo_error_at, c->updated_at);  // when the attempt failed
  EXPECT_EQ(c->raw_photo_key, "raw/d.jpg");     // the raw photo is kept
  EXPECT_TRUE(nothing_to_claim());
  EXPECT_TRUE(jobs_->enqueue(photo_job(card.id)).ok());  // the card is free again
}

TEST_P(conformance, startup_fails_only_processing_cards_without_a_job) {
  photo_update processing;
  processing.raw_photo_key = "raw/p.jpg";
  processing.status = photo_status::processing;
  auto orphan = must_card("cut by a crash");  // processing, no job: the old sync path
  ASSERT_TRUE(cards_->set_photo(orphan.id, processing).ok());
  // A card whose job ended without writing the card (nothing will resume it).
  auto ended = must_card("job ended");
  new_job e = photo_job(ended.id);
  e.card_on_create = processing;
  auto ej = must_enqueue(e);
  ASSERT_EQ(must_claim("w").id, ej.id);
  ASSERT_TRUE(jobs_->fail(ej.id, "w", job_end{}).ok());
  auto running = must_card("job running");
  new_job r = photo_job(running.id);
  r.card_on_create = processing;
  auto rj = must_enqueue(r);
  ASSERT_EQ(must_claim("w").id, rj.id);
  auto queued = must_card("job queued");
  new_job q = photo_job(queued.id);
  q.card_on_create = processing;
  must_enqueue(q);
  auto clean = must_card("clean");
  photo_update done = processing;
  done.status = photo_status::clean;
  ASSERT_TRUE(cards_->set_photo(clean.id, done).ok());

  auto n = jobs_->fail_processing_without_job("interrupted: upload again");
  ASSERT_TRUE(n.ok()) << n.err().to_string();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(cards_->get(orphan.id)->status, photo_status::failed);
  EXPECT_EQ(cards_->get(orphan.id)->photo_error, "interrupted: upload again");
  EXPECT_FALSE(cards_->get(orphan.id)->photo_error_at.empty());
  EXPECT_EQ(cards_->get(orphan.id)->photo_error_at, cards_->get(orphan.id)->updated_at);
  EXPECT_TRUE(cards_->get(clean.id)->photo_error_at.empty());
  EXPECT_EQ(cards_->get(ended.id)->status, photo_status::failed);
  EXPECT_EQ(cards_->get(queued.id)->status, photo_status::processing);
  EXPECT_EQ(cards_->get(running.id)->status, photo_status::processing);
  EXPECT_EQ(cards_->get(clean.id)->status, photo_status::clean);
  EXPECT_EQ(*jobs_->fail_processing_without_job("x"), 0);
}

TEST_P(conformance, concurrent_claimers_never_share_a_job) {
  constexpr int n_jobs = 120, n_threads = 6;
  std::set<std::string> all;
  for (int i = 0; i < n_jobs; ++i)
    all.insert(must_enqueue(photo_job("", i % 3 ? job_priority::batch : job_priority::interactive)).id);
  // The threads share one repository here; the next test gives them separate connections.
  std::mutex mu;
  std::map<std::string, int> claimed;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < n_threads; ++t)
    threads.emplace_back([&, t] {
      const std::string owner = "thread-" + std::to_string(t);
      for (;;) {
        auto c = jobs_->claim_next(owner, 60000);
        if (!c.ok()) {
          ++errors;
          continue;
        }
        if (!c->has_value()) break;
        {
          std::lock_guard<std::mutex> lock(mu);
          ++claimed[(*c)->id];
        }
        if (!jobs_->complete((*c)->id, owner, job_end{owner, "", "", "", std::nullopt}).ok()) ++errors;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.size(), static_cast<size_t>(n_jobs));
  for (const auto& [id, n] : claimed) {
    EXPECT_EQ(n, 1) << id << " claimed " << n << " times";
    EXPECT_TRUE(all.count(id));
    auto j = jobs_->get(id);
    ASSERT_TRUE(j.ok());
    EXPECT_EQ(j->status, job_status::done);
    EXPECT_EQ(j->attempts, 1);
  }
}

TEST_P(conformance, claimers_on_separate_connections_never_share_a_job) {
  // Two repositories opened separately on one database: on PostgreSQL two pools of
  // connections (FOR UPDATE SKIP LOCKED decides), on SQLite two connections to one file
  // (the file's write lock decides). Expired leases are requeued by both at the same time.
  auto second = open_repositories(url_, nullptr, clock());
  ASSERT_TRUE(second.ok()) << second.err().to_string();
  job_repository* repos[2] = {jobs_.get(), second->jobs.get()};
  constexpr int n_jobs = 80;
  for (int i = 0; i < n_jobs; ++i) must_enqueue(photo_job());
  // Half are claimed by a worker that "dies" (never answers) and expire.
  for (int i = 0; i < n_jobs / 2; ++i) must_claim("dead-instance", 1000);
  advance(1001);
  std::vector<job> requeued[2];
  std::thread r0([&] { requeued[0] = *repos[0]->requeue_expired("x"); });
  std::thread r1([&] { requeued[1] = *repos[1]->requeue_expired("x"); });
  r0.join();
  r1.join();
  EXPECT_EQ(requeued[0].size() + requeued[1].size(), static_cast<size_t>(n_jobs / 2));

  std::mutex mu;
  std::map<std::string, int> claimed;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      job_repository& repo = *repos[t % 2];
      const std::string owner = "instance-" + std::to_string(t);
      for (;;) {
        auto c = repo.claim_next(owner, 60000);
        if (!c.ok()) {
          ++errors;
          continue;
        }
        if (!c->has_value()) break;
        {
          std::lock_guard<std::mutex> lock(mu);
          ++claimed[(*c)->id];
        }
        if (!repo.complete((*c)->id, owner, job_end{}).ok()) ++errors;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.size(), static_cast<size_t>(n_jobs));
  for (const auto& [id, n] : claimed) EXPECT_EQ(n, 1) << id;
}

// The issue's roster: 30 rows, rows 3 and 7 without a photo, row 12 with two files (the first
// used), row 20's photo unreadable when its job runs.
TEST_P(conformance, batch_counts_and_problems) {
  new_batch nb;
  nb.subject = "registrar";
  nb.organization = "School";
  for (int row = 1; row <= 30; ++row) {
    batch_row r;
    r.row = row;
    r.fields.full_name = "Student " + std::to_string(row);
    r.fields.id_number = "R" + std::to_string(row);
    r.fields.organization = "School";
    r.fields.role = "Student";
    if (row != 3 && row != 7) {
      photo_update p;
      p.raw_photo_key = "raw/R" + std::to_string(row) + ".jpg";
      p.status = photo_status::processing;
      r.with_photo = batch_row::photo{p, "raw_key=" + p.raw_photo_key};
    }
    nb.rows.push_back(r);
  }
  nb.problems = {{3, "R3", "no_photo", "no photo file named R3"},
                 {7, "R7", "no_photo", "no photo file named R7"},
                 {12, "R12", "duplicate_photo", "R12.jpg and R12.png; R12.jpg used"}};
  auto made = jobs_->create_batch(nb);
  ASSERT_TRUE(made.ok()) << made.err().to_string();
  EXPECT_TRUE(made->created);
  EXPECT_EQ(made->b.total, 30);
  EXPECT_EQ(made->b.status, batch_status::running);
  EXPECT_EQ(made->b.subject, "registrar");
  ASSERT_EQ(made->items.size(), 30u);
  std::map<std::string, int> row_of_job;
  for (const auto& it : made->items) {
    EXPECT_TRUE(is_valid_id(it.card_id));
    auto card = cards_->get(it.card_id);
    ASSERT_TRUE(card.ok());
    EXPECT_EQ(card->id_number, "R" + std::to_string(it.row));
    if (it.row == 3 || it.row == 7) {
      EXPECT_EQ(it.job_id, "");
      EXPECT_EQ(card->status, photo_status::none);
    } else {
      ASSERT_TRUE(is_valid_id(it.job_id)) << it.row;
      row_of_job[it.job_id] = it.row;
      EXPECT_EQ(card->status, photo_status::processing);
    }
  }
  auto counts = jobs_->counts_by_batch(made->b.id);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->queued, 28);
  EXPECT_EQ(counts->total(), 28);

  // An interactive job enqueued now still goes first.
  auto solo = must_enqueue(photo_job());
  EXPECT_EQ(must_claim("w").id, solo.id);
  ASSERT_TRUE(jobs_->complete(solo.id, "w", job_end{}).ok());

  std::vector<int> rows_in_claim_order;
  for (int i = 0; i < 28; ++i) {
    auto j = must_claim("w");
    EXPECT_EQ(j.batch_id, made->b.id);
    EXPECT_EQ(j.priority, job_priority::batch);
    EXPECT_EQ(j.batch_row, row_of_job[j.id]);
    rows_in_claim_order.push_back(j.batch_row);
    if (j.batch_row == 20) {
      ASSERT_TRUE(
          jobs_
              ->fail(j.id, "w", job_end{"", "corrupt", "unreadable_photo", "the photo could not be read", std::nullopt})
              .ok());
    } else {
      ASSERT_TRUE(jobs_->complete(j.id, "w", job_end{}).ok());
    }
    auto b = jobs_->get_batch(made->b.id);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->status, i == 27 ? batch_status::done : batch_status::running) << i;
  }
  EXPECT_TRUE(std::is_sorted(rows_in_claim_order.begin(), rows_in_claim_order.end()));
  counts = jobs_->counts_by_batch(made->b.id);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->done, 27);
  EXPECT_EQ(counts->failed, 1);
  EXPECT_EQ(counts->queued + counts->running + counts->dead, 0);
  auto b = jobs_->get_batch(made->b.id);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(is_valid_timestamp(b->finished_at));
  auto problems = jobs_->batch_problems(made->b.id);
  ASSERT_TRUE(problems.ok()) << problems.err().to_string();
  ASSERT_EQ(problems->size(), 4u);
  const std::pair<int, std::string> want[] = {
      {3, "no_photo"}, {7, "no_photo"}, {12, "duplicate_photo"}, {20, "unreadable_photo"}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*problems)[i].row, want[i].first);
    EXPECT_EQ((*problems)[i].code, want[i].second);
    EXPECT_EQ((*problems)[i].id_number, "R" + std::to_string(want[i].first));
  }
  EXPECT_EQ((*problems)[3].message, "the photo could not be read");
}

TEST_P(conformance, batch_updates_cards_by_organization_and_id_number) {
  auto existing = must_card("Old Name", "Org", "A1");
  auto other_org = must_card("Other", "Elsewhere", "A1");
  new_batch nb;
  nb.subject = "s";
  const auto row = [](int n, const std::string& name, const std::string& org, const std::string& number) {
    batch_row r;
    r.row = n;
    r.fields.full_name = name;
    r.fields.organization = org;
    r.fields.id_number = number;
    r.fields.role = "Role " + std::to_string(n);
    return r;
  };
  nb.rows = {row(1, "New Name", "Org", "A1"), row(2, "No Number", "Org", ""), row(3, "No Number", "Org", ""),
             row(4, "Fresh", "Org", "B2")};
  auto made = jobs_->create_batch(nb);
  ASSERT_TRUE(made.ok()) << made.err().to_string();
  EXPECT_EQ(made->b.status, batch_status::done);  // no photos: nothing to wait for
  ASSERT_EQ(made->items.size(), 4u);
  EXPECT_EQ(made->items[0].card_id, existing.id);
  auto updated = cards_->get(existing.id);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->full_name, "New Name");
  EXPECT_EQ(updated->role, "Role 1");
  EXPECT_EQ(updated->created_at, existing.created_at);
  EXPECT_EQ(cards_->get(other_org.id)->full_name, "Other");   // another organization's A1
  EXPECT_NE(made->items[1].card_id, made->items[2].card_id);  // no idNumber: always new
  EXPECT_NE(made->items[3].card_id, existing.id);
  // A second batch finds the card the first created.
  new_batch again;
  again.subject = "s";
  again.rows = {row(1, "Fresh Again", "Org", "B2")};
  auto second = jobs_->create_batch(again);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->items[0].card_id, made->items[3].card_id);
  EXPECT_EQ(cards_->get(made->items[3].card_id)->full_name, "Fresh Again");
}

TEST_P(conformance, batch_idempotency_key) {
  new_batch nb;
  nb.subject = "registrar";
  nb.idempotency_key = "batch-key-1";
  nb.request_fingerprint = "sha256:one";
  batch_row r;
  r.row = 1;
  r.fields.full_name = "Only";
  r.fields.id_number = "X1";
  photo_update p;
  p.raw_photo_key = "raw/x1.jpg";
  p.status = photo_status::processing;
  r.with_photo = batch_row::photo{p, "k"};
  nb.rows = {r};
  auto first = jobs_->create_batch(nb);
  ASSERT_TRUE(first.ok()) << first.err().to_string();
  EXPECT_TRUE(first->created);
  auto again = jobs_->create_batch(nb);
  ASSERT_TRUE(again.ok()) << again.err().to_string();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->b.id, first->b.id);
  EXPECT_TRUE(again->items.empty());
  EXPECT_EQ(jobs_->counts_by_batch(first->b.id)->total(), 1);  // one job, not two
  new_batch changed = nb;
  changed.request_fingerprint = "sha256:two";
  auto mismatch = jobs_->create_batch(changed);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_TRUE(is_idempotency_mismatch(mismatch.err()));
  new_batch other_subject = nb;
  other_subject.subject = "someone else";
  other_subject.rows[0].with_photo.reset();
  auto o = jobs_->create_batch(other_subject);
  ASSERT_TRUE(o.ok()) << o.err().to_string();
  EXPECT_TRUE(o->created);
  EXPECT_NE(o->b.id, first->b.id);
}

TEST_P(conformance, batch_row_whose_card_is_busy_gets_a_problem_not_a_job) {
  auto busy = must_card("Busy", "Org", "B1");
  auto active = must_enqueue(photo_job(busy.id));
  new_batch nb;
  nb.subject = "s";
  batch_row r;
  r.row = 1;
  r.fields.full_name = "Busy";
  r.fields.organization = "Org";
  r.fields.id_number = "B1";
  r.with_photo = batch_row::photo{photo_update{}, "k"};
  nb.rows = {r};
  auto made = jobs_->create_batch(nb);
  ASSERT_TRUE(made.ok()) << made.err().to_string();
  ASSERT_EQ(made->items.size(), 1u);
  EXPECT_EQ(made->items[0].card_id, busy.id);
  EXPECT_EQ(made->items[0].job_id, "");
  auto problems = jobs_->batch_problems(made->b.id);
  ASSERT_TRUE(problems.ok());
  ASSERT_EQ(problems->size(), 1u);
  EXPECT_EQ((*problems)[0].code, "invalid_row");
  EXPECT_EQ((*problems)[0].row, 1);
  EXPECT_EQ(jobs_->active_for_card(busy.id)->value().id, active.id);
}

TEST_P(conformance, batch_validation_writes_nothing) {
  new_batch nb;
  nb.subject = "s";
  for (int i = 1; i <= 5; ++i) {
    batch_row r;
    r.row = i;
    r.fields.full_name = i == 4 ? "" : "Name";
    nb.rows.push_back(r);
  }
  auto bad = jobs_->create_batch(nb);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::invalid_argument);
  EXPECT_EQ(bad.err().detail.rfind("row 4: full_name", 0), 0u) << bad.err().detail;
  nb.rows[3].fields.full_name = "Fixed";
  nb.rows[1].fields.expires_at = "2023-02-29";
  bad = jobs_->create_batch(nb);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().detail.rfind("row 2: expires_at", 0), 0u) << bad.err().detail;
  nb.rows[1].fields.expires_at = "";
  nb.problems = {{1, "", "not_a_code", "x"}};
  EXPECT_EQ(jobs_->create_batch(nb).err().code, errc::invalid_argument);
  nb.problems.clear();
  nb.idempotency_key = "bad key";
  EXPECT_EQ(jobs_->create_batch(nb).err().code, errc::invalid_argument);
  auto page = cards_->list(100, "");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());  // not one card of the refused batches
  EXPECT_EQ(jobs_->get_batch("0123456789abcdef0123456789abcdef").err().code, errc::not_found);
  EXPECT_EQ(jobs_->get_batch("../x").err().code, errc::not_found);
}

TEST_P(conformance, list_by_batch_pages_in_roster_order) {
  new_batch nb;
  nb.subject = "s";
  for (int i = 1; i <= 25; ++i) {
    batch_row r;
    r.row = i;
    r.fields.full_name = "N" + std::to_string(i);
    r.fields.id_number = "L" + std::to_string(i);
    r.with_photo = batch_row::photo{photo_update{}, "k"};
    nb.rows.push_back(r);
  }
  auto made = jobs_->create_batch(nb);
  ASSERT_TRUE(made.ok()) << made.err().to_string();
  for (int limit : {1, 7, 25, 1000}) {
    std::vector<int> rows;
    std::string cursor;
    for (int guard = 0; guard < 100; ++guard) {
      auto p = jobs_->list_by_batch(made->b.id, limit, cursor);
      ASSERT_TRUE(p.ok()) << p.err().to_string();
      EXPECT_LE(p->items.size(), static_cast<size_t>(limit));
      for (const auto& j : p->items) rows.push_back(j.batch_row);
      if (p->next_cursor.empty()) break;
      cursor = p->next_cursor;
    }
    ASSERT_EQ(rows.size(), 25u) << limit;
    for (int i = 0; i < 25; ++i) EXPECT_EQ(rows[i], i + 1) << limit;
  }
  for (int bad : {0, -1, 1001}) EXPECT_EQ(jobs_->list_by_batch(made->b.id, bad, "").err().code, errc::invalid_argument);
  for (const std::string& bad : {std::string("!"), std::string("abc"), encode_cursor("x", "y")})
    EXPECT_EQ(jobs_->list_by_batch(made->b.id, 10, bad).err().code, errc::invalid_argument);
  auto none = jobs_->list_by_batch("0123456789abcdef0123456789abcdef", 10, "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
  auto unknown = jobs_->counts_by_batch("not an id");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->total(), 0);
}

TEST_P(conformance, hostile_texts_are_stored_safely) {
  auto j = must_enqueue(photo_job());
  must_claim("w");
  // An error text must always be recordable: NUL, invalid UTF-8 and a megabyte are cleaned
  // and cut, never refused.
  const char raw[] = "bad\0byte \xff\xfe '; DROP TABLE jobs; --";
  const std::string nasty = std::string(raw, sizeof raw - 1) + std::string(1 << 20, 'e');
  auto f = jobs_->fail(j.id, "w", job_end{"", nasty, "unreadable_photo", nasty, std::nullopt});
  ASSERT_TRUE(f.ok()) << f.err().to_string();
  EXPECT_LE(f->last_error.size(), 4096u);
  EXPECT_TRUE(is_valid_utf8(f->last_error));
  EXPECT_EQ(f->last_error.find('\0'), std::string::npos);
  EXPECT_EQ(f->last_error.rfind("bad?byte ?? '; DROP TABLE jobs; --", 0), 0u) << f->last_error.substr(0, 40);
  EXPECT_LE(f->problem_message.size(), 400u);
  // Bad owners and leases are refused before any SQL.
  must_enqueue(photo_job());
  for (const std::string& owner :
       {std::string(""), std::string("has space"), std::string(201, 'o'), std::string("nul\0", 4)}) {
    auto c = jobs_->claim_next(owner, 1000);
    ASSERT_FALSE(c.ok()) << owner;
    EXPECT_EQ(c.err().code, errc::invalid_argument);
  }
  for (int64_t lease : {int64_t(0), int64_t(-5), int64_t(86400001)})
    EXPECT_EQ(jobs_->claim_next("w", lease).err().code, errc::invalid_argument) << lease;
  // The output of complete must be text.
  auto c = must_claim("w");
  auto bad_out = jobs_->complete(c.id, "w", job_end{std::string("\0", 1), "", "", "", std::nullopt});
  ASSERT_FALSE(bad_out.ok());
  EXPECT_EQ(bad_out.err().code, errc::invalid_argument);
  EXPECT_EQ(jobs_->get(c.id)->status, job_status::running);
}

TEST_P(conformance, id_number_unique_per_organization) {
  must_card("First", "Org", "A1");
  id_card_fields dup;
  dup.full_name = "Second";
  dup.organization = "Org";
  dup.id_number = "A1";
  auto d = cards_->create(dup);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.err().code, errc::conflict);
  EXPECT_EQ(d.err().detail.rfind("id_number:", 0), 0u) << d.err().detail;
  must_card("Elsewhere", "Other Org", "A1");  // another organization may use it
  must_card("No number 1", "Org", "");        // empty idNumbers repeat freely
  must_card("No number 2", "Org", "");
  auto b = must_card("B", "Org", "B2");
  id_card_fields patch;
  patch.id_number = "A1";
  auto p = cards_->update(b.id, patch);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.err().code, errc::conflict);
  EXPECT_EQ(cards_->get(b.id)->id_number, "B2");
}

// Migration 11 on a database that already holds duplicates: the index stays off, the open
// reports them, and the next open after they are resolved creates it.
TEST_P(conformance, id_number_duplicates_are_reported_until_resolved) {
  auto url = backend_->fresh_url();
  ASSERT_TRUE(url.ok());
  {
    auto r = open_repository(*url);
    ASSERT_TRUE(r.ok()) << r.err().to_string();
  }
  // Simulate a database from before migration 11: drop the index and forget the migration.
  {
    auto pool = GetParam() == "sqlite" ? open_sqlite_pool(url->substr(7)) : open_postgres_pool(*url, 1);
    ASSERT_TRUE(pool.ok()) << pool.err().to_string();
    auto lease = (*pool)->acquire();
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE((*lease)
                    ->exec_script("DROP INDEX id_cards_org_id_number; "
                                  "DELETE FROM schema_migrations WHERE version = 11")
                    .ok());
  }
  std::string dup_a, dup_b;
  {
    auto pool = GetParam() == "sqlite" ? open_sqlite_pool(url->substr(7)) : open_postgres_pool(*url, 1);
    ASSERT_TRUE(pool.ok());
    auto lease = (*pool)->acquire();
    ASSERT_TRUE(lease.ok());
    for (const char* id : {"0000000000000000000000000000000a", "0000000000000000000000000000000b"}) {
      auto ins = (*lease)->query(
          "INSERT INTO id_cards (id, full_name, id_number, organization, created_at, updated_at) "
          "VALUES ($1, 'Twin', 'T-1', 'Twins Inc', '2024-01-01T00:00:00.000Z', "
          "'2024-01-01T00:00:00.000Z')",
          {std::string(id)});
      ASSERT_TRUE(ins.ok()) << ins.err().to_string();
    }
    dup_a = "0000000000000000000000000000000a";
    dup_b = "0000000000000000000000000000000b";
  }
  open_report report;
  auto r = open_repositories(*url, &report);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  ASSERT_EQ(report.warnings.size(), 1u);
  const std::string& w = report.warnings[0];
  EXPECT_NE(w.find("Twins Inc"), std::string::npos) << w;
  EXPECT_NE(w.find("T-1"), std::string::npos) << w;
  EXPECT_NE(w.find(dup_a), std::string::npos) << w;
  EXPECT_NE(w.find(dup_b), std::string::npos) << w;
  EXPECT_EQ(report.schema_version, all_migrations().back().version);
  // While the index is off, the service keeps working (the rule is not enforced).
  id_card_fields third;
  third.full_name = "Triplet";
  third.organization = "Twins Inc";
  third.id_number = "T-1";
  EXPECT_TRUE(r->cards->create(third).ok());
  // A second open reports it again.
  open_report again;
  ASSERT_TRUE(open_repository(*url, &again).ok());
  EXPECT_EQ(again.warnings.size(), 1u);
  EXPECT_EQ(again.migrations_applied, 0);
  // Resolve: every card but one gets another idNumber; the next open creates the index.
  auto page = r->cards->list(100, "");
  ASSERT_TRUE(page.ok());
  int n = 0;
  for (const auto& c : page->items) {
    if (c.id_number != "T-1" || n++ == 0) continue;
    id_card_fields patch;
    patch.id_number = "T-" + std::to_string(n);
    ASSERT_TRUE(r->cards->update(c.id, patch).ok());
  }
  EXPECT_EQ(n, 3);
  open_report fixed;
  auto r2 = open_repository(*url, &fixed);
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(fixed.warnings.empty()) << fixed.warnings[0];
  auto refused = (*r2)->create(third);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.err().code, errc::conflict);
}

INSTANTIATE_TEST_SUITE_P(backends, conformance, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

// ---- not parameterised ----

TEST(jobs, status_names_round_trip) {
  for (auto s : {job_status::queued, job_status::running, job_status::done, job_status::failed, job_status::dead}) {
    auto back = job_status_from(job_status_name(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(job_status_from("").has_value());
  EXPECT_FALSE(job_status_from("DONE").has_value());
  EXPECT_STREQ(batch_status_name(batch_status::done), "done");
  EXPECT_STREQ(batch_status_name(batch_status::running), "running");
  for (const char* c : {"no_photo", "duplicate_photo", "unreadable_photo", "compliance_fail", "invalid_row"})
    EXPECT_TRUE(is_batch_problem_code(c)) << c;
  EXPECT_FALSE(is_batch_problem_code(""));
  EXPECT_FALSE(is_batch_problem_code("no_photo "));
}

TEST(jobs, storable_text) {
  EXPECT_EQ(storable_text("plain", 100), "plain");
  EXPECT_EQ(storable_text(std::string("a\0b", 3), 100), "a?b");
  EXPECT_EQ(storable_text("tab\there", 100), "tab?here");
  EXPECT_EQ(storable_text("\xff\xc3\x28", 100),
            "?"
            "?(");
  EXPECT_EQ(storable_text("\xe2\x82\xac\xe2\x82\xac", 4), "\xe2\x82\xac");  // cut at a boundary
  EXPECT_EQ(storable_text("\xe2\x82", 100), "??");                          // truncated sequence
  EXPECT_EQ(storable_text("\xed\xa0\x80", 100), "???");                     // surrogate
  EXPECT_EQ(storable_text("", 10), "");
  EXPECT_EQ(storable_text(std::string(100, 'x'), 10), std::string(10, 'x'));
  EXPECT_TRUE(is_valid_utf8(storable_text("\xf0\x9f\x98\x80 ok \xf4\x90\x80\x80", 100)));
}

}  // namespace

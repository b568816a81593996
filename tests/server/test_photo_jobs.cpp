// Every card photo is a job: async uploads (202 + GET /api/jobs/{id}), the clean photo's key
// derived from the job, Idempotency-Key (same key = same job, other request = 422), one photo
// job per card at a time, the client's faults failed at once, our own retried then dead, and the
// bad input of the new parameters. The engine is a test one (no model).
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "app/webhook.hpp"
#include "server/jwt.hpp"

using namespace idphoto;
using json = nlohmann::json;

namespace {

json body_of(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

// Waits (bounded: 10 s) for /metrics to contain line; false when it never does.
bool metric_reaches(const harness::server& s, const std::string& line) {
  for (int i = 0; i < 200; ++i) {
    auto m = s.client().Get("/metrics");
    if (m && m->body.find(line + "\n") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Polls GET /api/jobs/{id} until the job has ended (bounded: 60 s), returning its last JSON.
json wait_job(const harness::server& s, const std::string& id) {
  json j;
  for (int i = 0; i < 1200; ++i) {
    auto r = s.client().Get("/api/jobs/" + id, s.auth());
    if (r && r->status == 200) {
      j = body_of(r);
      const std::string st = j.value("status", "");
      if (st == "done" || st == "failed" || st == "dead") return j;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " did not end: " << j.dump();
  return j;
}

// Fails with `code` the first `failures` cleans, then echoes.
class flaky_engine final : public app::clean_engine {
 public:
  flaky_engine(std::atomic<int>* left, base::errc code) : left_(left), code_(code) {}
  base::result<pipeline::clean_result> clean(std::span<const uint8_t> b, const pipeline::clean_options&) override {
    if (left_->fetch_sub(1) > 0) return base::make_error(code_, "the test engine fails this run");
    return harness::echo_clean(b);
  }

 private:
  std::atomic<int>* left_;
  base::errc code_;
};

class echo_engine final : public app::clean_engine {
 public:
  base::result<pipeline::clean_result> clean(std::span<const uint8_t> b, const pipeline::clean_options&) override {
    return harness::echo_clean(b);
  }
};
app::engine_factory echo_engines() {
  return []() -> base::result<std::unique_ptr<app::clean_engine>> {
    return std::unique_ptr<app::clean_engine>(new echo_engine());
  };
}

void no_spec(app::app_config& c) { c.memory_limit_bytes = int64_t{1} << 30; }

// Every byte outside [A-Za-z0-9._~-] as %XX (for a URL in a query parameter).
std::string percent_encoded(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '~' || c == '-') {
      out += static_cast<char>(c);
    } else {
      char b[4];
      std::snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
  }
  return out;
}

// The card's photoSpec "none": the test engine's echo is not a framed portrait.
std::string plain_card(harness::server& s, const std::string& name) {
  auto r = s.client().Post("/api/id-cards", s.auth(), json{{"fullName", name}, {"photoSpec", "none"}}.dump(),
                           "application/json");
  EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no response");
  return r ? body_of(r).value("id", "") : "";
}

}  // namespace

TEST(photo_jobs, async_upload_answers_202_with_the_job_and_the_job_ends_clean) {
  harness::server s;
  ASSERT_TRUE(s.start("jobs-async", echo_engines(), no_spec));
  const std::string id = plain_card(s, "Async");
  const std::string png = harness::pattern_png(40, 30);
  auto r = s.client().Post("/api/id-cards/" + id + "/photo?async=true", s.auth(), png, "image/png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const json b = body_of(r);
  const std::string job = b["job"]["id"];
  EXPECT_EQ(r->get_header_value("Location"), "/api/jobs/" + job);
  EXPECT_EQ(b["job"]["kind"], "clean_photo");
  EXPECT_EQ(b["job"]["cardId"], id);
  EXPECT_TRUE(b["card"].is_object());
  const json done = wait_job(s, job);
  EXPECT_EQ(done["status"], "done") << done.dump();
  EXPECT_EQ(done["attempts"], 1);
  EXPECT_TRUE(done["error"].is_null());
  auto card = body_of(s.client().Get("/api/id-cards/" + id, s.auth()));
  EXPECT_EQ(card["photoStatus"], "clean") << card.dump();
  EXPECT_EQ(done["result"]["cleanPhotoUrl"], card["cleanPhotoUrl"]);
  // The clean photo's name is the job's id: a job run twice writes the same file.
  const std::string url = card["cleanPhotoUrl"];
  EXPECT_NE(url.find("/files/clean/" + job + "."), std::string::npos) << url;
  EXPECT_EQ(s.stored("clean").size(), 1u);
  EXPECT_EQ(s.stored("raw").size(), 1u);
  EXPECT_TRUE(metric_reaches(s, "idphoto_photo_jobs_total{outcome=\"done\"} 1"));
}

TEST(photo_jobs, a_synchronous_upload_is_a_job_too) {
  harness::server s;
  ASSERT_TRUE(s.start("jobs-sync", echo_engines(), no_spec));
  const std::string id = plain_card(s, "Sync");
  auto r = s.client().Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(20, 20), "image/png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json card = body_of(r);
  EXPECT_EQ(card["photoStatus"], "clean");
  const std::string url = card["cleanPhotoUrl"];
  const std::string job = url.substr(url.find("/clean/") + 7, 32);
  auto j = body_of(s.client().Get("/api/jobs/" + job, s.auth()));
  EXPECT_EQ(j["status"], "done") << j.dump();
  EXPECT_EQ(j["cardId"], id);
  // A second photo replaces the first: one raw and one clean file are left.
  auto again = s.client().Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(24, 24), "image/png");
  ASSERT_TRUE(again);
  ASSERT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(s.stored("clean").size(), 1u);
  EXPECT_EQ(s.stored("raw").size(), 1u);
}

TEST(photo_jobs, the_same_idempotency_key_returns_the_same_job_and_another_request_gets_422) {
  harness::server s;
  ASSERT_TRUE(s.start("jobs-idem", echo_engines(), no_spec));
  const std::string id = plain_card(s, "Idem");
  const std::string png = harness::pattern_png(30, 30);
  auto h = s.auth();
  h.emplace("Idempotency-Key", "upload-1");
  auto first = s.client().Post("/api/id-cards/" + id + "/photo", h, png, "image/png");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_FALSE(first->has_header("Idempotent-Replayed"));
  auto second = s.client().Post("/api/id-cards/" + id + "/photo", h, png, "image/png");
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200) << second->body;
  EXPECT_EQ(second->get_header_value("Idempotent-Replayed"), "true");
  EXPECT_EQ(body_of(first)["cleanPhotoUrl"], body_of(second)["cleanPhotoUrl"]) << "one job, one result";
  EXPECT_EQ(s.stored("raw").size(), 1u) << "the replay stored nothing";
  EXPECT_EQ(s.stored("clean").size(), 1u);
  // The same key with another photo: 422, nothing stored, the card unchanged.
  auto other = s.client().Post("/api/id-cards/" + id + "/photo", h, harness::pattern_png(31, 31), "image/png");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 422) << other->body;
  EXPECT_EQ(body_of(other)["error"]["code"], "idempotency_key_reused");
  EXPECT_EQ(s.stored("raw").size(), 1u);
  // Keys are per endpoint and per token subject: the same key elsewhere is a new request.
  const std::string id2 = plain_card(s, "Idem 2");
  auto elsewhere = s.client().Post("/api/id-cards/" + id2 + "/photo", h, png, "image/png");
  ASSERT_TRUE(elsewhere);
  EXPECT_EQ(elsewhere->status, 422) << "same endpoint, same subject, other card: another request";
  server::jwt_claims c;
  c.sub = "someone-else";
  c.exp =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
      600;
  httplib::Headers h2 = {{"Authorization", "Bearer " + *server::jwt_sign_hs256(c, harness::k_secret)},
                         {"Idempotency-Key", "upload-1"}};
  auto theirs = s.client().Post("/api/id-cards/" + id2 + "/photo", h2, png, "image/png");
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->status, 200) << theirs->body;
  EXPECT_FALSE(theirs->has_header("Idempotent-Replayed"));
}

TEST(photo_jobs, bad_async_and_idempotency_key_values_are_400_and_store_nothing) {
  harness::server s;
  ASSERT_TRUE(s.start("jobs-bad", echo_engines(), no_spec));
  const std::string id = plain_card(s, "Bad");
  const std::string png = harness::pattern_png(16, 16);
  for (const char* q : {"?async=maybe", "?async=", "?async=TRUE%00"}) {
    auto r = s.client().Post("/api/id-cards/" + id + "/photo" + std::string(q), s.auth(), png, "image/png");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << q << ": " << r->body;
  }
  for (const std::string& key :
       {std::string(201, 'k'), std::string("has space"), std::string("tab\there"), std::string("caf\xc3\xa9")}) {
    auto h = s.auth();
    h.emplace("Idempotency-Key", key);
    auto r = s.client().Post("/api/id-cards/" + id + "/photo", h, png, "image/png");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << key << ": " << r->body;
  }
  auto f = s.client().Post("/api/id-cards/" + id + "/fetch-and-clean", s.auth(),
                           R"({"rawPhotoUrl":"http://127.0.0.1:1/x.png","async":"yes"})", "application/json");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 400) << f->body;
  EXPECT_TRUE(s.stored("raw").empty());
  auto card = body_of(s.client().Get("/api/id-cards/" + id, s.auth()));
  EXPECT_EQ(card["photoStatus"], "none");
}

TEST(photo_jobs, unknown_malformed_and_other_organizations_jobs_are_404) {
  harness::server s;
  ASSERT_TRUE(s.start("jobs-404", echo_engines(), no_spec));
  for (const char* id :
       {"00000000000000000000000000000000", "nothex", "..%2f..", "0123456789abcdef0123456789abcdefff"}) {
    auto r = s.client().Get("/api/jobs/" + std::string(id), s.auth());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << id << ": " << r->body;
  }
  auto anon = s.client().Get("/api/jobs/00000000000000000000000000000000");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  // A job of an org-A card, read with an org-B token: 404, as if it did not exist.
  auto make = [&](const std::string& org) {
    server::jwt_claims c;
    c.sub = "op-" + org;
    c.org = org;
    c.exp =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
        600;
    return httplib::Headers{{"Authorization", "Bearer " + *server::jwt_sign_hs256(c, harness::k_secret)}};
  };
  auto a = make("A"), b = make("B");
  auto created = s.client().Post("/api/id-cards", a, R"({"fullName":"In A","photoSpec":"none"})", "application/json");
  ASSERT_TRUE(created && created->status == 201);
  const std::string id = body_of(created)["id"];
  auto up = s.client().Post("/api/id-cards/" + id + "/photo?async=1", a, harness::pattern_png(16, 16), "image/png");
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, 202) << up->body;
  const std::string job = body_of(up)["job"]["id"];
  auto mine = s.client().Get("/api/jobs/" + job, a);
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->status, 200);
  auto theirs = s.client().Get("/api/jobs/" + job, b);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->status, 404) << theirs->body;
  wait_job(s, job);
}

TEST(photo_jobs, a_second_photo_while_the_first_is_in_flight_is_409_and_stores_nothing) {
  harness::gate g;
  harness::server s;
  ASSERT_TRUE(s.start("jobs-busy", harness::gated_engines(&g), no_spec));
  const std::string id = plain_card(s, "Busy");
  auto first =
      s.client().Post("/api/id-cards/" + id + "/photo?async=true", s.auth(), harness::pattern_png(16, 16), "image/png");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202) << first->body;
  for (int i = 0; i < 2000 && g.started == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (const char* q : {"", "?async=true"}) {
    auto second = s.client().Post("/api/id-cards/" + id + "/photo" + std::string(q), s.auth(),
                                  harness::pattern_png(17, 17), "image/png");
    ASSERT_TRUE(second);
    EXPECT_EQ(second->status, 409) << second->body;
  }
  EXPECT_EQ(s.stored("raw").size(), 1u) << "the refused photos were not kept";
  // A replay of the job in flight (same key) gets that job back, not a 409.
  auto h = s.auth();
  h.emplace("Idempotency-Key", "busy-1");
  const std::string png = harness::pattern_png(18, 18);
  const std::string id2 = plain_card(s, "Busy 2");
  auto keyed = s.client().Post("/api/id-cards/" + id2 + "/photo?async=true", h, png, "image/png");
  ASSERT_TRUE(keyed);
  ASSERT_EQ(keyed->status, 202) << keyed->body;
  auto replay = s.client().Post("/api/id-cards/" + id2 + "/photo?async=true", h, png, "image/png");
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 202) << replay->body;
  EXPECT_EQ(replay->get_header_value("Idempotent-Replayed"), "true");
  EXPECT_EQ(body_of(replay)["job"]["id"], body_of(keyed)["job"]["id"]);
  EXPECT_EQ(s.stored("raw").size(), 2u);
  g.release();
  wait_job(s, body_of(keyed)["job"]["id"]);
  const json done = wait_job(s, body_of(first)["job"]["id"]);
  EXPECT_EQ(done["status"], "done");
}

TEST(photo_jobs, a_corrupt_photo_fails_at_once_and_our_failures_are_retried_then_dead) {
  // The client's fault: a PNG whose header reads but whose data does not decode is not retried.
  {
    std::atomic<int> fails{1000};
    harness::server s;
    ASSERT_TRUE(s.start(
        "jobs-corrupt",
        [&]() -> base::result<std::unique_ptr<app::clean_engine>> {
          return std::unique_ptr<app::clean_engine>(new flaky_engine(&fails, base::errc::corrupt));
        },
        no_spec));
    const std::string id = plain_card(s, "Corrupt");
    auto r = s.client().Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(16, 16), "image/png");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422) << r->body;
    const json b = body_of(r);
    EXPECT_EQ(b["error"]["code"], "corrupt_image");
    EXPECT_EQ(b["card"]["photoStatus"], "failed");
    EXPECT_EQ(fails.load(), 999) << "one run only";
  }
  // Ours: retried with backoff (2 s), and dead past IDPHOTO_JOB_MAX_ATTEMPTS; the card says failed.
  {
    std::atomic<int> fails{1000};
    harness::server s;
    ASSERT_TRUE(s.start(
        "jobs-dead",
        [&]() -> base::result<std::unique_ptr<app::clean_engine>> {
          return std::unique_ptr<app::clean_engine>(new flaky_engine(&fails, base::errc::internal));
        },
        [](app::app_config& c) {
          no_spec(c);
          c.job_max_attempts = 2;
        }));
    const std::string id = plain_card(s, "Dead");
    auto r = s.client().Post("/api/id-cards/" + id + "/photo?async=true", s.auth(), harness::pattern_png(16, 16),
                             "image/png");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    const json j = wait_job(s, body_of(r)["job"]["id"]);
    EXPECT_EQ(j["status"], "dead") << j.dump();
    EXPECT_EQ(j["attempts"], 2);
    EXPECT_EQ(j["error"]["code"], "internal");
    EXPECT_EQ(fails.load(), 998) << "two runs";
    EXPECT_TRUE(metric_reaches(s, "idphoto_photo_jobs_total{outcome=\"retried\"} 1"));
    EXPECT_TRUE(metric_reaches(s, "idphoto_photo_jobs_total{outcome=\"dead\"} 1"));
    auto card = body_of(s.client().Get("/api/id-cards/" + id, s.auth()));
    EXPECT_EQ(card["photoStatus"], "failed") << card.dump();
  }
  // Ours, once: the retry succeeds.
  {
    std::atomic<int> fails{1};
    harness::server s;
    ASSERT_TRUE(s.start(
        "jobs-retry",
        [&]() -> base::result<std::unique_ptr<app::clean_engine>> {
          return std::unique_ptr<app::clean_engine>(new flaky_engine(&fails, base::errc::unavailable));
        },
        no_spec));
    const std::string id = plain_card(s, "Retry");
    auto r = s.client().Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(16, 16), "image/png");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "the synchronous request waited through the retry: " << r->body;
    EXPECT_EQ(body_of(r)["photoStatus"], "clean");
    EXPECT_EQ(s.stored("clean").size(), 1u);
  }
}

// Every URL here is loopback: a broken check must not reach any other address.
// A receiver on loopback (allowed for this test through IDPHOTO_FETCH_ALLOW): the first delivery
// gets 500, so the webhook is retried; both carry the same delivery id and a valid signature.
TEST(photo_jobs, the_webhook_is_signed_retried_and_delivered) {
  const std::string secret = "webhook-secret-0123456789abcdefghijkl";
  httplib::Server rx;
  std::mutex mu;
  std::vector<std::pair<std::string, httplib::Headers>> got;
  rx.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    got.emplace_back(req.body, req.headers);
    res.status = got.size() == 1 ? 500 : 204;
  });
  const int port = rx.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { rx.listen_after_bind(); });
  harness::server s;
  ASSERT_TRUE(s.start("jobs-hook", echo_engines(), [&](app::app_config& c) {
    no_spec(c);
    c.webhook_secret = secret;
    c.fetch.allow = {"127.0.0.1"};
  }));
  const std::string id = plain_card(s, "Hooked");
  const std::string hook = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  auto r = s.client().Post("/api/id-cards/" + id + "/photo?async=true&callbackUrl=" + percent_encoded(hook), s.auth(),
                           harness::pattern_png(20, 20), "image/png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string job = body_of(r)["job"]["id"];
  for (int i = 0; i < 400; ++i) {  // two deliveries, 2 s of backoff between them (bounded: 20 s)
    {
      std::lock_guard<std::mutex> l(mu);
      if (got.size() >= 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  rx.stop();
  serving.join();
  ASSERT_EQ(got.size(), 2u);
  for (const auto& [body, headers] : got) {
    const json b = json::parse(body, nullptr, false);
    EXPECT_EQ(b["event"], "photo_job.ended");
    EXPECT_EQ(b["jobId"], job);
    EXPECT_EQ(b["status"], "done");
    EXPECT_EQ(b["cardId"], id);
    EXPECT_TRUE(b["result"]["cleanPhotoUrl"].is_string()) << body;
    const auto sig = headers.find("X-Idphoto-Signature");
    ASSERT_NE(sig, headers.end());
    EXPECT_EQ(sig->second, app::webhook_signature(secret, body)) << "signed over the exact body";
    EXPECT_NE(app::webhook_signature(secret + "x", body), sig->second);
    EXPECT_EQ(headers.find("X-Idphoto-Event")->second, "photo_job.ended");
    EXPECT_EQ(headers.find("Content-Type")->second, "application/json");
  }
  EXPECT_EQ(got[0].second.find("X-Idphoto-Delivery")->second, got[1].second.find("X-Idphoto-Delivery")->second)
      << "a retry is the same delivery";
}

TEST(photo_jobs, a_bad_callback_url_or_no_webhook_secret_is_400_and_stores_nothing) {
  {
    harness::server s;
    ASSERT_TRUE(s.start("jobs-hook-none", echo_engines(), no_spec));
    const std::string id = plain_card(s, "No secret");
    auto r = s.client().Post("/api/id-cards/" + id + "/photo?callbackUrl=http%3A%2F%2F127.0.0.1%3A9%2Fh", s.auth(),
                             harness::pattern_png(16, 16), "image/png");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << "no IDPHOTO_WEBHOOK_SECRET: " << r->body;
    EXPECT_TRUE(s.logged({"400", "IDPHOTO_WEBHOOK_SECRET"})) << "refused for that reason";
    EXPECT_TRUE(s.stored("raw").empty());
  }
  harness::server s;
  ASSERT_TRUE(s.start("jobs-hook-bad", echo_engines(), [](app::app_config& c) {
    no_spec(c);
    c.webhook_secret = "webhook-secret-0123456789abcdefghijkl";
  }));
  const std::string id = plain_card(s, "Bad hook");
  for (const std::string& url :
       {std::string("ftp://127.0.0.1/h"), std::string("http://user:pw@127.0.0.1/h"), std::string("not a url"),
        std::string("http:/127.0.0.1"), "http://127.0.0.1/" + std::string(9000, 'a')}) {
    auto r = s.client().Post("/api/id-cards/" + id + "/fetch-and-clean", s.auth(),
                             json{{"rawPhotoUrl", "http://127.0.0.1:9/p.jpg"}, {"callbackUrl", url}}.dump(),
                             "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << url.substr(0, 40) << ": " << r->body;
  }
  EXPECT_TRUE(s.logged({"400", "callbackUrl: "})) << "refused for its callbackUrl";
  auto typed = s.client().Post("/api/id-cards/" + id + "/fetch-and-clean", s.auth(),
                               R"({"rawPhotoUrl":"http://127.0.0.1:9/p.jpg","callbackUrl":5})", "application/json");
  ASSERT_TRUE(typed);
  EXPECT_EQ(typed->status, 400) << typed->body;
  EXPECT_TRUE(s.stored("raw").empty());
}

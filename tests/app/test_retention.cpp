// IDPHOTO_RAW_RETENTION_DAYS end to end: the service's sweep over SQLite and a local store,
// seen through the HTTP API (tests/server/harness), plus the key's parsing and card deletion.
// The repository half (the list, the conditional clear, migration 14) is in tests/db, both
// databases.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "app/config.hpp"
#include "app/service.hpp"
#include "server/harness.hpp"

using namespace idphoto;
using json = nlohmann::json;
using std::chrono::hours;
using std::chrono::system_clock;

namespace {

constexpr auto day = hours(24);

// Cleans by echoing the photo, or fails every clean while *fail is set.
class switch_engine final : public app::clean_engine {
 public:
  explicit switch_engine(std::atomic<bool>* fail) : fail_(fail) {}
  base::result<pipeline::clean_result> clean(std::span<const uint8_t> b, const pipeline::clean_options&) override {
    if (fail_->load()) return base::make_error(base::errc::internal, "failing on purpose");
    return harness::echo_clean(b);
  }

 private:
  std::atomic<bool>* fail_;
};

app::engine_factory switch_engines(std::atomic<bool>* fail) {
  return [fail]() -> base::result<std::unique_ptr<app::clean_engine>> {
    return std::unique_ptr<app::clean_engine>(new switch_engine(fail));
  };
}

struct fixture {
  std::atomic<bool> fail{false};
  harness::server s;

  bool start(const std::string& tag, int retention_days) {
    return s.start(tag, switch_engines(&fail), [&](app::app_config& c) { c.raw_retention_days = retention_days; });
  }
  // The card's JSON as GET shows it (null on a failed request, with a test failure).
  json card(const std::string& id) {
    auto r = s.client().Get("/api/id-cards/" + id, s.auth());
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return r && r->status == 200 ? json::parse(r->body) : json();
  }
  // Creates a card and uploads a photo; the card JSON after the upload.
  json card_with_photo(const std::string& name, int side) {
    const std::string id = s.create_card(name);
    auto r = s.client().Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(side, side), "image/png");
    EXPECT_TRUE(r) << "no answer to the upload";
    return card(id);
  }
  // The status of GET on a stored file's URL.
  int file_status(const json& url) {
    if (!url.is_string()) return 0;
    const std::string u = url;
    auto r = s.client().Get(u.substr(u.find("/files/")));
    return r ? r->status : 0;
  }
};

}  // namespace

TEST(retention, old_raw_photo_with_a_clean_one_is_removed) {
  fixture f;
  ASSERT_TRUE(f.start("retain-old", 30));
  const json before = f.card_with_photo("Old raw", 40);
  ASSERT_EQ(before["photoStatus"], "clean");
  ASSERT_TRUE(before["rawPhotoUrl"].is_string());
  ASSERT_EQ(f.s.stored("raw").size(), 1u);
  ASSERT_EQ(f.s.stored("clean").size(), 1u);
  ASSERT_EQ(f.file_status(before["rawPhotoUrl"]), 200);

  auto rep = f.s.svc->sweep_raw_photos(system_clock::now() + 31 * day);
  ASSERT_TRUE(rep.ok()) << rep.err().to_string();
  EXPECT_EQ(rep->removed, 1);
  EXPECT_EQ(rep->blob_errors, 0);
  EXPECT_EQ(rep->busy, 0);

  const std::string id = before["id"];
  const json after = f.card(id);
  EXPECT_TRUE(after["rawPhotoUrl"].is_null()) << after.dump();
  EXPECT_EQ(after["cleanPhotoUrl"], before["cleanPhotoUrl"]);
  EXPECT_EQ(after["photoStatus"], "clean");
  EXPECT_EQ(after["fullName"], "Old raw");
  EXPECT_TRUE(f.s.stored("raw").empty()) << "the raw blob is deleted";
  EXPECT_EQ(f.s.stored("clean").size(), 1u) << "the clean photo stays";
  EXPECT_EQ(f.file_status(before["rawPhotoUrl"]), 404);
  EXPECT_EQ(f.file_status(after["cleanPhotoUrl"]), 200);
  auto refs = f.s.svc->get_card(id);
  ASSERT_TRUE(refs.ok());
  EXPECT_EQ(refs->raw_photo_key, "");
  EXPECT_EQ(refs->raw_photo_at, "");

  // The card still renders, from its clean photo.
  auto pdf = f.s.client().Get("/api/id-cards/" + id + "/card.pdf", f.s.auth());
  ASSERT_TRUE(pdf);
  EXPECT_EQ(pdf->status, 200) << pdf->body;
  EXPECT_EQ(pdf->body.rfind("%PDF-", 0), 0u);

  // A second sweep finds nothing; a new upload gets a new raw photo, kept.
  auto again = f.s.svc->sweep_raw_photos(system_clock::now() + 31 * day);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->removed, 0);
  auto up = f.s.client().Post("/api/id-cards/" + id + "/photo", f.s.auth(), harness::pattern_png(44, 44), "image/png");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 200) << up->body;
  EXPECT_TRUE(f.card(id)["rawPhotoUrl"].is_string());
  auto none = f.s.svc->sweep_raw_photos(system_clock::now() + 29 * day);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->removed, 0);
  EXPECT_EQ(f.s.stored("raw").size(), 1u);
}

TEST(retention, raw_photo_without_clean_or_young_is_kept) {
  fixture f;
  ASSERT_TRUE(f.start("retain-keep", 30));
  f.fail = true;
  const json failed = f.card_with_photo("Failed clean", 40);
  ASSERT_EQ(failed["photoStatus"], "failed");
  ASSERT_TRUE(failed["rawPhotoUrl"].is_string());
  f.fail = false;
  const json clean = f.card_with_photo("Young raw", 42);
  ASSERT_EQ(clean["photoStatus"], "clean");
  const std::string no_photo = f.s.create_card("No photo");
  ASSERT_EQ(f.s.stored("raw").size(), 2u);

  // 29 days on: both raw photos are younger than 30 days.
  auto young = f.s.svc->sweep_raw_photos(system_clock::now() + 29 * day);
  ASSERT_TRUE(young.ok()) << young.err().to_string();
  EXPECT_EQ(young->removed, 0);
  EXPECT_EQ(f.s.stored("raw").size(), 2u);
  EXPECT_TRUE(f.card(clean["id"].get<std::string>())["rawPhotoUrl"].is_string());

  // 31 days on: only the card with a clean photo loses its raw one.
  auto old = f.s.svc->sweep_raw_photos(system_clock::now() + 31 * day);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->removed, 1);
  EXPECT_TRUE(f.card(clean["id"].get<std::string>())["rawPhotoUrl"].is_null());
  const json still = f.card(failed["id"].get<std::string>());
  EXPECT_EQ(still["rawPhotoUrl"], failed["rawPhotoUrl"]) << "no clean photo: the raw one is all the card has";
  EXPECT_EQ(still["photoStatus"], "failed");
  EXPECT_EQ(f.file_status(still["rawPhotoUrl"]), 200);
  EXPECT_EQ(f.s.stored("raw").size(), 1u);
  EXPECT_TRUE(f.card(no_photo)["rawPhotoUrl"].is_null());
}

TEST(retention, zero_keeps_every_raw_photo) {
  fixture f;
  ASSERT_TRUE(f.start("retain-zero", 0));
  const json c = f.card_with_photo("Kept forever", 40);
  ASSERT_EQ(c["photoStatus"], "clean");
  auto rep = f.s.svc->sweep_raw_photos(system_clock::now() + 3650 * day);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->removed, 0);
  EXPECT_EQ(f.card(c["id"].get<std::string>())["rawPhotoUrl"], c["rawPhotoUrl"]);
  EXPECT_EQ(f.s.stored("raw").size(), 1u);
}

namespace {
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false, holding = false;
  std::atomic<int> started{0};
};
// Echoes; while holding is set, each clean waits until the gate opens.
class gated_engine final : public app::clean_engine {
 public:
  explicit gated_engine(gate* g) : g_(g) {}
  base::result<pipeline::clean_result> clean(std::span<const uint8_t> b, const pipeline::clean_options&) override {
    std::unique_lock<std::mutex> l(g_->mu);
    if (g_->holding) {
      ++g_->started;
      g_->cv.wait(l, [&] { return g_->open; });
    }
    return harness::echo_clean(b);
  }

 private:
  gate* g_;
};
}  // namespace

// A photo request in flight for the card (here) makes the sweep leave it for the next round;
// the request then replaces the raw photo, and the new one is kept.
TEST(retention, card_with_a_photo_request_in_flight_is_skipped) {
  gate g;
  harness::server s;
  ASSERT_TRUE(s.start(
      "retain-busy",
      [&]() -> base::result<std::unique_ptr<app::clean_engine>> {
        return std::unique_ptr<app::clean_engine>(new gated_engine(&g));
      },
      [](app::app_config& c) { c.raw_retention_days = 7; }));
  const std::string id = s.create_card("Busy");
  auto first = s.client().Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(40, 40), "image/png");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  const std::string old_key = s.svc->get_card(id)->raw_photo_key;
  {
    std::lock_guard<std::mutex> l(g.mu);
    g.holding = true;
  }
  auto second = std::async(std::launch::async, [&] {
    return s.client().Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(48, 48), "image/png");
  });
  for (int i = 0; g.started < 1 && i < 30000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const bool started = g.started >= 1;
  auto busy = s.svc->sweep_raw_photos(system_clock::now() + 8 * day);
  {
    std::lock_guard<std::mutex> l(g.mu);
    g.open = true;
  }
  g.cv.notify_all();
  auto done = second.get();
  ASSERT_TRUE(started) << "the second clean never started";
  ASSERT_TRUE(busy.ok()) << busy.err().to_string();
  EXPECT_EQ(busy->removed, 0);
  EXPECT_EQ(busy->busy, 1);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200) << done->body;
  auto after = s.svc->get_card(id);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->raw_photo_key, old_key) << "the upload replaced the raw photo";
  EXPECT_NE(after->raw_photo_key, "");
  auto young = s.svc->sweep_raw_photos(system_clock::now() + 6 * day);
  ASSERT_TRUE(young.ok());
  EXPECT_EQ(young->removed, 0) << "the new raw photo is young";
  EXPECT_EQ(s.stored("raw").size(), 1u);
}

// DELETE /api/id-cards/{id} erases the record and both of its files.
TEST(retention, delete_erases_the_record_and_both_files) {
  fixture f;
  ASSERT_TRUE(f.start("retain-delete", 0));
  const json c = f.card_with_photo("To erase", 40);
  ASSERT_EQ(c["photoStatus"], "clean");
  const json keep = f.card_with_photo("Stays", 40);
  ASSERT_EQ(f.s.stored("raw").size(), 2u);
  ASSERT_EQ(f.s.stored("clean").size(), 2u);
  const std::string id = c["id"];
  auto del = f.s.client().Delete("/api/id-cards/" + id, f.s.auth());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 204);
  auto gone = f.s.client().Get("/api/id-cards/" + id, f.s.auth());
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404);
  EXPECT_EQ(f.file_status(c["rawPhotoUrl"]), 404);
  EXPECT_EQ(f.file_status(c["cleanPhotoUrl"]), 404);
  EXPECT_EQ(f.s.stored("raw").size(), 1u);
  EXPECT_EQ(f.s.stored("clean").size(), 1u);
  EXPECT_EQ(f.file_status(keep["rawPhotoUrl"]), 200);
  EXPECT_EQ(f.file_status(keep["cleanPhotoUrl"]), 200);
}

TEST(retention, env_key_range_is_enforced) {
  const auto parse = [](const std::string& v) {
    return app::app_config::parse_env([v](const std::string& k) -> std::optional<std::string> {
      if (k == "IDPHOTO_RAW_RETENTION_DAYS") return v;
      return std::nullopt;
    });
  };
  EXPECT_EQ(parse("").cfg.raw_retention_days, 0) << "unset or empty: keep";
  EXPECT_TRUE(parse("").errors.empty());
  EXPECT_EQ(parse("30").cfg.raw_retention_days, 30);
  EXPECT_EQ(parse(" 3650 ").cfg.raw_retention_days, 3650);
  EXPECT_EQ(parse("0").cfg.raw_retention_days, 0);
  for (const char* bad : {"-1", "3651", "ten", "30d", "1e3", "99999999999999999999", "0x10", "7\n8"}) {
    auto p = parse(bad);
    ASSERT_EQ(p.errors.size(), 1u) << bad;
    EXPECT_NE(p.errors[0].find("IDPHOTO_RAW_RETENTION_DAYS"), std::string::npos) << p.errors[0];
    EXPECT_EQ(p.cfg.raw_retention_days, 0) << bad << ": the default stands";
  }
  // A value set in code is checked too (service::create refuses it).
  app::app_config c;
  c.jwt_secret = std::string(32, 'k');
  c.raw_retention_days = -1;
  bool named = false;
  for (const auto& p : c.problems()) named |= p.find("IDPHOTO_RAW_RETENTION_DAYS") != std::string::npos;
  EXPECT_TRUE(named);
  c.raw_retention_days = 3651;
  named = false;
  for (const auto& p : c.problems()) named |= p.find("IDPHOTO_RAW_RETENTION_DAYS") != std::string::npos;
  EXPECT_TRUE(named);
  c.raw_retention_days = 3650;
  for (const auto& p : c.problems()) EXPECT_EQ(p.find("IDPHOTO_RAW_RETENTION_DAYS"), std::string::npos) << p;
}

// The service as a hostile or unlucky client meets it: an engine that throws, a bad upload over
// a good photo, forged log lines, unsatisfiable ranges, JSON under the wrong type or with a
// member twice, odd methods, a malformed request line, and the page's CSP. No model needed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <new>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <thread>

#include "harness.hpp"
#include "raw_http.hpp"

using namespace idphoto;
using json = nlohmann::json;

namespace {

json body_of(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

std::string error_code_of(const httplib::Result& r) {
  const json b = body_of(r);
  return b.is_object() && b.contains("error") ? b["error"].value("code", "") : "";
}

using harness::raw_exchange;
using harness::status_of;

// Cleans by echoing the photo; a JPEG is refused as corrupt (a truncated upload, as the real
// decoder would refuse it). calls counts every clean.
class echo_png_engine final : public app::clean_engine {
 public:
  explicit echo_png_engine(std::atomic<int>* calls) : calls_(calls) {}
  base::result<pipeline::clean_result> clean(std::span<const uint8_t> b, const pipeline::clean_options&) override {
    ++*calls_;
    if (b.size() > 2 && b[0] == 0xFF && b[1] == 0xD8)
      return base::make_error(base::errc::corrupt, "test: truncated JPEG");
    return harness::echo_clean(b);
  }

 private:
  std::atomic<int>* calls_;
};

app::engine_factory echo_png_engines(std::atomic<int>* calls) {
  return [calls]() -> base::result<std::unique_ptr<app::clean_engine>> {
    return std::unique_ptr<app::clean_engine>(new echo_png_engine(calls));
  };
}

// The first clean throws bad_alloc, the second std::runtime_error, the rest echo the photo.
class throwing_engine final : public app::clean_engine {
 public:
  explicit throwing_engine(std::atomic<int>* calls) : calls_(calls) {}
  base::result<pipeline::clean_result> clean(std::span<const uint8_t> b, const pipeline::clean_options&) override {
    const int n = (*calls_)++;
    if (n == 0) throw std::bad_alloc();
    if (n == 1) throw std::runtime_error("test: a library threw");
    return harness::echo_clean(b);
  }

 private:
  std::atomic<int>* calls_;
};

void no_spec(app::app_config&) {}

}  // namespace

TEST(hardening, an_engine_that_throws_fails_the_request_and_the_server_keeps_serving) {
  std::atomic<int> calls{0};
  harness::server s;
  ASSERT_TRUE(s.start("throw", [&]() -> base::result<std::unique_ptr<app::clean_engine>> {
    return std::unique_ptr<app::clean_engine>(new throwing_engine(&calls));
  }));
  const std::string png = harness::pattern_png(40, 40);
  const auto h = s.auth();
  auto oom = s.client().Post("/api/remove-background", h, png, "image/png");
  ASSERT_TRUE(oom);
  EXPECT_EQ(oom->status, 503) << "out of memory is ours and may pass: " << oom->body;
  auto threw = s.client().Post("/api/remove-background", h, png, "image/png");
  ASSERT_TRUE(threw);
  EXPECT_EQ(threw->status, 500) << threw->body;
  EXPECT_EQ(threw->body.find("a library threw"), std::string::npos) << "the detail stays in the log";
  auto health = s.client().Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ok = s.client().Post("/api/remove-background", h, png, "image/png");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << "the worker survived: " << ok->body;
  EXPECT_EQ(ok->body, png);
  EXPECT_EQ(calls.load(), 3);
}

TEST(hardening, a_bad_upload_keeps_the_previous_clean_photo) {
  std::atomic<int> calls{0};
  harness::server s;
  ASSERT_TRUE(s.start("keep", echo_png_engines(&calls), [](app::app_config& c) { (void)c; }));
  const std::string id = s.create_card("Keeper");
  const auto h = s.auth();
  // photoSpec none: the echo engine does not frame.
  ASSERT_EQ(s.client().Patch("/api/id-cards/" + id, h, R"({"photoSpec":"none"})", "application/json")->status, 200);
  const std::string good = harness::pattern_png(48, 48);
  auto first = s.client().Post("/api/id-cards/" + id + "/photo", h, good, "image/png");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  const json before = body_of(first);
  ASSERT_EQ(before["photoStatus"], "clean");
  EXPECT_TRUE(before["photoErrorAt"].is_null());

  std::string jpeg = harness::astronaut(128, ".jpg");
  jpeg.resize(jpeg.size() * 6 / 10);  // the header intact, the scan cut short
  auto bad = s.client().Post("/api/id-cards/" + id + "/photo", h, jpeg, "image/jpeg");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 422) << bad->body;
  auto now = s.client().Get("/api/id-cards/" + id, h);
  ASSERT_TRUE(now);
  const json after = body_of(now);
  EXPECT_EQ(after["photoStatus"], "clean") << now->body;
  EXPECT_EQ(after["cleanPhotoUrl"], before["cleanPhotoUrl"]);
  EXPECT_EQ(after["rawPhotoUrl"], before["rawPhotoUrl"]);
  EXPECT_TRUE(after["photoError"].is_string() && after["photoError"].get<std::string>().rfind("corrupt", 0) == 0)
      << now->body;
  EXPECT_TRUE(after["photoErrorAt"].is_string() && !after["photoErrorAt"].get<std::string>().empty()) << now->body;
  EXPECT_EQ(s.stored("raw").size(), 1u) << "the failed attempt's raw file is removed, the old one kept";
  EXPECT_EQ(s.stored("clean").size(), 1u);
  auto files = s.client().Get(after["cleanPhotoUrl"].get<std::string>().substr(s.url().size()));
  ASSERT_TRUE(files);
  EXPECT_EQ(files->status, 200);
  EXPECT_EQ(files->body, good);

  // A good photo replaces both files and clears the error.
  const std::string better = harness::pattern_png(56, 56);
  auto second = s.client().Post("/api/id-cards/" + id + "/photo", h, better, "image/png");
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200) << second->body;
  const json replaced = body_of(second);
  EXPECT_NE(replaced["cleanPhotoUrl"], before["cleanPhotoUrl"]);
  EXPECT_TRUE(replaced["photoError"].is_null());
  EXPECT_TRUE(replaced["photoErrorAt"].is_null());
  EXPECT_EQ(s.stored("raw").size(), 1u);
  EXPECT_EQ(s.stored("clean").size(), 1u);
}

TEST(hardening, a_failed_first_photo_still_records_the_failure_and_keeps_the_raw) {
  std::atomic<int> calls{0};
  harness::server s;
  ASSERT_TRUE(s.start("first-bad", echo_png_engines(&calls)));
  const std::string id = s.create_card("First");
  const auto h = s.auth();
  std::string jpeg = harness::astronaut(128, ".jpg");
  jpeg.resize(jpeg.size() / 2);
  auto bad = s.client().Post("/api/id-cards/" + id + "/photo", h, jpeg, "image/jpeg");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 422);
  const json card = body_of(s.client().Get("/api/id-cards/" + id, h));
  EXPECT_EQ(card["photoStatus"], "failed");
  EXPECT_TRUE(card["rawPhotoUrl"].is_string()) << "nothing a user sent is lost";
  EXPECT_TRUE(card["photoErrorAt"].is_string());
  EXPECT_EQ(s.stored("raw").size(), 1u);
}

TEST(hardening, a_path_cannot_forge_a_log_line_or_write_escape_sequences) {
  harness::server s;
  ASSERT_TRUE(s.start("log", harness::no_model_engines()));
  auto r = s.client().Get("/files/x%0a2026-12-02T00:00:00.000Z%20127.0.0.1%20GET%20/admin%20200%1b[31m");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  // The log line is written after the response is sent: wait for it (bounded).
  const auto logged = [&] {
    std::lock_guard<std::mutex> lock(s.log_mu);
    for (const auto& line : s.log)
      if (line.find("/files/x\\x0a2026") != std::string::npos) return true;
    return false;
  };
  for (int i = 0; i < 500 && !logged(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::lock_guard<std::mutex> lock(s.log_mu);
  bool seen = false;
  for (const auto& line : s.log) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
    if (line.find("/files/x\\x0a2026") != std::string::npos) {
      seen = true;
      EXPECT_NE(line.find("\\x1b[31m"), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(seen) << "the request is logged, escaped";
}

TEST(hardening, ranges_past_the_end_are_416_and_valid_ones_206) {
  std::atomic<int> calls{0};
  harness::server s;
  ASSERT_TRUE(s.start("range", echo_png_engines(&calls)));
  const std::string id = s.create_card("Ranged");
  const auto h = s.auth();
  ASSERT_EQ(s.client().Patch("/api/id-cards/" + id, h, R"({"photoSpec":"none"})", "application/json")->status, 200);
  const std::string png = harness::pattern_png(30, 30);
  const json card = body_of(s.client().Post("/api/id-cards/" + id + "/photo", h, png, "image/png"));
  ASSERT_TRUE(card["cleanPhotoUrl"].is_string());
  const std::string path = card["cleanPhotoUrl"].get<std::string>().substr(s.url().size());
  const std::string size = std::to_string(png.size());

  auto past = s.client().Get(path, {{"Range", "bytes=999999-"}});
  ASSERT_TRUE(past) << "answered, not hung";
  EXPECT_EQ(past->status, 416);
  EXPECT_EQ(past->get_header_value("Content-Range"), "bytes */" + size);
  EXPECT_EQ(error_code_of(past), "range_not_satisfiable");

  auto head = s.client().Get(path, {{"Range", "bytes=0-3"}});
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 206);
  EXPECT_EQ(head->body, png.substr(0, 4));

  auto tail = s.client().Get(path, {{"Range", "bytes=-5"}});
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->status, 206);
  EXPECT_EQ(tail->body, png.substr(png.size() - 5));

  auto over = s.client().Get(path, {{"Range", "bytes=10-99999999"}});
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 206);
  EXPECT_EQ(over->body, png.substr(10)) << "clamped to the file";

  auto many = s.client().Get(path, {{"Range", "bytes=0-1,4-5"}});
  ASSERT_TRUE(many);
  EXPECT_EQ(many->status, 200) << "several ranges: the whole file";
  EXPECT_EQ(many->body, png);
}

TEST(hardening, json_needs_its_content_type_and_each_member_once) {
  harness::server s;
  ASSERT_TRUE(s.start("json", harness::no_model_engines()));
  const auto h = s.auth();
  auto plain = s.client().Post("/api/id-cards", h, R"({"fullName":"Text Plain"})", "text/plain");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 415) << plain->body;
  auto form = s.client().Post("/api/id-cards", h, "fullName=Form", "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415);
  auto charset =
      s.client().Post("/api/id-cards", h, R"({"fullName":"With Charset"})", "Application/JSON; charset=utf-8");
  ASSERT_TRUE(charset);
  EXPECT_EQ(charset->status, 201) << charset->body;
  auto twice = s.client().Post("/api/id-cards", h, R"({"fullName":"A","fullName":"B"})", "application/json");
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 400) << twice->body;
  auto nested = s.client().Post("/api/id-cards", h, R"({"fullName":"Nested","x":{"a":1,"a":2}})", "application/json");
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->status, 400);
  const json list = body_of(s.client().Get("/api/id-cards", h));
  ASSERT_EQ(list["items"].size(), 1u) << "only the well-formed one was stored";
}

TEST(hardening, odd_methods_get_405_or_501_and_a_malformed_request_line_is_closed) {
  harness::server s;
  ASSERT_TRUE(s.start("methods", harness::no_model_engines()));
  auto put = s.client().Put("/api/id-cards", s.auth(), "{}", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 405);
  EXPECT_EQ(put->get_header_value("Allow"), "POST, GET, HEAD");
  EXPECT_EQ(error_code_of(put), "method_not_allowed");
  auto del = s.client().Delete("/healthz");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  auto nowhere = s.client().Put("/no/such/route", s.auth(), "{}", "application/json");
  ASSERT_TRUE(nowhere);
  EXPECT_EQ(nowhere->status, 404) << "no route there at all";

  for (const char* m : {"TRACE", "OPTIONS", "CONNECT"}) {
    const auto r = raw_exchange(s.port, std::string(m) + " /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(r), 501) << m << ": " << r.substr(0, 200);
  }
  const auto foo = raw_exchange(s.port, "FOO /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(foo), 501) << foo.substr(0, 200);
  // libmicrohttpd closes a connection whose request line it cannot parse without answering
  // (docs/architecture.md); a 400 is fine too, anything else or an open connection is not.
  harness::raw_socket junk(s.port);
  ASSERT_TRUE(junk.send("GET\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(junk.read_until_closed(std::chrono::seconds(5))) << "closed after a malformed request line";
  EXPECT_TRUE(junk.received().empty() || status_of(junk.received()) == 400) << junk.received().substr(0, 200);
  auto health = s.client().Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(hardening, the_page_policy_keeps_scripts_and_requests_on_this_origin) {
  harness::server s;
  ASSERT_TRUE(s.start("csp", harness::no_model_engines(), no_spec));
  auto page = s.client().Get("/");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200);
  const std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos) << csp;
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_FALSE(std::regex_search(csp, std::regex("(^| )https?:( |;|$)"))) << "no scheme-wide source: " << csp;
  EXPECT_NE(csp.find("img-src 'self' data: blob: http://localhost:" + std::to_string(s.port)), std::string::npos)
      << "images also from the store's public URL: " << csp;
  for (const char* path : {"/", "/healthz", "/api/id-cards", "/nowhere"}) {
    auto r = s.client().Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("Referrer-Policy"), "no-referrer") << path;
  }
}

// The real HTTP server on 127.0.0.1 without the model: open routes, auth, CRUD, errors,
// limits, /files, the SSRF refusal through the API, and 503 with a test engine that holds
// its worker until released. No test here reaches a real clean.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fetch/fetch_url.hpp"
#include "harness.hpp"
#include "server/jwt.hpp"
#include "store/blob_store.hpp"

using namespace idphoto;
using json = nlohmann::json;

namespace {

json body_of(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

void expect_error(const httplib::Result& r, int status, const char* what) {
  ASSERT_TRUE(r) << what << ": no response: " << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << what << ": " << r->body;
  const json b = body_of(r);
  ASSERT_TRUE(b.is_object() && b.contains("error")) << what << ": " << r->body;
  EXPECT_TRUE(b["error"]["code"].is_string());
  EXPECT_TRUE(b["error"]["message"].is_string());
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
}

std::string b64(const std::string& s) { return server::base64url_encode(s); }
std::string forge(const std::string& header, const std::string& payload, const std::string& secret,
                  const EVP_MD* md = EVP_sha256()) {
  const std::string in = b64(header) + "." + b64(payload);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(md, secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(in.data()), in.size(),
       out, &n);
  return in + "." + b64(std::string(reinterpret_cast<char*>(out), n));
}
int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST(server, open_routes) {
  harness::server s;
  ASSERT_TRUE(s.start("open", harness::no_model_engines()));
  auto c = s.client();
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->get_header_value("X-Content-Type-Options"), "nosniff");
  auto r = c.Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const json rj = body_of(r);
  EXPECT_EQ(rj["ready"], true);
  EXPECT_EQ(rj["database"], true);
  EXPECT_EQ(rj["store"], true);
  auto o = c.Get("/openapi.json");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 200);
  const json oj = body_of(o);
  ASSERT_TRUE(oj.is_object()) << "openapi.json parses";
  EXPECT_EQ(oj["openapi"].get<std::string>().substr(0, 2), "3.");
  for (const char* p : {"/api/id-cards", "/api/id-cards/{id}", "/api/id-cards/{id}/photo",
                        "/api/id-cards/{id}/fetch-and-clean", "/fetch-and-clean", "/api/id-cards/{id}/photo-sheet.pdf",
                        "/api/remove-background", "/healthz", "/readyz", "/metrics", "/files/{key}"})
    EXPECT_TRUE(oj["paths"].contains(p)) << p << " documented in docs/openapi.json";
  auto root = c.Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 200);
  // A request is counted after its response is sent: ask again (bounded) until /readyz is in.
  auto m = c.Get("/metrics");
  for (int i = 0; i < 200 && m && m->body.find("route=\"/readyz\",le=\"+Inf\"} 1") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    m = c.Get("/metrics");
  }
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  for (const char* name :
       {"idphoto_http_requests_total{route=\"/healthz\",status=\"200\"} 1", "idphoto_queue_depth 0",
        "idphoto_resident_memory_bytes ", "idphoto_clean_duration_seconds_bucket{le=\"+Inf\"} 0",
        "idphoto_http_request_duration_seconds_bucket{route=\"/readyz\",le=\"+Inf\"} 1", "idphoto_jobs_capacity 5"})
    EXPECT_NE(m->body.find(name), std::string::npos) << name << " in\n" << m->body;
  // The log line is written after the response, so the last one may lag a little.
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard<std::mutex> lock(s.log_mu);
      if (s.log.size() >= 5) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard<std::mutex> lock(s.log_mu);
  ASSERT_EQ(s.log.size(), 5u) << "one log line per request";
  // Lines are written after each response, so their order may differ from the requests'.
  for (const char* want :
       {"GET /healthz 200", "GET /readyz 200", "GET /openapi.json 200", "GET / 200", "GET /metrics 200"}) {
    int n = 0;
    for (const auto& l : s.log) n += l.find(want) != std::string::npos;
    EXPECT_EQ(n, 1) << want;
  }
}

TEST(server, auth_refusals) {
  harness::server s;
  ASSERT_TRUE(s.start("auth", harness::no_model_engines()));
  auto c = s.client();
  const std::string exp = std::to_string(now_s() + 3600);
  struct bad {
    const char* what;
    std::string header;
  };
  const std::vector<bad> cases = {
      {"no token", ""},
      {"not bearer", "Basic dXNlcjpwYXNz"},
      {"bad signature", "Bearer " + forge(R"({"alg":"HS256","typ":"JWT"})", R"({"exp":)" + exp + "}",
                                          "another-secret-of-enough-length-000")},
      {"expired",
       "Bearer " + forge(R"({"alg":"HS256"})", R"({"exp":)" + std::to_string(now_s() - 3600) + "}", harness::k_secret)},
      {"alg none", "Bearer " + b64(R"({"alg":"none","typ":"JWT"})") + "." + b64(R"({"exp":)" + exp + "}") + "."},
      {"alg HS512", "Bearer " + forge(R"({"alg":"HS512"})", R"({"exp":)" + exp + "}", harness::k_secret, EVP_sha512())},
      {"no exp", "Bearer " + forge(R"({"alg":"HS256"})", R"({"sub":"x"})", harness::k_secret)},
      {"garbage", "Bearer not.a.jwt"},
  };
  for (const auto& b : cases) {
    httplib::Headers h;
    if (!b.header.empty()) h.emplace("Authorization", b.header);
    for (const char* path : {"/api/id-cards"}) {
      auto r = c.Get(path, h);
      expect_error(r, 401, b.what);
      if (r) {
        EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer") << b.what;
      }
    }
    expect_error(
        c.Post("/fetch-and-clean", h, R"({"rawPhotoUrl":"http://127.0.0.1/x","idCardId":"x"})", "application/json"),
        401, b.what);
    expect_error(c.Post("/api/remove-background", h, harness::pattern_png(16, 16), "image/png"), 401, b.what);
  }
  auto ok = c.Get("/api/id-cards", s.auth());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << "a valid token passes";
}

TEST(server, card_crud) {
  harness::server s;
  ASSERT_TRUE(s.start("crud", harness::no_model_engines()));
  auto c = s.client();
  const auto h = s.auth();
  auto created = c.Post(
      "/api/id-cards", h,
      R"({"fullName":"Ada Lovelace","idNumber":"A-1","organization":"Analytical","role":"Engineer","issuedAt":"2026-01-02","expiresAt":"2030-01-02"})",
      "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  const json card = body_of(created);
  const std::string id = card["id"];
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(created->get_header_value("Location"), "/api/id-cards/" + id);
  for (const char* k : {"id", "fullName", "idNumber", "organization", "role", "issuedAt", "expiresAt", "rawPhotoUrl",
                        "cleanPhotoUrl", "photoStatus", "photoError", "createdAt", "updatedAt"})
    EXPECT_TRUE(card.contains(k)) << k;
  EXPECT_EQ(card["photoStatus"], "none");
  EXPECT_TRUE(card["cleanPhotoUrl"].is_null());
  EXPECT_EQ(card["issuedAt"], "2026-01-02");

  auto got = c.Get("/api/id-cards/" + id, h);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(body_of(got)["fullName"], "Ada Lovelace");

  // photoSpec: "card" unless set; a known spec, custom:..., or none; null goes back to card.
  {
    auto made = c.Post("/api/id-cards", h, R"({"fullName":"Spec","photoSpec":"us-2x2"})", "application/json");
    ASSERT_TRUE(made);
    ASSERT_EQ(made->status, 201) << made->body;
    const auto mj = nlohmann::json::parse(made->body);
    EXPECT_EQ(mj["photoSpec"], "us-2x2");
    EXPECT_TRUE(mj["photoCompliance"].is_null());
    EXPECT_TRUE(mj["photoFace"].is_null());
    const std::string sid = mj["id"];
    auto none = c.Patch("/api/id-cards/" + sid, h, R"({"photoSpec":"none"})", "application/json");
    ASSERT_TRUE(none);
    EXPECT_EQ(nlohmann::json::parse(none->body)["photoSpec"], "none") << none->body;
    auto back = c.Patch("/api/id-cards/" + sid, h, R"({"photoSpec":null})", "application/json");
    ASSERT_TRUE(back);
    EXPECT_EQ(nlohmann::json::parse(back->body)["photoSpec"], "card") << back->body;
    ASSERT_TRUE(c.Delete("/api/id-cards/" + sid, h));
  }
  auto patched = c.Patch("/api/id-cards/" + id, h, R"({"role":"Director","idNumber":null})", "application/json");
  ASSERT_TRUE(patched);
  ASSERT_EQ(patched->status, 200) << patched->body;
  EXPECT_EQ(body_of(patched)["role"], "Director");
  EXPECT_TRUE(body_of(patched)["idNumber"].is_null());
  EXPECT_EQ(body_of(patched)["fullName"], "Ada Lovelace");

  for (int i = 0; i < 3; ++i) ASSERT_FALSE(s.create_card("Card " + std::to_string(i)).empty());
  auto page1 = c.Get("/api/id-cards?limit=2", h);
  ASSERT_TRUE(page1);
  ASSERT_EQ(page1->status, 200) << page1->body;
  const json p1 = body_of(page1);
  ASSERT_EQ(p1["items"].size(), 2u);
  ASSERT_TRUE(p1["nextCursor"].is_string());
  auto page2 = c.Get(
      "/api/id-cards?limit=2&cursor=" + httplib::detail::encode_query_param(p1["nextCursor"].get<std::string>()), h);
  ASSERT_TRUE(page2);
  ASSERT_EQ(page2->status, 200) << page2->body;
  const json p2 = body_of(page2);
  EXPECT_EQ(p2["items"].size(), 2u);
  EXPECT_TRUE(p2["nextCursor"].is_null());
  EXPECT_EQ(p2["items"][1]["id"], id) << "newest first: the first card is last";

  auto del = c.Delete("/api/id-cards/" + id, h);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 204);
  expect_error(c.Get("/api/id-cards/" + id, h), 404, "deleted card");
  expect_error(c.Delete("/api/id-cards/" + id, h), 404, "deleted twice");
}

TEST(server, bad_requests) {
  harness::server s;
  ASSERT_TRUE(s.start("bad", harness::no_model_engines()));
  auto c = s.client();
  const auto h = s.auth();
  expect_error(c.Post("/api/id-cards", h, R"({"idNumber":"x"})", "application/json"), 400, "fullName missing");
  expect_error(c.Post("/api/id-cards", h, R"({"fullName":""})", "application/json"), 400, "fullName empty");
  expect_error(c.Post("/api/id-cards", h, R"({"fullName":42})", "application/json"), 400, "fullName not a string");
  expect_error(c.Post("/api/id-cards", h, R"({"fullName":"x","isAdmin":true})", "application/json"), 400,
               "unknown field");
  expect_error(c.Post("/api/id-cards", h, R"({"fullName":"x","issuedAt":"yesterday"})", "application/json"), 400,
               "bad date");
  expect_error(c.Post("/api/id-cards", h, R"({"fullName":)", "application/json"), 400, "truncated JSON");
  expect_error(c.Post("/api/id-cards", h, "[1]", "application/json"), 400, "not an object");
  expect_error(c.Post("/api/id-cards", h, R"({"fullName":")" + std::string(300, 'x') + R"("})", "application/json"),
               400, "too long");
  expect_error(c.Get("/api/id-cards?limit=0", h), 400, "limit 0");
  expect_error(c.Get("/api/id-cards?limit=abc", h), 400, "limit not a number");
  expect_error(c.Get("/api/id-cards?cursor=%00%ff", h), 400, "bad cursor");
  const std::string id = s.create_card("Opts");
  expect_error(c.Post("/api/id-cards/" + id + "/photo?bg=chartreuse", h, harness::pattern_png(32, 32), "image/png"),
               400, "bad bg");
  expect_error(c.Post("/api/id-cards/" + id + "/photo?maxSize=9", h, harness::pattern_png(32, 32), "image/png"), 400,
               "maxSize too small");
  expect_error(c.Post("/api/id-cards/" + id + "/photo?format=gif", h, harness::pattern_png(32, 32), "image/png"), 400,
               "bad format");
  expect_error(
      c.Post("/api/id-cards/" + id + "/photo?format=jpg&bg=none", h, harness::pattern_png(32, 32), "image/png"), 400,
      "none+jpg");
  // Spec options (framing): refused before any work, with the field named.
  for (const auto& [query, what] :
       std::vector<std::pair<std::string, std::string>>{{"?spec=atlantis-9x9", "unknown spec"},
                                                        {"?spec=icao-35x45&maxSize=300", "spec with maxSize"},
                                                        {"?spec=icao-35x45&bg=none", "spec with bg none"},
                                                        {"?spec=icao-35x45&dpi=50", "dpi 50"},
                                                        {"?spec=icao-35x45&dpi=x", "dpi not a number"},
                                                        {"?spec=icao-35x45&maxKb=0", "maxKb 0"},
                                                        {"?spec=icao-35x45&format=webp", "spec with webp"},
                                                        {"?dpi=300", "dpi without spec"},
                                                        {"?maxKb=30", "maxKb without spec"},
                                                        {"?spec=custom:0x45mm", "bad custom spec"},
                                                        {"?spec=" + std::string(600, 'x'), "spec too long"}}) {
    auto r = c.Post("/api/remove-background" + query, h, harness::pattern_png(32, 32), "image/png");
    expect_error(r, 400, what.c_str());
  }
  auto named = c.Post("/api/remove-background?spec=icao-35x45&dpi=50", h, harness::pattern_png(32, 32), "image/png");
  ASSERT_TRUE(named);
  EXPECT_NE(named->body.find("dpi"), std::string::npos) << named->body;
  // On the card routes too; and a card's photoSpec must be a spec (or none).
  expect_error(c.Post("/api/id-cards/" + id + "/photo?spec=atlantis-9x9", h, harness::pattern_png(32, 32), "image/png"),
               400, "card route, unknown spec");
  expect_error(
      c.Post("/api/id-cards/" + id + "/photo?spec=card&maxSize=300", h, harness::pattern_png(32, 32), "image/png"), 400,
      "card route, spec with maxSize");
  expect_error(c.Post("/api/id-cards/" + id + "/photo?maxSize=300", h, harness::pattern_png(32, 32), "image/png"), 400,
               "maxSize with the card's default spec");
  expect_error(c.Post("/api/id-cards", h, R"({"fullName":"x","photoSpec":"atlantis-9x9"})", "application/json"), 400,
               "unknown photoSpec");
  expect_error(c.Post("/api/id-cards", h, R"({"fullName":"x","photoSpec":42})", "application/json"), 400,
               "photoSpec not a string");
  expect_error(c.Patch("/api/id-cards/" + id, h, R"({"photoSpec":"custom:0x1mm"})", "application/json"), 400,
               "bad custom photoSpec");
  expect_error(c.Post("/api/id-cards/" + id + "/fetch-and-clean", h, R"({"url":"x"})", "application/json"), 400,
               "rawPhotoUrl missing");
  expect_error(c.Post("/fetch-and-clean", h, R"({"rawPhotoUrl":"http://example.org/a.jpg"})", "application/json"), 400,
               "idCardId missing");
  expect_error(c.Post("/api/id-cards/" + id + "/fetch-and-clean", h, R"({"rawPhotoUrl":"file:///etc/passwd"})",
                      "application/json"),
               400, "file URL");
  expect_error(c.Post("/api/id-cards/" + id + "/fetch-and-clean", h, R"({"rawPhotoUrl":"gopher://127.0.0.1/"})",
                      "application/json"),
               400, "gopher");
  EXPECT_TRUE(s.stored("raw").empty()) << "nothing stored for refused requests";
}

TEST(server, not_found) {
  harness::server s;
  ASSERT_TRUE(s.start("404", harness::no_model_engines()));
  auto c = s.client();
  const auto h = s.auth();
  expect_error(c.Get("/nope"), 404, "no route");
  expect_error(c.Get("/api/id-cards/0123456789abcdef0123456789abcdef", h), 404, "no card");
  expect_error(c.Get("/api/id-cards/..%2f..%2fetc", h), 404, "hostile id");
  expect_error(c.Patch("/api/id-cards/0123456789abcdef0123456789abcdef", h, R"({"role":"x"})", "application/json"), 404,
               "patch missing");
  expect_error(
      c.Post("/api/id-cards/0123456789abcdef0123456789abcdef/photo", h, harness::pattern_png(32, 32), "image/png"), 404,
      "photo for no card");
  expect_error(c.Post("/fetch-and-clean", h,
                      R"({"rawPhotoUrl":"http://127.0.0.1:1/a.jpg","idCardId":"0123456789abcdef0123456789abcdef"})",
                      "application/json"),
               404, "fetch for no card");
  EXPECT_TRUE(s.stored("raw").empty());
}

TEST(server, body_too_large_is_413) {
  harness::server s;
  ASSERT_TRUE(s.start("413", harness::no_model_engines(), [](app::app_config& c) {
    c.max_body_bytes = 64 * 1024;
    c.pipeline.limits.max_bytes = 64 * 1024;
  }));
  auto c = s.client();
  const auto h = s.auth();
  const std::string id = s.create_card("Big");
  const std::string big = harness::pattern_png(400, 400);
  ASSERT_GT(big.size(), 64u * 1024);
  expect_error(c.Post("/api/id-cards/" + id + "/photo", h, big, "image/png"), 413, "raw body over the limit");
  httplib::MultipartFormDataItems form = {{"photo", big, "big.png", "image/png"}};
  expect_error(c.Post("/api/id-cards/" + id + "/photo", h, form), 413, "multipart over the limit");
  expect_error(c.Post("/api/remove-background", h, big, "image/png"), 413, "remove-background over the limit");
  auto card = c.Get("/api/id-cards/" + id, h);
  ASSERT_TRUE(card);
  EXPECT_EQ(body_of(card)["photoStatus"], "none");
  EXPECT_TRUE(s.stored("raw").empty());
  // An image whose header is over the pixel limit is refused from the header: 413, nothing stored.
  harness::server s2;
  ASSERT_TRUE(s2.start("413px", harness::no_model_engines(),
                       [](app::app_config& cfg) { cfg.pipeline.limits.max_pixels = 100 * 100; }));
  auto c2 = s2.client();
  const std::string id2 = s2.create_card("Pixels");
  expect_error(c2.Post("/api/id-cards/" + id2 + "/photo", s2.auth(), harness::pattern_png(200, 200), "image/png"), 413,
               "over max pixels");
  EXPECT_TRUE(s2.stored("raw").empty());
}

TEST(server, not_an_image_or_corrupt) {
  harness::server s;
  ASSERT_TRUE(s.start("415", harness::no_model_engines()));
  auto c = s.client();
  const auto h = s.auth();
  const std::string id = s.create_card("Junk");
  expect_error(c.Post("/api/id-cards/" + id + "/photo", h, "hello, this is text", "image/jpeg"), 415,
               "text labelled as JPEG");
  expect_error(c.Post("/api/id-cards/" + id + "/photo", h, "%PDF-1.4 ...", "application/octet-stream"), 415, "a PDF");
  expect_error(c.Post("/api/id-cards/" + id + "/photo", h, R"({"photo":"x"})", "application/json"), 415, "JSON body");
  expect_error(c.Post("/api/id-cards/" + id + "/photo", h, "", "image/png"), 400, "empty body");
  httplib::MultipartFormDataItems wrong_field = {{"file", harness::pattern_png(32, 32), "a.png", "image/png"}};
  expect_error(c.Post("/api/id-cards/" + id + "/photo", h, wrong_field), 400, "multipart without 'photo'");
  // A PNG signature followed by a broken IHDR: the header does not parse.
  std::string corrupt = harness::pattern_png(64, 64);
  corrupt.resize(20);
  expect_error(c.Post("/api/id-cards/" + id + "/photo", h, corrupt, "image/png"), 422, "truncated PNG");
  std::string bad_ihdr = harness::pattern_png(64, 64);
  bad_ihdr[16] = bad_ihdr[17] = bad_ihdr[18] = bad_ihdr[19] = 0;  // width 0
  expect_error(c.Post("/api/id-cards/" + id + "/photo", h, bad_ihdr, "image/png"), 422, "PNG with width 0");
  expect_error(c.Post("/api/remove-background", h, "GIF89a....", "image/gif"), 415, "GIF");
  auto card = c.Get("/api/id-cards/" + id, h);
  ASSERT_TRUE(card);
  EXPECT_EQ(body_of(card)["photoStatus"], "none") << "a refused upload leaves the card as it was";
  EXPECT_TRUE(s.stored("raw").empty());
}

TEST(server, files_route) {
  harness::server s;
  ASSERT_TRUE(s.start("files", harness::no_model_engines()));
  store::local_config lc;
  lc.dir = (s.dir / "files").string();
  lc.public_base_url = s.url();
  auto st = store::make_local_store(lc);
  ASSERT_TRUE(st.ok()) << st.err().detail;
  const std::string png = harness::pattern_png(20, 10);
  auto put = (*st)->put(png, "image/png", "clean");
  ASSERT_TRUE(put.ok()) << put.err().detail;
  auto c = s.client();
  auto r = c.Get("/files/" + put->key);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->body, png);
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "private, max-age=31536000, immutable");
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
  auto j = (*st)->put(harness::astronaut(64, ".jpg"), "image/jpeg", "raw");
  ASSERT_TRUE(j.ok());
  auto rj = c.Get("/files/" + j->key);
  ASSERT_TRUE(rj);
  EXPECT_EQ(rj->get_header_value("Content-Type"), "image/jpeg");
  expect_error(c.Get("/files/clean/0123456789abcdef0123456789abcdef.png"), 404, "absent key");
  expect_error(c.Get("/files/../idphoto.db"), 404, "dot-dot");
  expect_error(c.Get("/files/clean/..%2f..%2fidphoto.db"), 404, "encoded dot-dot");
  expect_error(c.Get("/files/idphoto.db"), 404, "not a key");
  expect_error(c.Get("/files/clean/" + put->key.substr(6, 32)), 404, "no extension");
}

// The fetcher's connect hook counts every connection attempt; any non-loopback one fails the test.
TEST(server, ssrf_refused_through_the_api) {
  std::atomic<int> outside{0}, attempts{0};
  fetch::set_connect_hook([&](const sockaddr* a) {
    ++attempts;
    bool loop = false;
    if (a->sa_family == AF_INET) loop = (ntohl(reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr) >> 24) == 127;
    if (a->sa_family == AF_INET6) loop = IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr);
    if (!loop) ++outside;
    return false;  // never connect anywhere from this test
  });
  harness::server s;
  ASSERT_TRUE(s.start("ssrf", harness::no_model_engines()));  // no allow-list
  auto c = s.client();
  const auto h = s.auth();
  const std::string id = s.create_card("Target");
  for (const char* url : {"http://127.0.0.1/a.jpg", "http://localhost/a.jpg", "http://10.0.0.1/a.jpg",
                          "http://169.254.169.254/latest/meta-data/", "http://[::1]/a.jpg",
                          "http://[::ffff:127.0.0.1]/a.jpg", "http://2130706433/a.jpg", "http://0x7f000001/a.jpg",
                          "http://192.168.1.1/a.jpg", "http://100.64.0.1/a.jpg", "http://0.0.0.0/a.jpg"}) {
    auto r =
        c.Post("/api/id-cards/" + id + "/fetch-and-clean", h, json{{"rawPhotoUrl", url}}.dump(), "application/json");
    ASSERT_TRUE(r) << url;
    EXPECT_GE(r->status, 400) << url;
    EXPECT_LT(r->status, 500) << url << ": " << r->body;
    const json b = body_of(r);
    ASSERT_TRUE(b.contains("card")) << url << ": " << r->body;
    EXPECT_EQ(b["card"]["photoStatus"], "none") << url;
    EXPECT_TRUE(b["card"]["rawPhotoUrl"].is_null()) << url;
  }
  auto seed = c.Post("/fetch-and-clean", h, json{{"rawPhotoUrl", "http://127.0.0.1:9/x.png"}, {"idCardId", id}}.dump(),
                     "application/json");
  expect_error(seed, 403, "seed path, loopback");
  fetch::set_connect_hook(nullptr);
  EXPECT_EQ(outside.load(), 0) << "no connection attempt to a non-loopback address";
  EXPECT_EQ(attempts.load(), 0) << "refused before any connection";
  EXPECT_TRUE(s.stored("raw").empty());
}

TEST(server, queue_full_is_503_with_retry_after) {
  harness::gate g;
  harness::server s;
  ASSERT_TRUE(s.start("503", harness::gated_engines(&g), [](app::app_config& c) {
    c.n_workers = 1;
    c.queue_size = 1;
    c.http_threads = 8;
    c.retry_after_s = 7;
    c.memory_limit_bytes = int64_t{1} << 30;
  }));
  const std::string png = harness::pattern_png(32, 32);
  const auto h = s.auth();
  // Two requests fill the worker and the queue place.
  std::vector<std::future<httplib::Result>> held;
  for (int i = 0; i < 2; ++i)
    held.push_back(
        std::async(std::launch::async, [&] { return s.client().Post("/api/remove-background", h, png, "image/png"); }));
  for (int i = 0; i < 2000 && s.svc->stats().admitted < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(s.svc->stats().admitted, 2);
  // Every further request is refused at once, and nothing is stored for it.
  const std::string id = s.create_card("Busy");
  for (int i = 0; i < 4; ++i) {
    auto r = s.client().Post("/api/remove-background", h, png, "image/png");
    expect_error(r, 503, "remove-background while full");
    if (r) {
      EXPECT_EQ(r->get_header_value("Retry-After"), "7");
    }
    auto u = s.client().Post("/api/id-cards/" + id + "/photo", h, png, "image/png");
    expect_error(u, 503, "upload while full");
    if (u) {
      EXPECT_EQ(body_of(u)["error"]["code"], "queue_full");
    }
  }
  EXPECT_TRUE(s.stored("raw").empty()) << "a refused upload stores nothing";
  auto m = s.client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("idphoto_jobs_admitted 2"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("idphoto_http_requests_total{route=\"/api/remove-background\",status=\"503\"} 4"),
            std::string::npos);
  {
    std::lock_guard<std::mutex> l(g.mu);
    g.open = true;
  }
  g.cv.notify_all();
  for (auto& f : held) {
    auto r = f.get();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->body, png);
    EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
  }
  auto after = s.client().Post("/api/remove-background", h, png, "image/png");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << "places are given back";
}

TEST(server, clean_failure_keeps_the_raw_photo_and_says_so) {
  harness::server s;
  ASSERT_TRUE(s.start("fail", harness::no_model_engines()));  // every clean fails with internal
  auto c = s.client();
  const auto h = s.auth();
  const std::string id = s.create_card("Unlucky");
  const std::string png = harness::pattern_png(48, 48);
  auto r = c.Post("/api/id-cards/" + id + "/photo", h, png, "image/png");
  expect_error(r, 500, "our clean failed");
  const json b = body_of(r);
  ASSERT_TRUE(b.contains("card"));
  EXPECT_EQ(b["card"]["photoStatus"], "failed");
  EXPECT_EQ(b["card"]["photoError"], "internal: cleaning failed on our side");
  EXPECT_EQ(b["error"]["message"], "internal error") << "no detail leaks";
  EXPECT_EQ(r->body.find("no model in this test"), std::string::npos) << "the detail stays in the log";
  ASSERT_TRUE(b["card"]["rawPhotoUrl"].is_string());
  EXPECT_TRUE(b["card"]["cleanPhotoUrl"].is_null());
  const std::string raw_url = b["card"]["rawPhotoUrl"];
  const std::string path = raw_url.substr(raw_url.find("/files/"));
  auto raw = c.Get(path);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->status, 200);
  EXPECT_EQ(raw->body, png) << "the raw photo the client sent is kept";
  // Deleting the card removes its files.
  auto del = c.Delete("/api/id-cards/" + id, h);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 204);
  EXPECT_TRUE(s.stored("raw").empty());
  bool logged = false;
  std::lock_guard<std::mutex> lock(s.log_mu);
  for (const auto& l : s.log) logged |= l.find("no model in this test") != std::string::npos;
  EXPECT_TRUE(logged) << "the detail is in the log";
}

TEST(server, second_photo_request_for_a_busy_card_is_409) {
  harness::gate g;
  harness::server s;
  ASSERT_TRUE(s.start("409", harness::gated_engines(&g), [](app::app_config& c) { c.queue_size = 2; }));
  const auto h = s.auth();
  const std::string id = s.create_card("Busy card");
  const std::string other = s.create_card("Other card");
  const std::string png = harness::pattern_png(40, 40);
  auto first = std::async(std::launch::async,
                          [&] { return s.client().Post("/api/id-cards/" + id + "/photo", h, png, "image/png"); });
  for (int i = 0; g.started < 1; ++i) {  // bounded: a stuck pool fails here after 60 s instead of hanging
    if (i >= 30000) {
      g.release();  // so the pending request ends and the test fails instead of hanging
      FAIL() << "the first clean never started";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto second = s.client().Post("/api/id-cards/" + id + "/photo", h, png, "image/png");
  expect_error(second, 409, "same card while its photo is processed");
  if (second) {
    EXPECT_EQ(body_of(second)["card"]["photoStatus"], "processing");
  }
  auto seed =
      s.client().Post("/fetch-and-clean", h, json{{"rawPhotoUrl", "http://127.0.0.1:9/x.png"}, {"idCardId", id}}.dump(),
                      "application/json");
  expect_error(seed, 409, "fetch for the same card");
  auto parallel = std::async(std::launch::async,
                             [&] { return s.client().Post("/api/id-cards/" + other + "/photo", h, png, "image/png"); });
  for (int i = 0; g.started < 2 && s.svc->stats().admitted < 2; ++i) {
    if (i >= 30000) {
      g.release();
      FAIL() << "the second request was never admitted";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  {
    std::lock_guard<std::mutex> l(g.mu);
    g.open = true;
  }
  g.cv.notify_all();
  for (auto* f : {&first, &parallel}) {
    auto r = f->get();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_of(r)["photoStatus"], "clean");
  }
  EXPECT_EQ(s.stored("raw").size(), 2u);
  EXPECT_EQ(s.stored("clean").size(), 2u);
  auto again = s.client().Post("/api/id-cards/" + id + "/photo", h, png, "image/png");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << "the claim is released";
  EXPECT_EQ(s.stored("raw").size(), 2u) << "the previous files of the card are removed";
}

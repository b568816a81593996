// The real server cleaning real photos with ISNet (label model): upload, fetch and clean
// (from a local photo server allowed by the fetch allow-list), the seed's /fetch-and-clean,
// remove-background, 503 under load with no record lost, an SSRF refusal that keeps the old photo.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "card/pdf_tools.hpp"
#include "harness.hpp"
#include "image/decode.hpp"
#include "image/image.hpp"

using namespace idphoto;
using json = nlohmann::json;

namespace {

json body_of(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

struct decoded {
  int w = 0, h = 0;
  image::pixel_buffer px;
};
decoded decode_rgb(const std::string& bytes) {
  decoded d;
  image::decode_options o;
  o.max_width = o.max_height = 0;
  auto im = image::decode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), o);
  if (!im.ok()) {
    ADD_FAILURE() << "decode: " << im.err().detail;
    return d;
  }
  d.w = im->width();
  d.h = im->height();
  auto px = image::to_rgb8(*im);
  if (!px.ok()) ADD_FAILURE() << px.err().detail;
  else d.px = std::move(*px);
  return d;
}

// The 8 x 8 top-right corner (plain backdrop in the astronaut photo) is exactly rgb.
void expect_corner(const decoded& d, int r, int g, int b) {
  ASSERT_EQ(d.px.bands, 3);
  for (int y = 0; y < 8; ++y)
    for (int x = d.w - 8; x < d.w; ++x) {
      const uint8_t* p = &d.px.data[(size_t(y) * d.w + x) * 3];
      ASSERT_EQ(p[0], r) << x << "," << y;
      ASSERT_EQ(p[1], g);
      ASSERT_EQ(p[2], b);
    }
}

// GET of a public URL of this server (http://localhost:PORT/files/...).
httplib::Result get_url(harness::server& s, const std::string& url) {
  const auto at = url.find("/files/");
  EXPECT_NE(at, std::string::npos) << url;
  EXPECT_EQ(url.substr(0, at), "http://localhost:" + std::to_string(s.port)) << "public base URL";
  return s.client().Get(url.substr(at));
}

void tweak_model(app::app_config& c) { c.job_timeout_ms = 600000; }

}  // namespace

TEST(server_model, upload_cleans_stores_and_records) {
  harness::server s;
  ASSERT_TRUE(s.start("upload", harness::model_engines(), tweak_model));
  const std::string id = s.create_card("Astronaut");
  const std::string photo = harness::astronaut(1200, ".jpg[Q=92]");
  httplib::MultipartFormDataItems form = {{"photo", photo, "astronaut.jpg", "image/jpeg"}, {"bg", "#102030", "", ""}};
  auto r = s.client().Post("/api/id-cards/" + id + "/photo", s.auth(), form);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json card = body_of(r);
  EXPECT_EQ(card["photoStatus"], "clean");
  EXPECT_TRUE(card["photoError"].is_null());
  EXPECT_TRUE(card["photoWarning"].is_null()) << card.dump();
  ASSERT_TRUE(card["cleanPhotoUrl"].is_string());
  ASSERT_TRUE(card["rawPhotoUrl"].is_string());
  auto got = s.client().Get("/api/id-cards/" + id, s.auth());
  ASSERT_TRUE(got);
  EXPECT_EQ(body_of(got)["cleanPhotoUrl"], card["cleanPhotoUrl"]) << "the record is updated";

  auto png = get_url(s, card["cleanPhotoUrl"]);
  ASSERT_TRUE(png);
  ASSERT_EQ(png->status, 200);
  EXPECT_EQ(png->get_header_value("Content-Type"), "image/png");
  // Framed to the card's photoSpec (default "card": the CR80 card's photo slot at 300 dpi),
  // with the report on the card: a colour the spec does not allow is used and fails its rule.
  const auto d = decode_rgb(png->body);
  EXPECT_EQ(d.w, 260) << "the card spec's pixels";
  EXPECT_EQ(d.h, 334);
  expect_corner(d, 0x10, 0x20, 0x30);
  EXPECT_EQ(card["photoSpec"], "card");
  ASSERT_TRUE(card["photoCompliance"].is_object()) << card.dump();
  EXPECT_EQ(card["photoCompliance"]["rules"].size(), 16u);
  for (const auto& rule : card["photoCompliance"]["rules"])
    if (rule["rule"] == "background_colour") {
      EXPECT_FALSE(rule["pass"].get<bool>()) << rule.dump();
    }
  EXPECT_EQ(card["photoCompliance"]["verdict"], "fail");
  ASSERT_TRUE(card["photoFace"].is_object());
  EXPECT_TRUE(card["photoFace"].contains("rollDeg"));
  // The face in the uploaded photo's pixels (1200 x 1200): the astronaut's eyes are in the upper half.
  EXPECT_GT(card["photoFace"]["eyes"][0][0].get<double>(), 300.0);
  EXPECT_LT(card["photoFace"]["eyes"][0][1].get<double>(), 600.0);
  EXPECT_EQ(body_of(got)["photoCompliance"], card["photoCompliance"]) << "the report is stored with the card";

  // Its print sheet: 4x6 in paper, two copies at the card spec's 22 x 28.29 mm, read back with poppler.
  auto sheet = s.client().Get("/api/id-cards/" + id + "/photo-sheet.pdf?paper=4x6in&copies=2", s.auth());
  ASSERT_TRUE(sheet);
  ASSERT_EQ(sheet->status, 200) << sheet->body;
  EXPECT_EQ(sheet->get_header_value("Content-Type"), "application/pdf");
  {
    pdf_tools::temp_dir t;
    const auto pdf =
        pdf_tools::write(t.path, "sheet.pdf", std::vector<uint8_t>(sheet->body.begin(), sheet->body.end()));
    const auto [w, h] = pdf_tools::page_size_pts(pdf);
    EXPECT_NEAR(std::min(w, h), 288, 0.5) << "4 x 6 in (the layout may turn it to landscape)";
    EXPECT_NEAR(std::max(w, h), 432, 0.5);
    EXPECT_EQ(pdf_tools::page_count(pdf), 1);
    const auto imgs = pdf_tools::images(pdf);
    ASSERT_FALSE(imgs.empty());
    EXPECT_EQ(imgs[0].width, 260);
    EXPECT_EQ(imgs[0].height, 334);
    EXPECT_NEAR(imgs[0].x_ppi, 300, 2) << "placed at exactly the spec's size";
  }
  for (const auto& [query, status] : std::vector<std::pair<std::string, int>>{{"?paper=letter", 400},
                                                                              {"?copies=501", 400},
                                                                              {"?copies=-1", 400},
                                                                              {"?copies=x", 400},
                                                                              {"?spec=us-2x2", 409}})
    EXPECT_EQ(s.client().Get("/api/id-cards/" + id + "/photo-sheet.pdf" + query, s.auth())->status, status) << query;
  EXPECT_EQ(s.client().Get("/api/id-cards/" + s.create_card("No photo") + "/photo-sheet.pdf", s.auth())->status, 409);
  auto raw = get_url(s, card["rawPhotoUrl"]);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->body, photo) << "the raw photo is kept as sent";
  EXPECT_EQ(raw->get_header_value("Content-Type"), "image/jpeg");

  // A second upload replaces both files; the old ones are removed (no orphans). spec=none asks
  // for a plain cut-out (maxSize applies then) and becomes the card's photoSpec.
  auto r2 = s.client().Post("/api/id-cards/" + id + "/photo?spec=none&bg=white&maxSize=300&format=jpg", s.auth(),
                            harness::astronaut(512), "image/png");
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200) << r2->body;
  const json card2 = body_of(r2);
  EXPECT_NE(card2["cleanPhotoUrl"], card["cleanPhotoUrl"]);
  EXPECT_EQ(card2["photoSpec"], "none");
  EXPECT_TRUE(card2["photoCompliance"].is_null()) << "a plain cut-out has no report";
  auto jpg = get_url(s, card2["cleanPhotoUrl"]);
  ASSERT_TRUE(jpg);
  EXPECT_EQ(jpg->get_header_value("Content-Type"), "image/jpeg");
  const auto d2 = decode_rgb(jpg->body);
  EXPECT_EQ(d2.w, 300);
  EXPECT_EQ(s.stored("raw").size(), 1u);
  EXPECT_EQ(s.stored("clean").size(), 1u);
  auto old = get_url(s, card["cleanPhotoUrl"]);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 404);
  auto m = s.client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("idphoto_clean_duration_seconds_count 2"), std::string::npos) << m->body;
}

// No face: framing to the card's spec fails (422 no_face, the raw photo kept, the card says
// why); as a plain cut-out (spec=none) the result is kept and flagged.
TEST(server_model, no_person_is_refused_or_flagged) {
  harness::server s;
  ASSERT_TRUE(s.start("noperson", harness::model_engines(), tweak_model));
  const std::string id = s.create_card("Pattern");
  auto framed =
      s.client().Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(300, 200), "image/png");
  ASSERT_TRUE(framed);
  EXPECT_EQ(framed->status, 422) << framed->body;
  const json fj = body_of(framed);
  EXPECT_EQ(fj["error"]["code"], "no_face") << framed->body;
  EXPECT_EQ(fj["card"]["photoStatus"], "failed");
  EXPECT_TRUE(fj["card"]["rawPhotoUrl"].is_string()) << "the photo sent is kept";
  EXPECT_NE(fj["card"]["photoError"].get<std::string>().find("no_face"), std::string::npos);
  auto r = s.client().Post("/api/id-cards/" + id + "/photo?spec=none", s.auth(), harness::pattern_png(300, 200),
                           "image/png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json card = body_of(r);
  EXPECT_EQ(card["photoStatus"], "clean");
  ASSERT_TRUE(card["photoWarning"].is_string()) << "a doubtful result is flagged: " << card.dump();
  const std::string w = card["photoWarning"];
  EXPECT_TRUE(w == "no_person" || w == "mask_empty" || w == "mask_full") << w;
}

TEST(server_model, fetch_and_clean_from_a_local_server) {
  const std::string photo = harness::astronaut(1000, ".jpg[Q=90]");
  httplib::Server origin;
  origin.Get("/astronaut.jpg",
             [&](const httplib::Request&, httplib::Response& res) { res.set_content(photo, "image/jpeg"); });
  origin.Get("/notimage",
             [&](const httplib::Request&, httplib::Response& res) { res.set_content("<html>", "image/jpeg"); });
  const int origin_port = origin.bind_to_any_port("127.0.0.1");
  ASSERT_GT(origin_port, 0);
  std::thread t([&] { origin.listen_after_bind(); });
  while (!origin.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(2));

  harness::server s;
  ASSERT_TRUE(s.start("fetch", harness::model_engines(), [](app::app_config& c) {
    tweak_model(c);
    c.fetch.allow = {"127.0.0.1/32"};
  }));
  const std::string src = "http://127.0.0.1:" + std::to_string(origin_port);
  const std::string id = s.create_card("Fetched");
  auto r = s.client().Post("/api/id-cards/" + id + "/fetch-and-clean", s.auth(),
                           json{{"rawPhotoUrl", src + "/astronaut.jpg"}, {"bg", "red"}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json card = body_of(r);
  EXPECT_EQ(card["photoStatus"], "clean");
  auto png = get_url(s, card["cleanPhotoUrl"]);
  ASSERT_TRUE(png);
  const auto d = decode_rgb(png->body);
  EXPECT_EQ(d.w, 260);
  EXPECT_EQ(d.h, 334);
  expect_corner(d, 255, 0, 0);
  auto raw = get_url(s, card["rawPhotoUrl"]);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->body, photo);

  // The seed's path and body.
  const std::string id2 = s.create_card("Seed");
  auto seed =
      s.client().Post("/fetch-and-clean", s.auth(),
                      json{{"rawPhotoUrl", src + "/astronaut.jpg"}, {"idCardId", id2}}.dump(), "application/json");
  ASSERT_TRUE(seed);
  ASSERT_EQ(seed->status, 200) << seed->body;
  EXPECT_EQ(body_of(seed)["id"], id2);
  EXPECT_EQ(body_of(seed)["photoStatus"], "clean");
  const auto d2 = decode_rgb(get_url(s, body_of(seed)["cleanPhotoUrl"])->body);
  expect_corner(d2, 67, 142, 219);  // default blue

  // Not an image at the URL: 415, the card keeps its photo.
  auto bad = s.client().Post("/fetch-and-clean", s.auth(),
                             json{{"rawPhotoUrl", src + "/notimage"}, {"idCardId", id2}}.dump(), "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 415) << bad->body;
  EXPECT_EQ(body_of(bad)["card"]["cleanPhotoUrl"], body_of(seed)["cleanPhotoUrl"]);
  auto missing =
      s.client().Post("/fetch-and-clean", s.auth(),
                      json{{"rawPhotoUrl", src + "/missing.jpg"}, {"idCardId", id2}}.dump(), "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 502) << missing->body;
  origin.stop();
  t.join();
}

TEST(server_model, ssrf_refusal_keeps_the_old_photo) {
  harness::server s;
  ASSERT_TRUE(s.start("ssrfold", harness::model_engines(), tweak_model));  // no allow-list
  const std::string id = s.create_card("Kept");
  auto up = s.client().Post("/api/id-cards/" + id + "/photo", s.auth(), harness::astronaut(256), "image/png");
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, 200) << up->body;
  const json before = body_of(up);
  for (const std::string& url : {"http://127.0.0.1:" + std::to_string(s.port) + "/healthz",
                                 std::string("http://localhost/x.jpg"), std::string("http://[::1]/x.jpg")}) {
    auto r = s.client().Post("/api/id-cards/" + id + "/fetch-and-clean", s.auth(), json{{"rawPhotoUrl", url}}.dump(),
                             "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << url << ": " << r->body;
    auto now = s.client().Get("/api/id-cards/" + id, s.auth());
    ASSERT_TRUE(now);
    const json after = body_of(now);
    EXPECT_EQ(after["cleanPhotoUrl"], before["cleanPhotoUrl"]) << url;
    EXPECT_EQ(after["rawPhotoUrl"], before["rawPhotoUrl"]) << url;
    EXPECT_EQ(after["photoStatus"], "clean");
  }
  auto still = get_url(s, before["cleanPhotoUrl"]);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 200);
}

TEST(server_model, remove_background) {
  harness::server s;
  ASSERT_TRUE(s.start("rmbg", harness::model_engines(), tweak_model));
  httplib::MultipartFormDataItems form = {{"photo", harness::astronaut(512), "a.png", "image/png"},
                                          {"bg", "white", "", ""}};
  auto r = s.client().Post("/api/remove-background", s.auth(), form);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
  const auto d = decode_rgb(r->body);
  EXPECT_EQ(d.w, 512);
  expect_corner(d, 255, 255, 255);
  auto j = s.client().Post("/api/remove-background?format=jpg&maxSize=200&bg=grey", s.auth(), harness::astronaut(512),
                           "image/png");
  ASSERT_TRUE(j);
  ASSERT_EQ(j->status, 200) << j->body;
  EXPECT_EQ(j->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_EQ(decode_rgb(j->body).w, 200);
  EXPECT_TRUE(s.stored("raw").empty()) << "stateless: nothing stored";
}

// remove-background?spec=: the framed photo at the spec's pixels, the verdict and the report
// in headers; a photo without a face is 422 and nothing is stored.
TEST(server_model, remove_background_to_a_spec) {
  harness::server s;
  ASSERT_TRUE(s.start("rmbg-spec", harness::model_engines(), tweak_model));
  auto r = s.client().Post("/api/remove-background?spec=icao-35x45", s.auth(), harness::astronaut(512), "image/png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
  const auto d = decode_rgb(r->body);
  EXPECT_EQ(d.w, 413);
  EXPECT_EQ(d.h, 531);
  EXPECT_EQ(r->get_header_value("X-Photo-Spec"), "icao-35x45");
  const std::string verdict = r->get_header_value("X-Photo-Compliance");
  EXPECT_TRUE(verdict == "pass" || verdict == "warn" || verdict == "fail") << verdict;
  const json report = json::parse(r->get_header_value("X-Photo-Report"), nullptr, false);
  ASSERT_TRUE(report.is_object()) << r->get_header_value("X-Photo-Report");
  EXPECT_EQ(report["spec"], "icao-35x45");
  EXPECT_TRUE(report["face"].contains("rollDeg")) << report.dump();
  EXPECT_EQ(report["compliance"]["verdict"], verdict);
  EXPECT_EQ(report["compliance"]["rules"].size(), 16u);
  std::string failed;
  for (const auto& rule : report["compliance"]["rules"])
    if (!rule["pass"].get<bool>()) failed += (failed.empty() ? "" : ",") + rule["rule"].get<std::string>();
  EXPECT_EQ(r->get_header_value("X-Photo-Rules-Failed"), failed);

  // JPEG under a size limit, as the spec's own format (us-2x2).
  auto j =
      s.client().Post("/api/remove-background?spec=us-2x2&maxKb=40", s.auth(), harness::astronaut(512), "image/png");
  ASSERT_TRUE(j);
  ASSERT_EQ(j->status, 200) << j->body;
  EXPECT_EQ(j->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_LE(j->body.size(), 40000u);
  EXPECT_EQ(decode_rgb(j->body).w, 600);

  // No face: 422, nothing stored.
  auto n =
      s.client().Post("/api/remove-background?spec=icao-35x45", s.auth(), harness::pattern_png(300, 400), "image/png");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->status, 422) << n->body;
  EXPECT_TRUE(s.stored("raw").empty()) << "stateless: nothing stored";
}

TEST(server_model, queue_full_under_load_loses_no_record) {
  harness::server s;
  ASSERT_TRUE(s.start("load", harness::model_engines(), [](app::app_config& c) {
    tweak_model(c);
    c.n_workers = 1;
    c.queue_size = 1;
    c.http_threads = 12;
    c.memory_limit_bytes = int64_t{4} << 30;
  }));
  constexpr int n = 8;
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(s.create_card("Load " + std::to_string(i)));
  const std::string photo = harness::astronaut(400, ".jpg");
  const auto h = s.auth();
  std::vector<std::future<httplib::Result>> fs;
  for (int i = 0; i < n; ++i)
    fs.push_back(std::async(std::launch::async, [&, i] {
      return s.client().Post("/api/id-cards/" + ids[i] + "/photo", h, photo, "image/jpeg");
    }));
  int ok = 0, busy = 0;
  for (int i = 0; i < n; ++i) {
    auto r = fs[i].get();
    ASSERT_TRUE(r) << i;
    auto card = body_of(s.client().Get("/api/id-cards/" + ids[i], h));
    if (r->status == 200) {
      ++ok;
      EXPECT_EQ(card["photoStatus"], "clean") << i;
    } else {
      ASSERT_EQ(r->status, 503) << r->body;
      EXPECT_FALSE(r->get_header_value("Retry-After").empty());
      ++busy;
      EXPECT_EQ(card["photoStatus"], "none") << "a refused upload leaves the card as it was";
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1) << "8 at once with 1 worker and 1 queue place: some are refused";
  EXPECT_EQ(ok + busy, n);
  EXPECT_EQ(static_cast<int>(s.stored("raw").size()), ok) << "one raw file per accepted upload, none for refused ones";
  EXPECT_EQ(static_cast<int>(s.stored("clean").size()), ok);
}

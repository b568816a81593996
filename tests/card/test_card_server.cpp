// GET /api/id-cards/{id}/card.pdf on the real server (in-process, no model): auth, unknown
// card, no photo, bad sheet, the raw-photo fallback after a failed clean, and the clean path
// with an engine that passes the photo through as its "clean" result.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "app/worker_pool.hpp"
#include "card/pdf_tools.hpp"
#include "harness.hpp"

using namespace idphoto;
using json = nlohmann::json;

namespace {

// "Cleans" by returning the PNG it was given: the card then has a clean photo without a model.
class passthrough_engine final : public app::clean_engine {
 public:
  base::result<pipeline::clean_result> clean(std::span<const uint8_t> bytes, const pipeline::clean_options&) override {
    pipeline::clean_result r;
    r.bytes.assign(bytes.begin(), bytes.end());
    r.fmt = image::format::png;
    r.person = true;
    r.coverage = 0.5;
    return r;
  }
};
app::engine_factory passthrough_engines() {
  return []() -> base::result<std::unique_ptr<app::clean_engine>> {
    return std::unique_ptr<app::clean_engine>(new passthrough_engine());
  };
}

std::string error_code(const httplib::Result& r) {
  const json b = json::parse(r->body, nullptr, false);
  return b.is_object() && b.contains("error") ? b["error"]["code"].get<std::string>() : "";
}

}  // namespace

TEST(card_server, refusals) {
  harness::server s;
  ASSERT_TRUE(s.start("card-refuse", harness::no_model_engines()));
  auto c = s.client();
  const std::string id = s.create_card("Nobody Yet");
  auto r = c.Get("/api/id-cards/" + id + "/card.pdf");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << "no token";
  r = c.Get("/api/id-cards/" + id + "/card.pdf", {{"Authorization", "Bearer not.a.token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << "bad token";
  r = c.Get("/api/id-cards/00000000000000000000000000000000/card.pdf", s.auth());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  r = c.Get("/api/id-cards/not-an-id/card.pdf", s.auth());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  r = c.Get("/api/id-cards/" + id + "/card.pdf", s.auth());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(error_code(r), "no_photo");
  r = c.Get("/api/id-cards/" + id + "/card.pdf?sheet=letter", s.auth());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
}

TEST(card_server, failed_clean_gives_the_marked_raw_photo_card) {
  harness::server s;
  ASSERT_TRUE(s.start("card-raw", harness::no_model_engines()));  // every clean fails
  auto c = s.client();
  const std::string id = s.create_card("Raw Fallback");
  auto up = c.Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(300, 400), "image/png");
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, 500) << up->body;  // the raw photo is kept, photoStatus failed
  auto r = c.Get("/api/id-cards/" + id + "/card.pdf", s.auth());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/pdf");
  pdf_tools::temp_dir d;
  const auto pdf = pdf_tools::write(d.path, "raw.pdf", std::vector<uint8_t>(r->body.begin(), r->body.end()));
  const std::string t = pdf_tools::text(pdf);
  EXPECT_NE(t.find("Raw Fallback"), std::string::npos) << t;
  EXPECT_NE(t.find("PHOTO NOT CLEANED"), std::string::npos) << t;
}

TEST(card_server, clean_card_pdf_and_a4_sheet) {
  harness::server s;
  ASSERT_TRUE(s.start("card-clean", passthrough_engines()));
  auto c = s.client();
  const std::string id = s.create_card("Clean Card");
  auto patch = c.Patch(
      "/api/id-cards/" + id, s.auth(),
      R"({"idNumber":"A-1","organization":"Org","role":"Tester","issuedAt":"2026-01-01","expiresAt":"2027-01-01"})",
      "application/json");
  ASSERT_TRUE(patch);
  ASSERT_EQ(patch->status, 200) << patch->body;
  auto up = c.Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(600, 800), "image/png");
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, 200) << up->body;
  ASSERT_EQ(json::parse(up->body)["photoStatus"], "clean") << up->body;

  auto r = c.Get("/api/id-cards/" + id + "/card.pdf", s.auth());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/pdf");
  pdf_tools::temp_dir d;
  const auto pdf = pdf_tools::write(d.path, "card.pdf", std::vector<uint8_t>(r->body.begin(), r->body.end()));
  const auto [w, h] = pdf_tools::page_size_pts(pdf);
  EXPECT_NEAR(w, 242.65, 0.5);
  EXPECT_NEAR(h, 153.01, 0.5);
  const std::string t = pdf_tools::text(pdf);
  for (const char* f : {"Clean Card", "A-1", "Org", "Tester", "2026-01-01", "2027-01-01"})
    EXPECT_NE(t.find(f), std::string::npos) << f;
  EXPECT_EQ(t.find("PHOTO NOT CLEANED"), std::string::npos);
  const auto imgs = pdf_tools::images(pdf);
  ASSERT_EQ(imgs.size(), 1u);
  EXPECT_GE(imgs[0].x_ppi, 300);
  const auto png = pdf_tools::render_png(pdf, 300);
  ASSERT_FALSE(png.empty());
  const auto codes = pdf_tools::qr_codes(png);
  ASSERT_EQ(codes.size(), 1u) << ::testing::PrintToString(codes);
  EXPECT_EQ(codes[0], id);

  auto a4 = c.Get("/api/id-cards/" + id + "/card.pdf?sheet=a4", s.auth());
  ASSERT_TRUE(a4);
  ASSERT_EQ(a4->status, 200) << a4->body;
  const auto a4pdf = pdf_tools::write(d.path, "a4.pdf", std::vector<uint8_t>(a4->body.begin(), a4->body.end()));
  const auto [aw, ah] = pdf_tools::page_size_pts(a4pdf);
  EXPECT_NEAR(aw, 595.28, 0.5);
  EXPECT_NEAR(ah, 841.89, 0.5);
}

// IDPHOTO_CARD_VERIFY_URL: the QR code on the served card holds the verify URL + the card id.
TEST(card_server, verify_url_goes_into_the_qr_code) {
  harness::server s;
  ASSERT_TRUE(s.start("card-verify", passthrough_engines(),
                      [](app::app_config& c) { c.card_verify_url = "https://ids.example.org/verify/"; }));
  auto c = s.client();
  const std::string id = s.create_card("Verified Person");
  auto up = c.Post("/api/id-cards/" + id + "/photo", s.auth(), harness::pattern_png(300, 400), "image/png");
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, 200) << up->body;
  auto r = c.Get("/api/id-cards/" + id + "/card.pdf", s.auth());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  pdf_tools::temp_dir d;
  const auto pdf = pdf_tools::write(d.path, "card.pdf", std::vector<uint8_t>(r->body.begin(), r->body.end()));
  const auto codes = pdf_tools::qr_codes(pdf_tools::render_png(pdf, 300));
  ASSERT_EQ(codes.size(), 1u) << ::testing::PrintToString(codes);
  EXPECT_EQ(codes[0], "https://ids.example.org/verify/" + id);
}

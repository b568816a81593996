// The ID-card PDF read back with poppler and zbar: page sizes, text in several scripts, the
// photo's effective resolution, the rendered photo and QR code, the fallback mark, bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "card/card.hpp"
#include "card/pdf_tools.hpp"
#include "image/decode.hpp"
#include "image/gen.hpp"
#include "image/image.hpp"

namespace card = idphoto::card;
using idphoto::base::errc;

namespace {

constexpr const char* k_id = "3f9c0a1b2c3d4e5f60718293a4b5c6d7";

std::string photo_png(int w, int h) {
  gen::init();
  const auto b = gen::save(gen::pattern(w, h), ".png");
  return std::string(b.begin(), b.end());
}

card::card_input sample(const std::string& name = "Jane Example") {
  card::card_input c;
  c.card_id = k_id;
  c.full_name = name;
  c.id_number = "EMP-00042";
  c.organization = "Example Corp";
  c.role = "Engineer";
  c.issued_at = "2026-01-15";
  c.expires_at = "2028-01-14";
  c.photo_bytes = photo_png(600, 800);
  return c;
}

struct rendered {
  pdf_tools::temp_dir dir;
  std::filesystem::path pdf;
};

// Renders and writes the PDF; fails the test when rendering fails.
void render(rendered& r, const std::vector<card::card_input>& cards, card::sheet_kind sheet = card::sheet_kind::card) {
  ASSERT_FALSE(r.dir.path.empty());
  auto pdf = card::render_pdf(cards, card::card_options{sheet});
  ASSERT_TRUE(pdf.ok()) << pdf.err().to_string();
  ASSERT_GT(pdf->size(), 4u);
  ASSERT_EQ(std::string(pdf->begin(), pdf->begin() + 4), "%PDF");
  r.pdf = pdf_tools::write(r.dir.path, "card.pdf", *pdf);
}

// Mean and standard deviation of the luma of a rectangle of an RGB buffer.
std::pair<double, double> luma_stats(const idphoto::image::pixel_buffer& px, int x0, int y0, int x1, int y1) {
  double sum = 0, sum2 = 0;
  int n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const uint8_t* p = px.data.data() + (static_cast<size_t>(y) * px.width + x) * px.bands;
      const double l = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
      sum += l;
      sum2 += l * l;
      ++n;
    }
  const double mean = sum / n;
  return {mean, std::sqrt(std::max(0.0, sum2 / n - mean * mean))};
}

// s without ASCII spaces and the bidi controls U+200E, U+200F, U+202A..U+202E.
std::string without_spaces_and_bidi(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ' ') continue;
    if (i + 2 < s.size() && s[i] == '\xE2' && s[i + 1] == '\x80') {
      const auto c = static_cast<unsigned char>(s[i + 2]);
      if (c == 0x8E || c == 0x8F || (c >= 0xAA && c <= 0xAE)) {
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// Decode options without a working box (the render at full size).
idphoto::image::decode_options full_size() {
  idphoto::image::decode_options o;
  o.max_width = 0;
  o.max_height = 0;
  return o;
}

}  // namespace

TEST(card, tools_are_installed) {
  for (const char* t : {"pdfinfo -v", "pdftotext -v", "pdfimages -v", "pdftoppm -v", "zbarimg --version"})
    EXPECT_EQ(pdf_tools::run(t).exit_code, 0) << t << " (scripts/setup installs poppler-utils and zbar-tools)";
}

TEST(card, page_is_cr80) {
  rendered r;
  render(r, {sample()});
  const auto [w, h] = pdf_tools::page_size_pts(r.pdf);
  EXPECT_NEAR(w, 85.60 / 25.4 * 72, 0.5);
  EXPECT_NEAR(h, 53.98 / 25.4 * 72, 0.5);
  EXPECT_EQ(pdf_tools::page_count(r.pdf), 1);
}

TEST(card, text_fields_are_in_the_pdf) {
  rendered r;
  render(r, {sample()});
  const std::string t = pdf_tools::text(r.pdf);
  for (const char* s : {"Jane Example", "EMP-00042", "Example Corp", "Engineer", "2026-01-15", "2028-01-14", k_id})
    EXPECT_NE(t.find(s), std::string::npos) << s << " missing in:\n" << t;
  EXPECT_EQ(t.find("PHOTO NOT CLEANED"), std::string::npos);
}

TEST(card, names_in_other_scripts_render_as_text) {
  // Accented Latin, CJK, Arabic and Hebrew: each must come back from the PDF's text layer,
  // which needs a font with the glyphs (fontconfig fallback) and a ToUnicode map.
  for (const std::string name : {"Zoë Ångström-Núñez", "山田 太郎", "محمد", "דוד לוי"}) {
    rendered r;
    render(r, {sample(name)});
    if (::testing::Test::HasFatalFailure()) return;
    // pdftotext wraps right-to-left runs in bidi embedding marks and may split a word at a
    // wide glyph gap (Hebrew final letters), so compare without spaces and bidi controls.
    const std::string t = pdf_tools::text(r.pdf);
    EXPECT_NE(without_spaces_and_bidi(t).find(without_spaces_and_bidi(name)), std::string::npos)
        << name << " missing in:\n"
        << t;
    const auto fonts = pdf_tools::run("pdffonts '" + r.pdf.string() + "'").out;
    EXPECT_EQ(fonts.find("Type 3"), std::string::npos) << "glyphs were not embedded as a real font:\n" << fonts;
  }
}

TEST(card, photo_is_embedded_at_300_dpi_or_more) {
  // A small photo is upsampled, a large one downsampled: both land in 300..600 dpi.
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{40, 50}, {600, 800}, {3000, 1200}}) {
    auto c = sample();
    c.photo_bytes = photo_png(w, h);
    rendered r;
    render(r, {c});
    if (::testing::Test::HasFatalFailure()) return;
    const auto rows = pdf_tools::images(r.pdf);
    ASSERT_EQ(rows.size(), 1u) << w << "x" << h;
    EXPECT_GE(rows[0].x_ppi, 300) << w << "x" << h;
    EXPECT_GE(rows[0].y_ppi, 300) << w << "x" << h;
    EXPECT_LE(rows[0].x_ppi, 601) << w << "x" << h;
    EXPECT_EQ(rows[0].enc, "jpeg");
  }
}

TEST(card, rendered_photo_is_not_blank_and_qr_decodes_to_the_card_id) {
  rendered r;
  render(r, {sample()});
  const auto png = pdf_tools::render_png(r.pdf, 300);
  ASSERT_FALSE(png.empty());
  auto im = idphoto::image::decode_file(png, full_size());
  ASSERT_TRUE(im.ok()) << im.err().to_string();
  auto px = idphoto::image::to_rgb8(*im);
  ASSERT_TRUE(px.ok());
  ASSERT_NEAR(px->width, 1011, 2);
  // Photo box: 4..26 mm x 12..40.3 mm; look at its inner part at 300 dpi.
  const auto d = [](double mm_) { return static_cast<int>(mm_ / 25.4 * 300); };
  const auto [mean, sd] = luma_stats(*px, d(6), d(14), d(24), d(38));
  EXPECT_GT(sd, 20) << "photo area is flat (mean " << mean << ")";
  EXPECT_LT(mean, 245) << "photo area is white";
  // A blank area for contrast: the right margin under the header, above the QR code.
  const auto [bmean, bsd] = luma_stats(*px, d(78), d(12), d(84), d(20));
  EXPECT_GT(bmean, 250);
  EXPECT_LT(bsd, 3);
  const auto codes = pdf_tools::qr_codes(png);
  ASSERT_EQ(codes.size(), 1u) << ::testing::PrintToString(codes);
  EXPECT_EQ(codes[0], k_id);
}

TEST(card, qr_holds_the_verify_url_when_configured) {
  auto c = sample();
  c.verify_url = "https://id.example.org/verify/";
  rendered r;
  render(r, {c});
  const auto png = pdf_tools::render_png(r.pdf, 300);
  ASSERT_FALSE(png.empty());
  const auto codes = pdf_tools::qr_codes(png);
  ASSERT_EQ(codes.size(), 1u) << ::testing::PrintToString(codes);
  EXPECT_EQ(codes[0], std::string("https://id.example.org/verify/") + k_id);
}

TEST(card, raw_photo_fallback_is_marked) {
  auto c = sample();
  c.photo_is_clean = false;
  rendered r;
  render(r, {c});
  EXPECT_NE(pdf_tools::text(r.pdf).find("PHOTO NOT CLEANED"), std::string::npos);
  // The mark is visible: a red band at the bottom of the photo box.
  const auto png = pdf_tools::render_png(r.pdf, 300);
  ASSERT_FALSE(png.empty());
  auto im = idphoto::image::decode_file(png, full_size());
  ASSERT_TRUE(im.ok());
  auto px = idphoto::image::to_rgb8(*im);
  ASSERT_TRUE(px.ok());
  const int x = static_cast<int>(5.0 / 25.4 * 300), y = static_cast<int>(39.8 / 25.4 * 300);
  const uint8_t* p = px->data.data() + (static_cast<size_t>(y) * px->width + x) * 3;
  EXPECT_GT(p[0], 150);
  EXPECT_LT(p[1], 90);
  EXPECT_LT(p[2], 90);
}

TEST(card, a4_sheet_has_a4_pages_crop_marks_and_every_card) {
  std::vector<card::card_input> cards;
  for (int i = 0; i < 10; ++i) cards.push_back(sample("Person " + std::to_string(i)));
  rendered r;
  render(r, cards, card::sheet_kind::a4);
  EXPECT_EQ(pdf_tools::page_count(r.pdf), 2);  // 8 per page
  for (int page : {1, 2}) {
    const auto [w, h] = pdf_tools::page_size_pts(r.pdf, page);
    EXPECT_NEAR(w, 595.28, 0.5);
    EXPECT_NEAR(h, 841.89, 0.5);
  }
  const std::string t = pdf_tools::text(r.pdf);
  for (int i = 0; i < 10; ++i) EXPECT_NE(t.find("Person " + std::to_string(i)), std::string::npos) << i;
  EXPECT_EQ(pdf_tools::images(r.pdf).size(), 10u);
  // A crop mark: the first card's left edge continued upwards, 1..3.5 mm above its corner.
  const auto png = pdf_tools::render_png(r.pdf, 150);
  ASSERT_FALSE(png.empty());
  auto im = idphoto::image::decode_file(png, full_size());
  ASSERT_TRUE(im.ok());
  auto px = idphoto::image::to_rgb8(*im);
  ASSERT_TRUE(px.ok());
  const double left_mm = (210 - (2 * 85.6 + 8)) / 2, top_mm = (297 - (4 * 53.98 + 3 * 8)) / 2;
  const int x = static_cast<int>(std::lround(left_mm / 25.4 * 150));
  const int y = static_cast<int>((top_mm - 2.2) / 25.4 * 150);
  int darkest = 255;
  for (int dx = -2; dx <= 2; ++dx)
    darkest = std::min<int>(darkest, px->data[(static_cast<size_t>(y) * px->width + x + dx) * 3]);
  EXPECT_LT(darkest, 160) << "no crop mark at the first card's top-left corner";
}

TEST(card, one_card_on_a4) {
  rendered r;
  render(r, {sample()}, card::sheet_kind::a4);
  EXPECT_EQ(pdf_tools::page_count(r.pdf), 1);
  const auto [w, h] = pdf_tools::page_size_pts(r.pdf);
  EXPECT_NEAR(w, 595.28, 0.5);
  EXPECT_NEAR(h, 841.89, 0.5);
}

TEST(card, long_name_within_the_limit_is_ellipsised_not_refused) {
  std::string name;
  while (name.size() + 13 <= card::max_text_bytes) name += "Bartholomew ";
  rendered r;
  render(r, {sample(name)});
  EXPECT_NE(pdf_tools::text(r.pdf).find("Bartholomew"), std::string::npos);
}

TEST(card, bad_input_is_a_clear_error) {
  gen::init();
  const auto expect_err = [](card::card_input c, errc code, const std::string& what) {
    auto pdf = card::render_pdf(c);
    ASSERT_FALSE(pdf.ok()) << what;
    EXPECT_EQ(pdf.err().code, code) << what << ": " << pdf.err().to_string();
  };
  auto c = sample();
  c.photo_bytes.clear();
  expect_err(c, errc::invalid_argument, "empty photo");
  c = sample();
  c.photo_bytes = "this is not an image at all";
  expect_err(c, errc::unsupported, "not an image");
  c = sample();
  c.photo_bytes.resize(c.photo_bytes.size() / 2);  // truncated PNG
  auto trunc = card::render_pdf(c);
  ASSERT_FALSE(trunc.ok());
  EXPECT_EQ(trunc.err().code, errc::corrupt) << trunc.err().to_string();
  c = sample(std::string(10 * 1024, 'A'));  // 10 KB name: refused, not truncated
  expect_err(c, errc::invalid_argument, "10 KB name");
  c = sample("");
  expect_err(c, errc::invalid_argument, "empty name");
  c = sample("bad \xC3\x28 utf8");
  expect_err(c, errc::invalid_argument, "invalid UTF-8");
  c = sample("line\nbreak");
  expect_err(c, errc::invalid_argument, "control character");
  c = sample();
  c.card_id.clear();
  expect_err(c, errc::invalid_argument, "no card id");
  c = sample();
  c.role = std::string(201, 'r');
  expect_err(c, errc::invalid_argument, "long role");
  EXPECT_FALSE(card::render_pdf(std::span<const card::card_input>()).ok());
  EXPECT_FALSE(card::sheet_from("letter").ok());
  EXPECT_EQ(*card::sheet_from("a4"), card::sheet_kind::a4);
}

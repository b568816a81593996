// The photo sheet read back with poppler: page sizes, how many photos, their pixels and
// their placed resolution (so their printed millimetres), and the bad inputs.
#include <gtest/gtest.h>

#include <cmath>

#include "card/pdf_tools.hpp"
#include "card/sheet.hpp"
#include "image/gen.hpp"

using namespace idphoto;

namespace {
std::string png(int w, int h) {
  const auto b = gen::save(gen::pattern(w, h), ".png");
  return std::string(b.begin(), b.end());
}
std::string jpg(int w, int h) {
  const auto b = gen::save(gen::pattern(w, h), ".jpg[Q=90]");
  return std::string(b.begin(), b.end());
}
}  // namespace

TEST(sheet, layouts) {
  card::sheet_options o;  // 35 x 45 mm
  o.page = card::paper::a4;
  auto a4 = card::layout_sheet(o);
  ASSERT_TRUE(a4.ok());
  EXPECT_EQ(a4->cols * a4->rows, 28);  // 7 x 4 on A4 turned (5 x 5 = 25 upright), 4 mm margins and gaps
  EXPECT_TRUE(a4->landscape);
  o.page = card::paper::in4x6;
  auto p46 = card::layout_sheet(o);
  ASSERT_TRUE(p46.ok());
  EXPECT_EQ(p46->cols * p46->rows, 6);
  o.page = card::paper::a6;
  auto a6 = card::layout_sheet(o);
  ASSERT_TRUE(a6.ok());
  EXPECT_EQ(a6->cols * a6->rows, 6);
  o.photo_width_mm = o.photo_height_mm = 50.8;  // US 2 x 2 in on 4 x 6 in: 2 x 2 upright or 2 x 2 turned
  o.page = card::paper::in4x6;
  auto us = card::layout_sheet(o);
  ASSERT_TRUE(us.ok());
  EXPECT_EQ(us->cols * us->rows, 2);
  o.photo_width_mm = 200;
  o.photo_height_mm = 200;
  EXPECT_FALSE(card::layout_sheet(o).ok());
  EXPECT_FALSE(card::paper_from("letter").ok());
  EXPECT_TRUE(card::paper_from("4x6in").ok());
}

TEST(sheet, a4_of_icao_photos_at_their_size) {
  gen::init();
  pdf_tools::temp_dir d;
  card::sheet_options o;  // 35 x 45 mm at 300 dpi
  const std::vector<std::string> photos{png(413, 531)};
  auto pdf = card::render_photo_sheet(photos, o);
  ASSERT_TRUE(pdf.ok()) << pdf.err().to_string();
  const auto path = pdf_tools::write(d.path, "a4.pdf", *pdf);
  const auto [w, h] = pdf_tools::page_size_pts(path);
  EXPECT_NEAR(w, 841.89, 0.5);  // A4 turned: 28 photos instead of 25
  EXPECT_NEAR(h, 595.28, 0.5);
  EXPECT_EQ(pdf_tools::page_count(path), 1);
  const auto imgs = pdf_tools::images(path);
  ASSERT_EQ(imgs.size(), 28u);  // the page filled
  for (const auto& im : imgs) {
    EXPECT_EQ(im.width, 413);
    EXPECT_EQ(im.height, 531);
    EXPECT_EQ(im.enc, "jpeg");
    // Printed size = pixels / ppi: 35 x 45 mm within 0.1 mm (pdfimages rounds the ppi).
    EXPECT_NEAR(im.width / im.x_ppi * 25.4, 35, 0.1);
    EXPECT_NEAR(im.height / im.y_ppi * 25.4, 45, 0.1);
    EXPECT_GE(im.x_ppi, 299);
  }
}

TEST(sheet, copies_pages_and_papers) {
  gen::init();
  pdf_tools::temp_dir d;
  card::sheet_options o;
  o.page = card::paper::in4x6;
  o.copies = 4;
  const std::vector<std::string> photos{jpg(413, 531), png(826, 1062)};  // 300 and 600 dpi
  auto pdf = card::render_photo_sheet(photos, o);
  ASSERT_TRUE(pdf.ok()) << pdf.err().to_string();
  const auto path = pdf_tools::write(d.path, "46.pdf", *pdf);
  EXPECT_EQ(pdf_tools::page_count(path), 2);  // 8 photos, 6 to a page
  const auto [w, h] = pdf_tools::page_size_pts(path);
  EXPECT_NEAR(std::min(w, h), 288, 0.5);  // 4 x 6 in
  EXPECT_NEAR(std::max(w, h), 432, 0.5);
  const auto imgs = pdf_tools::images(path);
  ASSERT_EQ(imgs.size(), 8u);
  int hi = 0;
  for (const auto& im : imgs) {
    EXPECT_NEAR(im.width / im.x_ppi * 25.4, 35, 0.1);
    hi += im.width == 826;
  }
  EXPECT_EQ(hi, 4);
  // US 2 x 2 in on A6.
  card::sheet_options us;
  us.photo_width_mm = us.photo_height_mm = 50.8;
  us.page = card::paper::a6;
  const std::vector<std::string> sq{png(600, 600)};
  auto pdf2 = card::render_photo_sheet(sq, us);
  ASSERT_TRUE(pdf2.ok()) << pdf2.err().to_string();
  const auto p2 = pdf_tools::write(d.path, "us.pdf", *pdf2);
  const auto imgs2 = pdf_tools::images(p2);
  ASSERT_FALSE(imgs2.empty());
  EXPECT_NEAR(imgs2[0].x_ppi, 300, 1);
}

TEST(sheet, bad_input) {
  gen::init();
  card::sheet_options o;
  const std::vector<std::string> none;
  EXPECT_FALSE(card::render_photo_sheet(none, o).ok());
  const std::vector<std::string> empty{""};
  EXPECT_FALSE(card::render_photo_sheet(empty, o).ok());
  const std::vector<std::string> garbage{"not an image at all"};
  EXPECT_FALSE(card::render_photo_sheet(garbage, o).ok());
  const std::string good = png(413, 531);
  const std::vector<std::string> truncated{good.substr(0, good.size() / 2)};
  EXPECT_FALSE(card::render_photo_sheet(truncated, o).ok());
  const std::vector<std::string> square{png(500, 500)};  // not 35:45
  auto r = card::render_photo_sheet(square, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().detail.find("aspect"), std::string::npos);
  const std::vector<std::string> small{png(207, 266)};  // 150 dpi at 35 mm
  r = card::render_photo_sheet(small, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().detail.find("dpi"), std::string::npos);
  const std::vector<std::string> one{good};
  auto bad = o;
  bad.copies = -1;
  EXPECT_FALSE(card::render_photo_sheet(one, bad).ok());
  bad.copies = 100000;
  EXPECT_FALSE(card::render_photo_sheet(one, bad).ok());
  bad = o;
  bad.min_dpi = 0;
  EXPECT_FALSE(card::render_photo_sheet(one, bad).ok());
  bad = o;
  bad.photo_width_mm = -35;
  EXPECT_FALSE(card::render_photo_sheet(one, bad).ok());
  bad.photo_width_mm = std::nan("");
  EXPECT_FALSE(card::render_photo_sheet(one, bad).ok());
}

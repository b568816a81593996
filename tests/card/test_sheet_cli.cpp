// `idphoto sheet` as a subprocess: a sheet from framed photos, read back with poppler, and
// the usage errors (missing options, unknown spec or paper, a photo of the wrong shape).
#include <gtest/gtest.h>

#include "card/pdf_tools.hpp"
#include "image/gen.hpp"

namespace {
std::string exe() { return IDPHOTO_EXE; }
}  // namespace

TEST(sheet_cli, writes_a_sheet) {
  gen::init();
  pdf_tools::temp_dir d;
  const auto photo = pdf_tools::write(d.path, "p.png", gen::save(gen::pattern(600, 600), ".png"));
  const auto out = d.path / "sheet.pdf";
  const auto r = pdf_tools::run(exe() + " sheet --spec us-2x2 --paper 4x6in --copies 2 '" + photo.string() + "' -o '" +
                                out.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto imgs = pdf_tools::images(out);
  ASSERT_EQ(imgs.size(), 2u);
  EXPECT_NEAR(imgs[0].width / imgs[0].x_ppi * 25.4, 50.8, 0.1);
  const auto list = pdf_tools::run(exe() + " sheet --list");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("icao-35x45"), std::string::npos);
  EXPECT_NE(list.out.find("413 x  531"), std::string::npos) << list.out;
}

TEST(sheet_cli, errors) {
  gen::init();
  pdf_tools::temp_dir d;
  const auto photo = pdf_tools::write(d.path, "p.png", gen::save(gen::pattern(600, 600), ".png"));
  const std::string out = (d.path / "x.pdf").string(), in = "'" + photo.string() + "'";
  EXPECT_EQ(pdf_tools::run(exe() + " sheet --paper a4 " + in + " -o " + out).exit_code, 2);   // no --spec
  EXPECT_EQ(pdf_tools::run(exe() + " sheet --spec us-2x2 -o " + out).exit_code, 2);           // no photo
  EXPECT_EQ(pdf_tools::run(exe() + " sheet --spec nope " + in + " -o " + out).exit_code, 2);  // unknown spec
  EXPECT_EQ(pdf_tools::run(exe() + " sheet --spec us-2x2 --paper letter " + in + " -o " + out).exit_code,
            2);  // unknown paper
  EXPECT_EQ(pdf_tools::run(exe() + " sheet --spec us-2x2 --copies 0 " + in + " -o " + out).exit_code, 2);
  EXPECT_EQ(pdf_tools::run(exe() + " sheet --spec us-2x2 --bogus " + in + " -o " + out).exit_code, 2);
  auto r = pdf_tools::run(exe() + " sheet --spec icao-35x45 " + in + " -o " + out);  // a square photo for a 35x45 spec
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("aspect"), std::string::npos) << r.out;
  r = pdf_tools::run(exe() + " sheet --spec us-2x2 " + (d.path / "missing.png").string() + " -o " + out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  r = pdf_tools::run(exe() + " sheet --spec us-2x2 " + in + " -o " + in);  // never over an input
  EXPECT_EQ(r.exit_code, 1) << r.out;
}

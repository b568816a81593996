// `idphoto card` as a subprocess: a PDF from a photo file, the A4 sheet, the fallback mark,
// and the errors (missing options, unreadable or corrupt photo, over-long name).
#include <gtest/gtest.h>

#include <fstream>

#include "card/pdf_tools.hpp"
#include "image/gen.hpp"

namespace {

std::string exe() { return IDPHOTO_EXE; }

std::filesystem::path photo(const pdf_tools::temp_dir& d) {
  gen::init();
  return pdf_tools::write(d.path, "photo.png", gen::save(gen::pattern(400, 500), ".png"));
}

}  // namespace

TEST(card_cli, writes_a_cr80_pdf) {
  pdf_tools::temp_dir d;
  const auto p = photo(d);
  const auto out = d.path / "card.pdf";
  const auto r =
      pdf_tools::run(exe() +
                     " card --name 'José Ñúñez' --id-number X-9 --organization 'ACME' --role Guard --issued 2026-02-01 "
                     "--expires 2027-02-01 --card-id 0123456789abcdef0123456789abcdef --photo '" +
                     p.string() + "' -o '" + out.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto [w, h] = pdf_tools::page_size_pts(out);
  EXPECT_NEAR(w, 242.65, 0.5);
  EXPECT_NEAR(h, 153.01, 0.5);
  const std::string t = pdf_tools::text(out);
  for (const char* f :
       {"José Ñúñez", "X-9", "ACME", "Guard", "2026-02-01", "2027-02-01", "0123456789abcdef0123456789abcdef"})
    EXPECT_NE(t.find(f), std::string::npos) << f << " in\n" << t;
  EXPECT_EQ(t.find("PHOTO NOT CLEANED"), std::string::npos);
}

TEST(card_cli, a4_sheet_and_raw_mark) {
  pdf_tools::temp_dir d;
  const auto p = photo(d);
  const auto out = d.path / "sheet.pdf";
  const auto r = pdf_tools::run(exe() + " card --name Sheet --raw --sheet a4 --photo '" + p.string() + "' -o '" +
                                out.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto [w, h] = pdf_tools::page_size_pts(out);
  EXPECT_NEAR(w, 595.28, 0.5);
  EXPECT_NEAR(h, 841.89, 0.5);
  EXPECT_NE(pdf_tools::text(out).find("PHOTO NOT CLEANED"), std::string::npos);
}

TEST(card_cli, errors) {
  pdf_tools::temp_dir d;
  const auto p = photo(d);
  const auto out = (d.path / "x.pdf").string();
  auto r = pdf_tools::run(exe() + " card --name A -o " + out);
  EXPECT_EQ(r.exit_code, 2) << r.out;  // no --photo
  r = pdf_tools::run(exe() + " card --name A --photo '" + p.string() + "' -o " + out + " --sheet letter");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  r = pdf_tools::run(exe() + " card --name A --photo " + (d.path / "missing.png").string() + " -o " + out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("cannot read"), std::string::npos) << r.out;
  const auto bad = d.path / "bad.png";
  std::ofstream(bad) << "not an image";
  r = pdf_tools::run(exe() + " card --name A --photo '" + bad.string() + "' -o " + out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("unsupported"), std::string::npos) << r.out;
  r = pdf_tools::run(exe() + " card --name " + std::string(10240, 'N') + " --photo '" + p.string() + "' -o " + out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("full_name: longer than 200 bytes"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out)) << "no PDF written on error";
  r = pdf_tools::run(exe() + " card --name A --photo '" + p.string() + "' -o '" + p.string() + "'");
  EXPECT_EQ(r.exit_code, 1) << "never over the photo: " << r.out;
  r = pdf_tools::run(exe() + " card --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--sheet"), std::string::npos);
}

// check_limits: configuration, and huge headers (PNG IHDR / JPEG SOF0 rewritten to
// claim 60000x60000) refused before any pixel is decoded.
#include <gtest/gtest.h>

#include <cstdlib>

#include "base/memory_stats.hpp"
#include "image/decode.hpp"
#include "image/gen.hpp"
#include "image/limits.hpp"

using namespace idphoto::image;
using idphoto::base::errc;

namespace {

// A real small PNG whose IHDR is rewritten to claim w x h, with a correct CRC.
gen::bytes png_claiming(uint32_t w, uint32_t h) {
  auto b = gen::save(gen::pattern(16, 16), ".png");
  EXPECT_EQ(std::string(b.begin() + 12, b.begin() + 16), "IHDR");
  gen::put_be32(b, 16, w);
  gen::put_be32(b, 20, h);
  gen::put_be32(b, 29, gen::crc32(b.data() + 12, 4 + 13));
  return b;
}

// A real small baseline JPEG whose SOF0 marker is rewritten to claim w x h.
gen::bytes jpeg_claiming(uint16_t w, uint16_t h) {
  auto b = gen::save(gen::pattern(16, 16), ".jpg[Q=90]");
  for (size_t i = 2; i + 9 < b.size(); ++i) {
    if (b[i] == 0xff && b[i + 1] == 0xc0) {
      b[i + 5] = uint8_t(h >> 8);
      b[i + 6] = uint8_t(h);
      b[i + 7] = uint8_t(w >> 8);
      b[i + 8] = uint8_t(w);
      return b;
    }
  }
  ADD_FAILURE() << "no SOF0 marker";
  return b;
}

void expect_refused_from_header(const gen::bytes& b, format f) {
  const int64_t peak_before = idphoto::base::peak_rss_bytes();

  auto info = probe(b);
  ASSERT_TRUE(info.ok()) << info.err().to_string();
  EXPECT_EQ(info->fmt, f);
  EXPECT_EQ(info->width, 60000);
  EXPECT_EQ(info->height, 60000);
  auto lim = check_limits(*info, image_limits{});
  ASSERT_FALSE(lim.ok());
  EXPECT_EQ(lim.err().code, errc::too_large);
  EXPECT_NE(lim.err().detail.find("60000x60000"), std::string::npos) << lim.err().detail;

  // decode re-checks the header itself: refused even when check_limits is skipped.
  auto d = decode(b);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.err().code, errc::too_large);

  // 60000 x 60000 x 3 bytes is 10.8 GB; nothing close to that was touched.
  const int64_t peak_after = idphoto::base::peak_rss_bytes();
  if (peak_before > 0) {
    EXPECT_LT(peak_after - peak_before, int64_t{64} << 20);
  }
}

}  // namespace

TEST(limits, defaults_are_valid) {
  image_limits l;
  EXPECT_TRUE(l.validate().ok());
  EXPECT_EQ(l.max_bytes, 50 * 1024 * 1024);
  EXPECT_EQ(l.max_pixels, 67108864);
  EXPECT_EQ(l.max_side_px, 20000);
}

TEST(limits, validate_names_every_bad_field) {
  image_limits l;
  l.max_bytes = 0;
  l.max_pixels = -5;
  l.max_side_px = 0;
  auto r = l.validate();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_NE(r.err().detail.find("max_bytes"), std::string::npos);
  EXPECT_NE(r.err().detail.find("max_pixels"), std::string::npos);
  EXPECT_NE(r.err().detail.find("max_side_px"), std::string::npos);
}

TEST(limits, from_env) {
  ::setenv("IDPHOTO_MAX_IMAGE_BYTES", "1000", 1);
  ::setenv("IDPHOTO_MAX_IMAGE_PIXELS", "2000", 1);
  ::setenv("IDPHOTO_MAX_IMAGE_SIDE_PX", "300", 1);
  auto r = image_limits::from_env();
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->max_bytes, 1000);
  EXPECT_EQ(r->max_pixels, 2000);
  EXPECT_EQ(r->max_side_px, 300);

  ::setenv("IDPHOTO_MAX_IMAGE_BYTES", "50MB", 1);
  ::setenv("IDPHOTO_MAX_IMAGE_PIXELS", "-1", 1);
  ::setenv("IDPHOTO_MAX_IMAGE_SIDE_PX", "", 1);
  auto bad = image_limits::from_env();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::invalid_argument);
  EXPECT_NE(bad.err().detail.find("IDPHOTO_MAX_IMAGE_BYTES"), std::string::npos);
  EXPECT_NE(bad.err().detail.find("IDPHOTO_MAX_IMAGE_PIXELS"), std::string::npos);
  EXPECT_NE(bad.err().detail.find("IDPHOTO_MAX_IMAGE_SIDE_PX"), std::string::npos);

  ::unsetenv("IDPHOTO_MAX_IMAGE_BYTES");
  ::unsetenv("IDPHOTO_MAX_IMAGE_PIXELS");
  ::unsetenv("IDPHOTO_MAX_IMAGE_SIDE_PX");
  auto defaults = image_limits::from_env();
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->max_bytes, image_limits{}.max_bytes);
}

TEST(limits, check_each_limit) {
  image_info info;
  info.width = 4000;
  info.height = 3000;
  info.byte_size = 5'000'000;
  EXPECT_TRUE(check_limits(info, {}).ok());

  image_limits l;
  l.max_bytes = 4'999'999;
  auto r = check_limits(info, l);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::too_large);
  EXPECT_NE(r.err().detail.find("bytes"), std::string::npos);

  l = {};
  l.max_pixels = 11'999'999;
  r = check_limits(info, l);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().detail.find("pixels"), std::string::npos);

  l = {};
  l.max_side_px = 3999;
  r = check_limits(info, l);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().detail.find("side"), std::string::npos);

  info.width = 1;
  info.height = 1;
  EXPECT_TRUE(check_limits(info, {}).ok());
}

TEST(limits, huge_png_header_refused_before_decoding) {
  gen::init();
  expect_refused_from_header(png_claiming(60000, 60000), format::png);
}

TEST(limits, huge_jpeg_header_refused_before_decoding) {
  gen::init();
  expect_refused_from_header(jpeg_claiming(60000, 60000), format::jpeg);
}

TEST(limits, decode_applies_its_limits) {
  gen::init();
  auto png = gen::save(gen::pattern(300, 200), ".png");
  decode_options o;
  o.limits.max_pixels = 300 * 200 - 1;
  auto r = decode(png, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::too_large);
  o.limits.max_pixels = 300 * 200;
  EXPECT_TRUE(decode(png, o).ok());
  o.limits.max_bytes = int64_t(png.size()) - 1;
  r = decode(png, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::too_large);
}

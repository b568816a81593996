// to_srgb: CMYK (with/without ICC), 16-bit, grey, grey+alpha, palette+tRNS,
// embedded and broken ICC profiles all end as 3-band 8-bit sRGB (+ 8-bit alpha).
#include <gtest/gtest.h>

#include <cstdlib>

#include "image/decode.hpp"
#include "image/gen.hpp"
#include "image/ops.hpp"
#include "image/probe.hpp"

using namespace idphoto::image;
using idphoto::base::errc;

namespace {

image retype(const image& im, VipsInterpretation t) {
  VipsImage* out = nullptr;
  EXPECT_EQ(vips_copy(im.v.get(), &out, "interpretation", t, nullptr), 0);
  return image{vips_image_ptr(out)};
}

srgb_image decode_to_srgb(const gen::bytes& b) {
  auto d = decode(b);
  EXPECT_TRUE(d.ok()) << d.err().to_string();
  if (!d.ok()) std::abort();
  auto s = to_srgb(*d);
  EXPECT_TRUE(s.ok()) << s.err().to_string();
  if (!s.ok()) std::abort();
  EXPECT_EQ(s->rgb.bands(), 3);
  EXPECT_EQ(vips_image_get_format(s->rgb.v.get()), VIPS_FORMAT_UCHAR);
  EXPECT_EQ(vips_image_get_typeof(s->rgb.v.get(), VIPS_META_ICC_NAME), GType(0));
  return std::move(*s);
}

pixel_buffer pixels(const image& im) {
  auto p = to_pixels(im);
  EXPECT_TRUE(p.ok());
  return p.ok() ? std::move(*p) : pixel_buffer{};
}

}  // namespace

TEST(to_srgb, cmyk_jpeg_without_icc) {
  gen::init();
  // C=0 M=200 Y=200 K=0: a red.
  auto cmyk = retype(gen::make(32, 32, 4, [](int, int, int b) { return uint8_t(b == 1 || b == 2 ? 200 : 0); }),
                     VIPS_INTERPRETATION_CMYK);
  auto jpg = gen::save(cmyk, ".jpg[Q=95]");
  auto info = probe(jpg);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->interpretation, "cmyk");
  EXPECT_EQ(info->bands, 4);
  EXPECT_FALSE(info->has_icc);
  EXPECT_FALSE(info->has_alpha);

  auto s = decode_to_srgb(jpg);
  EXPECT_FALSE(s.alpha.has_value());
  auto px = pixels(s.rgb);
  EXPECT_GT(gen::mean(px, 8, 8, 16, 16, 0), 180);
  EXPECT_LT(gen::mean(px, 8, 8, 16, 16, 1), 110);
  EXPECT_LT(gen::mean(px, 8, 8, 16, 16, 2), 110);
}

TEST(to_srgb, cmyk_jpeg_with_icc) {
  gen::init();
  auto red = gen::make(32, 32, 3, [](int, int, int b) { return uint8_t(b == 0 ? 220 : 30); });
  VipsImage* out = nullptr;
  ASSERT_EQ(vips_icc_transform(red.v.get(), &out, "cmyk", "input_profile", "srgb", nullptr), 0) << vips_error_buffer();
  image cmyk{vips_image_ptr(out)};
  auto jpg = gen::save(cmyk, ".jpg[Q=95]");
  auto info = probe(jpg);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->interpretation, "cmyk");
  EXPECT_TRUE(info->has_icc);

  auto px = pixels(decode_to_srgb(jpg).rgb);
  EXPECT_NEAR(gen::mean(px, 8, 8, 16, 16, 0), 220, 15);
  EXPECT_NEAR(gen::mean(px, 8, 8, 16, 16, 1), 30, 30);
  EXPECT_NEAR(gen::mean(px, 8, 8, 16, 16, 2), 30, 30);
}

TEST(to_srgb, png_16_bit) {
  gen::init();
  auto im8 = gen::pattern(20, 10);
  VipsImage *lin = nullptr, *u16 = nullptr;
  ASSERT_EQ(vips_linear1(im8.v.get(), &lin, 257.0, 0.0, nullptr), 0);
  image l{vips_image_ptr(lin)};
  ASSERT_EQ(vips_cast(lin, &u16, VIPS_FORMAT_USHORT, nullptr), 0);
  auto im16 = retype(image{vips_image_ptr(u16)}, VIPS_INTERPRETATION_RGB16);
  auto png = gen::save(im16, ".png");
  auto info = probe(png);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->bits_per_sample, 16);
  EXPECT_EQ(info->interpretation, "rgb16");

  auto px = pixels(decode_to_srgb(png).rgb);
  EXPECT_EQ(px.data, pixels(im8).data);  // (v*257) >> 8 == v
}

TEST(to_srgb, grey_png) {
  gen::init();
  auto grey = gen::pattern(16, 16, 1);
  auto s = decode_to_srgb(gen::save(grey, ".png"));
  EXPECT_FALSE(s.alpha.has_value());
  auto px = pixels(s.rgb);
  auto g = pixels(grey);
  for (size_t i = 0; i < g.data.size(); ++i) {
    ASSERT_EQ(px.data[3 * i], g.data[i]);
    ASSERT_EQ(px.data[3 * i + 1], g.data[i]);
    ASSERT_EQ(px.data[3 * i + 2], g.data[i]);
  }
}

TEST(to_srgb, grey_alpha_png) {
  gen::init();
  auto ga = gen::make(16, 8, 2, [](int x, int, int b) { return uint8_t(b == 0 ? 100 : x * 16); });
  auto png = gen::save(ga, ".png");
  auto info = probe(png);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->has_alpha);
  auto s = decode_to_srgb(png);
  ASSERT_TRUE(s.alpha.has_value());
  EXPECT_EQ(s.alpha->bands(), 1);
  auto a = pixels(*s.alpha);
  for (int x = 0; x < 16; ++x) EXPECT_EQ(a.data[x], x * 16);
  auto px = pixels(s.rgb);
  EXPECT_EQ(px.data[0], 100);
  EXPECT_EQ(px.data[1], 100);
  EXPECT_EQ(px.data[2], 100);
}

TEST(to_srgb, palette_png_with_transparency) {
  gen::init();
  // Hand-made 4x2 indexed PNG: PLTE red/green/blue, tRNS 255/128/0.
  gen::bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  gen::bytes ihdr(13, 0);
  gen::put_be32(ihdr, 0, 4);
  gen::put_be32(ihdr, 4, 2);
  ihdr[8] = 8;  // bit depth
  ihdr[9] = 3;  // colour type: palette
  auto append = [&](const gen::bytes& c) { png.insert(png.end(), c.begin(), c.end()); };
  append(gen::png_chunk("IHDR", ihdr));
  append(gen::png_chunk("PLTE", {255, 0, 0, 0, 255, 0, 0, 0, 255}));
  append(gen::png_chunk("tRNS", {255, 128, 0}));
  gen::bytes raw = {0, 0, 1, 2, 0, /* row 2 */ 0, 2, 1, 0, 1};  // filter byte + 4 indices
  append(gen::png_chunk("IDAT", gen::zlib_store(raw)));
  append(gen::png_chunk("IEND", {}));

  auto info = probe(png);
  ASSERT_TRUE(info.ok()) << info.err().to_string();
  EXPECT_TRUE(info->palette);
  EXPECT_TRUE(info->has_alpha);

  auto s = decode_to_srgb(png);
  ASSERT_TRUE(s.alpha.has_value());
  auto rgb = pixels(s.rgb);
  auto a = pixels(*s.alpha);
  const uint8_t colours[3][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
  const uint8_t alphas[3] = {255, 128, 0};
  const int index[8] = {0, 1, 2, 0, 2, 1, 0, 1};
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(a.data[i], alphas[index[i]]);
    for (int c = 0; c < 3; ++c) EXPECT_EQ(rgb.data[3 * i + c], colours[index[i]][c]);
  }
}

TEST(to_srgb, embedded_srgb_profile_keeps_colours) {
  gen::init();
  auto im = gen::pattern(24, 24);
  VipsImage* out = nullptr;
  ASSERT_EQ(vips_icc_transform(im.v.get(), &out, "srgb", "input_profile", "srgb", nullptr), 0);
  image tagged{vips_image_ptr(out)};
  auto png = gen::save(tagged, ".png");
  auto info = probe(png);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->has_icc);
  auto got = pixels(decode_to_srgb(png).rgb);
  auto want = pixels(im);
  ASSERT_EQ(got.data.size(), want.data.size());
  for (size_t i = 0; i < got.data.size(); ++i) ASSERT_NEAR(got.data[i], want.data[i], 3) << i;
}

TEST(to_srgb, broken_icc_profile_falls_back) {
  gen::init();
  auto im = gen::pattern(8, 8);
  VipsImage* out = nullptr;
  ASSERT_EQ(vips_copy(im.v.get(), &out, nullptr), 0);
  image tagged{vips_image_ptr(out)};
  const char garbage[] = "this is not an ICC profile at all, just bytes";
  vips_image_set_blob_copy(tagged.v.get(), VIPS_META_ICC_NAME, garbage, sizeof garbage);
  auto s = to_srgb(tagged);
  ASSERT_TRUE(s.ok()) << s.err().to_string();
  EXPECT_EQ(pixels(s->rgb).data, pixels(im).data);
  EXPECT_STREQ(vips_error_buffer(), "");
}

TEST(to_srgb, rgba_png_splits_alpha) {
  gen::init();
  auto rgba = gen::pattern(10, 10, 4);
  auto s = decode_to_srgb(gen::save(rgba, ".png"));
  ASSERT_TRUE(s.alpha.has_value());
  auto src = pixels(rgba);
  auto rgb = pixels(s.rgb);
  auto a = pixels(*s.alpha);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(a.data[i], src.data[4 * i + 3]);
    for (int c = 0; c < 3; ++c) ASSERT_EQ(rgb.data[3 * i + c], src.data[4 * i + c]);
  }
}

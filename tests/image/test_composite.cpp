// composite: background exactly where alpha = 0, foreground exactly where 255,
// and an RGBA image with the mask as alpha when there is no background.
#include <gtest/gtest.h>

#include <cstdlib>

#include "image/gen.hpp"
#include "image/ops.hpp"

using namespace idphoto::image;
using idphoto::base::errc;

namespace {
const int W = 41, H = 29;
uint8_t mask_at(int x, int y) {
  if (x < 10) return 0;
  if (x < 20) return 255;
  return uint8_t((x * 37 + y * 11) % 256);  // every level, including 0 and 255
}
}  // namespace

TEST(composite, exact_at_zero_and_full_alpha) {
  gen::init();
  auto fg = gen::pattern(W, H);
  auto mask = gen::make(W, H, 1, [](int x, int y, int) { return mask_at(x, y); });
  const rgb8 bg{67, 142, 219};
  auto out = composite(fg, mask, bg);
  ASSERT_TRUE(out.ok()) << out.err().to_string();
  EXPECT_EQ(out->bands(), 3);
  auto o = to_pixels(*out);
  auto f = to_pixels(fg);
  ASSERT_TRUE(o.ok() && f.ok());
  const uint8_t bgc[3] = {bg.r, bg.g, bg.b};
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const int m = mask_at(x, y);
      for (int c = 0; c < 3; ++c) {
        const size_t i = (size_t(y) * W + x) * 3 + c;
        const int got = o->data[i];
        if (m == 0) {
          ASSERT_EQ(got, bgc[c]) << x << "," << y;
        } else if (m == 255) {
          ASSERT_EQ(got, f->data[i]) << x << "," << y;
        } else {
          const double want = (m * f->data[i] + (255 - m) * bgc[c]) / 255.0;
          ASSERT_NEAR(got, want, 1.0) << x << "," << y;
        }
      }
    }
  }
}

TEST(composite, without_background_gives_rgba) {
  gen::init();
  auto fg = gen::pattern(W, H);
  auto mask = gen::make(W, H, 1, [](int x, int y, int) { return mask_at(x, y); });
  auto out = composite(fg, mask, std::nullopt);
  ASSERT_TRUE(out.ok()) << out.err().to_string();
  EXPECT_EQ(out->bands(), 4);
  auto o = to_pixels(*out);
  auto f = to_pixels(fg);
  ASSERT_TRUE(o.ok() && f.ok());
  for (int i = 0; i < W * H; ++i) {
    ASSERT_EQ(o->data[4 * i + 3], mask_at(i % W, i / W));
    for (int c = 0; c < 3; ++c) ASSERT_EQ(o->data[4 * i + c], f->data[3 * i + c]);
  }
}

TEST(composite, flattens_alpha_from_to_srgb) {
  gen::init();
  // The pipeline flattens an input's own alpha the same way: composite(rgb, alpha, white).
  auto rgba = gen::make(4, 1, 4, [](int x, int, int b) { return uint8_t(b == 3 ? (x % 2 ? 255 : 0) : 10); });
  auto s = to_srgb(rgba);
  ASSERT_TRUE(s.ok() && s->alpha);
  auto flat = composite(s->rgb, *s->alpha, rgb8{});
  ASSERT_TRUE(flat.ok());
  auto px = to_pixels(*flat);
  ASSERT_TRUE(px.ok());
  EXPECT_EQ(px->data[0], 255);
  EXPECT_EQ(px->data[3], 10);
}

TEST(composite, mismatches_are_invalid) {
  gen::init();
  auto fg = gen::pattern(W, H);
  auto small_mask = gen::pattern(W - 1, H, 1);
  auto r = composite(fg, small_mask, rgb8{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  auto three_band_mask = gen::pattern(W, H, 3);
  EXPECT_EQ(composite(fg, three_band_mask, rgb8{}).err().code, errc::invalid_argument);
  auto rgba = gen::pattern(W, H, 4);
  auto mask = gen::pattern(W, H, 1);
  EXPECT_EQ(composite(rgba, mask, rgb8{}).err().code, errc::invalid_argument);
}

TEST(parse_hex_rgb, reads_six_hex_digits_of_either_case) {
  auto c = idphoto::image::parse_hex_rgb("#0a7FfE");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->r, 0x0a);
  EXPECT_EQ(c->g, 0x7f);
  EXPECT_EQ(c->b, 0xfe);
  auto black = idphoto::image::parse_hex_rgb("#000000");
  ASSERT_TRUE(black.has_value());
  EXPECT_EQ(black->r + black->g + black->b, 0);
}

TEST(parse_hex_rgb, anything_else_is_not_a_colour) {
  for (const char* s : {"", "#", "#12345", "#1234567", "123456", "#12345g", "#-12345", "# 12345", "blue"})
    EXPECT_FALSE(idphoto::image::parse_hex_rgb(s).has_value()) << s;
  EXPECT_FALSE(idphoto::image::parse_hex_rgb(std::string_view("#12\0456", 7)).has_value());
}

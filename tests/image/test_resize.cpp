// resize: fit a box without enlarging (unless asked), exact W x H, alpha edges clean;
// sizes include 1x1, extreme panoramas and one-band masks.
#include <gtest/gtest.h>

#include "image/gen.hpp"
#include "image/ops.hpp"

using namespace idphoto::image;
using idphoto::base::errc;

TEST(resize, fit_never_enlarges_by_default) {
  gen::init();
  auto im = gen::pattern(300, 200);
  auto r = resize_to_fit(im, 800, 800);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->width(), 300);
  EXPECT_EQ(r->height(), 200);

  auto up = resize_to_fit(im, 800, 800, {.allow_upscale = true});
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->width(), 800);
  EXPECT_EQ(up->height(), 533);
}

TEST(resize, fit_keeps_aspect_inside_the_box) {
  gen::init();
  struct tc {
    int w, h, bw, bh, ew, eh;
  } cases[] = {
      {4000, 3000, 800, 800, 800, 600}, {3000, 4000, 800, 800, 600, 800}, {1000, 1000, 800, 600, 600, 600},
      {10000, 100, 800, 800, 800, 8},   {10000, 1, 800, 800, 800, 1},     {1, 1, 800, 800, 1, 1},
      {801, 799, 800, 800, 800, 798},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.w) + "x" + std::to_string(c.h));
    auto im = gen::make(c.w, c.h, 3, [](int x, int y, int b) { return uint8_t(x + y + b); });
    auto r = resize_to_fit(im, c.bw, c.bh);
    ASSERT_TRUE(r.ok()) << r.err().to_string();
    EXPECT_EQ(r->width(), c.ew);
    EXPECT_EQ(r->height(), c.eh);
    EXPECT_TRUE(to_pixels(*r).ok());
  }
}

TEST(resize, exact_sizes) {
  gen::init();
  auto im = gen::pattern(333, 177);
  for (auto [w, h] : {std::pair{320, 320}, {1024, 1024}, {1, 1}, {333, 177}, {7, 901}, {1000, 3}}) {
    auto r = resize_exact(im, w, h);
    ASSERT_TRUE(r.ok()) << r.err().to_string();
    EXPECT_EQ(r->width(), w);
    EXPECT_EQ(r->height(), h);
    auto px = to_pixels(*r);
    ASSERT_TRUE(px.ok());
    EXPECT_EQ(px->data.size(), size_t(w) * h * 3);
  }
  // A one-band mask (model output to output size) stays one band, 8-bit.
  auto mask = gen::pattern(320, 320, 1);
  auto m = resize_exact(mask, 600, 800);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->bands(), 1);
  EXPECT_EQ(vips_image_get_format(m->v.get()), VIPS_FORMAT_UCHAR);
}

TEST(resize, flat_colour_stays_flat) {
  gen::init();
  auto flat = gen::make(640, 480, 3, [](int, int, int b) { return uint8_t(40 + 80 * b); });
  for (auto [w, h] : {std::pair{200, 150}, {1280, 960}, {77, 33}}) {
    auto r = resize_exact(flat, w, h);
    ASSERT_TRUE(r.ok());
    auto px = to_pixels(*r);
    ASSERT_TRUE(px.ok());
    for (size_t i = 0; i < px->data.size(); ++i) ASSERT_NEAR(px->data[i], 40 + 80 * (i % 3), 1) << i;
  }
}

TEST(resize, alpha_is_premultiplied) {
  gen::init();
  // Left half opaque white, right half fully transparent black.
  auto rgba = gen::make(64, 16, 4, [](int x, int, int b) {
    if (b == 3) return uint8_t(x < 32 ? 255 : 0);
    return uint8_t(x < 32 ? 255 : 0);
  });
  auto r = resize_exact(rgba, 16, 4);
  ASSERT_TRUE(r.ok());
  auto px = to_pixels(*r);
  ASSERT_TRUE(px.ok());
  for (int x = 0; x < 16; ++x) {
    const uint8_t* p = &px->data[size_t(2 * 16 + x) * 4];
    if (p[3] > 8) {
      EXPECT_GE(p[0], 235) << "edge pixel " << x << " darkened by transparent black";
    }
  }
}

TEST(resize, bad_arguments) {
  gen::init();
  auto im = gen::pattern(10, 10);
  EXPECT_EQ(resize_exact(im, 0, 10).err().code, errc::invalid_argument);
  EXPECT_EQ(resize_to_fit(im, 10, -1).err().code, errc::invalid_argument);
  EXPECT_EQ(resize_exact(image{}, 10, 10).err().code, errc::invalid_argument);
}

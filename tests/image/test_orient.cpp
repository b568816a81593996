// orient: EXIF orientations 1–8 come out upright; applying twice changes nothing.
// The inputs are the JPEGs a camera would write for each way it was held.
#include <gtest/gtest.h>

#include "image/decode.hpp"
#include "image/gen.hpp"
#include "image/ops.hpp"

using namespace idphoto::image;

namespace {

constexpr int W = 64, H = 48;  // upright size; not square, so swaps are visible

// Upright pattern: bright top-left quadrant, dark elsewhere. With non-square
// dimensions this tells all 8 orientations apart (TL maps to a different
// corner, or the axes swap).
uint8_t upright(int x, int y) { return (x < W / 2 && y < H / 2) ? 250 : 10; }

// Where stored pixel (sx, sy) appears when displayed (EXIF semantics, Wd x Hd display).
void stored_to_display(int k, int sx, int sy, int* dx, int* dy) {
  switch (k) {
    case 1:
      *dx = sx;
      *dy = sy;
      break;
    case 2:
      *dx = W - 1 - sx;
      *dy = sy;
      break;  // mirror horizontal
    case 3:
      *dx = W - 1 - sx;
      *dy = H - 1 - sy;
      break;  // rotate 180
    case 4:
      *dx = sx;
      *dy = H - 1 - sy;
      break;  // mirror vertical
    case 5:
      *dx = sy;
      *dy = sx;
      break;  // transpose
    case 6:
      *dx = W - 1 - sy;
      *dy = sx;
      break;  // rotate 90 CW to display
    case 7:
      *dx = W - 1 - sy;
      *dy = H - 1 - sx;
      break;  // transverse
    case 8:
      *dx = sy;
      *dy = H - 1 - sx;
      break;  // rotate 90 CCW to display
  }
}

// The JPEG a camera would write for an upright scene held in orientation k.
gen::bytes camera_jpeg(int k) {
  const int sw = k >= 5 ? H : W, sh = k >= 5 ? W : H;
  auto stored = gen::make(sw, sh, 3, [k](int sx, int sy, int) {
    int dx = 0, dy = 0;
    stored_to_display(k, sx, sy, &dx, &dy);
    return upright(dx, dy);
  });
  return gen::save(gen::with_int(stored, "orientation", k), ".jpg[Q=95]");
}

}  // namespace

TEST(orient, all_eight_orientations_come_out_upright) {
  gen::init();
  for (int k = 1; k <= 8; ++k) {
    SCOPED_TRACE("orientation " + std::to_string(k));
    auto info = probe(camera_jpeg(k));
    ASSERT_TRUE(info.ok()) << info.err().to_string();
    EXPECT_EQ(info->orientation, k);

    auto dec = decode(camera_jpeg(k));
    ASSERT_TRUE(dec.ok()) << dec.err().to_string();
    auto up = orient(*dec);
    ASSERT_TRUE(up.ok()) << up.err().to_string();
    ASSERT_EQ(up->width(), W);
    ASSERT_EQ(up->height(), H);
    EXPECT_EQ(vips_image_get_orientation(up->v.get()), 1);
    auto px = to_pixels(*up);
    ASSERT_TRUE(px.ok());
    // Quadrant means, 4 px in from the edges and the centre lines (JPEG ringing).
    EXPECT_GT(gen::mean(*px, 4, 4, W / 2 - 8, H / 2 - 8), 200);
    EXPECT_LT(gen::mean(*px, W / 2 + 4, 4, W / 2 - 8, H / 2 - 8), 60);
    EXPECT_LT(gen::mean(*px, 4, H / 2 + 4, W / 2 - 8, H / 2 - 8), 60);
    EXPECT_LT(gen::mean(*px, W / 2 + 4, H / 2 + 4, W / 2 - 8, H / 2 - 8), 60);

    // Idempotent: the tag is gone, so a second pass changes nothing.
    auto again = orient(*up);
    ASSERT_TRUE(again.ok());
    auto px2 = to_pixels(*again);
    ASSERT_TRUE(px2.ok());
    EXPECT_EQ(px2->width, W);
    EXPECT_EQ(px->data, px2->data);
  }
}

TEST(orient, tiff_orientation_tag) {
  gen::init();
  auto im = gen::make(W, H, 1, [](int x, int y, int) { return upright(x, y); });
  // Stored rotated 180 with orientation 3: displays upright.
  VipsImage* rot = nullptr;
  ASSERT_EQ(vips_rot(im.v.get(), &rot, VIPS_ANGLE_D180, nullptr), 0);
  image stored{vips_image_ptr(rot)};
  auto tif = gen::save(gen::with_int(stored, "orientation", 3), ".tif");
  auto dec = decode(tif);
  ASSERT_TRUE(dec.ok()) << dec.err().to_string();
  auto up = orient(*dec);
  ASSERT_TRUE(up.ok());
  auto px = to_pixels(*up);
  ASSERT_TRUE(px.ok());
  EXPECT_GT(gen::mean(*px, 0, 0, W / 2, H / 2), 249);
  EXPECT_LT(gen::mean(*px, W / 2, H / 2, W / 2, H / 2), 11);
}

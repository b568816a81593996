// The regions the models see and the resampling into them, with hand-computed answers:
// letterbox and face crop maps, and the anti-aliased affine sampler.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "face/affine_sample.hpp"
#include "face/face_roi.hpp"

using namespace idphoto::face;

namespace {

struct photo {
  int w, h;
  std::vector<uint8_t> px;
  rgb_view view() const { return {px.data(), w, h}; }
  uint8_t at(int x, int y, int c) const { return px[(static_cast<size_t>(y) * w + x) * 3 + c]; }
};

// Channel c of pixel (x, y) = (x * 7 + y * 13 + c * 50) % 256: every pixel differs.
photo ramp(int w, int h) {
  photo p{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        p.px[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<uint8_t>((x * 7 + y * 13 + c * 50) % 256);
  return p;
}

}  // namespace

TEST(letterbox, square_around_the_photo) {
  const letterbox l = letterbox::of(600, 800);  // portrait: padded left and right
  EXPECT_FLOAT_EQ(l.side, 800);
  EXPECT_FLOAT_EQ(l.origin.x, -100);
  EXPECT_FLOAT_EQ(l.origin.y, 0);
  EXPECT_FLOAT_EQ(l.to_photo({0.5f, 0.5f}).x, 300);
  EXPECT_FLOAT_EQ(l.to_photo({0.5f, 0.5f}).y, 400);
  const affine_map m = l.map(128);  // one input px = 6.25 photo px
  EXPECT_FLOAT_EQ(m.ax.x, 6.25f);
  EXPECT_FLOAT_EQ(m.ay.y, 6.25f);
  EXPECT_FLOAT_EQ(m.apply(128, 128).x, 700);
  const letterbox w = letterbox::of(300, 100);
  EXPECT_FLOAT_EQ(w.origin.y, -100);
  EXPECT_FLOAT_EQ(w.origin.x, 0);
}

// A box 100 x 80 centred at (200, 150) with the eyes on a line at 30 degrees: the crop is
// 150 px a side (1.5 x the long side), turned by 30 degrees.
TEST(face_roi, from_detection_by_hand) {
  detection d;
  d.x0 = 150;
  d.x1 = 250;
  d.y0 = 110;
  d.y1 = 190;
  const float a = static_cast<float>(std::numbers::pi / 6);
  d.keypoints[0] = {180, 140};
  d.keypoints[1] = {180 + 40 * std::cos(a), 140 + 40 * std::sin(a)};
  const face_roi r = face_roi::of(d);
  EXPECT_FLOAT_EQ(r.centre.x, 200);
  EXPECT_FLOAT_EQ(r.centre.y, 150);
  EXPECT_FLOAT_EQ(r.side, 150);
  EXPECT_NEAR(r.angle, a, 1e-6);
  // The crop's centre is the box centre; its right edge midpoint lies side/2 along the eye line.
  const point c = r.to_photo({96, 96}, 192);
  EXPECT_NEAR(c.x, 200, 1e-4);
  EXPECT_NEAR(c.y, 150, 1e-4);
  const point e = r.to_photo({192, 96}, 192);
  EXPECT_NEAR(e.x, 200 + 75 * std::cos(a), 1e-3);
  EXPECT_NEAR(e.y, 150 + 75 * std::sin(a), 1e-3);
  // The crop's down direction is the eye line turned by +90 degrees (y down).
  const point b = r.to_photo({96, 192}, 192);
  EXPECT_NEAR(b.x, 200 - 75 * std::sin(a), 1e-3);
  EXPECT_NEAR(b.y, 150 + 75 * std::cos(a), 1e-3);
  // map() and to_photo() agree everywhere.
  const affine_map m = r.map(192);
  for (float u : {0.f, 10.5f, 191.f})
    for (float v : {0.f, 77.25f, 192.f}) {
      EXPECT_NEAR(m.apply(u, v).x, r.to_photo({u, v}, 192).x, 1e-3);
      EXPECT_NEAR(m.apply(u, v).y, r.to_photo({u, v}, 192).y, 1e-3);
    }
  // Eyes level: angle 0; eyes reversed (key point 0 to the right): angle pi.
  d.keypoints[1] = {220, 140};
  EXPECT_NEAR(face_roi::of(d).angle, 0, 1e-6);
  std::swap(d.keypoints[0], d.keypoints[1]);
  EXPECT_NEAR(std::fabs(face_roi::of(d).angle), std::numbers::pi, 1e-6);
}

// The identity map (one output px = one photo px) reads each pixel exactly.
TEST(sample_rgb, identity_reads_pixels) {
  const photo p = ramp(7, 5);
  std::vector<float> out(7 * 5 * 3);
  sample_rgb(p.view(), {{0, 0}, {1, 0}, {0, 1}}, 7, 5, border::zero, 1.f, 0.f, out.data());
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_FLOAT_EQ(out[(y * 7 + x) * 3 + c], p.at(x, y, c)) << x << "," << y << "," << c;
  // Scale and bias apply after sampling: [0, 255] -> [-1, 1].
  sample_rgb(p.view(), {{0, 0}, {1, 0}, {0, 1}}, 7, 5, border::zero, 1.f / 127.5f, -1.f, out.data());
  EXPECT_FLOAT_EQ(out[0], p.at(0, 0, 0) / 127.5f - 1.f);
}

// A 2x shrink averages each 2 x 2 block exactly (2 x 2 sub-samples at the pixel centres).
TEST(sample_rgb, shrinking_averages_blocks) {
  const photo p = ramp(8, 6);
  std::vector<float> out(4 * 3 * 3);
  sample_rgb(p.view(), {{0, 0}, {2, 0}, {0, 2}}, 4, 3, border::zero, 1.f, 0.f, out.data());
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) {
        const float want = (p.at(2 * x, 2 * y, c) + p.at(2 * x + 1, 2 * y, c) + p.at(2 * x, 2 * y + 1, c) +
                            p.at(2 * x + 1, 2 * y + 1, c)) /
                           4.f;
        ASSERT_NEAR(out[(y * 4 + x) * 3 + c], want, 1e-4) << x << "," << y << "," << c;
      }
}

// Outside the photo: black (zero) or the nearest edge pixel (replicate). Half a pixel
// outside, bilinear blends the edge pixel with the border half and half.
TEST(sample_rgb, borders) {
  const photo p = ramp(4, 4);
  std::vector<float> out(3 * 3);
  // Output row y=0 at photo y = -9.5 .. (far outside), x = 0.5, 1.5, 2.5.
  sample_rgb(p.view(), {{0, -10}, {1, 0}, {0, 1}}, 3, 1, border::zero, 1.f, 0.f, out.data());
  for (float v : out) EXPECT_FLOAT_EQ(v, 0.f);
  sample_rgb(p.view(), {{0, -10}, {1, 0}, {0, 1}}, 3, 1, border::replicate, 1.f, 0.f, out.data());
  for (int x = 0; x < 3; ++x)
    for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(out[x * 3 + c], p.at(x, 0, c));
  // Photo point (0.5, 0): between row -1 (border) and row 0.
  sample_rgb(p.view(), {{0, -0.5f}, {1, 0}, {0, 1}}, 1, 1, border::zero, 1.f, 0.f, out.data());
  EXPECT_FLOAT_EQ(out[0], p.at(0, 0, 0) / 2.f);
  sample_rgb(p.view(), {{0, -0.5f}, {1, 0}, {0, 1}}, 1, 1, border::replicate, 1.f, 0.f, out.data());
  EXPECT_FLOAT_EQ(out[0], p.at(0, 0, 0));
}

// A 90-degree turn: output x runs down the photo, output y runs right to left.
TEST(sample_rgb, rotation_by_a_quarter_turn) {
  const photo p = ramp(5, 5);
  std::vector<float> out(5 * 5 * 3);
  // u -> (5 - v, u): origin (5, 0), ax = (0, 1), ay = (-1, 0).
  sample_rgb(p.view(), {{5, 0}, {0, 1}, {-1, 0}}, 5, 5, border::zero, 1.f, 0.f, out.data());
  for (int v = 0; v < 5; ++v)
    for (int u = 0; u < 5; ++u) ASSERT_FLOAT_EQ(out[(v * 5 + u) * 3], p.at(4 - v, u, 0)) << u << "," << v;
}

// A 1 x 1 photo is enough to sample anything (every tap is the one pixel or the border).
TEST(sample_rgb, one_pixel_photo) {
  const std::vector<uint8_t> px = {10, 20, 30};
  std::vector<float> out(16 * 16 * 3);
  sample_rgb({px.data(), 1, 1}, letterbox::of(1, 1).map(16), 16, 16, border::replicate, 1.f, 0.f, out.data());
  for (int i = 0; i < 16 * 16; ++i) {
    ASSERT_FLOAT_EQ(out[i * 3], 10.f);
    ASSERT_FLOAT_EQ(out[i * 3 + 2], 30.f);
  }
}

// refine_edges on synthetic data: a sharp colour edge in the photo and a blurred,
// shifted step in alpha. Far inside/outside pixels keep their value exactly; the
// ramp moves to the photo's edge and gets steeper; any input gives alpha in [0, 1].
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "pipeline/refine_edges.hpp"

using namespace idphoto::pipeline;

namespace {

constexpr int W = 96, H = 40;
constexpr int edge_x = 48;  // photo: x < 48 red-ish subject, x >= 48 blue background

rgb8_plane edge_photo() {
  rgb8_plane p{W, H, std::vector<uint8_t>(static_cast<size_t>(W) * H * 3)};
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      uint8_t* q = p.px.data() + (static_cast<size_t>(y) * W + x) * 3;
      const bool subject = x < edge_x;
      q[0] = subject ? 200 : 40;
      q[1] = subject ? 120 : 90;
      q[2] = subject ? 90 : 210;
    }
  return p;
}

// Alpha 1 left of [c - half, c + half], 0 right of it, linear in between: what an
// upsampled network mask looks like, centred at c (misplaced when c != edge_x).
alpha_plane ramp(double c, double half) {
  alpha_plane a{W, H, std::vector<float>(static_cast<size_t>(W) * H)};
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) a.at(x, y) = static_cast<float>(std::clamp(0.5 - (x + 0.5 - c) / (2 * half), 0.0, 1.0));
  return a;
}

// Along the middle row: where alpha crosses 0.5 (sub-pixel) and how many pixels lie in (0.1, 0.9).
double crossing(const alpha_plane& a, int y = H / 2) {
  for (int x = 0; x + 1 < a.width; ++x) {
    const float l = a.at(x, y), r = a.at(x + 1, y);
    if (l >= 0.5f && r < 0.5f) return x + 0.5 + (l - 0.5) / (l - r);
  }
  return -1;
}
int soft_width(const alpha_plane& a, int y = H / 2) {
  int n = 0;
  for (int x = 0; x < a.width; ++x) n += a.at(x, y) > 0.1f && a.at(x, y) < 0.9f;
  return n;
}

}  // namespace

TEST(pipeline_refine_edges, far_pixels_unchanged_exactly) {
  const auto photo = edge_photo();
  const auto a = ramp(52, 5);  // soft over x in [47, 57)
  refine_options o;
  o.radius_px = 4;
  const auto out = refine_edges(photo, a, o);
  ASSERT_EQ(out.width, W);
  ASSERT_EQ(out.height, H);
  // The band is the uncertain pixels dilated twice by r (local mean, then the
  // indicator's mean): anything farther than 2r + 1 from the ramp is untouched.
  int checked = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      if (x < 47 - 2 * o.radius_px - 1 || x >= 57 + 2 * o.radius_px + 1) {
        ASSERT_EQ(out.at(x, y), a.at(x, y)) << x << "," << y;
        ++checked;
      }
  EXPECT_GT(checked, W * H / 2);
}

TEST(pipeline_refine_edges, blurred_edge_moves_to_photo_edge_and_sharpens) {
  const auto photo = edge_photo();
  for (double c : {44.0, 48.0, 52.0}) {
    SCOPED_TRACE("ramp centre " + std::to_string(c));
    const auto a = ramp(c, 6);
    refine_options o;
    o.radius_px = 8;  // the window must reach across the misplacement and the ramp
    const auto out = refine_edges(photo, a, o);
    const double before = crossing(a), after = crossing(out);
    ASSERT_GT(after, 0);
    // At most a pixel from the photo's edge; never farther than the network's guess.
    EXPECT_LE(std::abs(after - edge_x), 1.0) << "before " << before << " after " << after;
    EXPECT_LE(std::abs(after - edge_x), std::abs(before - edge_x) + 1e-9);
    EXPECT_LT(soft_width(out), soft_width(a)) << soft_width(out) << " vs " << soft_width(a);
    // The edge is the same on every row (the photo and mask are column-constant).
    for (int y = 0; y < H; ++y) EXPECT_NEAR(crossing(out, y), after, 1e-3);
  }
}

TEST(pipeline_refine_edges, flat_photo_leaves_hard_mask_inside_and_outside) {
  // No colour edge to follow: the filter smooths within the band only; well inside
  // and well outside stay exactly 1 and 0.
  rgb8_plane flat{W, H, std::vector<uint8_t>(static_cast<size_t>(W) * H * 3, 128)};
  const auto a = ramp(48, 0.5);  // hard step
  refine_options o;
  o.radius_px = 3;
  const auto out = refine_edges(flat, a, o);
  for (int y = 0; y < H; ++y) {
    EXPECT_EQ(out.at(10, y), 1.f);
    EXPECT_EQ(out.at(85, y), 0.f);
  }
}

TEST(pipeline_refine_edges, random_inputs_stay_in_range) {
  // Noise photo and noise alpha (hostile: nothing is smooth, the covariance is near
  // singular in places): every output is finite and in [0, 1].
  std::mt19937 rng(31);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  for (auto [w, h] : {std::pair{37, 23}, std::pair{1, 1}, std::pair{2, 9}, std::pair{64, 3}}) {
    rgb8_plane p{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
    for (auto& v : p.px) v = static_cast<uint8_t>(byte(rng));
    alpha_plane a{w, h, std::vector<float>(static_cast<size_t>(w) * h)};
    for (auto& v : a.a) v = unit(rng);
    for (int r : {0, 1, 5, 100}) {
      refine_options o;
      o.radius_px = r;
      const auto out = refine_edges(p, a, o);
      ASSERT_EQ(out.a.size(), a.a.size());
      for (float v : out.a) {
        ASSERT_TRUE(std::isfinite(v));
        ASSERT_GE(v, 0.f);
        ASSERT_LE(v, 1.f);
      }
    }
  }
  // A constant photo (zero covariance, only eps keeps it invertible) with a soft mask.
  rgb8_plane grey{16, 16, std::vector<uint8_t>(16 * 16 * 3, 0)};
  alpha_plane half{16, 16, std::vector<float>(16 * 16, 0.5f)};
  for (float v : refine_edges(grey, half).a) ASSERT_TRUE(std::isfinite(v) && v >= 0.f && v <= 1.f);
}

TEST(pipeline_refine_edges, empty_plane) {
  const auto out = refine_edges(rgb8_plane{}, alpha_plane{});
  EXPECT_EQ(out.width, 0);
  EXPECT_TRUE(out.a.empty());
}

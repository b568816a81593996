// box_mean and resize_alpha (the fast kernels under every mask step) against plain
// reference versions on random planes with a fixed seed: odd sizes, 1x1, r = 0 and
// r larger than the image.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "pipeline/planes.hpp"

using namespace idphoto::pipeline;

namespace {

std::vector<float> random_plane(int w, int h, std::mt19937& rng, float lo = 0.f, float hi = 1.f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(w) * h);
  for (auto& x : v) x = d(rng);
  return v;
}

// Reference: the mean over the (2r+1)^2 window clipped to the image, summed in double.
std::vector<double> naive_box_mean(const std::vector<float>& in, int w, int h, int r) {
  std::vector<double> out(in.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double s = 0;
      int n = 0;
      for (int yy = std::max(0, y - r); yy <= std::min(h - 1, y + r); ++yy)
        for (int xx = std::max(0, x - r); xx <= std::min(w - 1, x + r); ++xx) {
          s += in[static_cast<size_t>(yy) * w + xx];
          ++n;
        }
      out[static_cast<size_t>(y) * w + x] = s / n;
    }
  return out;
}

// Reference bilinear: sample centre (x + 0.5) * in/out - 0.5, clamped to the image,
// interpolated between the two nearest samples on each axis (all in double).
std::vector<double> naive_bilinear(const alpha_plane& in, int w, int h) {
  std::vector<double> out(static_cast<size_t>(w) * h);
  auto src = [&](int x, int y) { return static_cast<double>(in.a[static_cast<size_t>(y) * in.width + x]); };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double cx = std::clamp((x + 0.5) * in.width / w - 0.5, 0.0, in.width - 1.0);
      const double cy = std::clamp((y + 0.5) * in.height / h - 0.5, 0.0, in.height - 1.0);
      const int x0 = static_cast<int>(std::floor(cx)), y0 = static_cast<int>(std::floor(cy));
      const int x1 = std::min(x0 + 1, in.width - 1), y1 = std::min(y0 + 1, in.height - 1);
      const double fx = cx - x0, fy = cy - y0;
      out[static_cast<size_t>(y) * w + x] =
          (1 - fy) * ((1 - fx) * src(x0, y0) + fx * src(x1, y0)) + fy * ((1 - fx) * src(x0, y1) + fx * src(x1, y1));
    }
  return out;
}

}  // namespace

// Tolerance 2e-6 of the value range: box_mean keeps its running sums in double, so
// the only error is the final rounding to float (2^-24 relative) plus the O(n * 1e-16)
// drift of adding and subtracting along a row; a wrong window (off by one pixel) on
// random data changes the mean by ~1/(2r+1)^2 * 0.5, far above it.
TEST(pipeline_box_mean, matches_naive_on_random_planes) {
  std::mt19937 rng(12345);
  const int sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {2, 3}, {5, 5}, {17, 13}, {31, 9}, {64, 48}, {101, 77}};
  const int radii[] = {0, 1, 2, 3, 7, 20, 200};
  for (auto [w, h] : sizes)
    for (int r : radii) {
      SCOPED_TRACE("w=" + std::to_string(w) + " h=" + std::to_string(h) + " r=" + std::to_string(r));
      auto in = random_plane(w, h, rng);
      std::vector<float> out(in.size(), -1.f);
      box_mean(in.data(), out.data(), w, h, r);
      auto ref = naive_box_mean(in, w, h, r);
      double max_err = 0;
      for (size_t i = 0; i < in.size(); ++i) max_err = std::max(max_err, std::abs(out[i] - ref[i]));
      EXPECT_LE(max_err, 2e-6);
    }
}

TEST(pipeline_box_mean, wide_value_range_and_long_rows) {
  // Values of both signs and a large magnitude over a 4000-px row: double running
  // sums must not drift. Tolerance relative to the value range (1000).
  std::mt19937 rng(7);
  const int w = 4001, h = 3;
  auto in = random_plane(w, h, rng, -1000.f, 1000.f);
  for (int r : {0, 5, 1000}) {
    std::vector<float> out(in.size());
    box_mean(in.data(), out.data(), w, h, r);
    auto ref = naive_box_mean(in, w, h, r);
    for (size_t i = 0; i < in.size(); ++i) ASSERT_NEAR(out[i], ref[i], 2e-6 * 1000) << "r=" << r << " i=" << i;
  }
}

TEST(pipeline_box_mean, r0_is_identity_and_huge_r_is_global_mean) {
  std::mt19937 rng(99);
  const int w = 13, h = 11;
  auto in = random_plane(w, h, rng);
  std::vector<float> out(in.size());
  box_mean(in.data(), out.data(), w, h, 0);
  for (size_t i = 0; i < in.size(); ++i) EXPECT_FLOAT_EQ(out[i], in[i]);
  double s = 0;
  for (float v : in) s += v;
  box_mean(in.data(), out.data(), w, h, 1 << 20);
  for (float v : out) EXPECT_NEAR(v, s / in.size(), 1e-6);
}

TEST(pipeline_box_mean, constant_plane_stays_constant_and_empty_is_a_no_op) {
  std::vector<float> in(9 * 7, 0.3f), out(in.size());
  box_mean(in.data(), out.data(), 9, 7, 2);
  for (float v : out) EXPECT_NEAR(v, 0.3f, 1e-7);
  // 0 x 0 and 0 x N: nothing to read or write (null pointers must be fine).
  box_mean(nullptr, nullptr, 0, 0, 3);
  box_mean(nullptr, nullptr, 0, 5, 3);
  box_mean(nullptr, nullptr, 5, 0, 3);
}

// Tolerance 1e-5: resize_alpha interpolates in float (two lerps, values in 0..1),
// the reference in double; float lerp error is a few ulp of 1. A wrong sample
// position (e.g. align-corners instead of half-pixel) is off by ~0.1 on random data.
TEST(pipeline_resize_alpha, matches_naive_bilinear_on_random_planes) {
  std::mt19937 rng(2024);
  const int in_sizes[][2] = {{1, 1}, {1, 5}, {5, 1}, {3, 2}, {7, 9}, {33, 17}, {64, 64}};
  const int out_sizes[][2] = {{1, 1}, {2, 7}, {9, 3}, {13, 13}, {31, 47}, {100, 61}, {640, 3}};
  for (auto [iw, ih] : in_sizes)
    for (auto [ow, oh] : out_sizes) {
      SCOPED_TRACE(std::to_string(iw) + "x" + std::to_string(ih) + " -> " + std::to_string(ow) + "x" +
                   std::to_string(oh));
      alpha_plane in{iw, ih, random_plane(iw, ih, rng)};
      auto out = resize_alpha(in, ow, oh);
      ASSERT_EQ(out.width, ow);
      ASSERT_EQ(out.height, oh);
      ASSERT_EQ(out.a.size(), static_cast<size_t>(ow) * oh);
      auto ref = naive_bilinear(in, ow, oh);
      double max_err = 0;
      for (size_t i = 0; i < ref.size(); ++i) max_err = std::max(max_err, std::abs(out.a[i] - ref[i]));
      EXPECT_LE(max_err, 1e-5);
    }
}

TEST(pipeline_resize_alpha, same_size_is_exact_and_range_is_kept) {
  std::mt19937 rng(5);
  alpha_plane in{23, 19, random_plane(23, 19, rng)};
  auto same = resize_alpha(in, 23, 19);
  EXPECT_EQ(same.a, in.a);
  // Bilinear never overshoots: the output stays within the input's range.
  auto up = resize_alpha(in, 97, 3);
  const auto [mn, mx] = std::minmax_element(in.a.begin(), in.a.end());
  for (float v : up.a) {
    EXPECT_GE(v, *mn);
    EXPECT_LE(v, *mx);
  }
}

TEST(pipeline_resize_alpha, empty_input_or_output) {
  // Nothing to sample from: the requested size, all background (0). Nothing asked: empty.
  alpha_plane empty;
  auto up = resize_alpha(empty, 4, 3);
  EXPECT_EQ(up.width, 4);
  EXPECT_EQ(up.height, 3);
  ASSERT_EQ(up.a.size(), 12u);
  for (float v : up.a) EXPECT_EQ(v, 0.f);
  alpha_plane one{1, 1, {0.7f}};
  auto none = resize_alpha(one, 0, 0);
  EXPECT_EQ(none.width, 0);
  EXPECT_EQ(none.height, 0);
  EXPECT_TRUE(none.a.empty());
  auto thin = resize_alpha(one, 0, 5);
  EXPECT_TRUE(thin.a.empty());
}

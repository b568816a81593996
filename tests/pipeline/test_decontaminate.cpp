// decontaminate on a synthetic composite: a known foreground F over a known
// background B, blended with a ramp alpha. Where 0 < alpha < 1 the estimate must be
// closer to F than the photo is (the background tint removed); alpha = 1 pixels are
// returned unchanged; any input gives an image of the same size.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "pipeline/decontaminate.hpp"

using namespace idphoto::pipeline;

namespace {

constexpr int W = 120, H = 60;

// Foreground: a skin/hair-like colour field varying slowly; background: saturated green.
void true_fg(int x, int y, double f[3]) {
  f[0] = 180 + 30 * std::sin(y * 0.1);
  f[1] = 120 + 20 * std::cos(x * 0.05);
  f[2] = 90 + 0.3 * y;
}
const double bg[3] = {30, 200, 60};

// Alpha: 1 for x < 40, a linear ramp to 0 over x in [40, 40 + ramp_px), 0 beyond.
float ramp_alpha(int x, int ramp_px) {
  return static_cast<float>(std::clamp(1.0 - (x - 39) / double(ramp_px), 0.0, 1.0));
}

struct scene {
  rgb8_plane photo;
  alpha_plane alpha;
};

scene composite(int ramp_px = 8) {
  scene s{{W, H, std::vector<uint8_t>(static_cast<size_t>(W) * H * 3)},
          {W, H, std::vector<float>(static_cast<size_t>(W) * H)}};
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const float a = ramp_alpha(x, ramp_px);
      s.alpha.at(x, y) = a;
      double f[3];
      true_fg(x, y, f);
      for (int c = 0; c < 3; ++c)
        s.photo.px[(static_cast<size_t>(y) * W + x) * 3 + c] =
            static_cast<uint8_t>(std::lround(a * f[c] + (1 - a) * bg[c]));
    }
  return s;
}

}  // namespace

// Blur fusion estimates F from the pure foreground within its window, so it helps
// where the soft band is narrower than the coarse radius (default: short side / 9;
// here 60 / 9 = 6 px; ~90 px at an 800 px output, wider than any hair band). Measured
// mean |error| in 8-bit levels over the band (alpha > 0.1), estimate vs photo:
//   ramp 4 px, default radius: 4.8 vs 46.4;  ramp 8 px, default: 15.7 vs 46.9;
//   ramp 20 px, coarse radius 20: 14.3 vs 42.7;  (ramp 41 px, default: 40.8 vs 43.2:
//   a band much wider than the window is out of reach, as the method says).
// The bar, half the photo's error, is met by ~1.5x margin in the worst case and no
// pass-through or half-hearted estimate meets it.
TEST(pipeline_decontaminate, estimate_closer_to_true_foreground_than_photo) {
  struct ramp_case {
    int ramp_px, coarse_radius_px;
  };
  for (const auto k : {ramp_case{4, 0}, ramp_case{8, 0}, ramp_case{20, 20}}) {
    SCOPED_TRACE("ramp " + std::to_string(k.ramp_px) + " px, coarse radius " + std::to_string(k.coarse_radius_px));
    const scene s = composite(k.ramp_px);
    decontaminate_options o;
    o.coarse_radius_px = k.coarse_radius_px;
    const rgb8_plane est = decontaminate(s.photo, s.alpha, o);
    ASSERT_EQ(est.width, W);
    ASSERT_EQ(est.height, H);
    ASSERT_EQ(est.px.size(), s.photo.px.size());
    double err_est = 0, err_photo = 0;
    int n = 0;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const float a = s.alpha.at(x, y);
        if (a <= 0.1f || a >= 0.999f) continue;
        double f[3];
        true_fg(x, y, f);
        for (int c = 0; c < 3; ++c) {
          err_est += std::abs(*(est.at(x, y) + c) - f[c]);
          err_photo += std::abs(*(s.photo.at(x, y) + c) - f[c]);
        }
        ++n;
      }
    ASSERT_GT(n, 0);
    err_est /= 3.0 * n;
    err_photo /= 3.0 * n;
    EXPECT_LT(err_est, 0.5 * err_photo) << "estimate " << err_est << " photo " << err_photo;
    // The green tint specifically, in the middle of the ramp (alpha ~0.5, half the
    // colour is the green background): the estimate's green is well below the photo's.
    const int mid = 39 + k.ramp_px / 2;
    double g_est = 0, g_photo = 0;
    for (int y = 0; y < H; ++y) {
      g_est += *(est.at(mid, y) + 1);
      g_photo += *(s.photo.at(mid, y) + 1);
    }
    EXPECT_LT(g_est, g_photo - 20.0 * H) << "mean green " << g_est / H << " vs " << g_photo / H;
  }
}

TEST(pipeline_decontaminate, opaque_pixels_unchanged) {
  const scene s = composite();
  const rgb8_plane est = decontaminate(s.photo, s.alpha);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      if (s.alpha.at(x, y) >= 0.999f) {
        for (int c = 0; c < 3; ++c) ASSERT_EQ(*(est.at(x, y) + c), *(s.photo.at(x, y) + c)) << x << "," << y;
      }
}

TEST(pipeline_decontaminate, fully_opaque_mask_is_identity) {
  const scene s = composite();
  alpha_plane ones{W, H, std::vector<float>(static_cast<size_t>(W) * H, 1.f)};
  EXPECT_EQ(decontaminate(s.photo, ones).px, s.photo.px);
}

TEST(pipeline_decontaminate, hostile_and_tiny_inputs) {
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  for (auto [w, h] : {std::pair{1, 1}, std::pair{1, 17}, std::pair{33, 2}, std::pair{45, 31}}) {
    rgb8_plane p{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
    for (auto& v : p.px) v = static_cast<uint8_t>(byte(rng));
    alpha_plane a{w, h, std::vector<float>(static_cast<size_t>(w) * h)};
    for (auto& v : a.a) v = unit(rng);
    for (int coarse : {0, 1, 1000}) {
      decontaminate_options o;
      o.coarse_radius_px = coarse;
      o.fine_radius_px = 0;  // clamped to 1
      const auto out = decontaminate(p, a, o);
      ASSERT_EQ(out.width, w);
      ASSERT_EQ(out.height, h);
      ASSERT_EQ(out.px.size(), p.px.size());
    }
  }
  // All-zero alpha: nothing is foreground; still the same size, no crash.
  rgb8_plane p{8, 8, std::vector<uint8_t>(8 * 8 * 3, 77)};
  alpha_plane zero{8, 8, std::vector<float>(64, 0.f)};
  EXPECT_EQ(decontaminate(p, zero).px.size(), p.px.size());
  // 0 x 0.
  EXPECT_TRUE(decontaminate(rgb8_plane{}, alpha_plane{}).px.empty());
}

// Foreground colour estimation by blur fusion (Forte & Pitié, "Approximate Fast
// Foreground Colour Estimation", ICIP 2021). For each pixel the compositing equation
// I = a F + (1 - a) B has two unknown colours. Blur fusion estimates local means of
// F (alpha-weighted blur of the photo) and B ((1 - alpha)-weighted blur), then corrects
// F by the residual of the equation:
//     F = F_mean + a (I - a F_mean - (1 - a) B_mean)
// run twice: a large radius (smooth colours that reach into wide hair regions), then a
// small one seeded with the first result. O(1) per pixel (box means); ~12 passes.
// The alternative, closed-form/ML foreground estimation (pymatting), is more exact
// but 10-100x slower; at ID-photo sizes blur fusion removes the background tint well.
#include "pipeline/decontaminate.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace idphoto::pipeline {

namespace {

void fuse_once(const std::array<std::vector<float>, 3>& I, std::array<std::vector<float>, 3>& F,
               std::array<std::vector<float>, 3>& B, const std::vector<float>& a, int w, int h, int r) {
  const size_t n = a.size();
  std::vector<float> blurred_a(n), tmp(n);
  box_mean(a.data(), blurred_a.data(), w, h, r);
  for (int c = 0; c < 3; ++c) {
    for (size_t i = 0; i < n; ++i) tmp[i] = F[c][i] * a[i];
    std::vector<float> fa(n);
    box_mean(tmp.data(), fa.data(), w, h, r);
    for (size_t i = 0; i < n; ++i) tmp[i] = B[c][i] * (1.f - a[i]);
    std::vector<float> b1a(n);
    box_mean(tmp.data(), b1a.data(), w, h, r);
    for (size_t i = 0; i < n; ++i) {
      const float fm = fa[i] / (blurred_a[i] + 1e-5f);
      const float bm = b1a[i] / ((1.f - blurred_a[i]) + 1e-5f);
      float f = fm + a[i] * (I[c][i] - a[i] * fm - (1.f - a[i]) * bm);
      F[c][i] = std::clamp(f, 0.f, 1.f);
      B[c][i] = std::clamp(bm, 0.f, 1.f);
    }
  }
}

}  // namespace

rgb8_plane decontaminate(const rgb8_plane& photo, const alpha_plane& alpha, const decontaminate_options& o) {
  const int w = photo.width, h = photo.height;
  const size_t n = static_cast<size_t>(w) * h;
  const int coarse = o.coarse_radius_px > 0 ? o.coarse_radius_px : std::max(4, std::min(w, h) / 9);
  std::array<std::vector<float>, 3> I, F, B;
  for (int c = 0; c < 3; ++c) {
    I[c].resize(n);
    for (size_t i = 0; i < n; ++i) I[c][i] = photo.px[i * 3 + c] / 255.f;
    F[c] = I[c];
    B[c] = I[c];
  }
  fuse_once(I, F, B, alpha.a, w, h, coarse);
  fuse_once(I, F, B, alpha.a, w, h, std::max(1, o.fine_radius_px));
  rgb8_plane out = photo;
  for (size_t i = 0; i < n; ++i) {
    if (alpha.a[i] >= 0.999f) continue;
    for (int c = 0; c < 3; ++c) out.px[i * 3 + c] = static_cast<uint8_t>(std::lround(F[c][i] * 255.f));
  }
  return out;
}

}  // namespace idphoto::pipeline

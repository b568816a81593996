// Float plane helpers shared by the mask steps: bilinear resize and box mean.
// The box mean uses running sums per row then per column: O(1) per pixel for any radius.
#include "pipeline/planes.hpp"

#include <algorithm>
#include <cmath>

namespace idphoto::pipeline {

alpha_plane resize_alpha(const alpha_plane& in, int width, int height) {
  alpha_plane out;
  out.width = width;
  out.height = height;
  out.a.resize(static_cast<size_t>(width) * height);
  if (in.width <= 0 || in.height <= 0) return out;  // nothing to sample: all background
  const double sx = static_cast<double>(in.width) / width, sy = static_cast<double>(in.height) / height;
  std::vector<int> x0(width), x1(width);
  std::vector<float> fx(width);
  for (int x = 0; x < width; ++x) {
    double c = std::clamp((x + 0.5) * sx - 0.5, 0.0, static_cast<double>(in.width - 1));
    x0[x] = static_cast<int>(c);
    x1[x] = std::min(x0[x] + 1, in.width - 1);
    fx[x] = static_cast<float>(c - x0[x]);
  }
  for (int y = 0; y < height; ++y) {
    double c = std::clamp((y + 0.5) * sy - 0.5, 0.0, static_cast<double>(in.height - 1));
    const int y0 = static_cast<int>(c), y1 = std::min(y0 + 1, in.height - 1);
    const float fy = static_cast<float>(c - y0);
    const float* r0 = in.a.data() + static_cast<size_t>(y0) * in.width;
    const float* r1 = in.a.data() + static_cast<size_t>(y1) * in.width;
    float* o = out.a.data() + static_cast<size_t>(y) * width;
    for (int x = 0; x < width; ++x) {
      const float top = r0[x0[x]] + (r0[x1[x]] - r0[x0[x]]) * fx[x];
      const float bot = r1[x0[x]] + (r1[x1[x]] - r1[x0[x]]) * fx[x];
      o[x] = top + (bot - top) * fy;
    }
  }
  return out;
}

void box_mean(const float* in, float* out, int width, int height, int r) {
  std::vector<double> tmp(static_cast<size_t>(width) * height);
  // Horizontal running sums (double: no drift over long rows).
  for (int y = 0; y < height; ++y) {
    const float* row = in + static_cast<size_t>(y) * width;
    double* t = tmp.data() + static_cast<size_t>(y) * width;
    double s = 0;
    int lo = 0, hi = -1;
    for (int x = 0; x < width; ++x) {
      const int want_hi = std::min(width - 1, x + r), want_lo = std::max(0, x - r);
      while (hi < want_hi) s += row[++hi];
      while (lo < want_lo) s -= row[lo++];
      t[x] = s / (hi - lo + 1);
    }
  }
  // Vertical running sums over the horizontal means.
  std::vector<double> col(height);
  for (int x = 0; x < width; ++x) {
    double s = 0;
    int lo = 0, hi = -1;
    for (int y = 0; y < height; ++y) {
      const int want_hi = std::min(height - 1, y + r), want_lo = std::max(0, y - r);
      while (hi < want_hi) s += tmp[static_cast<size_t>(++hi) * width + x];
      while (lo < want_lo) s -= tmp[static_cast<size_t>(lo++) * width + x];
      out[static_cast<size_t>(y) * width + x] = static_cast<float>(s / (hi - lo + 1));
    }
  }
}

}  // namespace idphoto::pipeline

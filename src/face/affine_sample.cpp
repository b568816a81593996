// Affine resampling of an 8-bit RGB photo into float tensors: bilinear taps averaged over
// a grid of sub-samples sized to the map's scale, so shrinking a 12-MP photo does not alias.
#include "face/affine_sample.hpp"

#include <algorithm>
#include <cmath>

namespace idphoto::face {

namespace {

// Bilinear value of channel-interleaved pixels at photo point (x, y) (pixel centres at
// +0.5), with the border rule for taps outside the photo.
inline void bilinear(const rgb_view& p, float x, float y, border b, float rgb[3]) {
  const float fx = x - 0.5f, fy = y - 0.5f;
  const float x0f = std::floor(fx), y0f = std::floor(fy);
  const float wx = fx - x0f, wy = fy - y0f;
  const long x0 = static_cast<long>(x0f), y0 = static_cast<long>(y0f);
  const long w = p.width, h = p.height;
  const float tap_w[4] = {(1 - wx) * (1 - wy), wx * (1 - wy), (1 - wx) * wy, wx * wy};
  const long tx[4] = {x0, x0 + 1, x0, x0 + 1}, ty[4] = {y0, y0, y0 + 1, y0 + 1};
  rgb[0] = rgb[1] = rgb[2] = 0;
  for (int t = 0; t < 4; ++t) {
    long xi = tx[t], yi = ty[t];
    if (xi < 0 || yi < 0 || xi >= w || yi >= h) {
      if (b == border::zero) continue;
      xi = std::clamp(xi, 0L, w - 1);
      yi = std::clamp(yi, 0L, h - 1);
    }
    const uint8_t* px = p.px + (static_cast<size_t>(yi) * static_cast<size_t>(w) + static_cast<size_t>(xi)) * 3;
    rgb[0] += tap_w[t] * px[0];
    rgb[1] += tap_w[t] * px[1];
    rgb[2] += tap_w[t] * px[2];
  }
}

}  // namespace

/*
 * Anti-aliased affine sampling. A plain bilinear warp (what MediaPipe's ImageToTensor
 * does) reads 4 photo pixels per output pixel; shrinking a 4000-px photo to BlazeFace's
 * 128 px then keeps 1 pixel in ~1000 and the tensor is noise-dominated aliasing. Here each
 * output pixel averages a k x k grid of bilinear samples spread over its footprint in the
 * photo, k = ceil(footprint in photo px), at most k_max_supersample: a box prefilter that
 * works for the rotated face crop as well as the axis-aligned letterbox, at a cost of
 * k^2 taps per output pixel (<= 144; 128 x 128 x 144 bilinear taps is a few ms), and that
 * is exactly the plain bilinear warp when the map does not shrink (k = 1). The cap leaves
 * a little aliasing beyond a 12x shrink (about a 1500-px face or a 1536-px letterbox
 * side), where each sample already spans a 2-px bilinear kernel.
 */
void sample_rgb(const rgb_view& photo, const affine_map& m, int out_w, int out_h, border b, float scale, float bias,
                float* out) {
  const float step = std::max(std::hypot(m.ax.x, m.ax.y), std::hypot(m.ay.x, m.ay.y));
  const int k = std::clamp(static_cast<int>(std::ceil(step - 1e-3f)), 1, k_max_supersample);
  const float inv = 1.f / static_cast<float>(k * k);
  for (int j = 0; j < out_h; ++j)
    for (int i = 0; i < out_w; ++i) {
      float acc[3] = {0, 0, 0};
      for (int sj = 0; sj < k; ++sj)
        for (int si = 0; si < k; ++si) {
          const float u = static_cast<float>(i) + (static_cast<float>(si) + 0.5f) / static_cast<float>(k);
          const float v = static_cast<float>(j) + (static_cast<float>(sj) + 0.5f) / static_cast<float>(k);
          const point p = m.apply(u, v);
          float rgb[3];
          bilinear(photo, p.x, p.y, b, rgb);
          acc[0] += rgb[0];
          acc[1] += rgb[1];
          acc[2] += rgb[2];
        }
      float* o = out + (static_cast<size_t>(j) * static_cast<size_t>(out_w) + static_cast<size_t>(i)) * 3;
      for (int c = 0; c < 3; ++c) o[c] = acc[c] * inv * scale + bias;
    }
}

}  // namespace idphoto::face

// Rendering the frame: the output's pixels sampled from the photo through the frame
// transform, composited on the background with the mask (frame.hpp, render_frame).
#include <algorithm>
#include <cmath>

#include "pipeline/frame.hpp"

namespace idphoto::pipeline {

namespace {

// Bilinear RGB at continuous plane coordinates (centres at +0.5), clamped to the edges.
void sample_rgb(const rgb8_plane& p, double x, double y, double out[3]) {
  const double fx = std::clamp(x - 0.5, 0.0, p.width - 1.0), fy = std::clamp(y - 0.5, 0.0, p.height - 1.0);
  const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
  const int x1 = std::min(x0 + 1, p.width - 1), y1 = std::min(y0 + 1, p.height - 1);
  const double tx = fx - x0, ty = fy - y0;
  const uint8_t *a = p.at(x0, y0), *b = p.at(x1, y0), *c = p.at(x0, y1), *d = p.at(x1, y1);
  for (int k = 0; k < 3; ++k) out[k] = (a[k] * (1 - tx) + b[k] * tx) * (1 - ty) + (c[k] * (1 - tx) + d[k] * tx) * ty;
}

double sample_alpha(const alpha_plane& p, double x, double y) {
  const double fx = std::clamp(x - 0.5, 0.0, p.width - 1.0), fy = std::clamp(y - 0.5, 0.0, p.height - 1.0);
  const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
  const int x1 = std::min(x0 + 1, p.width - 1), y1 = std::min(y0 + 1, p.height - 1);
  const double tx = fx - x0, ty = fy - y0;
  const double v =
      (p.at(x0, y0) * (1 - tx) + p.at(x1, y0) * tx) * (1 - ty) + (p.at(x0, y1) * (1 - tx) + p.at(x1, y1) * tx) * ty;
  return std::clamp(v, 0.0, 1.0);
}

}  // namespace

base::result<rendered_frame> render_frame(const frame_source& src, const alpha_plane& alpha, double alpha_scale,
                                          const frame_transform& t, image::rgb8 bg, double chin_out_y) {
  if (!src.rgb || src.rgb->width < 1 || src.rgb->height < 1 ||
      src.rgb->px.size() != static_cast<size_t>(src.rgb->width) * src.rgb->height * 3)
    return base::make_error(base::errc::invalid_argument, "render: empty source");
  if (alpha.width < 1 || alpha.height < 1 || !(alpha_scale > 0) || src.photo_w < 1 || src.photo_h < 1)
    return base::make_error(base::errc::invalid_argument, "render: empty mask or photo size");
  if (t.out_w < 1 || t.out_h < 1 || t.out_w > 10000 || t.out_h > 10000 || !(t.scale > 0) || !std::isfinite(t.scale))
    return base::make_error(base::errc::invalid_argument, "render: bad transform");
  rendered_frame out;
  out.rgb.width = out.alpha.width = t.out_w;
  out.rgb.height = out.alpha.height = t.out_h;
  out.rgb.px.resize(static_cast<size_t>(t.out_w) * t.out_h * 3);
  out.alpha.a.resize(static_cast<size_t>(t.out_w) * t.out_h);
  // n x n samples per output pixel: about one per source pixel the output pixel covers.
  const int n = std::clamp(static_cast<int>(std::ceil(std::max(src.scale_x, src.scale_y) / t.scale - 1e-9)), 1, 4);
  const double inv_n = 1.0 / n, inv_nn = 1.0 / (n * n);
  size_t outside = 0, outside_person = 0;
  const double pw = src.photo_w, ph = src.photo_h;
  for (int y = 0; y < t.out_h; ++y) {
    for (int x = 0; x < t.out_w; ++x) {
      double acc[3] = {0, 0, 0}, acc_a = 0;
      int out_here = 0, person_out_here = 0;
      for (int j = 0; j < n; ++j) {
        for (int i = 0; i < n; ++i) {
          const vec2 o{x + (i + 0.5) * inv_n, y + (j + 0.5) * inv_n};
          vec2 p = t.to_source(o);
          const bool beyond = p.x < 0 || p.y < 0 || p.x >= pw || p.y >= ph;
          p.x = std::clamp(p.x, 0.0, pw - 1e-6);
          p.y = std::clamp(p.y, 0.0, ph - 1e-6);
          double c[3];
          sample_rgb(*src.rgb, (p.x - src.origin.x) * src.scale_x, (p.y - src.origin.y) * src.scale_y, c);
          const double a = sample_alpha(alpha, p.x * alpha_scale, p.y * alpha_scale);
          acc[0] += a * c[0] + (1 - a) * bg.r;
          acc[1] += a * c[1] + (1 - a) * bg.g;
          acc[2] += a * c[2] + (1 - a) * bg.b;
          acc_a += a;
          if (beyond) {
            ++out_here;
            if (a >= 0.5 && o.y < chin_out_y) ++person_out_here;
          }
        }
      }
      uint8_t* d = out.rgb.px.data() + (static_cast<size_t>(y) * t.out_w + x) * 3;
      for (int k = 0; k < 3; ++k) d[k] = static_cast<uint8_t>(std::clamp(std::lround(acc[k] * inv_nn), 0L, 255L));
      out.alpha.at(x, y) = static_cast<float>(acc_a * inv_nn);
      if (out_here * 2 >= n * n) ++outside;  // the pixel is mostly beyond the photo
      if (person_out_here * 2 >= n * n) ++outside_person;
    }
  }
  const double total = static_cast<double>(t.out_w) * t.out_h;
  out.outside_fraction = static_cast<double>(outside) / total;
  out.outside_person_fraction = static_cast<double>(outside_person) / total;
  return out;
}

}  // namespace idphoto::pipeline

// Resizes and normalises a photo for the network, and turns the network's output
// back into an alpha plane covering just the photo.
#include "pipeline/to_model_input.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "image/ops.hpp"

namespace idphoto::pipeline {

base::result<model_input> to_model_input(const image::image& srgb, const model_spec& spec, int size_px, fit_mode fit) {
  model_input mi;
  const int S = size_px;
  mi.size_px = S;
  image::image sized;
  if (fit == fit_mode::squash) {
    auto r = image::resize_exact(srgb, S, S);
    IDPHOTO_TRY(r);
    sized = std::move(*r);
    mi.content_w = mi.content_h = S;
  } else {
    const double scale = std::min(static_cast<double>(S) / srgb.width(), static_cast<double>(S) / srgb.height());
    mi.content_w = std::clamp(static_cast<int>(std::lround(srgb.width() * scale)), 1, S);
    mi.content_h = std::clamp(static_cast<int>(std::lround(srgb.height() * scale)), 1, S);
    auto r = image::resize_exact(srgb, mi.content_w, mi.content_h);
    IDPHOTO_TRY(r);
    sized = std::move(*r);
    mi.content_x = (S - mi.content_w) / 2;
    mi.content_y = (S - mi.content_h) / 2;
  }
  auto px = image::to_rgb8(sized);
  IDPHOTO_TRY(px);
  mi.t = infer::tensor::zeros(infer::dtype::f32, {1, 3, S, S});
  float* t = mi.t.data<float>();
  const size_t plane = static_cast<size_t>(S) * S;
  // Padding is the mean colour, i.e. 0 after normalisation (zeros() already).
  for (int y = 0; y < mi.content_h; ++y)
    for (int x = 0; x < mi.content_w; ++x) {
      const uint8_t* p = px->data.data() + (static_cast<size_t>(y) * px->width + x) * 3;
      const size_t o = static_cast<size_t>(y + mi.content_y) * S + (x + mi.content_x);
      for (int c = 0; c < 3; ++c) t[c * plane + o] = (static_cast<float>(p[c]) - spec.mean[c]) / spec.std[c];
    }
  return mi;
}

base::result<alpha_plane> mask_from_output(const infer::tensor& out, const model_spec& spec, const model_input& in) {
  const auto& s = out.shape;
  const int S = in.size_px;
  if (s.size() != 4 || s[0] != 1 || s[1] != 1 || s[2] != S || s[3] != S)
    return base::make_error(base::errc::invalid_argument, "model output " + infer::shape_str(s) + " is not [1,1," +
                                                              std::to_string(S) + "," + std::to_string(S) + "]");
  if (out.type != infer::dtype::f32 || out.bytes.size() != static_cast<size_t>(S) * S * sizeof(float))
    return base::make_error(base::errc::invalid_argument, std::string("model output must be float32, got ") +
                                                              infer::dtype_name(out.type) + " (" +
                                                              std::to_string(out.bytes.size()) + " bytes)");
  const float* p = out.data<float>();
  float lo = 0, hi = 1;
  if (spec.minmax_output) {  // over the finite values only: NaN or an infinity would poison the range
    float mn = std::numeric_limits<float>::infinity(), mx = -mn;
    for (size_t i = 0; i < static_cast<size_t>(S) * S; ++i)
      if (std::isfinite(p[i])) {
        mn = std::min(mn, p[i]);
        mx = std::max(mx, p[i]);
      }
    lo = std::isfinite(mn) ? mn : 0.f;
    hi = mx > lo ? mx : lo + 1;
  }
  alpha_plane a;
  a.width = in.content_w;
  a.height = in.content_h;
  a.a.resize(static_cast<size_t>(a.width) * a.height);
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x) {
      const float v = p[static_cast<size_t>(y + in.content_y) * S + (x + in.content_x)];
      a.at(x, y) = std::isfinite(v) ? std::clamp((v - lo) / (hi - lo), 0.f, 1.f) : 0.f;
    }
  return a;
}

}  // namespace idphoto::pipeline

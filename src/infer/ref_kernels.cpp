// Reference kernels: direct loops that follow the ONNX operator definitions
// literally (accumulating in float, like the fast path). They are the yardstick
// the oneDNN path is tested against, and the fallback for rare variants.
#include "infer/ref_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace idphoto::infer::ref {

void conv(const conv_params& p, const float* x, const float* w, const float* b, float* y) {
  const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group;
  const int64_t hw_out = p.h_out * p.w_out;
  for (int64_t n = 0; n < p.n; ++n)
    for (int64_t g = 0; g < p.group; ++g)
      for (int64_t oc = g * cout_g; oc < (g + 1) * cout_g; ++oc) {
        float* yo = y + (n * p.c_out + oc) * hw_out;
        std::fill(yo, yo + hw_out, b ? b[oc] : 0.f);
        for (int64_t ic = 0; ic < cin_g; ++ic) {
          const float* xi = x + (n * p.c_in + g * cin_g + ic) * p.h_in * p.w_in;
          for (int64_t ky = 0; ky < p.kh; ++ky)
            for (int64_t kx = 0; kx < p.kw; ++kx) {
              const float wv = w[((oc * cin_g + ic) * p.kh + ky) * p.kw + kx];
              // Output columns whose input column is inside the image.
              const int64_t off_x = kx * p.dil_w - p.pad_l;
              int64_t ox0 = 0, ox1 = p.w_out;
              while (ox0 < ox1 && ox0 * p.stride_w + off_x < 0) ++ox0;
              while (ox1 > ox0 && (ox1 - 1) * p.stride_w + off_x >= p.w_in) --ox1;
              for (int64_t oy = 0; oy < p.h_out; ++oy) {
                const int64_t iy = oy * p.stride_h + ky * p.dil_h - p.pad_t;
                if (iy < 0 || iy >= p.h_in) continue;
                const float* xr = xi + iy * p.w_in + off_x;
                float* yr = yo + oy * p.w_out;
                for (int64_t ox = ox0; ox < ox1; ++ox) yr[ox] += wv * xr[ox * p.stride_w];
              }
            }
        }
        if (p.fuse_relu)
          for (int64_t i = 0; i < hw_out; ++i) yo[i] = std::max(yo[i], 0.f);
      }
}

void max_pool(const pool_params& p, const float* x, float* y) {
  for (int64_t nc = 0; nc < p.n * p.c; ++nc) {
    const float* xi = x + nc * p.h_in * p.w_in;
    float* yo = y + nc * p.h_out * p.w_out;
    for (int64_t oy = 0; oy < p.h_out; ++oy)
      for (int64_t ox = 0; ox < p.w_out; ++ox) {
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t ky = 0; ky < p.kh; ++ky) {
          const int64_t iy = oy * p.stride_h - p.pad_t + ky * p.dil_h;
          if (iy < 0 || iy >= p.h_in) continue;
          for (int64_t kx = 0; kx < p.kw; ++kx) {
            const int64_t ix = ox * p.stride_w - p.pad_l + kx * p.dil_w;
            if (ix < 0 || ix >= p.w_in) continue;
            m = std::max(m, xi[iy * p.w_in + ix]);
          }
        }
        yo[oy * p.w_out + ox] = m;
      }
  }
}

void avg_pool(const pool_params& p, const float* x, float* y) {
  for (int64_t nc = 0; nc < p.n * p.c; ++nc) {
    const float* xi = x + nc * p.h_in * p.w_in;
    float* yo = y + nc * p.h_out * p.w_out;
    for (int64_t oy = 0; oy < p.h_out; ++oy)
      for (int64_t ox = 0; ox < p.w_out; ++ox) {
        // Window clipped to the padded input (count_include_pad) or to the input.
        const int64_t y0 = oy * p.stride_h - p.pad_t, x0 = ox * p.stride_w - p.pad_l;
        const int64_t y1 = std::min(y0 + p.kh, p.h_in + p.pad_b), x1 = std::min(x0 + p.kw, p.w_in + p.pad_r);
        const int64_t cy0 = std::max<int64_t>(y0, 0), cx0 = std::max<int64_t>(x0, 0);
        const int64_t cy1 = std::min(y1, p.h_in), cx1 = std::min(x1, p.w_in);
        float s = 0;
        for (int64_t iy = cy0; iy < cy1; ++iy)
          for (int64_t ix = cx0; ix < cx1; ++ix) s += xi[iy * p.w_in + ix];
        const int64_t count = p.count_include_pad ? (y1 - y0) * (x1 - x0) : (cy1 - cy0) * (cx1 - cx0);
        yo[oy * p.w_out + ox] = count > 0 ? s / static_cast<float>(count) : 0.f;
      }
  }
}

void global_avg_pool(int64_t n, int64_t c, int64_t hw, const float* x, float* y) {
  for (int64_t i = 0; i < n * c; ++i) {
    float s = 0;
    for (int64_t k = 0; k < hw; ++k) s += x[i * hw + k];
    y[i] = s / static_cast<float>(hw);
  }
}

void batch_norm(const batch_norm_params& p, int64_t n, int64_t c, int64_t hw, const float* x, float* y) {
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* xi = x + (b * c + ch) * hw;
      float* yo = y + (b * c + ch) * hw;
      for (int64_t k = 0; k < hw; ++k) yo[k] = xi[k] * p.scale[ch] + p.shift[ch];
    }
}

namespace {

// Source coordinate of an output index, per coordinate_transformation_mode.
double source_coord(resize_coord mode, int64_t out_i, float scale, int64_t in_len, int64_t out_len) {
  const double x = static_cast<double>(out_i), s = static_cast<double>(scale);
  switch (mode) {
    case resize_coord::half_pixel:
      return (x + 0.5) / s - 0.5;
    // ONNX takes the resized length as in_len * scale, not rounded down (onnx/onnx#2462);
    // with sizes given, scale = out/in and this is out_len exactly.
    case resize_coord::pytorch_half_pixel:
      return static_cast<double>(in_len) * s > 1.0 ? (x + 0.5) / s - 0.5 : 0.0;
    case resize_coord::align_corners: {
      const double len = static_cast<double>(in_len) * s;
      return len > 1.0 ? x * static_cast<double>(in_len - 1) / (len - 1.0) : 0.0;
    }
    case resize_coord::asymmetric:
      return x / s;
    case resize_coord::tf_half_pixel_for_nn:
      return (x + 0.5) / s;
  }
  return 0.0;
}

int64_t nearest_index(resize_nearest mode, double c, int64_t in_len) {
  double r;
  switch (mode) {
    case resize_nearest::round_prefer_floor:
      r = (c - std::floor(c) == 0.5) ? std::floor(c) : std::round(c);
      break;
    case resize_nearest::round_prefer_ceil:
      r = (c - std::floor(c) == 0.5) ? std::ceil(c) : std::round(c);
      break;
    case resize_nearest::floor:
      r = std::floor(c);
      break;
    case resize_nearest::ceil:
      r = std::ceil(c);
      break;
    default:
      r = std::floor(c);
  }
  return std::clamp<int64_t>(static_cast<int64_t>(r), 0, in_len - 1);
}

}  // namespace

lerp_tap linear_tap(resize_coord mode, int64_t out_i, float scale, int64_t in_len, int64_t out_len) {
  double c = source_coord(mode, out_i, scale, in_len, out_len);
  c = std::clamp(c, 0.0, static_cast<double>(in_len - 1));
  const int64_t i0 = static_cast<int64_t>(std::floor(c));
  const int64_t i1 = std::min(i0 + 1, in_len - 1);
  return {i0, i1, static_cast<float>(c - static_cast<double>(i0))};
}

void resize(const resize_params& p, const float* x, float* y) {
  const int64_t in_hw = p.h_in * p.w_in, out_hw = p.h_out * p.w_out;
  if (p.mode == resize_mode::nearest) {
    std::vector<int64_t> iy(p.h_out), ix(p.w_out);
    for (int64_t o = 0; o < p.h_out; ++o)
      iy[o] = nearest_index(p.nearest, source_coord(p.coord, o, p.scale_h, p.h_in, p.h_out), p.h_in);
    for (int64_t o = 0; o < p.w_out; ++o)
      ix[o] = nearest_index(p.nearest, source_coord(p.coord, o, p.scale_w, p.w_in, p.w_out), p.w_in);
    for (int64_t nc = 0; nc < p.n * p.c; ++nc)
      for (int64_t oy = 0; oy < p.h_out; ++oy)
        for (int64_t ox = 0; ox < p.w_out; ++ox)
          y[nc * out_hw + oy * p.w_out + ox] = x[nc * in_hw + iy[oy] * p.w_in + ix[ox]];
    return;
  }
  std::vector<lerp_tap> ty(p.h_out), tx(p.w_out);
  for (int64_t o = 0; o < p.h_out; ++o) ty[o] = linear_tap(p.coord, o, p.scale_h, p.h_in, p.h_out);
  for (int64_t o = 0; o < p.w_out; ++o) tx[o] = linear_tap(p.coord, o, p.scale_w, p.w_in, p.w_out);
  for (int64_t nc = 0; nc < p.n * p.c; ++nc) {
    const float* xi = x + nc * in_hw;
    float* yo = y + nc * out_hw;
    for (int64_t oy = 0; oy < p.h_out; ++oy) {
      const lerp_tap& a = ty[oy];
      for (int64_t ox = 0; ox < p.w_out; ++ox) {
        const lerp_tap& b = tx[ox];
        const float v00 = xi[a.i0 * p.w_in + b.i0], v01 = xi[a.i0 * p.w_in + b.i1];
        const float v10 = xi[a.i1 * p.w_in + b.i0], v11 = xi[a.i1 * p.w_in + b.i1];
        const float top = v00 + (v01 - v00) * b.w1, bot = v10 + (v11 - v10) * b.w1;
        yo[oy * p.w_out + ox] = top + (bot - top) * a.w1;
      }
    }
  }
}

void unary(op_kind k, const clip_params* cp, int64_t count, const float* x, float* y) {
  for (int64_t i = 0; i < count; ++i) {
    const float v = x[i];
    switch (k) {
      case op_kind::relu:
        y[i] = v > 0 ? v : 0.f;
        break;
      case op_kind::sigmoid:
        y[i] = 1.f / (1.f + std::exp(-v));
        break;
      case op_kind::clip:
        y[i] = std::min(std::max(v, cp->lo), cp->hi);
        break;
      default:
        y[i] = v;
    }
  }
}

void binary(op_kind k, const float* a, const shape_t& sa, const float* b, const shape_t& sb, float* y,
            const shape_t& sy) {
  const size_t r = sy.size();
  // Element strides of a and b in the output's index space (0 where broadcast).
  std::vector<int64_t> st_a(r, 0), st_b(r, 0);
  int64_t acc_a = 1, acc_b = 1;
  for (size_t i = r; i-- > 0;) {
    const int64_t ka = static_cast<int64_t>(i) - static_cast<int64_t>(r - sa.size());
    const int64_t kb = static_cast<int64_t>(i) - static_cast<int64_t>(r - sb.size());
    if (ka >= 0) {
      st_a[i] = sa[ka] == 1 ? 0 : acc_a;
      acc_a *= sa[ka];
    }
    if (kb >= 0) {
      st_b[i] = sb[kb] == 1 ? 0 : acc_b;
      acc_b *= sb[kb];
    }
  }
  const int64_t total = numel(sy);
  std::vector<int64_t> idx(r, 0);
  int64_t ia = 0, ib = 0;
  for (int64_t o = 0; o < total; ++o) {
    const float u = a[ia], v = b[ib];
    switch (k) {
      case op_kind::add:
        y[o] = u + v;
        break;
      case op_kind::sub:
        y[o] = u - v;
        break;
      case op_kind::mul:
        y[o] = u * v;
        break;
      case op_kind::div:
        y[o] = u / v;
        break;
      case op_kind::prelu:
        y[o] = u < 0 ? u * v : u;
        break;
      default:
        y[o] = 0;
    }
    for (size_t d = r; d-- > 0;) {  // odometer increment
      ++idx[d];
      ia += st_a[d];
      ib += st_b[d];
      if (idx[d] < sy[d]) break;
      ia -= st_a[d] * idx[d];
      ib -= st_b[d] * idx[d];
      idx[d] = 0;
    }
  }
}

void transpose(const transpose_params& p, const float* x, const shape_t& sx, float* y) {
  const size_t r = sx.size();
  std::vector<int64_t> in_stride(r, 1), st(r), sy(r), idx(r, 0);
  for (size_t d = r; d-- > 1;) in_stride[d - 1] = in_stride[d] * sx[d];
  for (size_t d = 0; d < r; ++d) {
    sy[d] = sx[p.perm[d]];
    st[d] = in_stride[p.perm[d]];  // input stride of output dim d
  }
  const int64_t total = numel(sx);
  int64_t ix = 0;
  for (int64_t o = 0; o < total; ++o) {
    y[o] = x[ix];
    for (size_t d = r; d-- > 0;) {  // odometer over the output
      ++idx[d];
      ix += st[d];
      if (idx[d] < sy[d]) break;
      ix -= st[d] * idx[d];
      idx[d] = 0;
    }
  }
}

namespace {

// Source index along one dim of length n for output index i (already shifted by -begin);
// -1 = outside (constant mode).
int64_t pad_source(pad_mode mode, int64_t i, int64_t n) {
  if (i >= 0 && i < n) return i;
  if (mode == pad_mode::constant) return -1;
  if (mode == pad_mode::edge || n == 1) return std::clamp<int64_t>(i, 0, n - 1);
  const int64_t period = 2 * (n - 1);  // reflect: ... 2 1 | 0 1 2 .. n-1 | n-2 ...
  int64_t m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

}  // namespace

void pad(const pad_params& p, const float* x, const shape_t& sx, float* y, const shape_t& sy) {
  const size_t r = sx.size();
  std::vector<int64_t> in_stride(r, 1), idx(r, 0);
  for (size_t d = r; d-- > 1;) in_stride[d - 1] = in_stride[d] * sx[d];
  const int64_t total = numel(sy);
  for (int64_t o = 0; o < total; ++o) {
    int64_t ix = 0;
    bool inside = true;
    for (size_t d = 0; d < r && inside; ++d) {
      const int64_t s = pad_source(p.mode, idx[d] - p.begin[d], sx[d]);
      if (s < 0) inside = false;
      else ix += s * in_stride[d];
    }
    y[o] = inside ? x[ix] : p.value;
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < sy[d]) break;
      idx[d] = 0;
    }
  }
}

void concat(int64_t axis, const std::vector<const float*>& xs, const std::vector<shape_t>& shapes, float* y,
            const shape_t& sy) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= sy[d];
  for (size_t d = axis + 1; d < sy.size(); ++d) inner *= sy[d];
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < xs.size(); ++i) {
      const int64_t chunk = shapes[i][axis] * inner;
      std::copy(xs[i] + o * chunk, xs[i] + (o + 1) * chunk, y);
      y += chunk;
    }
}

base::result<void> run_step(const step& s, const std::vector<const float*>& in, const std::vector<shape_t>& in_shapes,
                            float* out, const shape_t& out_shape) {
  switch (s.kind) {
    case op_kind::conv:
      conv(std::get<conv_params>(s.params), in[0], in[1], in.size() > 2 ? in[2] : nullptr, out);
      return {};
    case op_kind::relu:
    case op_kind::sigmoid:
      unary(s.kind, nullptr, numel(out_shape), in[0], out);
      return {};
    case op_kind::clip: {
      const clip_params& cp = std::get<clip_params>(s.params);
      unary(s.kind, &cp, numel(out_shape), in[0], out);
      return {};
    }
    case op_kind::max_pool:
      max_pool(std::get<pool_params>(s.params), in[0], out);
      return {};
    case op_kind::avg_pool:
      avg_pool(std::get<pool_params>(s.params), in[0], out);
      return {};
    case op_kind::global_avg_pool:
      global_avg_pool(in_shapes[0][0], in_shapes[0][1], in_shapes[0][2] * in_shapes[0][3], in[0], out);
      return {};
    case op_kind::batch_norm:
      batch_norm(std::get<batch_norm_params>(s.params), in_shapes[0][0], in_shapes[0][1],
                 in_shapes[0][2] * in_shapes[0][3], in[0], out);
      return {};
    case op_kind::resize:
      resize(std::get<resize_params>(s.params), in[0], out);
      return {};
    case op_kind::concat:
      concat(std::get<concat_params>(s.params).axis, in, in_shapes, out, out_shape);
      return {};
    case op_kind::add:
    case op_kind::sub:
    case op_kind::mul:
    case op_kind::div:
    case op_kind::prelu:
      binary(s.kind, in[0], in_shapes[0], in[1], in_shapes[1], out, out_shape);
      return {};
    case op_kind::transpose:
      transpose(std::get<transpose_params>(s.params), in[0], in_shapes[0], out);
      return {};
    case op_kind::pad:
      pad(std::get<pad_params>(s.params), in[0], in_shapes[0], out, out_shape);
      return {};
  }
  return base::make_error(base::errc::internal, s.node + ": unknown step kind");
}

}  // namespace idphoto::infer::ref

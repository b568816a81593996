// Bilinear Resize kernel of the oneDNN executor (see onednn_resize.hpp).
// It exists because oneDNN's resampling computes source coordinates in float.
#include "infer/onednn_resize.hpp"
#include "infer/ref_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace idphoto::infer::onednn {
namespace {

/*
 * Why not oneDNN's resampling: it maps x_in = (x_out + 0.5) * in / out - 0.5
 * in float, so the tap weight is off by up to one ulp of the coordinate
 * (4e-6 at coordinate 50), which a large neighbour turns into an output error
 * far above the rounding of the interpolation itself. Here the taps are
 * computed once per row and column in double, with the same formulas as
 * ref::resize (so every ONNX coordinate transform is supported, and a tap is
 * bit-identical to the reference's), and the interpolation uses the
 * reference's expression order. The work is split over (image, channel block,
 * output row) with OpenMP; the inner loop runs over the 16 channels of a block
 * (or one pixel row for plain data), which the compiler vectorises.
 */
using tap = ref::lerp_tap;

std::vector<tap> make_taps(resize_coord mode, float scale, int64_t in_len, int64_t out_len) {
  std::vector<tap> t(out_len);
  for (int64_t o = 0; o < out_len; ++o) t[o] = ref::linear_tap(mode, o, scale, in_len, out_len);
  return t;
}

template <int B>
inline __attribute__((always_inline)) void blocked_row(const float* __restrict r0, const float* __restrict r1, float wy,
                                                       const tap* __restrict tx, int64_t w_out, float* __restrict out) {
  for (int64_t ox = 0; ox < w_out; ++ox) {
    const int64_t i0 = tx[ox].i0 * B, i1 = tx[ox].i1 * B;
    const float wx = tx[ox].w1;
    float* __restrict o = out + ox * B;
    for (int c = 0; c < B; ++c) {
      const float v00 = r0[i0 + c], v01 = r0[i1 + c], v10 = r1[i0 + c], v11 = r1[i1 + c];
      const float top = v00 + (v01 - v00) * wx;
      const float bot = v10 + (v11 - v10) * wx;
      o[c] = top + (bot - top) * wy;
    }
  }
}

// One output row r of the (image x channel block x row) space.
template <int B>
inline __attribute__((always_inline)) void one_row(const resize_params& p, const tap* ty, const tap* tx, const float* x,
                                                   float* y, int64_t r) {
  const int64_t plane = r / p.h_out, oy = r % p.h_out;
  const float* xi = x + plane * p.h_in * p.w_in * B;
  const tap& a = ty[oy];
  blocked_row<B>(xi + a.i0 * p.w_in * B, xi + a.i1 * p.w_in * B, a.w1, tx, p.w_out,
                 y + (plane * p.h_out + oy) * p.w_out * B);
}

// The OpenMP region sits in the target-specific function itself so that its
// outlined body is compiled for the same ISA.
__attribute__((target("avx512f"))) void run_blocked_avx512(const resize_params& p, const tap* ty, const tap* tx,
                                                           const float* x, float* y) {
  const int64_t rows = p.n * (p.c / 16) * p.h_out;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) one_row<16>(p, ty, tx, x, y, r);
}

void run_blocked_default(const resize_params& p, const tap* ty, const tap* tx, const float* x, float* y) {
  const int64_t rows = p.n * (p.c / 16) * p.h_out;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) one_row<16>(p, ty, tx, x, y, r);
}

void run_plain(const resize_params& p, const tap* ty, const tap* tx, const float* x, float* y) {
  const int64_t rows = p.n * p.c * p.h_out;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) one_row<1>(p, ty, tx, x, y, r);
}

}  // namespace

void resize_linear(const resize_params& p, int block, const float* x, float* y) {
  const std::vector<tap> ty = make_taps(p.coord, p.scale_h, p.h_in, p.h_out);
  const std::vector<tap> tx = make_taps(p.coord, p.scale_w, p.w_in, p.w_out);
  if (block == 16) {
    if (__builtin_cpu_supports("avx512f")) run_blocked_avx512(p, ty.data(), tx.data(), x, y);
    else run_blocked_default(p, ty.data(), tx.data(), x, y);
  } else {
    run_plain(p, ty.data(), tx.data(), x, y);
  }
}

}  // namespace idphoto::infer::onednn

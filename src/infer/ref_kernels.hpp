// Plain C++ reference kernels, one per op, on dense NCHW float32 arrays.
// They define what "correct" means for the fast path; clarity over speed.
#pragma once
#include <vector>

#include "base/result.hpp"
#include "infer/plan.hpp"

namespace idphoto::infer::ref {

// w: [c_out, c_in/group, kh, kw] float32; b may be null.
void conv(const conv_params& p, const float* x, const float* w, const float* b, float* y);
void max_pool(const pool_params& p, const float* x, float* y);
void avg_pool(const pool_params& p, const float* x, float* y);
void global_avg_pool(int64_t n, int64_t c, int64_t hw, const float* x, float* y);
void batch_norm(const batch_norm_params& p, int64_t n, int64_t c, int64_t hw, const float* x, float* y);
void resize(const resize_params& p, const float* x, float* y);
// One output coordinate of linear Resize: the two source indices and the weight of
// the second, exactly as resize() computes them (the fast kernel uses the same taps).
struct lerp_tap {
  int64_t i0, i1;
  float w1;  // weight of i1; i0 gets 1 - w1
};
lerp_tap linear_tap(resize_coord mode, int64_t out_i, float scale, int64_t in_len, int64_t out_len);
// relu, sigmoid, clip (clip needs cp).
void unary(op_kind k, const clip_params* cp, int64_t count, const float* x, float* y);
// add, sub, mul, div, prelu (y = a < 0 ? a * b : a) with numpy broadcasting; shapes are right-aligned.
void binary(op_kind k, const float* a, const shape_t& sa, const float* b, const shape_t& sb, float* y,
            const shape_t& sy);
// y[i_0..i_r] = x[i at perm^-1]: output dim d is input dim perm[d]. Any rank.
void transpose(const transpose_params& p, const float* x, const shape_t& sx, float* y);
// Output index i reads input index i - begin (constant value outside; edge clamps; reflect
// mirrors without repeating the edge cell). Any rank; negative pads crop.
void pad(const pad_params& p, const float* x, const shape_t& sx, float* y, const shape_t& sy);
void concat(int64_t axis, const std::vector<const float*>& xs, const std::vector<shape_t>& shapes, float* y,
            const shape_t& sy);

// Runs one step on dense NCHW float32 buffers. in[i] matches step.inputs[i]
// (conv weights and bias already widened to float32). Fails only for an op kind
// with malformed params (internal).
base::result<void> run_step(const step& s, const std::vector<const float*>& in, const std::vector<shape_t>& in_shapes,
                            float* out, const shape_t& out_shape);

}  // namespace idphoto::infer::ref

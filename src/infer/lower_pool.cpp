// Pooling steps on oneDNN: max and average pooling (ONNX ceil_mode mapped onto oneDNN's
// padding) and global average pooling.
#include "infer/executor_onednn.hpp"
#include "infer/ref_kernels.hpp"

namespace idphoto::infer::onednn {

using base::errc;

/*
 * Pooling. ONNX ceil_mode lets the last window run past the bottom/right pad;
 * oneDNN instead requires out = (in + pad_l + pad_r - extent) / stride + 1 in
 * integer (floor) division, so we grow the bottom/right padding to exactly
 * (out - 1) * stride + extent - in - pad_l. Max pooling and average pooling
 * that excludes padding ignore padded cells, so the result is unchanged. With
 * count_include_pad, ONNX divides by the cells inside the file's padding only,
 * while oneDNN divides by the whole kernel; those agree unless a window
 * crosses the grown part, and then the reference kernel runs instead.
 */
base::result<void> onednn_executor::lower_pool(int i) {
  const step& st = p_->steps[i];
  const auto& pp = std::get<pool_params>(st.params);
  const int x = st.inputs.at(0);
  const shape_t xs{pp.n, pp.c, pp.h_in, pp.w_in};
  const bool is_max = st.kind == op_kind::max_pool;

  auto eff_pad = [](int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pad_lo, int64_t pad_hi) {
    const int64_t extent = (k - 1) * d + 1;
    if ((in + pad_lo + pad_hi - extent) >= 0 && (in + pad_lo + pad_hi - extent) / s + 1 == out) return pad_hi;
    return (out - 1) * s + extent - in - pad_lo;
  };
  const int64_t pad_b = eff_pad(pp.h_in, pp.h_out, pp.kh, pp.stride_h, pp.dil_h, pp.pad_t, pp.pad_b);
  const int64_t pad_r = eff_pad(pp.w_in, pp.w_out, pp.kw, pp.stride_w, pp.dil_w, pp.pad_l, pp.pad_r);
  const bool grown = pad_b > pp.pad_b || pad_r > pp.pad_r;
  if (pad_b < 0 || pad_r < 0 || (!is_max && pp.count_include_pad && grown)) {
    return lower_ref(i, {x}, [pp, is_max](const std::vector<const float*>& in, float* out) {
      if (is_max) ref::max_pool(pp, in[0], out);
      else ref::avg_pool(pp, in[0], out);
    });
  }
  const auto alg = is_max ? dnnl::algorithm::pooling_max
                          : (pp.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                  : dnnl::algorithm::pooling_avg_exclude_padding);
  return add_pooling(i, alg, xs, {pp.stride_h, pp.stride_w}, {pp.kh, pp.kw}, {pp.dil_h - 1, pp.dil_w - 1},
                     {pp.pad_t, pp.pad_l}, {pad_b, pad_r});
}

// The planner made x 4-D and y [N, C, 1, 1].
base::result<void> onednn_executor::lower_global_avg_pool(int i) {
  const shape_t& xs = val(p_->steps[i].inputs.at(0)).shape;
  return add_pooling(i, dnnl::algorithm::pooling_avg_exclude_padding, xs, {1, 1}, {xs[2], xs[3]}, {0, 0}, {0, 0},
                     {0, 0});
}

// x (viewed in y's layout family) pooled into y by one oneDNN pooling primitive.
base::result<void> onednn_executor::add_pooling(int i, dnnl::algorithm alg, const shape_t& xs,
                                                const memory::dims& stride, const memory::dims& kernel,
                                                const memory::dims& dil, const memory::dims& pad_lo,
                                                const memory::dims& pad_hi) {
  const step& st = p_->steps[i];
  const int x = st.inputs.at(0), y = st.output;
  const memory::desc yd = vdesc(y), xd = desc_like(yd, xs);
  dnnl::pooling_v2_forward::primitive_desc pd;
  try {
    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, xd, yd, stride, kernel, dil, pad_lo,
                                     pad_hi);
    pd = dnnl::pooling_v2_forward::primitive_desc(d, base_attr(), eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN pooling: " + dnnl_what(e));
  }
  auto src = input_as(x, xs, xd, i);
  if (!src.ok()) return src.err();
  add_primitive(i, dnnl::pooling_v2_forward(pd), pd, {{DNNL_ARG_SRC, *src}, {DNNL_ARG_DST, vmem_[y]}});
  return {};
}

}  // namespace idphoto::infer::onednn

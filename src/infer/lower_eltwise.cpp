// Activation steps on oneDNN: Relu, Sigmoid and Clip as one eltwise primitive each, PRelu
// as oneDNN's prelu primitive (the slope broadcast as its weights).
#include "infer/executor_onednn.hpp"
#include "infer/ref_kernels.hpp"

namespace idphoto::infer::onednn {

using base::errc;

base::result<void> onednn_executor::lower_eltwise(int i) {
  const step& st = p_->steps[i];
  const int x = st.inputs.at(0);
  dnnl::algorithm alg = dnnl::algorithm::eltwise_relu;
  float alpha = 0.f, beta = 0.f;
  if (st.kind == op_kind::sigmoid) alg = dnnl::algorithm::eltwise_logistic;
  if (st.kind == op_kind::clip) {
    const auto& c = std::get<clip_params>(st.params);
    alg = dnnl::algorithm::eltwise_clip;
    alpha = c.lo;
    beta = c.hi;
  }
  return add_eltwise(i, alg, alpha, beta, x);
}

base::result<void> onednn_executor::add_eltwise(int i, dnnl::algorithm alg, float alpha, float beta, int x) {
  const step& st = p_->steps[i];
  const int y = st.output;
  const memory::desc yd = vdesc(y);
  dnnl::eltwise_forward::primitive_desc pd;
  try {
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, alg, yd, alpha, beta);
    pd = dnnl::eltwise_forward::primitive_desc(d, base_attr(), eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN eltwise: " + dnnl_what(e));
  }
  auto src = input_as(x, val(x).shape, yd, i);
  if (!src.ok()) return src.err();
  add_primitive(i, dnnl::eltwise_forward(pd), pd, {{DNNL_ARG_SRC, *src}, {DNNL_ARG_DST, vmem_[y]}});
  return {};
}

/*
 * PRelu: y = x < 0 ? slope * x : x, the slope broadcast to x (the planner checked that the
 * output has x's shape). The slope, right-aligned to x's rank, is the prelu primitive's
 * weights in x's layout family, so a per-channel slope on nChw16c runs the JIT kernel. A
 * scalar output, or a broadcast oneDNN refuses, runs the reference kernel.
 */
base::result<void> onednn_executor::lower_prelu(int i) {
  const step& st = p_->steps[i];
  const int x = st.inputs[0], s = st.inputs[1], y = st.output;
  const shape_t& ys = val(y).shape;
  const shape_t ss = pad_rank(val(s).shape, ys.size());
  auto reference = [&] {
    const shape_t sx = val(x).shape, sv = val(s).shape;
    return lower_ref(i, {x, s}, [sx, sv](const std::vector<const float*>& in, float* out) {
      ref::binary(op_kind::prelu, in[0], sx, in[1], sv, out, sx);
    });
  };
  if (ys.empty()) return reference();
  const memory::desc yd = vdesc(y), sd = desc_like(yd, ss);
  dnnl::prelu_forward::primitive_desc pd;
  try {
    dnnl::prelu_forward::desc d(dnnl::prop_kind::forward_inference, yd, sd);
    pd = dnnl::prelu_forward::primitive_desc(d, base_attr(), eng_);
  } catch (const dnnl::error&) {
    return reference();
  }
  auto src = input_as(x, ys, yd, i);
  if (!src.ok()) return src.err();
  auto slope = input_as(s, ss, sd, i);
  if (!slope.ok()) return slope.err();
  add_primitive(i, dnnl::prelu_forward(pd), pd,
                {{DNNL_ARG_SRC, *src}, {DNNL_ARG_WEIGHTS, *slope}, {DNNL_ARG_DST, vmem_[y]}});
  return {};
}

}  // namespace idphoto::infer::onednn

// Elementwise steps on oneDNN: Relu, Sigmoid and Clip as one eltwise primitive each.
#include "infer/executor_onednn.hpp"

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

}  // namespace idphoto::infer::onednn

// Binary steps on oneDNN: Add, Sub, Mul, Div with numpy broadcasting, and the folded
// BatchNormalization (a per-channel multiply with the shift as a post-op).
#include "infer/executor_onednn.hpp"
#include "infer/ref_kernels.hpp"

namespace idphoto::infer::onednn {

using base::errc;

/*
 * Add, Sub, Mul, Div with numpy broadcasting. oneDNN's binary primitive needs
 * src0 to have the output's shape and lets src1 broadcast (each dim equal or
 * 1), with src1 in the same layout family as src0 for its JIT kernel. Shapes
 * are right-aligned to a common rank first; Add and Mul swap their operands
 * when only the first one broadcasts; Sub of a scalar constant from a tensor's
 * complement (c - x) becomes the linear eltwise -x + c. The rest (both sides
 * broadcasting, or Div with a broadcast numerator) run the reference kernel.
 */
base::result<void> onednn_executor::lower_binary(int i) {
  const step& st = p_->steps[i];
  int a = st.inputs[0], b = st.inputs[1];
  const int y = st.output;
  const shape_t& ys = val(y).shape;
  const size_t rank = std::max<size_t>(ys.size(), 1);
  auto fits = [&](const shape_t& s) {  // broadcastable to ys without being ys
    const shape_t p = pad_rank(s, rank), py = pad_rank(ys, rank);
    for (size_t d = 0; d < rank; ++d)
      if (p[d] != py[d] && p[d] != 1) return false;
    return true;
  };
  auto full = [&](const shape_t& s) { return pad_rank(s, rank) == pad_rank(ys, rank); };
  const bool commutative = st.kind == op_kind::add || st.kind == op_kind::mul;
  if (!full(val(a).shape) && full(val(b).shape) && commutative) std::swap(a, b);

  if (st.kind == op_kind::sub && !full(val(a).shape) && full(val(b).shape) && val(a).kind == value_kind::constant &&
      numel(val(a).shape) == 1) {
    const float c = to_f32(*val(a).constant).data<float>()[0];
    return add_eltwise(i, dnnl::algorithm::eltwise_linear, -1.f, c, b);
  }

  if (!full(val(a).shape) || !fits(val(b).shape)) {
    const op_kind k = st.kind;
    const shape_t sa = val(st.inputs[0]).shape, sb = val(st.inputs[1]).shape;
    return lower_ref(i, {st.inputs[0], st.inputs[1]}, [k, sa, sb, ys](const std::vector<const float*>& in, float* out) {
      ref::binary(k, in[0], sa, in[1], sb, out, ys);
    });
  }

  dnnl::algorithm alg = dnnl::algorithm::binary_add;
  if (st.kind == op_kind::sub) alg = dnnl::algorithm::binary_sub;
  if (st.kind == op_kind::mul) alg = dnnl::algorithm::binary_mul;
  if (st.kind == op_kind::div) alg = dnnl::algorithm::binary_div;
  const shape_t pa = pad_rank(val(a).shape, rank), pb = pad_rank(val(b).shape, rank);
  // A rank change means a plain view; keep the output's layout otherwise.
  const memory::desc yd = vdesc(y);
  const bool y_view = pad_rank(ys, rank) != ys;
  const memory::desc yv = y_view ? plain_desc(pad_rank(ys, rank)) : yd;
  const memory::desc ad = desc_like(yv, pa), bd = desc_like(yv, pb);
  dnnl::binary::primitive_desc pd;
  try {
    dnnl::binary::desc d(alg, ad, bd, yv);
    pd = dnnl::binary::primitive_desc(d, base_attr(), eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN binary: " + dnnl_what(e));
  }
  auto src0 = input_as(a, pa, ad, i);
  if (!src0.ok()) return src0.err();
  auto src1 = input_as(b, pb, bd, i);
  if (!src1.ok()) return src1.err();
  memory dst = vmem_[y];
  if (y_view) {
    // Only a rank-0 output is viewed (as [1]); it is never blocked.
    place at;
    at.buf = vbuf_[root_[y]];
    dst = make_mem(yv, at);
  }
  add_primitive(i, dnnl::binary(pd), pd, {{DNNL_ARG_SRC_0, *src0}, {DNNL_ARG_SRC_1, *src1}, {DNNL_ARG_DST, dst}});
  return {};
}

// y = x * scale[c] + shift[c]: a binary multiply by the per-channel scale with
// the shift added by a binary post-op, one pass over the data. The [1,C,1,1]
// operands are kept in the activation's layout family so the JIT kernel runs.
// The planner made x 4-D and scale/shift C values long.
base::result<void> onednn_executor::lower_batch_norm(int i) {
  const step& st = p_->steps[i];
  const auto& bp = std::get<batch_norm_params>(st.params);
  const int x = st.inputs.at(0), y = st.output;
  const shape_t& xs = val(x).shape;
  const int64_t c = xs[1];
  shape_t cs(xs.size(), 1);
  cs[1] = c;
  const memory::desc yd = vdesc(y), cd = desc_like(yd, cs);
  dnnl::binary::primitive_desc pd;
  try {
    dnnl::primitive_attr attr = base_attr();
    dnnl::post_ops po;
    po.append_binary(dnnl::algorithm::binary_add, cd);
    attr.set_post_ops(po);
    dnnl::binary::desc d(dnnl::algorithm::binary_mul, yd, cd, yd);
    pd = dnnl::binary::primitive_desc(d, attr, eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN binary: " + dnnl_what(e));
  }
  memory scale = owned_mem(bp.scale, cs, cd), shift = owned_mem(bp.shift, cs, cd);
  auto src = input_as(x, xs, yd, i);
  if (!src.ok()) return src.err();
  add_primitive(i, dnnl::binary(pd), pd,
                {{DNNL_ARG_SRC_0, *src},
                 {DNNL_ARG_SRC_1, scale},
                 {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, shift},
                 {DNNL_ARG_DST, vmem_[y]}});
  return {};
}

}  // namespace idphoto::infer::onednn

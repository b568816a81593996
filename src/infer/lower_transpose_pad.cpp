// Data-movement steps on oneDNN: Transpose as one reorder from a permuted-strides view of
// the input, constant Pad as a fill plus a reorder into the interior of the output.
#include <algorithm>

#include "infer/executor_onednn.hpp"
#include "infer/ref_kernels.hpp"

namespace idphoto::infer::onednn {

/*
 * Transpose. Output dim d is input dim perm[d], so the input read with the output's dims
 * and strides stride_x[perm[d]] is already the answer: a memory descriptor with those
 * strides over the input's dense bytes, reordered into the output's layout, does the whole
 * op in one oneDNN reorder (vectorised, threaded). A blocked input is first reordered to
 * dense into a step-local temporary. Transposes in our models are small (NHWC <-> NCHW at a
 * graph's edges), so this is about not leaving a slow path, not about speed.
 */
base::result<void> onednn_executor::lower_transpose(int i) {
  const step& st = p_->steps[i];
  const auto& tp = std::get<transpose_params>(st.params);
  const int x = st.inputs[0], y = st.output;
  const shape_t& xs = val(x).shape;
  const shape_t& ys = val(y).shape;
  if (xs.empty()) {
    return lower_ref(i, {x},
                     [tp, xs](const std::vector<const float*>& in, float* out) { ref::transpose(tp, in[0], xs, out); });
  }
  place dense_at;
  dense_at.buf = vbuf_[root_[x]];
  if (!(vdesc(x) == plain_desc(xs))) {
    memory dense = temp_mem(plain_desc(xs), i, &dense_at);
    add_reorder(i, vmem_[x], dense);
  }
  const memory::desc dense_x = plain_desc(xs);
  memory::dims strides(xs.size());
  for (size_t d = 0; d < xs.size(); ++d) strides[d] = dense_x.data.format_desc.blocking.strides[tp.perm[d]];
  const memory view = make_mem(memory::desc(dims_of(ys), dt::f32, strides), dense_at);
  add_reorder(i, view, vmem_[y]);
  return {};
}

/*
 * Pad. Constant mode with no negative pad: the output is filled with the value, then the
 * input is reordered into the sub-block of the output that starts at the begin pads. In
 * nChw16c a sub-block must start on a channel block, so a begin pad on channels that is
 * not a multiple of 16 (or a layout oneDNN refuses) runs the reference kernel, as do the
 * edge and reflect modes and crops.
 */
base::result<void> onednn_executor::lower_pad(int i) {
  const step& st = p_->steps[i];
  const auto& pp = std::get<pad_params>(st.params);
  const int x = st.inputs[0], y = st.output;
  const shape_t xs = val(x).shape, ys = val(y).shape;
  auto reference = [&] {
    return lower_ref(
        i, {x}, [pp, xs, ys](const std::vector<const float*>& in, float* out) { ref::pad(pp, in[0], xs, out, ys); });
  };
  const bool cropping = std::any_of(pp.begin.begin(), pp.begin.end(), [](int64_t v) { return v < 0; }) ||
                        std::any_of(pp.end.begin(), pp.end.end(), [](int64_t v) { return v < 0; });
  if (pp.mode != pad_mode::constant || cropping || xs.empty()) return reference();
  if (is_blocked(vdesc(y)) && pp.begin[1] % k_block != 0) return reference();
  memory::desc sub;
  try {
    sub = vdesc(y).submemory_desc(dims_of(xs), memory::dims(pp.begin.begin(), pp.begin.end()));
  } catch (const dnnl::error&) {
    return reference();
  }
  const memory dst = vmem_[y];
  const int64_t count = numel(ys);
  const float value = pp.value;
  add_kernel(
      i, [dst, count, value] { std::fill_n(static_cast<float*>(dst.get_data_handle()), count, value); },
      "idphoto:fill");
  place y_at;
  y_at.buf = vbuf_[root_[y]];
  add_reorder(i, vmem_[x], make_mem(sub, y_at));
  return {};
}

}  // namespace idphoto::infer::onednn

// Concat steps on oneDNN: inputs placed inside the output cost nothing (onednn_memory.cpp);
// the others are copied into their slice, by memcpy where the slice is contiguous.
#include "infer/executor_onednn.hpp"

namespace idphoto::infer::onednn {

using base::errc;

// The planner normalised the axis, gave every input the output's rank and made the
// extents add up to the output's.
base::result<void> onednn_executor::lower_concat(int i) {
  const step& st = p_->steps[i];
  const int64_t axis = std::get<concat_params>(st.params).axis;
  const int y = st.output;
  const shape_t& ys = val(y).shape;
  const bool y_blocked = is_blocked(vdesc(y));
  int64_t inner = 1;
  for (size_t d = axis + 1; d < ys.size(); ++d) inner *= ys[d];
  int64_t at = 0;
  for (size_t k = 0; k < st.inputs.size(); ++k) {
    const int x = st.inputs[k];
    const shape_t& xs = val(x).shape;
    memory::dims offsets(ys.size(), 0);
    offsets[axis] = at;
    const int64_t offset_bytes = at * inner * 4;
    at += xs[axis];
    if (concat_placed_[i][k]) continue;
    if (val(x).kind != value_kind::constant && is_blocked(vdesc(x)) == y_blocked &&
        slices_contiguous(ys, axis, y_blocked)) {
      // The slice is a contiguous byte range: a plain copy beats a reorder.
      place at_y;
      at_y.buf = vbuf_[root_[y]];
      at_y.offset = offset_bytes;
      const memory dst = make_mem(vdesc(x), at_y), src = vmem_[x];
      const int64_t bytes = numel(xs) * 4;
      add_kernel(
          i,
          [dst, src, bytes] {
            parallel_copy(static_cast<std::byte*>(dst.get_data_handle()),
                          static_cast<const std::byte*>(src.get_data_handle()), bytes);
          },
          "idphoto:copy");
      continue;
    }
    try {
      const memory::desc sub = vdesc(y).submemory_desc(dims_of(xs), offsets);
      place y_at;
      y_at.buf = vbuf_[root_[y]];
      memory dst = make_mem(sub, y_at);
      memory src;
      if (val(x).kind == value_kind::constant) src = constant_mem(x, xs, plain_desc(xs));
      else src = vmem_[x];
      add_reorder(i, src, dst);
    } catch (const dnnl::error& e) {
      return step_error(st, errc::unsupported, "oneDNN reorder into the concat: " + dnnl_what(e));
    }
  }
  return {};
}

}  // namespace idphoto::infer::onednn

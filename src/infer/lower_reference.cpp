// Steps the oneDNN executor runs with our reference kernel (ref_kernels.cpp): the cases no
// oneDNN primitive computes as ONNX defines them, on dense NCHW copies of the operands.
#include "infer/executor_onednn.hpp"

namespace idphoto::infer::onednn {

// Inputs are reordered to plain when they are not, and a blocked output is produced
// plain and reordered back.
base::result<void> onednn_executor::lower_ref(int i, const std::vector<int>& ins, ref_fn fn) {
  const step& st = p_->steps[i];
  std::vector<memory> srcs;
  for (int v : ins) {
    auto m = input_as(v, val(v).shape, plain_desc(val(v).shape), i);
    if (!m.ok()) return m.err();
    srcs.push_back(*m);
  }
  const int y = st.output;
  const memory::desc yp = plain_desc(val(y).shape);
  const bool temp = !(vdesc(y) == yp);
  memory dst = temp ? temp_mem(yp, i) : vmem_[y];
  add_kernel(
      i,
      [srcs, dst, fn] {
        std::vector<const float*> ptrs;
        for (const memory& m : srcs) ptrs.push_back(static_cast<const float*>(m.get_data_handle()));
        fn(ptrs, static_cast<float*>(dst.get_data_handle()));
      },
      "idphoto:reference");
  if (temp) add_reorder(i, dst, vmem_[y]);
  return {};
}

}  // namespace idphoto::infer::onednn

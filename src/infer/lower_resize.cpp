// Resize steps on oneDNN: linear modes on our threaded kernel (onednn_resize.cpp), nearest
// on oneDNN's resampling where its index rule equals ONNX's, the reference kernel otherwise.
#include <cmath>

#include "infer/executor_onednn.hpp"
#include "infer/onednn_resize.hpp"
#include "infer/ref_kernels.hpp"

namespace idphoto::infer::onednn {

using base::errc;

/*
 * Resize. Linear modes run our own threaded kernel (onednn_resize.cpp) for
 * every coordinate transform: oneDNN's resampling computes coordinates in
 * float, and near a large neighbour that error shows. Nearest runs oneDNN's
 * resampling where its index equals ONNX's: it picks
 * round((x_out + 0.5) * in / out - 0.5), which for an integer upscaling factor
 * k is floor(x_out / k), i.e. ONNX asymmetric+floor, tf_half_pixel_for_nn
 * +floor, and half_pixel+round_prefer_* (no ties occur). Any other nearest
 * case, or a scale that is not out / in, runs the reference kernel.
 */
base::result<void> onednn_executor::lower_resize(int i) {
  const step& st = p_->steps[i];
  const auto& rp = std::get<resize_params>(st.params);
  const int x = st.inputs.at(0), y = st.output;
  const shape_t xs{rp.n, rp.c, rp.h_in, rp.w_in};
  const memory::desc yd = vdesc(y), xd = desc_like(yd, xs);
  if (rp.mode == resize_mode::linear) {
    auto src = input_as(x, xs, xd, i);
    if (!src.ok()) return src.err();
    const memory s = *src, d = vmem_[y];
    const int block = is_blocked(yd) ? static_cast<int>(k_block) : 1;
    add_kernel(
        i,
        [rp, block, s, d] {
          resize_linear(rp, block, static_cast<const float*>(s.get_data_handle()),
                        static_cast<float*>(d.get_data_handle()));
        },
        "idphoto:resize_linear");
    return {};
  }
  auto same_scale = [](float sc, int64_t in, int64_t out) {
    const double r = static_cast<double>(out) / static_cast<double>(in);
    return std::abs(static_cast<double>(sc) - r) <= 1e-6 * r;
  };
  const bool dims_scale = same_scale(rp.scale_h, rp.h_in, rp.h_out) && same_scale(rp.scale_w, rp.w_in, rp.w_out);
  const bool half_pixel = rp.coord == resize_coord::half_pixel ||
                          (rp.coord == resize_coord::pytorch_half_pixel && rp.h_out > 1 && rp.w_out > 1);
  const bool round_mode =
      rp.nearest == resize_nearest::round_prefer_floor || rp.nearest == resize_nearest::round_prefer_ceil;
  const bool use_dnnl = dims_scale && rp.h_out % rp.h_in == 0 && rp.w_out % rp.w_in == 0 &&
                        ((rp.coord == resize_coord::asymmetric && rp.nearest == resize_nearest::floor) ||
                         (rp.coord == resize_coord::tf_half_pixel_for_nn && rp.nearest == resize_nearest::floor) ||
                         (half_pixel && round_mode));
  if (!use_dnnl) {
    return lower_ref(i, {x}, [rp](const std::vector<const float*>& in, float* out) { ref::resize(rp, in[0], out); });
  }
  dnnl::resampling_forward::primitive_desc pd;
  try {
    dnnl::resampling_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::resampling_nearest, xd, yd);
    pd = dnnl::resampling_forward::primitive_desc(d, base_attr(), eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN resampling: " + dnnl_what(e));
  }
  auto src = input_as(x, xs, xd, i);
  if (!src.ok()) return src.err();
  add_primitive(i, dnnl::resampling_forward(pd), pd, {{DNNL_ARG_SRC, *src}, {DNNL_ARG_DST, vmem_[y]}});
  return {};
}

}  // namespace idphoto::infer::onednn

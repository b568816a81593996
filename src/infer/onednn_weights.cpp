// Fused fp16 -> blocked f32 packing of conv weights (see onednn_weights.hpp).
#include "infer/onednn_weights.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "infer/tensor.hpp"

namespace idphoto::infer::onednn {

bool is_oihw16i16o(const dnnl::memory::desc& packed) {
  const dnnl_memory_desc_t& d = packed.data;
  if (d.ndims != 4 || d.data_type != dnnl_f32 || d.format_kind != dnnl_blocked || d.offset0 != 0) return false;
  const auto& b = d.format_desc.blocking;
  return b.inner_nblks == 2 && b.inner_idxs[0] == 1 && b.inner_blks[0] == 16 && b.inner_idxs[1] == 0 &&
         b.inner_blks[1] == 16 && d.padded_dims[2] == d.dims[2] && d.padded_dims[3] == d.dims[3];
}

/*
 * OIhw16i16o holds, for each (output block, input block, h, w), a 16x16 tile
 * with the 16 output channels innermost. The source [O][I][H][W] has, for one
 * output channel and one input block, 16 x H x W contiguous halves. So per
 * (output block, input block) we widen 16 such runs (F16C) into a small f32
 * tile buffer, then scatter it into the H x W destination tiles, which stay in
 * L1 (16 x 16 x H x W floats, 9 KiB for 3x3). Channels past O or I (oneDNN
 * pads both to 16) are written as zeros. Blocks are split over threads.
 */
void pack_f16_oihw16i16o(const uint16_t* w, const dnnl::memory::desc& packed, float* dst) {
  const dnnl_memory_desc_t& d = packed.data;
  const auto& st = d.format_desc.blocking.strides;
  const int64_t o_n = d.dims[0], i_n = d.dims[1], h_n = d.dims[2], w_n = d.dims[3];
  const int64_t ob_n = d.padded_dims[0] / 16, ib_n = d.padded_dims[1] / 16, hw = h_n * w_n;
  const int64_t blocks = ob_n * ib_n;
#pragma omp parallel
  {
    std::vector<float> tile(static_cast<size_t>(16 * 16 * hw));  // [oo][ii][hw]
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t ob = blk / ib_n, ib = blk % ib_n;
      const int64_t i0 = ib * 16, i_cnt = std::max<int64_t>(0, std::min<int64_t>(16, i_n - i0));
      for (int64_t oo = 0; oo < 16; ++oo) {
        float* t = tile.data() + oo * 16 * hw;
        const int64_t o = ob * 16 + oo;
        if (o >= o_n || i_cnt == 0) {
          std::memset(t, 0, sizeof(float) * 16 * hw);
          continue;
        }
        half_to_float_n(w + (o * i_n + i0) * hw, t, static_cast<size_t>(i_cnt * hw));
        if (i_cnt < 16) std::memset(t + i_cnt * hw, 0, sizeof(float) * (16 - i_cnt) * hw);
      }
      for (int64_t h = 0; h < h_n; ++h)
        for (int64_t x = 0; x < w_n; ++x) {
          float* out = dst + ob * st[0] + ib * st[1] + h * st[2] + x * st[3];
          const int64_t s = h * w_n + x;
          for (int64_t ii = 0; ii < 16; ++ii)
            for (int64_t oo = 0; oo < 16; ++oo) out[ii * 16 + oo] = tile[(oo * 16 + ii) * hw + s];
        }
    }
  }
}

}  // namespace idphoto::infer::onednn

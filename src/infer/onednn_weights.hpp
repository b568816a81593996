// Packing of fp16 conv weights straight into oneDNN's blocked f32 layout,
// for the executor's streamed weights mode: one pass instead of widen + reorder.
#pragma once
#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>

namespace idphoto::infer::onednn {

// True when `packed` (a conv's preferred weights desc) is OIhw16i16o
// (oneDNN "ABcd16b16a", padded channel dims allowed), the layout pack_f16_oihw16i16o writes.
bool is_oihw16i16o(const dnnl::memory::desc& packed);

// w: fp16 [O, I, H, W] dense. dst: packed.get_size() bytes; padding is zeroed.
// Multi-threaded (OpenMP). Never fails; call only when is_oihw16i16o(packed).
void pack_f16_oihw16i16o(const uint16_t* w, const dnnl::memory::desc& packed, float* dst);

}  // namespace idphoto::infer::onednn

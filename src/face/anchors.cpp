// BlazeFace anchor generation (SSD scheme, fixed anchor size): the centres of every cell of
// every feature map, in the order the model's score and box outputs are laid out.
#include "face/anchors.hpp"

#include <cmath>

namespace idphoto::face {

/*
 * SSD anchors. Layer l has a feature map of ceil(input / stride_l) cells per side; each
 * cell holds anchors_per_layer anchors, all centred at ((x + offset) / w, (y + offset) / h).
 * Consecutive layers with the same stride are one feature map whose cells hold the anchors
 * of all those layers (MediaPipe merges them; BlazeFace's strides 8,16,16,16 give a 16x16
 * map with 2 anchors per cell and an 8x8 map with 6: 512 + 384 = 896). With a fixed anchor
 * size every anchor is 1 x 1 in normalised units, so the per-layer scales of the general
 * SSD scheme only decide how many anchors a cell has, and are not computed.
 */
std::vector<anchor> make_anchors(const anchor_options& o) {
  std::vector<anchor> out;
  if (o.input_width <= 0 || o.input_height <= 0 || o.anchors_per_layer <= 0) return out;
  for (int s : o.strides)
    if (s <= 0) return out;
  size_t layer = 0;
  while (layer < o.strides.size()) {
    size_t last = layer;
    while (last < o.strides.size() && o.strides[last] == o.strides[layer]) ++last;
    const int per_cell = static_cast<int>(last - layer) * o.anchors_per_layer;
    const int stride = o.strides[layer];
    const int fw = (o.input_width + stride - 1) / stride, fh = (o.input_height + stride - 1) / stride;
    for (int y = 0; y < fh; ++y)
      for (int x = 0; x < fw; ++x)
        for (int k = 0; k < per_cell; ++k)
          out.push_back({(static_cast<float>(x) + o.offset) / static_cast<float>(fw),
                         (static_cast<float>(y) + o.offset) / static_cast<float>(fh)});
    layer = last;
  }
  return out;
}

}  // namespace idphoto::face

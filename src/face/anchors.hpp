// BlazeFace's SSD anchors: one centre per feature-map cell and anchor slot, made as
// MediaPipe's SsdAnchorsCalculator makes them with fixed_anchor_size (every anchor 1 x 1).
#pragma once
#include <vector>

namespace idphoto::face {

struct anchor {
  float x = 0, y = 0;  // centre, as a fraction of the model input's width / height
};

struct anchor_options {
  int input_width = 128, input_height = 128;   // model input, px
  std::vector<int> strides = {8, 16, 16, 16};  // one per SSD layer, px
  int anchors_per_layer = 2;                   // aspect ratios (MediaPipe: just 1.0) + the interpolated scale
  float offset = 0.5f;                         // where in its cell an anchor sits (0.5 = the centre)
};

// The short-range front model's 896 anchors with the defaults. Order: layers in turn
// (consecutive layers with the same stride share one feature map, so their slots are
// interleaved per cell), rows top to bottom, cells left to right, a cell's slots together
// — the order of the model's outputs. Empty when an option is not positive.
std::vector<anchor> make_anchors(const anchor_options& o = {});

}  // namespace idphoto::face

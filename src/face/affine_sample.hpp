// Resampling an RGB photo through an affine map into a model's input tensor (NHWC float),
// anti-aliased, with a zero or replicated border: the letterbox and the face crop.
#pragma once
#include "face/face.hpp"

namespace idphoto::face {

// Output pixel (i, j), whose centre is (i + 0.5, j + 0.5) in output coordinates, looks at
// the photo point origin + (i + 0.5) * ax + (j + 0.5) * ay (photo coordinates, pixel
// centres at +0.5, as in face.hpp). ax, ay: one output pixel's step in the photo.
struct affine_map {
  point origin, ax, ay;
  point apply(float u, float v) const { return {origin.x + u * ax.x + v * ay.x, origin.y + u * ax.y + v * ay.y}; }
};

enum class border {
  zero,       // outside the photo is black (MediaPipe's letterbox: BORDER_ZERO)
  replicate,  // outside the photo repeats the edge pixel (MediaPipe's face crop)
};

// Most sub-samples per output pixel and axis (see affine_sample.cpp).
constexpr int k_max_supersample = 12;

// Writes out_w * out_h * 3 floats (row-major, RGB interleaved): value * scale + bias, where
// value is the photo's 0..255 sample. photo must be a valid, non-empty view; out_w, out_h > 0.
// Never fails.
void sample_rgb(const rgb_view& photo, const affine_map& m, int out_w, int out_h, border b, float scale, float bias,
                float* out);

}  // namespace idphoto::face

// Plain pixel buffers the pipeline's mask steps work on: interleaved 8-bit RGB
// and a float alpha plane (0 = background, 1 = subject), both row-major.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace idphoto::pipeline {

struct rgb8_plane {
  int width = 0, height = 0;
  std::vector<uint8_t> px;  // width * height * 3
  const uint8_t* at(int x, int y) const { return px.data() + (static_cast<size_t>(y) * width + x) * 3; }
};

struct alpha_plane {
  int width = 0, height = 0;
  std::vector<float> a;  // width * height, 0..1
  float& at(int x, int y) { return a[static_cast<size_t>(y) * width + x]; }
  float at(int x, int y) const { return a[static_cast<size_t>(y) * width + x]; }
};

// Bilinear resize of a float plane (half-pixel centres, edge clamp). Never fails; an
// empty input gives a zero plane of the requested size.
alpha_plane resize_alpha(const alpha_plane& in, int width, int height);

// Box mean of a float plane over a (2r+1)^2 window clipped to the image (O(1) per pixel).
void box_mean(const float* in, float* out, int width, int height, int r);

}  // namespace idphoto::pipeline

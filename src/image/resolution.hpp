// Print resolution carried by an image (PNG pHYs, JPEG JFIF density), and a crop to a
// rectangle: the two image operations the ID-photo framing needs beyond ops.hpp.
#pragma once
#include "base/result.hpp"
#include "image/image.hpp"

namespace idphoto::image {

// The same pixels with `dpi` pixels per inch on both axes; encode() then writes it
// (PNG pHYs in pixels per metre, JPEG JFIF density in dots per inch).
// Returns errc::invalid_argument for an empty image or dpi outside 1..10000, errc::internal.
base::result<image> with_dpi(const image& in, double dpi);

// The image's resolution in pixels per inch (libvips' xres; 25.4 when nothing set it).
// Returns errc::invalid_argument for an empty image.
base::result<double> dpi_of(const image& in);

// The w x h rectangle at (x, y), which must lie inside the image.
// Returns errc::invalid_argument (empty image, rectangle outside or empty), errc::internal.
base::result<image> crop(const image& in, int x, int y, int w, int h);

}  // namespace idphoto::image

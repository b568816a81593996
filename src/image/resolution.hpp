// Print resolution carried by an image (PNG pHYs, JPEG JFIF density), and a crop to a
// rectangle: the two image operations the ID-photo framing needs beyond ops.hpp.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "image/image.hpp"

namespace idphoto::image {

// The same pixels with `dpi` pixels per inch on both axes; encode() then writes it
// (PNG pHYs in pixels per metre, JPEG JFIF density in dots per inch).
// Returns errc::invalid_argument for an empty image or dpi outside 1..10000, errc::internal.
base::result<image> with_dpi(const image& in, double dpi);

/* The JPEG with a JFIF APP0 segment giving `dpi` (density unit 1 = dots per inch):
 * libvips 8.14's jpegsave writes no JFIF header and keeps the resolution only in EXIF,
 * which encode() strips. An APP0 right after SOI is replaced, otherwise one is inserted. */
// Returns errc::invalid_argument (not a JPEG, dpi outside 1..65535).
base::result<std::vector<uint8_t>> with_jpeg_density(std::span<const uint8_t> jpeg, double dpi);

// The image's resolution in pixels per inch (libvips' xres; 25.4 when nothing set it).
// Returns errc::invalid_argument for an empty image.
base::result<double> dpi_of(const image& in);

// The w x h rectangle at (x, y), which must lie inside the image.
// Returns errc::invalid_argument (empty image, rectangle outside or empty), errc::internal.
base::result<image> crop(const image& in, int x, int y, int w, int h);

}  // namespace idphoto::image

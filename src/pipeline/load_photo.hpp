// The photo as every pipeline step sees it: decoded (shrink-on-load into a box), turned
// upright (EXIF orientation), in sRGB, transparent areas flattened on white, in memory.
#pragma once
#include <cstdint>
#include <span>

#include "base/result.hpp"
#include "image/image.hpp"
#include "image/limits.hpp"
#include "pipeline/planes.hpp"

namespace idphoto::pipeline {

// max_side: the upright photo fits max_side x max_side, never enlarged; 0 = full size.
// Fails with the image module's errors: unsupported (format), too_large (limits), corrupt.
base::result<image::image> load_photo(std::span<const uint8_t> bytes, int max_side, const image::image_limits& limits);

// The photo's pixels as the mask and frame steps read them (8-bit RGB, row-major). Fails with
// the image module's errors (internal when libvips cannot convert it).
base::result<rgb8_plane> plane_of(const image::image& im);

}  // namespace idphoto::pipeline

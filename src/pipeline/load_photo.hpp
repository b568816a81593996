// The photo as every pipeline step sees it: decoded (shrink-on-load into a box), turned
// upright (EXIF orientation), in sRGB, transparent areas flattened on white, in memory.
#pragma once
#include <cstdint>
#include <span>

#include "base/result.hpp"
#include "image/image.hpp"
#include "image/limits.hpp"

namespace idphoto::pipeline {

// max_side: the upright photo fits max_side x max_side, never enlarged; 0 = full size.
// Fails with the image module's errors: unsupported (format), too_large (limits), corrupt.
base::result<image::image> load_photo(std::span<const uint8_t> bytes, int max_side, const image::image_limits& limits);

}  // namespace idphoto::pipeline

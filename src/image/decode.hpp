// Step 3: decode the first frame straight to a working size (shrink-on-load), so a
// large photo never exists in memory at full size; bad data is an error, not grey.
#pragma once
#include <filesystem>
#include <span>

#include "base/result.hpp"
#include "image/image.hpp"
#include "image/limits.hpp"

namespace idphoto::image {

struct decode_options {
  // Working box in the upright frame (orientation applied), px; the decoded image
  // fits inside it, aspect kept, never enlarged. 1600 leaves 2x headroom over the
  // <= 800 px output for mask refinement and covers 1024 px model inputs.
  // 0 = no box (full size; the limits still apply).
  int max_width = 1600;
  int max_height = 1600;
  // Checked again from the header before any pixel is decoded (defence in depth:
  // decode is safe even if the caller skipped check_limits).
  image_limits limits;
};

/* The returned image:
 * - is the first page/frame (animated WebP, multi-page TIFF, HEIF collections);
 * - keeps EXIF orientation and ICC profile as metadata (orient and to_srgb next);
 * - keeps the loader's pixel format: may be 16-bit, grey, CMYK, with alpha;
 * - is fully in memory, independent of `bytes` (which may be freed after).
 */
// Returns errc::unsupported (magic bytes), errc::too_large (limits), errc::corrupt
// (header or pixel data fails: truncated, bad CRC, ...), errc::internal.
base::result<image> decode(std::span<const uint8_t> bytes, const decode_options& opts = {});

// As decode(), reading the file. Also returns errc::not_found / errc::io.
base::result<image> decode_file(const std::filesystem::path& path, const decode_options& opts = {});

}  // namespace idphoto::image

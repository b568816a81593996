// Step 2: refuse images over the byte, pixel or side limits from their header alone,
// before any pixel is decoded; the limits are configuration (IDPHOTO_MAX_IMAGE_*).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/env.hpp"
#include "base/result.hpp"
#include "image/probe.hpp"

namespace idphoto::image {

/* Defaults, sized for a 512 MB host serving phone portraits:
 * - max_bytes 50 MiB: above any phone camera file (a 200 MP JPEG is ~20–30 MB,
 *   HEIC far less); bounds the encoded copy held in memory per request.
 * - max_pixels 2^26 (~67 MP): admits 48/50/64 MP phone full-resolution modes
 *   (8064x6048, 8160x6144, 9248x6936) and refuses 108/200 MP ones. JPEG
 *   shrinks on load and PNG/TIFF stream line by line, so for them this only
 *   bounds CPU; but HEIF/AVIF (libheif) and animated WebP decode whole frames,
 *   at ~4.5 bytes/px (YUV planes + RGB): ~300 MB at this cap, the most the
 *   host can give one decode. Lower it when several decodes run at once.
 * - max_side_px 20000: longer than any camera's long side (16320 at 200 MP), so
 *   only panoramas and crafted files hit it; keeps thin images (1000000x1)
 *   that pass the pixel cap out of the resizers.
 */
struct image_limits {
  int64_t max_bytes = int64_t{50} << 20;  // bytes of the encoded file; IDPHOTO_MAX_IMAGE_BYTES
  int64_t max_pixels = int64_t{1} << 26;  // width*height of the first frame; IDPHOTO_MAX_IMAGE_PIXELS
  int max_side_px = 20000;                // max(width, height), px; IDPHOTO_MAX_IMAGE_SIDE_PX

  // Defaults overridden by IDPHOTO_MAX_IMAGE_BYTES / _PIXELS / _SIDE_PX (load_env below).
  // Returns errc::invalid_argument naming every malformed key; unlike load_env, a key set to
  // an empty value is an error here too (the CLI's entry point has always refused it).
  static base::result<image_limits> from_env(const base::env_lookup& env = base::process_env);

  // Returns errc::invalid_argument naming every non-positive or out-of-range field.
  base::result<void> validate() const;
};

// IDPHOTO_MAX_IMAGE_BYTES (bytes), IDPHOTO_MAX_IMAGE_PIXELS, IDPHOTO_MAX_IMAGE_SIDE_PX, each
// with its one valid range.
const std::vector<base::env_key>& env_keys();
// Overrides the fields of *l whose keys are set; appends one error per bad key to *errors.
void load_env(const base::env_lookup& env, image_limits* l, std::vector<std::string>* errors);

// Returns errc::too_large naming the first limit exceeded and both numbers.
base::result<void> check_limits(const image_info& info, const image_limits& limits);

}  // namespace idphoto::image

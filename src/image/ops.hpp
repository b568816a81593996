// Steps 4–7 on decoded images: EXIF orientation, conversion to 8-bit sRGB,
// resizing, and compositing onto a background. Each lives in its own .cpp.
#pragma once
#include <optional>

#include "base/result.hpp"
#include "image/image.hpp"

namespace idphoto::image {

// Step 4 (orient.cpp): the image turned upright per its EXIF orientation (1–8) with
// the orientation tag removed, so applying it twice changes nothing.
// Returns errc::invalid_argument for an empty image, errc::internal if libvips fails.
base::result<image> orient(const image& in);

// Step 5 (to_srgb.cpp): colour as 3-band 8-bit sRGB, alpha split off as 1-band 8-bit.
struct srgb_image {
  image rgb;                   // 3 bands, 8-bit, sRGB, no ICC profile attached
  std::optional<image> alpha;  // 1 band, 8-bit (255 = opaque) when the input had alpha
};
// Handles grey, grey+alpha, palette (+tRNS), RGB(A), 16-bit, CMYK (embedded ICC or
// libvips' built-in CMYK profile) and embedded ICC profiles (perceptual intent).
// A broken or mismatched ICC profile falls back to the plain conversion.
// Flatten alpha with composite(rgb, *alpha, background) if a flat image is wanted.
// Returns errc::unsupported for band layouts it cannot read as colour, errc::internal.
base::result<srgb_image> to_srgb(const image& in);

// Step 6 (resize.cpp).
struct resize_options {
  bool allow_upscale = false;  // resize_to_fit: enlarge images smaller than the box
};
// High-quality fit inside box_w x box_h, aspect kept (Lanczos-3 down, bicubic up;
// alpha premultiplied). Smaller images come back unchanged unless allow_upscale.
// Returns errc::invalid_argument for an empty image or a box < 1, errc::internal.
base::result<image> resize_to_fit(const image& in, int box_w, int box_h, const resize_options& opts = {});
// Exactly width x height, aspect not kept (model input, mask to output size).
// Returns errc::invalid_argument for an empty image or a size < 1, errc::internal.
base::result<image> resize_exact(const image& in, int width, int height);

// Step 7 (composite.cpp): rgb (3-band 8-bit) with mask (1-band 8-bit, same size,
// 255 = foreground) onto `background`: out = (rgb*m + bg*(255-m)) / 255, exact at
// m = 0 (background) and m = 255 (foreground); 3-band RGB. Without a background:
// 4-band RGBA with the mask as alpha.
// Returns errc::invalid_argument on a band, size or format mismatch, errc::internal.
base::result<image> composite(const image& rgb, const image& mask, std::optional<rgb8> background);

}  // namespace idphoto::image

// The image type every step of the image module passes along, the process-wide
// libvips setup (init_vips), and the bridges to plain 8-bit pixel buffers.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.hpp"

// libvips' image handle, forward-declared so users of this header do not need
// libvips' include paths (the same typedef as in <vips/image.h>).
typedef struct _VipsImage VipsImage;

namespace idphoto::image {

// File formats this module reads (all of them) and writes (png, jpeg, webp).
enum class format { jpeg, png, webp, heif, avif, tiff };
const char* format_name(format f);  // "jpeg", "png", ...

struct vips_image_deleter {
  void operator()(VipsImage* p) const noexcept;  // g_object_unref
};
using vips_image_ptr = std::unique_ptr<VipsImage, vips_image_deleter>;

// One reference to a libvips image. Pixels may still be lazy (computed when read);
// decode() and materialise() return images whose pixels are in memory.
struct image {
  vips_image_ptr v;

  int width() const;
  int height() const;
  int bands() const;
  bool empty() const { return !v; }
  image share() const;  // another reference to the same (immutable) image
};

// A colour for backgrounds.
struct rgb8 {
  uint8_t r = 255, g = 255, b = 255;
};

// "#RRGGBB" (hex digits of either case) as a colour; nullopt for anything else.
std::optional<rgb8> parse_hex_rgb(std::string_view s);

// Called with each libvips/GLib warning instead of printing it; must be thread-safe.
using warning_sink = void (*)(const char* message);

// Starts libvips once per process (VIPS_INIT), then on every call: caps libvips'
// worker threads at n_threads, keeps its operation cache off, blocks every
// loader except JPEG/PNG/WebP/HEIF/TIFF plus all "untrusted" operations, and
// routes libvips warnings to `sink` (nullptr: dropped; never printed).
// Idempotent and thread-safe; every other function here refuses to run before it.
// Returns errc::invalid_argument if n_threads < 1, errc::internal if libvips fails to start.
base::result<void> init_vips(int n_threads, warning_sink sink = nullptr);

// Interleaved 8-bit pixels, row-major, no padding: data.size() == width*height*bands.
struct pixel_buffer {
  std::vector<uint8_t> data;
  int width = 0;
  int height = 0;
  int bands = 0;
};

// The image's own pixels (1–4 bands, 8-bit), computed now.
// Returns errc::invalid_argument if the image is not 8-bit, errc::corrupt if computing fails.
base::result<pixel_buffer> to_pixels(const image& im);

// 8-bit interleaved RGB of an 8-bit image (grey expanded, alpha dropped unblended;
// flatten alpha first with composite() if it matters). Feed to_srgb() output here.
// Returns errc::invalid_argument if the image is not 8-bit, errc::corrupt if computing fails.
base::result<pixel_buffer> to_rgb8(const image& im);

// An image holding a copy of `data` (w*h*bands bytes; 1 = grey, 2 = grey+alpha,
// 3 = sRGB, 4 = sRGBA).
// Returns errc::invalid_argument on a size/band mismatch, errc::internal if libvips fails.
base::result<image> from_pixels(std::span<const uint8_t> data, int width, int height, int bands);

// A one-band 8-bit mask from a float mask in [0,1] (clamped, NaN → 0, rounded to 0..255).
// Returns errc::invalid_argument on a size mismatch, errc::internal if libvips fails.
base::result<image> mask_from_float(std::span<const float> data, int width, int height);

// Computes every pixel of a lazy image into memory now, so later steps cannot fail on it.
// Returns errc::corrupt if computing fails (e.g. bad data surfaced late).
base::result<image> materialise(const image& im);

}  // namespace idphoto::image

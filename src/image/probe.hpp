// Step 1: identify an image by its magic bytes and read its header, without
// decoding pixels, so limits can be checked before any large allocation.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

#include "base/result.hpp"
#include "image/image.hpp"

namespace idphoto::image {

struct image_info {
  format fmt = format::jpeg;
  int width = 0;               // px, as stored (before EXIF orientation); first page/frame
  int height = 0;              // px, as stored; one page/frame for multi-page files
  int bands = 0;               // channels as libvips will load them (palette → 3 or 4)
  int orientation = 1;         // EXIF orientation 1–8 (1 when absent or invalid)
  bool has_alpha = false;      // last band is alpha (palette tRNS, grey+alpha, RGBA, CMYK+alpha)
  bool has_icc = false;        // an embedded ICC profile
  std::string interpretation;  // libvips nick: "srgb", "b-w", "cmyk", "rgb16", "grey16", ...
  int bits_per_sample = 8;     // per decoded sample: 8 or 16 (32 for float TIFF)
  bool palette = false;        // a palette (indexed) PNG; decoded to 3 or 4 bands
  int n_pages = 1;             // pages/frames in the file; only the first is decoded
  bool animated = false;       // several frames with delays (animated WebP)
  int64_t byte_size = 0;       // bytes of the encoded file

  // Whether the upright image is height x width (orientation 5–8).
  bool swaps_axes() const { return orientation >= 5 && orientation <= 8; }
};

// The format named by the first bytes (JPEG FF D8 FF, PNG signature, RIFF....WEBP,
// TIFF II*\0 / MM\0* (and BigTIFF), ISO-BMFF ftyp with a HEIF or AVIF brand).
// Returns errc::unsupported "unsupported image format (<what it looks like>)" for anything else.
base::result<format> sniff_format(std::span<const uint8_t> head);

// Format by magic bytes, then the header through that format's own loader only.
// Returns errc::unsupported (magic), errc::corrupt (header does not parse).
base::result<image_info> probe(std::span<const uint8_t> bytes);

// As probe(), reading only as much of the file as the header needs.
// Returns errc::not_found (no such file), errc::io (unreadable / not a regular file),
// errc::unsupported, errc::corrupt.
base::result<image_info> probe_file(const std::filesystem::path& path);

}  // namespace idphoto::image

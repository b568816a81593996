// Internal (not a public header): open bytes or a file as a libvips source, pick the
// loader by magic bytes, and run exactly that loader; shared by probe and decode.
#pragma once
#include <filesystem>
#include <span>

#include "image/probe.hpp"
#include "image/vips_util.hpp"

namespace idphoto::image::detail {

struct opened_source {
  source_ptr src;
  format fmt = format::jpeg;
  int64_t byte_size = 0;
};

// A source over `bytes` (not copied: they must outlive every lazy image loaded
// from it). Returns errc::unsupported for an unknown format.
base::result<opened_source> open_bytes(std::span<const uint8_t> bytes);

// A source reading `path` on demand. Returns errc::not_found, errc::io, errc::unsupported.
base::result<opened_source> open_file(const std::filesystem::path& path);

struct load_params {
  int jpeg_shrink = 1;      // 1, 2, 4 or 8: libjpeg's DCT-domain downscale
  double webp_scale = 1.0;  // libwebp's scaled decode, (0, 1]
};

// The first page/frame through the loader of s.fmt only, sequential access,
// fail_on=error. Only the header is read here; pixels are decoded when read.
// Returns errc::corrupt if the header does not parse, errc::unsupported if this
// libvips lacks the loader (e.g. no HEIF module).
base::result<image> load(const opened_source& s, const load_params& p = {});

// The header fields of a loaded (lazy) image.
image_info info_of(const image& im, format fmt, int64_t byte_size);

}  // namespace idphoto::image::detail

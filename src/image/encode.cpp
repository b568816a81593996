// Step 8a: encode the finished photo as PNG, JPEG or WebP bytes with all metadata
// stripped (an ID photo must not carry the camera's GPS position or serial).
#include "image/encode.hpp"

#include <cstring>
#include <string>

#include "image/vips_util.hpp"

namespace idphoto::image {

using base::errc;

namespace {

uint32_t le32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) | (uint32_t(b[at + 1]) << 8) | (uint32_t(b[at + 2]) << 16) | (uint32_t(b[at + 3]) << 24);
}
void put_le32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

/* libvips 8.14.1's webpsave ignores "strip": it always writes an EXIF chunk
 * (with the orientation tag if the image has one, which would make viewers
 * rotate an already upright photo). So the container is rewritten without its
 * EXIF, XMP and ICCP chunks, and the VP8X flags for them are cleared.
 * RIFF layout: "RIFF" size32le "WEBP" { fourcc size32le payload [pad to even] }*.
 */
base::result<std::vector<uint8_t>> strip_webp(const std::vector<uint8_t>& in) {
  if (in.size() < 12 || std::memcmp(in.data(), "RIFF", 4) != 0 || std::memcmp(in.data() + 8, "WEBP", 4) != 0)
    return base::make_error(errc::internal, "encode webp: not a RIFF/WEBP container");
  std::vector<uint8_t> out(in.begin(), in.begin() + 12);
  size_t at = 12;
  while (at + 8 <= in.size()) {
    const uint32_t size = le32(in, at + 4);
    const size_t total = 8 + size_t(size) + (size & 1);
    if (at + 8 + size_t(size) > in.size())
      return base::make_error(errc::internal, "encode webp: chunk overruns the file");
    const std::string fourcc(reinterpret_cast<const char*>(in.data() + at), 4);
    if (fourcc != "EXIF" && fourcc != "XMP " && fourcc != "ICCP") {
      const size_t start = out.size();
      out.insert(out.end(), in.begin() + at, in.begin() + std::min(in.size(), at + total));
      if (fourcc == "VP8X" && size >= 1) out[start + 8] &= uint8_t(~(0x20 | 0x08 | 0x04));
    }
    at += total;
  }
  put_le32(out, 4, uint32_t(out.size() - 8));
  return out;
}

}  // namespace

base::result<std::vector<uint8_t>> encode(const image& im, const encode_options& opts) {
  IDPHOTO_TRY(detail::require_vips());
  if (im.empty()) return base::make_error(errc::invalid_argument, "encode: empty image");
  VipsImage* in = im.v.get();
  const int bands = vips_image_get_bands(in);
  if (vips_image_get_format(in) != VIPS_FORMAT_UCHAR || bands < 1 || bands > 4) {
    return base::make_error(errc::invalid_argument,
                            "encode: need 1–4 band 8-bit, got " + std::to_string(bands) + " bands");
  }
  if (opts.quality < 1 || opts.quality > 100) {
    return base::make_error(errc::invalid_argument,
                            "encode: quality must be 1–100, got " + std::to_string(opts.quality));
  }

  void* buf = nullptr;
  size_t len = 0;
  int rc = -1;
  switch (opts.fmt) {
    case format::png:
      rc = vips_pngsave_buffer(in, &buf, &len, "compression", 6, "strip", TRUE, nullptr);
      break;
    case format::jpeg:
      if (bands == 2 || bands == 4) {
        return base::make_error(errc::invalid_argument, "encode: JPEG has no alpha; composite onto a background first");
      }
      rc = vips_jpegsave_buffer(in, &buf, &len, "Q", opts.quality, "strip", TRUE, "optimize_coding", TRUE, nullptr);
      break;
    case format::webp:
      rc = vips_webpsave_buffer(in, &buf, &len, "Q", opts.quality, "strip", TRUE, "smart_subsample", TRUE, nullptr);
      break;
    default:
      return base::make_error(errc::unsupported, std::string("encode: cannot write ") + format_name(opts.fmt));
  }
  if (rc != 0 || !buf) {
    g_free(buf);
    return detail::vips_fail(errc::internal, std::string("encode ") + format_name(opts.fmt));
  }
  const auto* p = static_cast<const uint8_t*>(buf);
  std::vector<uint8_t> out(p, p + len);
  g_free(buf);
  if (opts.fmt == format::webp) return strip_webp(out);
  return out;
}

}  // namespace idphoto::image

// Step 1: identify an image by its magic bytes and read its header, without
// decoding pixels, so limits can be checked before any large allocation.
#include "image/probe.hpp"

#include <algorithm>
#include <cstring>

#include "image/load.hpp"

namespace idphoto::image {

using base::errc;

namespace {

bool starts_with(std::span<const uint8_t> h, const char* magic, size_t n, size_t at = 0) {
  return h.size() >= at + n && std::memcmp(h.data() + at, magic, n) == 0;
}

std::string fourcc(std::span<const uint8_t> h, size_t at) {
  std::string s(reinterpret_cast<const char*>(h.data() + at), 4);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return s;
}

uint32_t be32(std::span<const uint8_t> h, size_t at) {
  return (uint32_t(h[at]) << 24) | (uint32_t(h[at + 1]) << 16) | (uint32_t(h[at + 2]) << 8) | uint32_t(h[at + 3]);
}

/* ISO base media file (HEIF, AVIF, but also MP4/MOV/CR3): the first box must be
 * "ftyp": size(4) "ftyp" major_brand(4) minor_version(4) compatible_brands(4*n).
 * AVIF brands win over HEIF ones (an AVIF file usually also lists "mif1");
 * the major brand decides when it is one we know, then the compatible list.
 */
std::optional<format> sniff_bmff(std::span<const uint8_t> h, std::string* brand_out) {
  if (h.size() < 16 || !starts_with(h, "ftyp", 4, 4)) return std::nullopt;
  size_t box = be32(h, 0);
  if (box < 16) return std::nullopt;
  size_t end = std::min(box, h.size());
  auto classify = [](const std::string& b) -> std::optional<format> {
    if (b == "avif" || b == "avis") return format::avif;
    static const char* heif_brands[] = {"heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1"};
    for (const char* hb : heif_brands)
      if (b == hb) return format::heif;
    return std::nullopt;
  };
  std::string major = fourcc(h, 8);
  *brand_out = major;
  std::optional<format> compat;
  for (size_t at = 16; at + 4 <= end; at += 4) {
    auto f = classify(fourcc(h, at));
    if (f == format::avif) compat = f;
    if (f && !compat) compat = f;
  }
  auto from_major = classify(major);
  if (from_major == format::avif) return from_major;
  if (compat == format::avif && (major == "mif1" || major == "msf1")) return compat;
  if (from_major) return from_major;
  return compat;
}

// What an unsupported input looks like, for the log.
std::string describe(std::span<const uint8_t> h, const std::string& bmff_brand) {
  if (h.empty()) return "empty input";
  if (starts_with(h, "GIF8", 4)) return "looks like GIF";
  if (starts_with(h, "BM", 2)) return "looks like BMP";
  if (starts_with(h, "%PDF", 4)) return "looks like PDF";
  if (starts_with(h, "SIMPLE  =", 9)) return "looks like FITS";
  if (starts_with(h, "8BPS", 4)) return "looks like PSD";
  if (starts_with(h, "MATLAB", 6)) return "looks like Matlab";
  if (starts_with(h, "\xff\x0a", 2) || starts_with(h, "\0\0\0\x0cJXL ", 8)) return "looks like JPEG XL";
  if (starts_with(h, "\0\0\0\x0cjP  ", 8) || starts_with(h, "\xff\x4f\xff\x51", 4)) return "looks like JPEG 2000";
  if (starts_with(h, "\x76\x2f\x31\x01", 4)) return "looks like OpenEXR";
  if (starts_with(h, "PK\x03\x04", 4)) return "looks like ZIP";
  if (starts_with(h, "\x1f\x8b", 2)) return "looks like gzip";
  if (h.size() >= 8 && starts_with(h, "ftyp", 4, 4)) return "ISO media, brand '" + bmff_brand + "'";
  // Text: XML/SVG/HTML or plain (skip a UTF-8 BOM and leading whitespace).
  size_t i = starts_with(h, "\xef\xbb\xbf", 3) ? 3 : 0;
  while (i < h.size() && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n')) ++i;
  auto rest = h.subspan(i);
  if (starts_with(rest, "<?xml", 5) || starts_with(rest, "<svg", 4)) return "looks like SVG/XML";
  if (starts_with(rest, "<!DOCTYPE", 9) || starts_with(rest, "<html", 5)) return "looks like HTML";
  if (rest.size() >= 2 && rest[0] == 'P' && rest[1] >= '1' && rest[1] <= '7') return "looks like PNM";
  bool text = std::all_of(h.begin(), h.end(),
                          [](uint8_t c) { return c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c != 0x7f); });
  if (text) return "looks like text";
  static const char* hex = "0123456789abcdef";
  std::string s = "starts with";
  for (size_t k = 0; k < std::min<size_t>(h.size(), 8); ++k) {
    s += ' ';
    s += hex[h[k] >> 4];
    s += hex[h[k] & 15];
  }
  return s;
}

}  // namespace

base::result<format> sniff_format(std::span<const uint8_t> h) {
  if (starts_with(h, "\xff\xd8\xff", 3)) return format::jpeg;
  if (starts_with(h, "\x89PNG\r\n\x1a\n", 8)) return format::png;
  if (starts_with(h, "RIFF", 4) && starts_with(h, "WEBP", 4, 8)) return format::webp;
  if (starts_with(h, "II*\0", 4) || starts_with(h, "MM\0*", 4) || starts_with(h, "II+\0", 4) ||
      starts_with(h, "MM\0+", 4))
    return format::tiff;
  std::string brand;
  if (auto f = sniff_bmff(h, &brand)) return *f;
  return base::make_error(errc::unsupported, "unsupported image format (" + describe(h, brand) + ")");
}

namespace {
base::result<image_info> probe_source(const detail::opened_source& s) {
  auto im = detail::load(s);
  if (!im.ok()) return im.err();
  return detail::info_of(*im, s.fmt, s.byte_size);
}
}  // namespace

base::result<image_info> probe(std::span<const uint8_t> bytes) {
  auto s = detail::open_bytes(bytes);
  if (!s.ok()) return s.err();
  return probe_source(*s);
}

base::result<image_info> probe_file(const std::filesystem::path& path) {
  auto s = detail::open_file(path);
  if (!s.ok()) return s.err();
  return probe_source(*s);
}

}  // namespace idphoto::image

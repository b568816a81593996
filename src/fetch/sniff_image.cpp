// Sniff the image format of a fetched body from its first bytes; the server's Content-Type
// header is never trusted.
#include "fetch/sniff_image.hpp"

#include <cstdint>

namespace idphoto::fetch {

namespace {

bool starts_with_bytes(std::string_view s, std::string_view magic) {
  return s.size() >= magic.size() && s.substr(0, magic.size()) == magic;
}

std::uint32_t be32(std::string_view s, std::size_t at) {
  auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

// One ISO-BMFF brand → our type, "" when the brand says nothing about the image format.
std::string brand_type(std::string_view brand) {
  if (brand == "avif" || brand == "avis") return "image/avif";
  if (brand == "heic" || brand == "heix" || brand == "heim" || brand == "heis" || brand == "hevc" || brand == "hevx")
    return "image/heic";
  if (brand == "mif1" || brand == "msf1") return "image/heif";
  return "";
}

/* HEIF family: an ISO-BMFF file starts with an 'ftyp' box: size(4) 'ftyp' major_brand(4)
 * minor_version(4) compatible_brands(4 each, up to the box size). The major brand decides when
 * it is specific (avif/heic…); a generic major brand (mif1, or an unrelated one such as a video
 * brand listing image brands) is refined by the compatible brands, the specific ones first. */
std::string sniff_ftyp(std::string_view s) {
  if (s.size() < 16 || s.substr(4, 4) != "ftyp") return "";
  std::size_t box = be32(s, 0);
  if (box < 16 || box > s.size() || box % 4 != 0) return "";
  std::string major = brand_type(s.substr(8, 4));
  if (major == "image/avif" || major == "image/heic") return major;
  std::string generic = major;
  for (std::size_t at = 16; at + 4 <= box; at += 4) {
    std::string t = brand_type(s.substr(at, 4));
    if (t == "image/avif" || t == "image/heic") return t;
    if (!t.empty()) generic = t;
  }
  return generic;
}

}  // namespace

std::string sniff_image_type(std::string_view s) {
  using namespace std::string_view_literals;
  if (starts_with_bytes(s, "\xFF\xD8\xFF"sv)) return "image/jpeg";
  if (starts_with_bytes(s, "\x89PNG\r\n\x1A\n"sv)) return "image/png";
  if (s.size() >= 12 && s.substr(0, 4) == "RIFF"sv && s.substr(8, 4) == "WEBP"sv) return "image/webp";
  if (starts_with_bytes(s, "II*\0"sv) || starts_with_bytes(s, "MM\0*"sv)) return "image/tiff";
  return sniff_ftyp(s);
}

}  // namespace idphoto::fetch

// sniff_image_type: every format by its magic bytes, and the near misses.
#include <gtest/gtest.h>

#include <string>

#include "fetch/sniff_image.hpp"

namespace idphoto::fetch {
namespace {

using namespace std::string_literals;

// An ISO-BMFF 'ftyp' box with the given major and compatible brands, then some payload.
std::string ftyp(const std::string& major, const std::vector<std::string>& compatible, int size_override = -1) {
  std::size_t size = 16 + 4 * compatible.size();
  if (size_override >= 0) size = static_cast<std::size_t>(size_override);
  std::string box;
  box += static_cast<char>((size >> 24) & 0xff);
  box += static_cast<char>((size >> 16) & 0xff);
  box += static_cast<char>((size >> 8) & 0xff);
  box += static_cast<char>(size & 0xff);
  box += "ftyp" + major + "\0\0\0\0"s;
  for (const auto& b : compatible) box += b;
  return box + "\0\0\0\x08mdat"s;
}

TEST(fetch_sniff_image, each_format_by_magic) {
  EXPECT_EQ(sniff_image_type("\xFF\xD8\xFF\xE0\x00\x10JFIF"s), "image/jpeg");
  EXPECT_EQ(sniff_image_type("\xFF\xD8\xFF\xDB"s), "image/jpeg");
  EXPECT_EQ(sniff_image_type("\x89PNG\r\n\x1A\n\0\0\0\rIHDR"s), "image/png");
  EXPECT_EQ(sniff_image_type("RIFF\x24\0\0\0WEBPVP8 "s), "image/webp");
  EXPECT_EQ(sniff_image_type("II*\0\x08\0\0\0"s), "image/tiff");
  EXPECT_EQ(sniff_image_type("MM\0*\0\0\0\x08"s), "image/tiff");
  EXPECT_EQ(sniff_image_type(ftyp("heic", {"mif1", "heic"})), "image/heic");
  EXPECT_EQ(sniff_image_type(ftyp("heix", {})), "image/heic");
  EXPECT_EQ(sniff_image_type(ftyp("mif1", {"mif1", "heic"})), "image/heic");
  EXPECT_EQ(sniff_image_type(ftyp("mif1", {"mif1"})), "image/heif");
  EXPECT_EQ(sniff_image_type(ftyp("msf1", {})), "image/heif");
  EXPECT_EQ(sniff_image_type(ftyp("avif", {"mif1", "miaf"})), "image/avif");
  EXPECT_EQ(sniff_image_type(ftyp("mif1", {"miaf", "avif"})), "image/avif");
  EXPECT_EQ(sniff_image_type(ftyp("avis", {})), "image/avif");
}

TEST(fetch_sniff_image, non_images_and_near_misses_are_empty) {
  for (const std::string& s : {
           ""s,
           "\xFF"s,
           "\xFF\xD8"s,
           "\xFF\xD9\xFF"s,  // empty, truncated JPEG
           "\x89PNG\r\n\x1A"s,
           "\x89PNG\r\n\x1A\x0B"s,  // truncated / wrong PNG
           "RIFF\x24\0\0\0WAVEfmt "s,
           "RIFF\0\0\0"s,
           "RIFF\0\0\0\0WEB"s,  // RIFF but not WebP
           "II*"s,
           "II\0*"s,
           "MM*\0"s,  // wrong TIFF byte order
           "<!doctype html><html></html>"s,
           "GIF89a\x01\0\x01\0"s,
           "%PDF-1.7"s,
           "BM\x36\0\0\0"s,
           "\x1f\x8b\x08\0"s,
           "{\"json\":1}"s,
           ftyp("isom", {"isom", "mp41"}),  // an MP4 video
           ftyp("qt  ", {}),                // QuickTime
           ftyp("heic", {}, 8),             // box size smaller than its header
           ftyp("heic", {}, 4096),          // box size past the end of the data
           ftyp("heic", {}, 17),            // box size not a multiple of 4
           "\0\0\0\x18"s + "ftyphe"s,       // truncated ftyp
       })
    EXPECT_EQ(sniff_image_type(s), "") << "input of " << s.size() << " bytes";
}

}  // namespace
}  // namespace idphoto::fetch

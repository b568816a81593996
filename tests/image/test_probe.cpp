// probe: format by magic bytes only, header fields without decoding pixels;
// unsupported inputs (empty, text, SVG/PDF/FITS, ...) and encode->probe round trips.
#include <gtest/gtest.h>

#include "image/encode.hpp"
#include "image/gen.hpp"
#include "image/probe.hpp"

using namespace idphoto::image;
using idphoto::base::errc;

namespace {
gen::bytes text(const std::string& s) { return gen::bytes(s.begin(), s.end()); }

void expect_unsupported(const gen::bytes& b, const std::string& says) {
  auto r = probe(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unsupported);
  EXPECT_NE(r.err().detail.find("unsupported image format ("), std::string::npos) << r.err().detail;
  EXPECT_NE(r.err().detail.find(says), std::string::npos) << r.err().detail;
}
}  // namespace

TEST(probe, zero_bytes_is_unsupported) {
  gen::init();
  expect_unsupported({}, "empty input");
  auto d = sniff_format({});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.err().code, errc::unsupported);
}

TEST(probe, text_file_named_jpg_is_unsupported) {
  gen::init();
  auto dir = gen::temp_dir("probe-text");
  auto path = dir / "photo.jpg";
  gen::write_file(path, text("this is not a photo\n"));
  auto r = probe_file(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unsupported);
  EXPECT_NE(r.err().detail.find("looks like text"), std::string::npos) << r.err().detail;
  std::filesystem::remove_all(dir);
}

TEST(probe, other_formats_are_unsupported_by_magic) {
  gen::init();
  expect_unsupported(text("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>"), "SVG");
  expect_unsupported(text("  <svg width=\"10\" height=\"10\"></svg>"), "SVG");
  expect_unsupported(text("%PDF-1.4\n1 0 obj << >> endobj\n"), "PDF");
  expect_unsupported(text("SIMPLE  =                    T / FITS"), "FITS");
  expect_unsupported(text("GIF89a\x01\x00\x01\x00"), "GIF");
  expect_unsupported(text("BM\x3a\x00\x00\x00"), "BMP");
  expect_unsupported(text("P6\n1 1\n255\n"), "PNM");
  gen::bytes mp4 = {0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm',
                    0, 0, 2, 0,    'i', 's', 'o', 'm', 'm', 'p', '4', '1'};
  expect_unsupported(mp4, "brand 'isom'");
  expect_unsupported({0x00, 0x01, 0x02, 0x03, 0x04}, "starts with 00 01 02 03 04");
}

TEST(probe, sniffs_heif_and_avif_brands) {
  auto ftyp = [](const char* major, std::vector<const char*> compat) {
    gen::bytes b(16);
    gen::put_be32(b, 0, uint32_t(16 + 4 * compat.size()));
    std::copy_n("ftyp", 4, b.begin() + 4);
    std::copy_n(major, 4, b.begin() + 8);
    for (auto c : compat) b.insert(b.end(), c, c + 4);
    return b;
  };
  EXPECT_EQ(*sniff_format(ftyp("heic", {"mif1", "heic"})), format::heif);
  EXPECT_EQ(*sniff_format(ftyp("heix", {"mif1"})), format::heif);
  EXPECT_EQ(*sniff_format(ftyp("mif1", {"mif1", "heic"})), format::heif);
  EXPECT_EQ(*sniff_format(ftyp("avif", {"avif", "mif1", "miaf"})), format::avif);
  EXPECT_EQ(*sniff_format(ftyp("mif1", {"avif", "miaf"})), format::avif);
  EXPECT_FALSE(sniff_format(ftyp("qt  ", {"qt  "})).ok());
  // Magic bytes of the other formats.
  EXPECT_EQ(*sniff_format(gen::bytes{0xff, 0xd8, 0xff, 0xe0}), format::jpeg);
  EXPECT_EQ(*sniff_format(text(std::string("II*\0", 4))), format::tiff);
  EXPECT_EQ(*sniff_format(text(std::string("MM\0*", 4))), format::tiff);
  EXPECT_EQ(*sniff_format(text(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16))), format::webp);
}

TEST(probe, round_trip_encode_then_probe) {
  gen::init();
  auto im = gen::pattern(37, 23);
  for (format f : {format::png, format::jpeg, format::webp}) {
    auto b = encode(im, {f, 85});
    ASSERT_TRUE(b.ok()) << b.err().to_string();
    auto info = probe(*b);
    ASSERT_TRUE(info.ok()) << info.err().to_string();
    EXPECT_EQ(info->fmt, f) << format_name(f);
    EXPECT_EQ(info->width, 37);
    EXPECT_EQ(info->height, 23);
    EXPECT_EQ(info->bands, 3);
    EXPECT_EQ(info->orientation, 1);
    EXPECT_FALSE(info->has_alpha);
    EXPECT_EQ(info->bits_per_sample, 8);
    EXPECT_EQ(info->n_pages, 1);
    EXPECT_FALSE(info->animated);
    EXPECT_EQ(info->byte_size, int64_t(b->size()));
  }
}

TEST(probe, reads_header_fields) {
  gen::init();
  auto jpg = gen::save(gen::with_int(gen::pattern(40, 30), "orientation", 6), ".jpg[Q=90]");
  auto info = probe(jpg);
  ASSERT_TRUE(info.ok()) << info.err().to_string();
  EXPECT_EQ(info->orientation, 6);
  EXPECT_TRUE(info->swaps_axes());
  EXPECT_EQ(info->interpretation, "srgb");

  auto rgba = probe(gen::save(gen::pattern(8, 8, 4), ".png"));
  ASSERT_TRUE(rgba.ok());
  EXPECT_TRUE(rgba->has_alpha);
  EXPECT_EQ(rgba->bands, 4);

  // A real 16-bit grey image (saving 8-bit data with bitdepth=16 overreads in libvips 8.14).
  VipsImage *lin = nullptr, *u16 = nullptr;
  ASSERT_EQ(vips_linear1(gen::pattern(8, 8, 1).v.get(), &lin, 257.0, 0.0, nullptr), 0);
  ASSERT_EQ(vips_cast(lin, &u16, VIPS_FORMAT_USHORT, nullptr), 0);
  g_object_unref(lin);
  image grey16_image{vips_image_ptr(u16)};
  grey16_image.v->Type = VIPS_INTERPRETATION_GREY16;
  auto grey16 = probe(gen::save(grey16_image, ".png"));
  ASSERT_TRUE(grey16.ok());
  EXPECT_EQ(grey16->bits_per_sample, 16);
  EXPECT_EQ(grey16->bands, 1);
}

TEST(probe, file_variant) {
  gen::init();
  auto dir = gen::temp_dir("probe-file");
  gen::write_file(dir / "a.png", gen::save(gen::pattern(12, 34), ".png"));
  auto info = probe_file(dir / "a.png");
  ASSERT_TRUE(info.ok()) << info.err().to_string();
  EXPECT_EQ(info->fmt, format::png);
  EXPECT_EQ(info->width, 12);
  EXPECT_EQ(info->height, 34);

  auto missing = probe_file(dir / "nope.png");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.err().code, errc::not_found);
  auto directory = probe_file(dir);
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.err().code, errc::io);
  std::filesystem::remove_all(dir);
}

TEST(probe, magic_without_header_is_corrupt) {
  gen::init();
  auto r = probe(gen::bytes{0xff, 0xd8, 0xff, 0xe0, 0x00});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::corrupt);
  EXPECT_EQ(r.err().detail.find('\n'), std::string::npos) << r.err().detail;
  EXPECT_STREQ(vips_error_buffer(), "");
}

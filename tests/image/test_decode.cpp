// decode: shrink-on-load to a working box, first frame only, bad data is an error;
// also HEIC/AVIF, 1x1, panoramas, the file variant and the memory bound.
#include <gtest/gtest.h>

#include <fstream>
#include <utility>

#include "base/memory_stats.hpp"

#include "image/decode.hpp"
#include "image/gen.hpp"
#include "image/ops.hpp"
#include "image/probe.hpp"

using namespace idphoto::image;
using idphoto::base::errc;

namespace {

// n frames of w x h, frame k filled with grey level levels[k], as one tall image.
image frames(int w, int h, const std::vector<uint8_t>& levels) {
  int n = int(levels.size());
  auto im = gen::make(w, h * n, 3, [&](int, int y, int) { return levels[y / h]; });
  auto paged = gen::with_int(im, "page-height", h);
  std::vector<int> delays(n, 100);
  vips_image_set_array_int(paged.v.get(), "delay", delays.data(), n);
  vips_image_set_int(paged.v.get(), "loop", 0);
  return paged;
}

void expect_corrupt(const gen::bytes& b) {
  std::string err_out = gen::capture_stderr([&] {
    auto r = decode(b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::corrupt) << r.err().to_string();
    EXPECT_FALSE(r.err().detail.empty());
    EXPECT_EQ(r.err().detail.find('\n'), std::string::npos) << r.err().detail;
  });
  EXPECT_EQ(err_out, "") << "the library printed to stderr";
  EXPECT_STREQ(vips_error_buffer(), "") << "libvips' error buffer was not cleared";
}

}  // namespace

TEST(decode, zero_bytes_unsupported) {
  gen::init();
  auto r = decode(gen::bytes{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unsupported);
}

TEST(decode, text_file_named_jpg_unsupported) {
  gen::init();
  auto dir = gen::temp_dir("decode-text");
  gen::write_file(dir / "x.jpg", gen::bytes{'h', 'e', 'l', 'l', 'o', '\n'});
  auto r = decode_file(dir / "x.jpg");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unsupported);
  std::filesystem::remove_all(dir);
}

TEST(decode, truncated_jpeg_is_corrupt_not_grey) {
  gen::init();
  auto jpg = gen::save(gen::pattern(256, 256), ".jpg[Q=90]");
  gen::bytes half(jpg.begin(), jpg.begin() + jpg.size() / 2);
  // The header is intact, so probe succeeds: only the pixel data is missing.
  auto info = probe(half);
  ASSERT_TRUE(info.ok()) << info.err().to_string();
  expect_corrupt(half);
}

TEST(decode, truncated_png_is_corrupt) {
  gen::init();
  auto png = gen::save(gen::pattern(200, 200), ".png");
  expect_corrupt(gen::bytes(png.begin(), png.begin() + png.size() / 2));
}

TEST(decode, png_with_bad_crc_is_corrupt) {
  gen::init();
  auto png = gen::save(gen::pattern(64, 64), ".png");
  size_t at = 8;
  bool found = false;
  while (at + 8 <= png.size()) {
    uint32_t len = gen::get_be32(png, at);
    if (std::string(png.begin() + at + 4, png.begin() + at + 8) == "IDAT") {
      png[at + 8 + len] ^= 0x5a;  // first byte of the CRC; the data is intact
      found = true;
      break;
    }
    at += 12 + len;
  }
  ASSERT_TRUE(found);
  expect_corrupt(png);
}

// A JPEG whose short side is under the DCT shrink (2048x6 into a 256 box wants 1/8): shrinking
// it on load would make a 0 px side, which aborts the process inside libvips; it is shrunk less
// and resized instead (fuzz/regressions/image_decode/thin-jpeg-shrink8).
TEST(decode, thin_jpeg_is_not_shrunk_to_nothing) {
  gen::init();
  for (auto [w, h] : {std::pair{2048, 6}, std::pair{6, 2048}, std::pair{4096, 1}, std::pair{1600, 3}}) {
    auto jpg = gen::save(gen::pattern(w, h), ".jpg[Q=85]");
    decode_options o;
    o.max_width = o.max_height = 256;
    auto r = decode(jpg, o);
    ASSERT_TRUE(r.ok()) << w << "x" << h << ": " << r.err().to_string();
    EXPECT_LE(r->width(), 256) << w << "x" << h;
    EXPECT_LE(r->height(), 256) << w << "x" << h;
    EXPECT_GE(r->width(), 1);
    EXPECT_GE(r->height(), 1);
  }
}

TEST(decode, shrinks_to_the_working_box) {
  gen::init();
  auto jpg = gen::save(gen::pattern(3200, 2400), ".jpg[Q=85]");
  decode_options o;
  o.max_width = o.max_height = 800;
  auto r = decode(jpg, o);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->width(), 800);
  EXPECT_EQ(r->height(), 600);

  auto small = decode(gen::save(gen::pattern(300, 200), ".png"));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->width(), 300);  // never enlarged
  EXPECT_EQ(small->height(), 200);

  auto webp = decode(gen::save(gen::pattern(1000, 500), ".webp[Q=80]"), o);
  ASSERT_TRUE(webp.ok()) << webp.err().to_string();
  EXPECT_EQ(webp->width(), 800);
  EXPECT_EQ(webp->height(), 400);
}

TEST(decode, box_is_in_the_upright_frame) {
  gen::init();
  // Stored 400x200 with orientation 6: upright it is 200 wide, 400 tall.
  auto jpg = gen::save(gen::with_int(gen::pattern(400, 200), "orientation", 6), ".jpg[Q=90]");
  decode_options o;
  o.max_width = 100;
  o.max_height = 200;
  auto r = decode(jpg, o);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->width(), 200);  // still stored orientation
  EXPECT_EQ(r->height(), 100);
  auto up = orient(*r);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->width(), 100);
  EXPECT_EQ(up->height(), 200);
}

TEST(decode, animated_webp_gives_first_frame) {
  gen::init();
  auto webp = gen::save(frames(48, 32, {200, 40, 120}), ".webp[lossless]");
  auto info = probe(webp);
  ASSERT_TRUE(info.ok()) << info.err().to_string();
  EXPECT_EQ(info->n_pages, 3);
  EXPECT_TRUE(info->animated);
  EXPECT_EQ(info->height, 32);

  auto r = decode(webp);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->width(), 48);
  EXPECT_EQ(r->height(), 32);
  auto s = to_srgb(*r);
  ASSERT_TRUE(s.ok()) << s.err().to_string();
  auto px = to_pixels(s->rgb);
  ASSERT_TRUE(px.ok());
  EXPECT_NEAR(gen::mean(*px, 0, 0, 48, 32), 200, 2);
}

TEST(decode, multipage_tiff_gives_first_page) {
  gen::init();
  auto tif = gen::save(frames(20, 10, {30, 220}), ".tif");
  auto info = probe(tif);
  ASSERT_TRUE(info.ok()) << info.err().to_string();
  EXPECT_EQ(info->fmt, format::tiff);
  EXPECT_EQ(info->n_pages, 2);
  EXPECT_FALSE(info->animated);
  auto r = decode(tif);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->height(), 10);
  auto px = to_pixels(*r);
  ASSERT_TRUE(px.ok());
  EXPECT_NEAR(gen::mean(*px, 0, 0, 20, 10), 30, 0.01);
}

TEST(decode, one_by_one) {
  gen::init();
  for (const char* suffix : {".png", ".jpg", ".webp", ".tif"}) {
    auto b = gen::save(gen::make(1, 1, 3, [](int, int, int c) { return uint8_t(50 + 60 * c); }), suffix);
    auto r = decode(b);
    ASSERT_TRUE(r.ok()) << suffix << ": " << r.err().to_string();
    EXPECT_EQ(r->width(), 1);
    EXPECT_EQ(r->height(), 1);
  }
}

TEST(decode, panorama_10000x100) {
  gen::init();
  auto png = gen::save(gen::pattern(10000, 100), ".png");
  auto r = decode(png);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->width(), 1600);
  EXPECT_EQ(r->height(), 16);
  auto fit = resize_to_fit(*r, 800, 800);
  ASSERT_TRUE(fit.ok());
  EXPECT_EQ(fit->width(), 800);
  EXPECT_EQ(fit->height(), 8);
}

TEST(decode, heic_when_libheif_can_encode_it) {
  gen::init();
  auto im = gen::make(64, 48, 3, [](int x, int, int c) { return uint8_t(c == 0 ? (x < 32 ? 230 : 20) : 60); });
  auto heic = gen::save(im, ".heic[compression=hevc,bitdepth=8,Q=90]");
  auto info = probe(heic);
  ASSERT_TRUE(info.ok()) << info.err().to_string();
  EXPECT_EQ(info->fmt, format::heif);
  EXPECT_EQ(info->width, 64);
  EXPECT_EQ(info->height, 48);
  auto r = decode(heic);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  auto s = to_srgb(*r);
  ASSERT_TRUE(s.ok()) << s.err().to_string();
  auto px = to_pixels(s->rgb);
  ASSERT_TRUE(px.ok());
  EXPECT_GT(gen::mean(*px, 4, 4, 20, 40, 0), 190);  // red-ish left half
  EXPECT_LT(gen::mean(*px, 40, 4, 20, 40, 0), 60);
}

TEST(decode, avif) {
  gen::init();
  auto avif = gen::save(gen::pattern(40, 30), ".avif[compression=av1,bitdepth=8,Q=90]");
  auto info = probe(avif);
  ASSERT_TRUE(info.ok()) << info.err().to_string();
  EXPECT_EQ(info->fmt, format::avif);
  auto r = decode(avif);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->width(), 40);
  EXPECT_EQ(r->height(), 30);
}

TEST(decode, result_outlives_input_bytes) {
  gen::init();
  auto png = gen::save(gen::pattern(50, 40), ".png");
  auto r = decode(png);
  ASSERT_TRUE(r.ok());
  auto before = to_pixels(*r);
  std::fill(png.begin(), png.end(), 0);
  png.clear();
  png.shrink_to_fit();
  auto after = to_pixels(*r);
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(before->data, after->data);
}

TEST(decode, file_variant) {
  gen::init();
  auto dir = gen::temp_dir("decode-file");
  gen::write_file(dir / "p.jpg", gen::save(gen::pattern(2000, 1000), ".jpg"));
  auto r = decode_file(dir / "p.jpg");
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->width(), 1600);
  EXPECT_EQ(r->height(), 800);
  auto missing = decode_file(dir / "missing.jpg");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.err().code, errc::not_found);
  std::filesystem::remove_all(dir);
}

// A 6000x4000 (24 MP) JPEG decoded for a 1600 px box must never be held at full
// size (72 MB as 8-bit RGB): libjpeg shrinks it by 2 while decoding and the
// reduce consumes rows as they arrive. Skipped under ASan, whose shadow memory
// and quarantine make RSS meaningless.
TEST(decode, shrink_on_load_bounds_memory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "RSS is not meaningful under AddressSanitizer";
#else
  gen::init();
  gen::bytes jpg;
  {
    // Generated lazily and streamed into the encoder: never a full-size buffer here either.
    VipsImage *s = nullptr, *l = nullptr, *u = nullptr, *rgb = nullptr;
    ASSERT_EQ(vips_sines(&s, 6000, 4000, "hfreq", 7.0, "vfreq", 5.0, nullptr), 0);
    ASSERT_EQ(vips_linear1(s, &l, 100.0, 128.0, nullptr), 0);
    ASSERT_EQ(vips_cast(l, &u, VIPS_FORMAT_UCHAR, nullptr), 0);
    VipsImage* three[3] = {u, u, u};
    ASSERT_EQ(vips_bandjoin(three, &rgb, 3, nullptr), 0);
    jpg = gen::save(rgb, ".jpg[Q=85]");
    for (VipsImage* p : {s, l, u, rgb}) g_object_unref(p);
  }
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5" << std::flush;  // reset VmHWM to the current RSS
  if (!clear) GTEST_SKIP() << "cannot reset the peak RSS counter";
  clear.close();
  const int64_t before = idphoto::base::current_rss_bytes();
  auto r = decode(jpg);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->width(), 1600);
  EXPECT_EQ(r->height(), 1067);
  const int64_t grew = idphoto::base::peak_rss_bytes() - before;
  EXPECT_LT(grew, int64_t{40} << 20) << "peak grew by " << (grew >> 20) << " MB";
#endif
}

// Every truncation point and some bit flips of each format: an image or a clean
// error (never a crash, never a leak, never text on stderr). Fixed seed.
TEST(decode, truncations_and_bit_flips_fail_cleanly) {
  gen::init();
  auto im = gen::pattern(40, 30);
  std::vector<std::pair<const char*, gen::bytes>> files = {
      {"jpeg", gen::save(im, ".jpg[Q=80]")},
      {"png", gen::save(im, ".png")},
      {"webp", gen::save(im, ".webp[Q=80]")},
      {"tiff", gen::save(im, ".tif[compression=deflate]")},
      {"heic", gen::save(im, ".heic[compression=hevc,bitdepth=8]")},
  };
  uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1664525u + 1013904223u; };
  std::string err_out = gen::capture_stderr([&] {
    for (const auto& [name, full] : files) {
      SCOPED_TRACE(name);
      const size_t step = std::max<size_t>(1, full.size() / 40);
      for (size_t cut = 0; cut < full.size(); cut += step) {
        auto r = decode(gen::bytes(full.begin(), full.begin() + cut));
        if (!r.ok()) {
          EXPECT_TRUE(r.err().code == errc::corrupt || r.err().code == errc::unsupported)
              << cut << ": " << r.err().to_string();
        }
      }
      for (int k = 0; k < 30; ++k) {
        gen::bytes b = full;
        for (int f = 0; f < 3; ++f) b[16 + next() % (b.size() - 16)] ^= uint8_t(1u << (next() % 8));
        auto r = decode(b);
        if (!r.ok()) {
          EXPECT_NE(r.err().code, errc::internal) << r.err().to_string();
        }
      }
    }
  });
  EXPECT_EQ(err_out, "");
  EXPECT_STREQ(vips_error_buffer(), "");
}

// init_vips: untrusted loaders unreachable even through libvips' own sniffing,
// cache off, threads capped, idempotent, errors cleaned, nothing on stderr.
#include <gtest/gtest.h>

#include <thread>

#include "image/decode.hpp"
#include "image/gen.hpp"
#include "image/probe.hpp"

using namespace idphoto::image;
using idphoto::base::errc;

namespace {

const std::string k_svg =
    "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\">"
    "<rect width=\"8\" height=\"8\" fill=\"red\"/></svg>";

// A minimal valid one-page PDF.
const std::string k_pdf =
    "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    "2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 8 8]>>endobj\n"
    "trailer<</Root 1 0 R>>\n%%EOF\n";

// A minimal FITS file: one 2880-byte header block and one data block, 8x8 8-bit.
std::string fits() {
  auto card = [](std::string s) {
    s.resize(80, ' ');
    return s;
  };
  std::string h = card("SIMPLE  =                    T") + card("BITPIX  =                    8") +
                  card("NAXIS   =                    2") + card("NAXIS1  =                    8") +
                  card("NAXIS2  =                    8") + card("END");
  h.resize(2880, ' ');
  h += std::string(2880, '\x40');
  return h;
}

// Expect libvips itself (not our magic check) to refuse the bytes. Its sniffing
// (vips_foreign_find_load_buffer) still names the loader; building it is blocked.
void expect_vips_refuses_buffer(const std::string& data) {
  VipsImage* im = vips_image_new_from_buffer(data.data(), data.size(), "", nullptr);
  EXPECT_EQ(im, nullptr);
  if (im) g_object_unref(im);
  EXPECT_NE(std::string(vips_error_buffer()).find("blocked"), std::string::npos) << vips_error_buffer();
  vips_error_clear();
}

}  // namespace

TEST(security, svg_pdf_fits_refused_by_magic) {
  gen::init();
  for (const std::string& s : {k_svg, k_pdf, fits()}) {
    auto r = probe(gen::bytes(s.begin(), s.end()));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::unsupported);
    auto d = decode(gen::bytes(s.begin(), s.end()));
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.err().code, errc::unsupported);
  }
}

TEST(security, untrusted_loaders_unreachable_through_libvips) {
  gen::init();
  // Through libvips' own format sniffing.
  expect_vips_refuses_buffer(k_svg);
  expect_vips_refuses_buffer(k_pdf);
  // GIF is trusted by libvips but not allowed by us.
  auto gif = gen::save(gen::pattern(8, 8), ".gif");
  expect_vips_refuses_buffer(std::string(gif.begin(), gif.end()));

  // Called by name, the operations exist but are blocked.
  VipsImage* out = nullptr;
  EXPECT_NE(vips_svgload_buffer((void*)k_svg.data(), k_svg.size(), &out, nullptr), 0);
  EXPECT_NE(std::string(vips_error_buffer()).find("blocked"), std::string::npos) << vips_error_buffer();
  vips_error_clear();
  EXPECT_NE(vips_pdfload_buffer((void*)k_pdf.data(), k_pdf.size(), &out, nullptr), 0);
  vips_error_clear();
  EXPECT_NE(vips_magickload_buffer((void*)k_svg.data(), k_svg.size(), &out, nullptr), 0);
  vips_error_clear();
  EXPECT_NE(vips_gifload_buffer((void*)gif.data(), gif.size(), &out, nullptr), 0);
  vips_error_clear();
  EXPECT_EQ(out, nullptr);

  // FITS (and matrix, csv, vips, ...) load from files only: refused by file too.
  auto dir = gen::temp_dir("sec-fits");
  std::string f = fits();
  gen::write_file(dir / "x.fits", gen::bytes(f.begin(), f.end()));
  gen::write_file(dir / "x.svg", gen::bytes(k_svg.begin(), k_svg.end()));
  gen::write_file(dir / "x.mat", gen::bytes{'M', 'A', 'T', 'L', 'A', 'B'});
  for (const char* name : {"x.fits", "x.svg", "x.mat"}) {
    VipsImage* im = vips_image_new_from_file((dir / name).c_str(), nullptr);
    EXPECT_EQ(im, nullptr) << name;
    if (im) g_object_unref(im);
    vips_error_clear();
  }
  std::filesystem::remove_all(dir);
}

TEST(security, allowed_loaders_still_work_through_libvips) {
  gen::init();
  for (const char* suffix : {".jpg", ".png", ".webp", ".tif", ".heic[compression=hevc]"}) {
    auto b = gen::save(gen::pattern(16, 16), suffix);
    EXPECT_NE(vips_foreign_find_load_buffer(b.data(), b.size()), nullptr) << suffix;
    vips_error_clear();
  }
}

TEST(security, cache_off_and_threads_capped) {
  gen::init();
  EXPECT_EQ(vips_cache_get_max(), 0);
  EXPECT_EQ(vips_cache_get_max_mem(), 0u);
  EXPECT_EQ(vips_concurrency_get(), 2);
  ASSERT_TRUE(init_vips(1).ok());
  EXPECT_EQ(vips_concurrency_get(), 1);
}

TEST(security, init_is_idempotent_and_thread_safe) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      if (!init_vips(2).ok()) ++failures;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(init_vips(2).ok());
  auto bad = init_vips(0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::invalid_argument);
  // Still usable.
  EXPECT_TRUE(decode(gen::save(gen::pattern(8, 8), ".png")).ok());
}

TEST(security, warnings_go_to_the_sink_not_stderr) {
  static std::atomic<int> seen{0};
  ASSERT_TRUE(init_vips(2, [](const char*) { ++seen; }).ok());
  auto jpg = gen::save(gen::pattern(128, 128), ".jpg");
  gen::bytes half(jpg.begin(), jpg.begin() + jpg.size() / 2);
  std::string err = gen::capture_stderr([&] {
    auto r = decode(half);
    EXPECT_FALSE(r.ok());
    // A fail_on=none load of the same bytes warns instead of failing.
    VipsImage* im = vips_image_new_from_buffer(half.data(), half.size(), "", nullptr);
    if (im) {
      VipsImage* mem = vips_image_copy_memory(im);
      if (mem) g_object_unref(mem);
      g_object_unref(im);
    }
    vips_error_clear();
  });
  EXPECT_EQ(err, "");
  EXPECT_GT(seen.load(), 0);
  ASSERT_TRUE(init_vips(2).ok());
}

TEST(security, concurrent_decodes) {
  gen::init();
  auto jpg = gen::save(gen::pattern(400, 300), ".jpg");
  auto png = gen::save(gen::pattern(300, 400, 4), ".png");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        decode_options o;
        o.max_width = o.max_height = 100 + 10 * t;
        auto r = decode(t % 2 ? jpg : png, o);
        if (!r.ok() || std::max(r->width(), r->height()) != 100 + 10 * t) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

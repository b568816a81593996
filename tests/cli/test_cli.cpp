// `idphoto clean` / `idphoto models` / `idphoto faces` end to end: the real binary
// (IDPHOTO_EXE) with the real ISNet and face models, on inputs generated here in a temp
// dir (libvips through the image tests' helpers, byte patches for the broken files) and
// on the astronaut photo from Debian's python3-skimage (NASA, public domain) and the Grace
// Hopper portrait from Debian's facedetect (US Navy, public domain). Checks exit codes, the
// one-line errors and warnings on stderr, --json, and the output files (or their absence).
//
// A missing model, binary or photo FAILS the test (never skips): these are the
// conditions the test exists to check.
//
// Cost: every `clean` run loads the model (~1 s) and runs it once per photo (~1-3 s at
// 384 px on 2 cores); runs not about quality use --model-size 384.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "image/decode.hpp"
#include "image/gen.hpp"
#include "image/probe.hpp"
#include "cli/cli_run.hpp"

namespace fs = std::filesystem;
namespace img = idphoto::image;
using namespace clitest;

namespace {

img::image crop(const img::image& im, int x, int y, int w, int h) {
  VipsImage* out = nullptr;
  EXPECT_EQ(vips_crop(im.v.get(), &out, x, y, w, h, nullptr), 0) << vips_error_buffer();
  return wrap(out);
}

// A real small PNG whose IHDR is rewritten to claim w x h, with a correct CRC.
gen::bytes png_claiming(uint32_t w, uint32_t h) {
  auto b = gen::save(gen::pattern(16, 16), ".png");
  gen::put_be32(b, 16, w);
  gen::put_be32(b, 20, h);
  gen::put_be32(b, 29, gen::crc32(b.data() + 12, 4 + 13));
  return b;
}

// A real small baseline JPEG whose SOF0 marker is rewritten to claim w x h.
gen::bytes jpeg_claiming(uint16_t w, uint16_t h) {
  auto b = gen::save(gen::pattern(16, 16), ".jpg[Q=90]");
  for (size_t i = 2; i + 9 < b.size(); ++i)
    if (b[i] == 0xff && b[i + 1] == 0xc0) {
      b[i + 5] = uint8_t(h >> 8);
      b[i + 6] = uint8_t(h);
      b[i + 7] = uint8_t(w >> 8);
      b[i + 8] = uint8_t(w);
      return b;
    }
  ADD_FAILURE() << "no SOF0 marker";
  return b;
}

// A PNG whose first IDAT chunk has one data byte flipped (CRC no longer matches).
gen::bytes png_bad_crc() {
  auto b = gen::save(gen::pattern(64, 48), ".png");
  for (size_t i = 8; i + 8 < b.size();) {
    const uint32_t len = gen::get_be32(b, i);
    if (std::string(b.begin() + i + 4, b.begin() + i + 8) == "IDAT") {
      b[i + 8 + len / 2] ^= 0x5a;
      return b;
    }
    i += 12 + len;
  }
  ADD_FAILURE() << "no IDAT";
  return b;
}

gen::bytes truncated(const gen::bytes& b, double keep) {
  return gen::bytes(b.begin(), b.begin() + std::ptrdiff_t(b.size() * keep));
}

// ---- fixture

class cli : public ::testing::Test {
 protected:
  void SetUp() override {
    gen::init();
    ASSERT_TRUE(fs::is_regular_file(exe())) << "no idphoto binary at " << exe();
    ASSERT_TRUE(fs::is_regular_file(models_dir() + "/isnet-general-fp16.onnx"))
        << "model missing in " << models_dir() << ": run scripts/fetch-models";
    ASSERT_TRUE(fs::is_regular_file(k_astronaut)) << k_astronaut << " missing: apt-get install python3-skimage";
    ::setenv("IDPHOTO_MODELS_DIR", models_dir().c_str(), 1);
    dir = fresh_test_dir("idphoto-cli");
  }
  void TearDown() override { remove_unless_failed(dir); }
  fs::path put(const std::string& name, const gen::bytes& b) {
    gen::write_file(dir / name, b);
    return dir / name;
  }
  run_result clean(std::vector<std::string> args, const fs::path& in = {}) {
    args.insert(args.begin(), "clean");
    return run(args, dir, in);
  }
  fs::path dir;
};

}  // namespace

// ---- bad input: exit 1, one error line naming the file and the reason, nothing written

TEST_F(cli, bad_inputs_fail_cleanly) {
  const std::string text = "Dear user,\nthis is a letter, not a photo.\n";
  const auto good_jpg = gen::save(gen::pattern(200, 150), ".jpg[Q=90]");
  const auto good_png = gen::save(gen::pattern(200, 150), ".png");
  struct bad_case {
    std::string name;
    gen::bytes bytes;
    std::vector<std::string> reason;  // any of these in the message
  };
  const bad_case cases[] = {
      {"zero.jpg", {}, {"empty"}},
      {"letter.jpg", gen::bytes(text.begin(), text.end()), {"unsupported image format"}},
      {"truncated.jpg", truncated(good_jpg, 0.5), {"truncated", "Premature end"}},
      {"truncated-header.jpg", truncated(good_jpg, 0.02), {"truncated", "Premature end"}},
      {"truncated.png", truncated(good_png, 0.5), {"truncated", "premature", "not enough data"}},
      {"badcrc.png", png_bad_crc(), {"CRC error"}},
      {"huge.png", png_claiming(60000, 60000), {"60000x60000"}},
      {"huge.jpg", jpeg_claiming(60000, 60000), {"60000x60000"}},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    const fs::path in = put(k.name, k.bytes);
    const fs::path out_dir = dir / ("out-" + k.name);
    fs::create_directories(out_dir);
    const auto r = clean({in.string(), "--out-dir", out_dir.string(), "--model-size", k_fast});
    EXPECT_EQ(r.code, 1) << shown(r);
    const auto ls = lines(r.err);
    ASSERT_EQ(ls.size(), 1u) << shown(r);
    EXPECT_EQ(ls[0].rfind("idphoto: error: ", 0), 0u) << ls[0];
    EXPECT_NE(ls[0].find(in.string()), std::string::npos) << "names the file: " << ls[0];
    bool has_reason = false;
    for (const auto& w : k.reason) has_reason |= ls[0].find(w) != std::string::npos;
    EXPECT_TRUE(has_reason) << "says why: " << ls[0];
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_TRUE(listing(out_dir).empty()) << "no output or temp file in the output dir";
    EXPECT_EQ(gen::read_file(in), k.bytes) << "input untouched";
    RecordProperty(k.name, ls[0]);
  }
  // And without --out-dir (output would go next to the input as NAME.id.png): nothing
  // appears there either.
  const auto before = listing(dir);
  const auto r = clean({(dir / "badcrc.png").string(), "--model-size", k_fast});
  EXPECT_EQ(r.code, 1) << shown(r);
  EXPECT_EQ(listing(dir), before);
}

TEST_F(cli, missing_or_special_input) {
  const auto r = clean({(dir / "nope.jpg").string(), "--model-size", k_fast});
  EXPECT_EQ(r.code, 1) << shown(r);
  const auto ls = lines(r.err);
  ASSERT_EQ(ls.size(), 1u) << shown(r);
  EXPECT_NE(ls[0].find((dir / "nope.jpg").string()), std::string::npos) << ls[0];
  EXPECT_NE(ls[0].find("no such file"), std::string::npos) << ls[0];
  // A device is not a photo file: refused without reading it.
  const auto d = clean({"/dev/zero", "--out-dir", (dir / "out").string(), "--model-size", k_fast});
  EXPECT_EQ(d.code, 1) << shown(d);
  ASSERT_EQ(lines(d.err).size(), 1u) << shown(d);
  EXPECT_NE(d.err.find("/dev/zero: not a regular file"), std::string::npos) << d.err;
  EXPECT_TRUE(listing(dir / "out").empty());
}

// ---- usage errors: exit 2 before any work

TEST_F(cli, usage_errors_exit_2) {
  const fs::path a = put("a.png", gen::save(gen::pattern(32, 32), ".png"));
  const fs::path b = put("b.png", gen::save(gen::pattern(32, 32), ".png"));
  fs::create_directories(dir / "empty");
  struct usage_case {
    std::vector<std::string> args;
    std::string needle;
  };
  const usage_case cases[] = {
      {{a.string(), b.string(), "-o", (dir / "x.png").string()}, "-o takes one input"},
      {{a.string(), "--bg", "none", "--format", "jpg", "-o", (dir / "x.jpg").string()}, "--bg none"},
      {{a.string(), "--bg", "none", "--format", "jpeg"}, "--bg none"},
      {{a.string(), "--bg", "#12345"}, "#RRGGBB"},
      {{a.string(), "--bg", "Blue"}, "#RRGGBB"},
      {{a.string(), "--max-size", "0"}, "--max-size"},
      {{a.string(), "--max-size", "99999"}, "--max-size"},
      {{a.string(), "--max-size", "12abc"}, "--max-size"},
      {{a.string(), "--format", "gif"}, "--format"},
      {{a.string(), "--quality", "0"}, "--quality"},
      {{a.string(), "--model-size", "400"}, "model size"},
      {{a.string(), "--model-size", "2048"}, "--model-size"},
      {{a.string(), "--refine", "maybe"}, "--refine"},
      {{a.string(), "--threads", "-1"}, "--threads"},
      {{a.string(), "--frobnicate"}, "unknown option"},
      {{a.string(), "--bg"}, "needs a value"},
      {{a.string(), "-o", (dir / "x.png").string(), "--out-dir", (dir / "d").string()}, "exclude"},
      {{}, "no input"},
      {{(dir / "empty").string()}, "no photos found"},
  };
  const auto before = listing(dir);
  for (const auto& k : cases) {
    std::string joined;
    for (const auto& s : k.args) joined += s + " ";
    SCOPED_TRACE(joined);
    const auto r = clean(k.args);
    EXPECT_EQ(r.code, 2) << shown(r);
    ASSERT_FALSE(lines(r.err).empty());
    EXPECT_EQ(lines(r.err)[0].rfind("idphoto: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(k.needle), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
  EXPECT_EQ(listing(dir), before) << "nothing written by a refused command";
  // The top-level command too.
  EXPECT_EQ(run({"frobnicate"}, dir).code, 2);
  EXPECT_EQ(run({}, dir).code, 2);
}

// ---- good but unusual inputs: an image out (decodable PNG, within --max-size, aspect kept)
// Decided: every one of these gives an image, none an error. CMYK (libvips' CMYK
// profile), 16-bit, grey and palette+tRNS (flattened on white) convert to 8-bit sRGB and
// the face is still found; animated WebP uses its first frame; 1x1 gives 1x1 (never
// upscaled; no face, mask ~empty: the no-face warning); a 10000x100 panorama gives
// 800x8 (same warning). The warning is on stderr, the JSON says "person": false.

TEST_F(cli, unusual_inputs_give_images) {
  const auto person = shrink_to(astronaut(), 256);  // 256 x 256
  // CMYK through libvips' CMYK profile, as a print workflow would save it.
  VipsImage* cmyk_v = nullptr;
  ASSERT_EQ(vips_icc_transform(person.v.get(), &cmyk_v, "cmyk", "input_profile", "srgb", nullptr), 0)
      << vips_error_buffer();
  const auto cmyk = wrap(cmyk_v);
  // 16-bit RGB.
  VipsImage *lin = nullptr, *u16 = nullptr, *rgb16 = nullptr;
  ASSERT_EQ(vips_linear1(person.v.get(), &lin, 257.0, 0.0, nullptr), 0);
  const auto lin_i = wrap(lin);
  ASSERT_EQ(vips_cast(lin, &u16, VIPS_FORMAT_USHORT, nullptr), 0);
  const auto u16_i = wrap(u16);
  ASSERT_EQ(vips_copy(u16, &rgb16, "interpretation", VIPS_INTERPRETATION_RGB16, nullptr), 0);
  const auto rgb16_i = wrap(rgb16);
  // Grey.
  VipsImage* grey_v = nullptr;
  ASSERT_EQ(vips_colourspace(person.v.get(), &grey_v, VIPS_INTERPRETATION_B_W, nullptr), 0);
  const auto grey = wrap(grey_v);
  // Palette with transparency: the photo with a transparent 24 px frame, quantised.
  const auto alpha =
      gen::make(256, 256, 1, [](int x, int y, int) { return uint8_t(x < 24 || y < 24 || x >= 232 ? 0 : 255); });
  VipsImage* rgba_v = nullptr;
  ASSERT_EQ(vips_bandjoin2(person.v.get(), alpha.v.get(), &rgba_v, nullptr), 0);
  const auto rgba = wrap(rgba_v);
  // Animated WebP: frame 0 the photo, frames 1-2 flat grey (a decoder taking the
  // wrong frame finds no face).
  // (Frames differ: libwebp merges identical neighbours into one longer frame.)
  const auto flat1 = gen::make(256, 256, 3, [](int, int, int) { return uint8_t(128); });
  const auto flat2 = gen::make(256, 256, 3, [](int, int, int) { return uint8_t(64); });
  VipsImage* frames[3] = {person.v.get(), flat1.v.get(), flat2.v.get()};
  VipsImage* tall_v = nullptr;
  ASSERT_EQ(vips_arrayjoin(frames, &tall_v, 3, "across", 1, nullptr), 0);
  auto anim = gen::with_int(wrap(tall_v), "page-height", 256);
  int delays[3] = {100, 100, 100};
  vips_image_set_array_int(anim.v.get(), "delay", delays, 3);
  vips_image_set_int(anim.v.get(), "loop", 0);
  const auto pano = gen::pattern(10000, 100);
  const auto one = gen::make(1, 1, 3, [](int, int, int b) { return uint8_t(b * 100); });

  struct unusual {
    std::string name;
    gen::bytes bytes;
    int want_w, want_h;  // output size at --max-size 800
    bool want_person;    // a face should still be found (the photo survived decoding)
    std::string check;   // what probing the input must say (proves the input is the unusual kind)
  };
  const unusual cases[] = {
      {"cmyk.jpg", gen::save(cmyk, ".jpg[Q=92]"), 256, 256, true, "cmyk"},
      {"rgb16.png", gen::save(rgb16_i, ".png"), 256, 256, true, "rgb16"},
      {"grey.png", gen::save(grey, ".png"), 256, 256, true, "b-w"},
      {"palette.png", gen::save(rgba, ".png[palette,bitdepth=8]"), 256, 256, true, "palette"},
      {"animated.webp", gen::save(anim, ".webp[lossless]"), 256, 256, true, "animated"},
      {"one.png", gen::save(one, ".png"), 1, 1, false, ""},
      {"panorama.jpg", gen::save(pano, ".jpg[Q=85]"), 800, 8, false, ""},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    auto info = img::probe(k.bytes);
    ASSERT_TRUE(info.ok()) << info.err().to_string();
    if (k.check == "palette") {
      EXPECT_TRUE(info->palette && info->has_alpha);
    } else if (k.check == "animated") {
      EXPECT_TRUE(info->animated && info->n_pages == 3);
    } else if (!k.check.empty()) {
      EXPECT_EQ(info->interpretation, k.check);
    }
    const fs::path in = put(k.name, k.bytes);
    const fs::path out = dir / (k.name + ".out.png");
    const auto r = clean({in.string(), "-o", out.string(), "--json", "--model-size", k_fast});
    EXPECT_EQ(r.code, 0) << shown(r);
    ASSERT_TRUE(fs::exists(out)) << shown(r);
    const auto d = decode_output(gen::read_file(out));
    EXPECT_EQ(d.info.fmt, img::format::png);
    EXPECT_EQ(d.info.width, k.want_w);
    EXPECT_EQ(d.info.height, k.want_h);
    EXPECT_EQ(d.info.bands, 3) << "flat on the default blue";
    EXPECT_NE(r.out.find(k.want_person ? "\"person\":true" : "\"person\":false"), std::string::npos) << r.out;
    // stderr: nothing, or the no-face warning for the tiny / synthetic ones.
    for (const auto& l : lines(r.err)) EXPECT_EQ(l.rfind("idphoto: warning: ", 0), 0u) << l;
    RecordProperty(k.name, lines(r.out).empty() ? "" : lines(r.out)[0]);
  }
}

// ---- EXIF orientation 1-8: the output is upright

namespace {

// Upright scene W x H (portrait). Where stored pixel (sx, sy) appears upright (EXIF semantics).
void stored_to_display(int k, int W, int H, int sx, int sy, int* dx, int* dy) {
  switch (k) {
    case 1:
      *dx = sx;
      *dy = sy;
      break;
    case 2:
      *dx = W - 1 - sx;
      *dy = sy;
      break;
    case 3:
      *dx = W - 1 - sx;
      *dy = H - 1 - sy;
      break;
    case 4:
      *dx = sx;
      *dy = H - 1 - sy;
      break;
    case 5:
      *dx = sy;
      *dy = sx;
      break;
    case 6:
      *dx = W - 1 - sy;
      *dy = sx;
      break;
    case 7:
      *dx = W - 1 - sy;
      *dy = H - 1 - sx;
      break;
    case 8:
      *dx = sy;
      *dy = H - 1 - sx;
      break;
  }
}

// Mean |a - b| over all samples of two same-size buffers; flip_x / flip_y read b mirrored.
double mad(const img::pixel_buffer& a, const img::pixel_buffer& b, bool flip_x = false, bool flip_y = false) {
  double s = 0;
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x) {
      const int bx = flip_x ? a.width - 1 - x : x, by = flip_y ? a.height - 1 - y : y;
      for (int c = 0; c < a.bands; ++c)
        s += std::abs(int(a.data[(size_t(y) * a.width + x) * a.bands + c]) -
                      int(b.data[(size_t(by) * b.width + bx) * b.bands + c]));
    }
  return s / (double(a.width) * a.height * a.bands);
}

}  // namespace

TEST_F(cli, exif_orientations_come_out_upright) {
  // Upright: a 240 x 320 portrait crop of the astronaut (face top-centre, flag on the left).
  const int W = 240, H = 320;
  const auto up_im = shrink_to(crop(astronaut(), 32, 0, 384, 512), W);
  ASSERT_EQ(up_im.height(), H);
  auto up = img::to_pixels(up_im);
  ASSERT_TRUE(up.ok()) << up.err().to_string();
  ASSERT_EQ(up->bands, 3);
  fs::create_directories(dir / "in");
  for (int k = 1; k <= 8; ++k) {
    const int sw = k >= 5 ? H : W, sh = k >= 5 ? W : H;
    auto stored = gen::make(sw, sh, 3, [&](int sx, int sy, int b) {
      int dx = 0, dy = 0;
      stored_to_display(k, W, H, sx, sy, &dx, &dy);
      return up->data[(size_t(dy) * W + dx) * 3 + b];
    });
    gen::write_file(dir / "in" / ("orient-" + std::to_string(k) + ".jpg"),
                    gen::save(gen::with_int(stored, "orientation", k), ".jpg[Q=95]"));
  }
  // One batch run for all eight (one model load).
  const auto r = clean({(dir / "in").string(), "--out-dir", (dir / "out").string(), "--model-size", k_fast, "--json"});
  ASSERT_EQ(r.code, 0) << shown(r);
  std::vector<decoded> outs;
  for (int k = 1; k <= 8; ++k) {
    outs.push_back(decode_output(gen::read_file(dir / "out" / ("orient-" + std::to_string(k) + ".png"))));
    EXPECT_EQ(outs.back().info.width, W) << "orientation " << k;
    EXPECT_EQ(outs.back().info.height, H) << "orientation " << k;
  }
  // Same picture as orientation 1 (up to JPEG noise of differently stored blocks and
  // the mask's response to it), and clearly not its mirror images or its 180 turn: a
  // missed flip or rotation of the same size would look like one of those. Measured
  // mean |difference| in 8-bit levels: 0.0-0.7 to orientation 1, ~62 to the nearest
  // wrong transform; the bar (a quarter of the latter) leaves room for model noise.
  const auto& ref = outs[0].px;
  for (int k = 2; k <= 8; ++k) {
    SCOPED_TRACE("orientation " + std::to_string(k));
    const auto& o = outs[k - 1].px;
    ASSERT_EQ(o.width, ref.width);
    ASSERT_EQ(o.height, ref.height);
    const double same = mad(o, ref), mirror_x = mad(o, ref, true, false), mirror_y = mad(o, ref, false, true),
                 turned = mad(o, ref, true, true);
    RecordProperty("mad_" + std::to_string(k),
                   std::to_string(same) + " vs " + std::to_string(std::min({mirror_x, mirror_y, turned})));
    EXPECT_LT(same, 0.25 * std::min({mirror_x, mirror_y, turned}))
        << "same " << same << " mirror_x " << mirror_x << " mirror_y " << mirror_y << " turned " << turned;
  }
  EXPECT_NE(r.out.find("\"person\":true"), std::string::npos) << r.out;
}

// ---- no person: an image, a warning, and "person": false

TEST_F(cli, photo_without_person_warns) {
  // A landscape: sky gradient, a sun, rolling green hills.
  const auto land = gen::make(600, 400, 3, [](int x, int y, int b) {
    const double horizon = 250 + 25 * std::sin(x / 60.0) + 10 * std::sin(x / 17.0);
    if (std::hypot(x - 450, y - 90) < 35) return uint8_t(b == 2 ? 180 : 250);
    if (y < horizon) {
      const double t = y / horizon;
      const int sky[3] = {int(90 + 120 * t), int(150 + 80 * t), 240};
      return uint8_t(sky[b]);
    }
    const int g[3] = {40 + (x * 7 + y * 3) % 20, 120 + (x * 5 + y * 11) % 30, 40};
    return uint8_t(g[b]);
  });
  const fs::path in = put("landscape.jpg", gen::save(land, ".jpg[Q=90]"));
  const fs::path out = dir / "landscape.out.png";
  const auto r = clean({in.string(), "-o", out.string(), "--json", "--model-size", k_fast});
  EXPECT_EQ(r.code, 0) << shown(r);
  const auto errs = lines(r.err);
  ASSERT_EQ(errs.size(), 1u) << shown(r);
  EXPECT_EQ(errs[0].rfind("idphoto: warning: ", 0), 0u) << errs[0];
  EXPECT_NE(errs[0].find(in.string()), std::string::npos) << errs[0];
  EXPECT_NE(errs[0].find("no face"), std::string::npos) << errs[0];
  const auto json = lines(r.out);
  ASSERT_EQ(json.size(), 1u) << r.out;
  EXPECT_NE(json[0].find("\"person\":false"), std::string::npos) << json[0];
  EXPECT_NE(json[0].find("\"error\":null"), std::string::npos) << json[0];
  EXPECT_NE(json[0].find("no face found"), std::string::npos) << "listed in warnings: " << json[0];
  const auto d = decode_output(gen::read_file(out));
  EXPECT_EQ(d.info.width, 600);
  EXPECT_EQ(d.info.height, 400);
}

// ---- a real person at the default model size: face found, subject kept, background replaced

TEST_F(cli, person_photo_default_quality) {
  const fs::path in = put("astronaut.png", gen::read_file(k_astronaut));
  const auto r = clean({in.string(), "--json"});
  ASSERT_EQ(r.code, 0) << shown(r);
  EXPECT_TRUE(r.err.empty()) << r.err;
  const auto json = lines(r.out);
  ASSERT_EQ(json.size(), 1u);
  EXPECT_NE(json[0].find("\"person\":true"), std::string::npos) << json[0];
  EXPECT_NE(json[0].find("\"warnings\":[]"), std::string::npos) << json[0];
  std::smatch m;
  ASSERT_TRUE(std::regex_search(json[0], m, std::regex("\"coverage\":([0-9.]+)"))) << json[0];
  const double coverage = std::stod(m[1]);
  EXPECT_GT(coverage, 0.2) << "the astronaut fills a good part of the frame";
  EXPECT_LT(coverage, 0.8);
  // Default output: next to the input as NAME.id.png, 512 x 512 (under 800, not upscaled).
  const auto d = decode_output(gen::read_file(dir / "astronaut.id.png"));
  ASSERT_EQ(d.info.width, 512);
  ASSERT_EQ(d.info.height, 512);
  // The face (around x 180-260, y 60-160) is subject: the photo's own pixels.
  // The plain backdrop's top-right corner is background: exactly the default blue.
  auto src = decode_output(gen::read_file(k_astronaut));
  double diff = 0;
  for (int y = 80; y < 150; ++y)
    for (int x = 190; x < 250; ++x)
      for (int c = 0; c < 3; ++c)
        diff +=
            std::abs(int(d.px.data[(size_t(y) * 512 + x) * 3 + c]) - int(src.px.data[(size_t(y) * 512 + x) * 3 + c]));
  // Tolerance: 4 levels mean; the input carries an ICC profile that to_srgb applies.
  EXPECT_LT(diff / (70.0 * 60 * 3), 4.0);
  for (int y = 0; y < 8; ++y)
    for (int x = 504; x < 512; ++x) {
      const uint8_t* p = &d.px.data[(size_t(y) * 512 + x) * 3];
      ASSERT_EQ(p[0], 67);
      ASSERT_EQ(p[1], 142);
      ASSERT_EQ(p[2], 219);
    }
}

// ---- batch: one bad file does not stop the others; exit 1 and a summary

TEST_F(cli, batch_with_one_bad_file_continues) {
  fs::create_directories(dir / "in");
  gen::write_file(dir / "in" / "a_good.png", small_person_png());
  const std::string text = "not a photo";
  gen::write_file(dir / "in" / "b_bad.jpg", gen::bytes(text.begin(), text.end()));
  gen::write_file(dir / "in" / "c_good.jpg", gen::save(shrink_to(astronaut(), 200), ".jpg[Q=90]"));
  gen::write_file(dir / "in" / ".hidden.png", small_person_png());  // skipped: hidden
  const auto r = clean({(dir / "in").string(), "--out-dir", (dir / "out").string(), "--model-size", k_fast, "--json"});
  EXPECT_EQ(r.code, 1) << shown(r);
  EXPECT_TRUE(fs::exists(dir / "out" / "a_good.png"));
  EXPECT_TRUE(fs::exists(dir / "out" / "c_good.png")) << "processed after the bad one";
  EXPECT_EQ(listing(dir / "out"), (std::vector<std::string>{"a_good.png", "c_good.png"}));
  const auto errs = lines(r.err);
  ASSERT_EQ(errs.size(), 2u) << shown(r);
  EXPECT_EQ(errs[0].rfind("idphoto: error: ", 0), 0u);
  EXPECT_NE(errs[0].find("b_bad.jpg"), std::string::npos) << errs[0];
  EXPECT_NE(errs[1].find("cleaned 2 of 3 photos"), std::string::npos) << errs[1];
  EXPECT_NE(errs[1].find("1 failed"), std::string::npos) << errs[1];
  const auto json = lines(r.out);
  ASSERT_EQ(json.size(), 3u) << r.out;
  EXPECT_NE(json[1].find("b_bad.jpg"), std::string::npos);
  EXPECT_NE(json[1].find("\"output\":null"), std::string::npos) << json[1];
  EXPECT_NE(json[1].find("\"error\":\"unsupported image format"), std::string::npos) << json[1];
  EXPECT_NE(json[2].find("\"error\":null"), std::string::npos) << json[2];
}

// ---- stdin to stdout

TEST_F(cli, stdin_to_stdout) {
  const auto png = small_person_png();
  const fs::path in = put("in.png", png);
  const auto before = listing(dir);
  const auto r = clean({"-", "--model-size", k_fast}, in);
  ASSERT_EQ(r.code, 0) << shown(r);
  EXPECT_TRUE(r.err.empty()) << r.err;
  const gen::bytes out(r.out.begin(), r.out.end());
  const auto d = decode_output(out);
  EXPECT_EQ(d.info.fmt, img::format::png);
  EXPECT_EQ(d.info.width, 256);
  EXPECT_EQ(d.info.height, 256);
  EXPECT_EQ(listing(dir), before) << "nothing written beside stdout";

  // A broken stdin: exit 1, one error naming (stdin), nothing on stdout.
  const fs::path bad = put("bad.png", truncated(png, 0.3));
  const auto rb = clean({"-", "--model-size", k_fast}, bad);
  EXPECT_EQ(rb.code, 1) << shown(rb);
  ASSERT_EQ(lines(rb.err).size(), 1u) << shown(rb);
  EXPECT_NE(rb.err.find("(stdin)"), std::string::npos) << rb.err;
  EXPECT_TRUE(rb.out.empty());
}

// ---- the output never overwrites an input

TEST_F(cli, output_never_overwrites_input) {
  const auto png = small_person_png();
  const fs::path in = put("photo.png", png);
  std::error_code ec;
  fs::create_hard_link(in, dir / "link.png", ec);
  ASSERT_FALSE(ec) << ec.message();
  for (const std::string& target : {in.string(), (dir / "." / "photo.png").string(), (dir / "link.png").string()}) {
    SCOPED_TRACE(target);
    const auto r = clean({in.string(), "-o", target, "--model-size", k_fast});
    EXPECT_NE(r.code, 0) << shown(r);
    ASSERT_EQ(lines(r.err).size(), 1u) << shown(r);
    EXPECT_NE(r.err.find("photo.png"), std::string::npos) << r.err;
    EXPECT_EQ(gen::read_file(in), png) << "input unchanged";
  }
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"link.png", "photo.png"})) << "no temp file left";
}

// ---- --mask: one-band grey PNG at output size

TEST_F(cli, mask_is_one_band_grey_png_at_output_size) {
  const fs::path in = put("wide.png", gen::save(crop(astronaut(), 0, 56, 512, 400), ".png"));
  const fs::path out = dir / "mask.png";
  const auto r = clean(
      {in.string(), "-o", out.string(), "--mask", "--max-size", "300", "--format", "jpg", "--model-size", k_fast});
  ASSERT_EQ(r.code, 0) << shown(r);
  const auto d = decode_output(gen::read_file(out));
  EXPECT_EQ(d.info.fmt, img::format::png) << "--mask is always PNG";
  EXPECT_EQ(d.info.bands, 1);
  EXPECT_EQ(d.info.interpretation, "b-w");
  EXPECT_EQ(d.info.width, 300);
  EXPECT_EQ(d.info.height, 234);  // 400 * 300 / 512 = 234.4
  ASSERT_EQ(d.px.bands, 1);
  // A real mask: fully background somewhere, fully subject somewhere.
  EXPECT_EQ(*std::min_element(d.px.data.begin(), d.px.data.end()), 0);
  EXPECT_EQ(*std::max_element(d.px.data.begin(), d.px.data.end()), 255);
}

// ---- --bg '#00FF00': plain background pixels exactly the colour

TEST_F(cli, hex_background_exact_in_plain_corner) {
  const fs::path in = put("astronaut.png", gen::read_file(k_astronaut));
  const fs::path out = dir / "green.png";
  const auto r = clean({in.string(), "-o", out.string(), "--bg", "#00FF00", "--model-size", k_fast});
  ASSERT_EQ(r.code, 0) << shown(r);
  const auto d = decode_output(gen::read_file(out));
  ASSERT_EQ(d.info.width, 512);
  ASSERT_EQ(d.px.bands, 3);
  // The astronaut's top-right corner is the studio's plain backdrop.
  int exact = 0;
  for (int y = 0; y < 16; ++y)
    for (int x = 496; x < 512; ++x) {
      const uint8_t* p = &d.px.data[(size_t(y) * 512 + x) * 3];
      exact += p[0] == 0 && p[1] == 255 && p[2] == 0;
    }
  EXPECT_EQ(exact, 16 * 16);
}

// ---- --max-size: fits the box, aspect kept; never upscaled

TEST_F(cli, max_size_fits_box) {
  const fs::path in = put("wide.png", gen::save(crop(astronaut(), 0, 64, 512, 384), ".png"));
  const auto r = clean({in.string(), "--max-size", "200", "--format", "webp", "--model-size", k_fast});
  ASSERT_EQ(r.code, 0) << shown(r);
  const auto d = decode_output(gen::read_file(dir / "wide.id.webp"));
  EXPECT_EQ(d.info.fmt, img::format::webp);
  EXPECT_EQ(d.info.width, 200);
  EXPECT_EQ(d.info.height, 150);
}

// ---- idphoto models / --version

TEST_F(cli, models_lists_and_verifies) {
  const auto r = run({"models"}, dir);
  EXPECT_EQ(r.code, 0) << shown(r);
  EXPECT_NE(r.out.find("isnet-general-fp16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sha256 ok"), std::string::npos) << r.out;
  // An empty models directory: exit 1, says what is missing.
  fs::create_directories(dir / "none");
  const auto m = run({"models", "--models-dir", (dir / "none").string()}, dir);
  EXPECT_EQ(m.code, 1) << shown(m);
  EXPECT_NE(m.out.find("missing"), std::string::npos) << m.out;
  // A model missing at clean time: exit 1, one line pointing at fetch-models.
  const fs::path in = put("p.png", gen::save(gen::pattern(32, 32), ".png"));
  const auto c = clean({in.string(), "--models-dir", (dir / "none").string()});
  EXPECT_EQ(c.code, 1) << shown(c);
  ASSERT_EQ(lines(c.err).size(), 1u) << shown(c);
  EXPECT_NE(c.err.find("fetch-models"), std::string::npos) << c.err;
}

TEST_F(cli, version) {
  const auto r = run({"--version"}, dir);
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(std::regex_match(r.out, std::regex("idphoto [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << r.out;
  EXPECT_TRUE(r.err.empty());
}

// ---- small subjects: a second, larger network pass (pipeline_config::retry_size_px)

TEST_F(cli, small_far_person_gets_a_second_larger_pass) {
  // The astronaut at 96 px in the corner of an 800 x 600 white frame: the mask at 384 covers
  // far less than 15% of the photo, so the network runs again at 640. (The size is fixed at
  // 384 here: by default the size rule already runs such a photo at 640, see below.)
  const auto small = shrink_to(astronaut(), 96);
  VipsImage* far = nullptr;
  ASSERT_EQ(vips_embed(small.v.get(), &far, 560, 420, 800, 600, "extend", VIPS_EXTEND_WHITE, nullptr), 0)
      << vips_error_buffer();
  const fs::path in = put("far.png", gen::save(wrap(far), ".png"));
  const auto r = clean({in.string(), "-o", (dir / "far.out.png").string(), "--json", "--model-size", k_fast});
  EXPECT_EQ(r.code, 0) << shown(r);
  EXPECT_NE(r.out.find("\"model_size\":640"), std::string::npos) << r.out;
  const auto off =
      clean({in.string(), "-o", (dir / "far.off.png").string(), "--json", "--retry-size", "0", "--model-size", k_fast});
  EXPECT_EQ(off.code, 0) << shown(off);
  EXPECT_NE(off.out.find("\"model_size\":384"), std::string::npos) << off.out;
  // A portrait does not trigger it.
  const fs::path portrait = put("astronaut.png", gen::read_file(k_astronaut));
  const auto p =
      clean({portrait.string(), "-o", (dir / "portrait.out.png").string(), "--json", "--model-size", k_fast});
  EXPECT_EQ(p.code, 0) << shown(p);
  EXPECT_NE(p.out.find("\"model_size\":384"), std::string::npos) << p.out;
  // By default the size follows the subject: the astronaut's face is 19% of the photo's width
  // (not a tight face crop), so the network runs at 640 and the JSON says why.
  const auto a = clean({portrait.string(), "-o", (dir / "portrait.auto.png").string(), "--json"});
  EXPECT_EQ(a.code, 0) << shown(a);
  EXPECT_NE(a.out.find("\"model_size\":640"), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("\"face_fraction\":0.18"), std::string::npos) << a.out;
  const auto au =
      clean({portrait.string(), "-o", (dir / "portrait.auto2.png").string(), "--json", "--model-size", "auto"});
  EXPECT_NE(au.out.find("\"model_size\":640"), std::string::npos) << au.out;
  // A bad value is a usage error.
  const auto bad = clean({portrait.string(), "-o", (dir / "bad.png").string(), "--retry-size", "500"});
  EXPECT_EQ(bad.code, 2) << shown(bad);
}

// ---- idphoto faces (BlazeFace + FaceMesh, or the Haar cascade), src/cli/cmd_faces.cpp

const char* const k_grace_hopper = "/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg";

TEST_F(cli, faces_json_on_a_portrait) {
  const auto r = run({"faces", "--json", k_grace_hopper}, dir);
  ASSERT_EQ(r.code, 0) << shown(r);
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 2u) << shown(r);
  EXPECT_NE(out[0].find("\"n_faces\":1"), std::string::npos) << out[0];
  EXPECT_NE(out[0].find("\"width\":512,\"height\":512"), std::string::npos) << out[0];
  // The eyes come left to right in the image, both inside the photo's upper half.
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(out[0], m, std::regex("\"eyes\":\\[\\[([0-9.]+),([0-9.]+)\\],\\[([0-9.]+),([0-9.]+)\\]\\]")))
      << out[0];
  EXPECT_LT(std::stod(m[1]), std::stod(m[3]));
  EXPECT_LT(std::stod(m[2]), 256.0);
  EXPECT_LT(std::stod(m[4]), 256.0);
  EXPECT_NE(out[1].find("\"summary\":true"), std::string::npos) << out[1];
  EXPECT_TRUE(r.err.empty()) << r.err;
  // The Haar cascade of the clean pipeline finds the same one face (a box, nothing more).
  const auto h = run({"faces", "--detector", "haar", k_grace_hopper}, dir);
  ASSERT_EQ(h.code, 0) << shown(h);
  EXPECT_NE(lines(h.out).at(0).find("\"n_faces\":1"), std::string::npos) << h.out;
  EXPECT_EQ(lines(h.out).at(0).find("keypoints"), std::string::npos) << h.out;
}

TEST_F(cli, faces_bad_inputs) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"faces"},
                                               {"faces", "--detector", "dlib", k_grace_hopper},
                                               {"faces", "--threads", "0", k_grace_hopper},
                                               {"faces", "--max-side", "-1", k_grace_hopper},
                                               {"faces", "--bogus", k_grace_hopper}}) {
    const auto r = run(args, dir);
    EXPECT_EQ(r.code, 2) << shown(r);
  }
  // Unreadable photos get an error line each; the good one in the batch is still analysed.
  gen::bytes jpeg = gen::save(gen::pattern(64, 64), ".jpg");
  jpeg.resize(jpeg.size() / 2);
  const fs::path truncated = put("half.jpg", jpeg);
  const fs::path text = put("notes.jpg", gen::bytes{'h', 'e', 'l', 'l', 'o', '\n'});
  const fs::path empty = put("empty.png", gen::bytes{});
  const auto b =
      run({"faces", truncated.string(), (dir / "missing.jpg").string(), text.string(), empty.string(), k_grace_hopper},
          dir);
  EXPECT_EQ(b.code, 1) << shown(b);
  const auto out = lines(b.out);
  ASSERT_EQ(out.size(), 6u) << shown(b);
  for (int i = 0; i < 4; ++i) EXPECT_NE(out[i].find("\"error\":"), std::string::npos) << out[i];
  EXPECT_NE(out[4].find("\"n_faces\":1"), std::string::npos) << out[4];
  EXPECT_NE(out[5].find("\"failed\":4"), std::string::npos) << out[5];
  // No models: exit 1, one line pointing at fetch-models.
  fs::create_directories(dir / "none");
  const auto m = run({"faces", "--models-dir", (dir / "none").string(), k_grace_hopper}, dir);
  EXPECT_EQ(m.code, 1) << shown(m);
  ASSERT_EQ(lines(m.err).size(), 1u) << shown(m);
  EXPECT_NE(m.err.find("fetch-models"), std::string::npos) << m.err;
}

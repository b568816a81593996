// `idphoto clean --spec` end to end: the real binary with the real ISNet and face models on
// the two licence-clear portraits (Grace Hopper from Debian's facedetect, the astronaut from
// python3-skimage) and synthetic variants of them (rotated, the head cut at the top). Checks
// the exact pixels and the dpi written in the file, the JPEG size limit, the --json face and
// compliance report, and an independent look at the output: the face is detected again on
// the framed photo (idphoto faces) and its eye line must be level and inside the spec's band.
// Bad input and bad option combinations get exit 2 (usage) or 1 (the photo), nothing written.
//
// A missing model, binary or photo FAILS the test (never skips).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_run.hpp"
#include "image/gen.hpp"

namespace fs = std::filesystem;
using namespace clitest;
using nlohmann::json;

namespace {

const char* const k_hopper = "/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg";

class spec_cli : public ::testing::Test {
 protected:
  void SetUp() override {
    gen::init();
    ASSERT_TRUE(fs::is_regular_file(exe())) << "no idphoto binary at " << exe();
    for (const char* m : {"isnet-general-fp16.onnx", "blazeface-front-128.onnx", "face-mesh-468.onnx"})
      ASSERT_TRUE(fs::is_regular_file(models_dir() + "/" + m))
          << m << " missing in " << models_dir() << ": run scripts/fetch-models";
    ASSERT_TRUE(fs::is_regular_file(k_astronaut)) << k_astronaut << " missing: apt-get install python3-skimage";
    ASSERT_TRUE(fs::is_regular_file(k_hopper)) << k_hopper << " missing: apt-get install facedetect";
    ::setenv("IDPHOTO_MODELS_DIR", models_dir().c_str(), 1);
    dir = fresh_test_dir("idphoto-spec");
  }
  void TearDown() override { remove_unless_failed(dir); }
  fs::path put(const std::string& name, const gen::bytes& b) {
    gen::write_file(dir / name, b);
    return dir / name;
  }
  run_result clean(std::vector<std::string> args) {
    args.insert(args.begin(), "clean");
    return run(args, dir);
  }
  // The --json line of a successful one-photo run.
  json clean_json(std::vector<std::string> args) {
    args.push_back("--json");
    const auto r = clean(args);
    EXPECT_EQ(r.code, 0) << shown(r);
    const auto l = lines(r.out);
    if (l.size() != 1) {
      ADD_FAILURE() << "expected one JSON line: " << shown(r);
      return json::object();
    }
    return json::parse(l[0]);
  }
  // idphoto faces on an output: the eye centres (left, right in the image) of its one face.
  bool eyes_of(const fs::path& photo, double& lx, double& ly, double& rx, double& ry) {
    const auto r = run({"faces", "--json", photo.string()}, dir);
    EXPECT_EQ(r.code, 0) << shown(r);
    const auto l = lines(r.out);
    if (l.empty()) return false;
    const json j = json::parse(l[0]);
    if (!j.contains("faces") || j["faces"].size() != 1) {
      ADD_FAILURE() << "not one face found again in " << photo << ": " << l[0];
      return false;
    }
    const json& e = j["faces"][0]["eyes"];
    lx = e[0][0], ly = e[0][1], rx = e[1][0], ry = e[1][1];
    return true;
  }
  fs::path dir;
};

const json* rule(const json& report, const std::string& id) {
  for (const auto& r : report["compliance"]["rules"])
    if (r["rule"] == id) return &r;
  return nullptr;
}

img::image load(const char* path) {
  VipsImage* v = vips_image_new_from_file(path, "access", VIPS_ACCESS_RANDOM, nullptr);
  EXPECT_NE(v, nullptr) << vips_error_buffer();
  return wrap(v);
}

img::image rotated(const img::image& im, double deg) {
  VipsImage* out = nullptr;
  double bg[3] = {200, 200, 200};
  VipsArrayDouble* background = vips_array_double_new(bg, 3);
  EXPECT_EQ(vips_similarity(im.v.get(), &out, "angle", deg, "background", background, nullptr), 0)
      << vips_error_buffer();
  vips_area_unref(VIPS_AREA(background));
  return wrap(out);
}

img::image cropped(const img::image& im, int x, int y, int w, int h) {
  VipsImage* out = nullptr;
  EXPECT_EQ(vips_crop(im.v.get(), &out, x, y, w, h, nullptr), 0) << vips_error_buffer();
  return wrap(out);
}

// JFIF APP0 density: units (1 = dots per inch) and X density, or -1 when absent.
int jfif_dpi(const gen::bytes& b) {
  if (b.size() < 18 || b[0] != 0xff || b[1] != 0xd8 || b[2] != 0xff || b[3] != 0xe0) return -1;
  if (std::string(b.begin() + 6, b.begin() + 11) != std::string("JFIF\0", 5)) return -1;
  if (b[13] != 1) return -1;
  return (b[14] << 8) | b[15];
}

// PNG pHYs: pixels per metre on X, or -1 when absent.
long png_ppm(const gen::bytes& b) {
  for (size_t i = 8; i + 12 <= b.size();) {
    const uint32_t len = gen::get_be32(b, i);
    if (std::string(b.begin() + i + 4, b.begin() + i + 8) == "pHYs" && b[i + 16] == 1) return gen::get_be32(b, i + 8);
    i += 12 + len;
  }
  return -1;
}

}  // namespace

// ---- the spec's exact pixels and dpi, the face and the report, and an independent re-detection

TEST_F(spec_cli, portraits_framed_to_icao) {
  const fs::path astro = put("astronaut.png", gen::read_file(k_astronaut));
  const fs::path hopper = put("hopper.jpg", gen::read_file(k_hopper));
  for (const fs::path& in : {astro, hopper}) {
    SCOPED_TRACE(in.filename().string());
    const fs::path out = dir / (in.stem().string() + ".icao.png");
    const json j = clean_json({in.string(), "--spec", "icao-35x45", "-o", out.string()});
    ASSERT_TRUE(j.contains("compliance")) << j.dump();
    EXPECT_EQ(j["spec"], "icao-35x45");
    EXPECT_EQ(j["width"], 413);
    EXPECT_EQ(j["height"], 531);
    EXPECT_DOUBLE_EQ(j["dpi"].get<double>(), 300.0);
    const auto bytes = gen::read_file(out);
    const auto d = decode_output(bytes);
    EXPECT_EQ(d.info.width, 413);
    EXPECT_EQ(d.info.height, 531);
    EXPECT_EQ(png_ppm(bytes), std::lround(300 / 0.0254)) << "pHYs must say 300 dpi";
    // Every rule of the report, once, with a verdict.
    for (const char* id : {"one_face", "head_height", "eye_line", "centring", "roll", "yaw", "pitch", "eyes_open",
                           "mouth_closed", "sharpness", "exposure", "lighting_balance", "source_resolution",
                           "frame_filled", "background_colour", "cutout_confidence"})
      EXPECT_NE(rule(j, id), nullptr) << id << " missing: " << j["compliance"].dump();
    EXPECT_TRUE(j["compliance"]["verdict"] == "pass" || j["compliance"]["verdict"] == "warn" ||
                j["compliance"]["verdict"] == "fail");
    EXPECT_EQ(rule(j, "one_face")->at("pass"), true);
    EXPECT_EQ(rule(j, "head_height")->at("pass"), true) << rule(j, "head_height")->dump();
    EXPECT_EQ(rule(j, "eye_line")->at("pass"), true) << rule(j, "eye_line")->dump();
    EXPECT_EQ(rule(j, "background_colour")->at("pass"), true);
    // The face in the input's pixels: both inside the 512 x 512 photo, eyes left to right, chin below them.
    const json& f = j["face"];
    const double ex0 = f["eyes"][0][0], ey0 = f["eyes"][0][1], ex1 = f["eyes"][1][0], ey1 = f["eyes"][1][1];
    EXPECT_LT(ex0, ex1);
    for (double v : {ex0, ey0, ex1, ey1}) EXPECT_TRUE(v > 0 && v < 512) << f.dump();
    EXPECT_GT(f["chin"][1].get<double>(), std::max(ey0, ey1));
    EXPECT_LT(f["crown"][1].get<double>(), std::min(ey0, ey1));
    // Independent look: detected again on the output, the eyes are level and the eye line
    // (0.5-0.7 of the height above the bottom for ICAO) is inside the band.
    double lx, ly, rx, ry;
    ASSERT_TRUE(eyes_of(out, lx, ly, rx, ry));
    EXPECT_LT(std::abs(std::atan2(ry - ly, rx - lx)) * 180 / M_PI, 2.0) << "eyes not level in the output";
    const double eye_line = (531 - (ly + ry) / 2) / 531;
    EXPECT_GE(eye_line, 0.5);
    EXPECT_LE(eye_line, 0.7);
    // The background corner is the spec's default colour, not idphoto's blue.
    const uint8_t* corner = &d.px.data[(2 * 413 + 2) * 3];
    EXPECT_FALSE(corner[0] == 67 && corner[1] == 142 && corner[2] == 219)
        << "ICAO's background is light, not the blue default";
  }
}

// ---- a tilted head comes out level; the report measures the tilt of the source

TEST_F(spec_cli, tilted_photo_comes_out_level) {
  const fs::path in = put("tilted.png", gen::save(rotated(load(k_hopper), 12), ".png"));
  const fs::path out = dir / "tilted.id.png";
  const json j = clean_json({in.string(), "--spec", "icao-35x45", "-o", out.string()});
  ASSERT_TRUE(j.contains("face")) << j.dump();
  EXPECT_NEAR(std::abs(j["face"]["roll_deg"].get<double>()), 12.0, 3.0) << j["face"].dump();
  double lx, ly, rx, ry;
  ASSERT_TRUE(eyes_of(out, lx, ly, rx, ry));
  EXPECT_LT(std::abs(std::atan2(ry - ly, rx - lx)) * 180 / M_PI, 2.5) << "eyes not levelled";
}

// ---- the head cut by the top edge: framed anyway, filled with the background, reported

TEST_F(spec_cli, head_cut_at_top_is_reported) {
  // The astronaut's hair starts ~y 40: cut the photo at y 90 (through the forehead).
  const fs::path in = put("cut.png", gen::save(cropped(astronaut(), 40, 90, 400, 422), ".png"));
  const fs::path out = dir / "cut.id.png";
  const json j = clean_json({in.string(), "--spec", "icao-35x45", "-o", out.string()});
  ASSERT_TRUE(j.contains("compliance")) << j.dump();
  EXPECT_EQ(j["width"], 413);
  EXPECT_EQ(j["height"], 531);
  ASSERT_NE(rule(j, "frame_filled"), nullptr);
  EXPECT_EQ(rule(j, "frame_filled")->at("pass"), false) << rule(j, "frame_filled")->dump();
  EXPECT_NE(j["compliance"]["verdict"], "pass");
}

// ---- JPEG under a size limit, with the density in JFIF; other dpi; custom specs

TEST_F(spec_cli, jpeg_size_limit_dpi_and_custom_specs) {
  const fs::path in = put("hopper.jpg", gen::read_file(k_hopper));
  const fs::path jpg = dir / "us.jpg";
  const json j = clean_json({in.string(), "--spec", "us-2x2", "--max-kb", "30", "-o", jpg.string()});
  const auto b = gen::read_file(jpg);
  EXPECT_LE(b.size(), 30000u);
  EXPECT_EQ(j["bytes"], b.size());
  EXPECT_EQ(jfif_dpi(b), 300) << "the JFIF header must carry 300 dpi";
  const auto d = decode_output(b);
  EXPECT_EQ(d.info.width, 600);
  EXPECT_EQ(d.info.height, 600);
  EXPECT_GE(j["jpeg_quality"].get<int>(), 1);
  EXPECT_LE(j["jpeg_quality"].get<int>(), 100);

  // --dpi 600: the millimetres at 600 dpi (35 x 45 mm -> 827 x 1063).
  const json k = clean_json({in.string(), "--spec", "icao-35x45", "--dpi", "600", "-o", (dir / "600.png").string()});
  EXPECT_EQ(k["width"], 827);
  EXPECT_EQ(k["height"], 1063);
  EXPECT_EQ(png_ppm(gen::read_file(dir / "600.png")), std::lround(600 / 0.0254));

  // A custom spec from flags, on white.
  const json c = clean_json({in.string(), "--spec", "custom:2x2in,bg=white", "-o", (dir / "c.png").string()});
  EXPECT_EQ(c["width"], 600);
  EXPECT_EQ(c["height"], 600);
  const auto cd = decode_output(gen::read_file(dir / "c.png"));
  EXPECT_EQ(cd.px.data[0], 255);

  // A colour the spec does not allow is written but fails background_colour.
  const json r = clean_json({in.string(), "--spec", "icao-35x45", "--bg", "red", "-o", (dir / "red.png").string()});
  ASSERT_NE(rule(r, "background_colour"), nullptr);
  EXPECT_EQ(rule(r, "background_colour")->at("pass"), false);
  EXPECT_EQ(r["compliance"]["verdict"], "fail");
}

// ---- bad options: exit 2 before any model loads, nothing written

TEST_F(spec_cli, usage_errors_exit_2) {
  const fs::path in = put("hopper.jpg", gen::read_file(k_hopper));
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{in.string(), "--spec", "atlantis-9x9"}, "icao-35x45"},  // lists the known names
      {{in.string(), "--spec", "icao-35x45", "--mask"}, "--mask"},
      {{in.string(), "--spec", "icao-35x45", "--max-size", "300"}, "--max-size"},
      {{in.string(), "--spec", "icao-35x45", "--bg", "none"}, "background"},
      {{in.string(), "--spec", "icao-35x45", "--dpi", "50"}, "--dpi"},
      {{in.string(), "--spec", "icao-35x45", "--dpi", "abc"}, "--dpi"},
      {{in.string(), "--spec", "icao-35x45", "--max-kb", "0"}, "--max-kb"},
      {{in.string(), "--spec", "icao-35x45", "--format", "webp"}, "WebP"},
      {{in.string(), "--spec", "custom:0x45mm"}, "--spec"},
      {{in.string(), "--spec", "custom:35x45mm,head=90-99"}, "--spec"},
      {{in.string(), "--spec", std::string(5000, 'x')}, "--spec"},
      {{in.string(), "--dpi", "300"}, "--spec"},
      {{in.string(), "--max-kb", "50"}, "--spec"},
  };
  for (const auto& [args, says] : cases) {
    const auto r = clean(args);
    EXPECT_EQ(r.code, 2) << shown(r);
    EXPECT_NE(r.err.find(says), std::string::npos) << "stderr should mention '" << says << "': " << r.err;
  }
  EXPECT_EQ(listing(dir), std::vector<std::string>{"hopper.jpg"}) << "nothing may be written";
}

// ---- bad photos: exit 1 with the reason, nothing written, the good one still framed

TEST_F(spec_cli, bad_photos_fail_cleanly) {
  fs::create_directories(dir / "in");
  gen::write_file(dir / "in" / "a-noface.png", gen::save(gen::pattern(400, 300), ".png"));
  auto half = gen::read_file(k_hopper);
  half.resize(half.size() / 3);
  gen::write_file(dir / "in" / "b-truncated.jpg", half);
  gen::write_file(dir / "in" / "c-empty.jpg", {});
  gen::write_file(dir / "in" / "d-text.png", gen::bytes{'<', 'h', 't', 'm', 'l', '>'});
  gen::write_file(dir / "in" / "e-good.jpg", gen::read_file(k_hopper));
  const auto r = clean({(dir / "in").string(), "--out-dir", (dir / "out").string(), "--spec", "icao-35x45", "--json"});
  EXPECT_EQ(r.code, 1) << shown(r);
  EXPECT_NE(r.err.find("a-noface.png: no face found"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("b-truncated.jpg"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("c-empty.jpg"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("d-text.png"), std::string::npos) << r.err;
  EXPECT_EQ(listing(dir / "out"), std::vector<std::string>{"e-good.png"})
      << "only the good photo is written, no temp files left";
  const auto l = lines(r.out);
  ASSERT_EQ(l.size(), 5u) << r.out;
  EXPECT_TRUE(json::parse(l[4])["error"].is_null());
  EXPECT_TRUE(json::parse(l[0])["error"].is_string());

  // A size limit no quality reaches fails the photo, nothing written.
  const auto t = clean({(dir / "in" / "e-good.jpg").string(), "--spec", "icao-35x45", "--format", "jpg", "--max-kb",
                        "1", "-o", (dir / "tiny.jpg").string()});
  EXPECT_EQ(t.code, 1) << shown(t);
  EXPECT_NE(t.err.find("KB"), std::string::npos) << t.err;
  EXPECT_FALSE(fs::exists(dir / "tiny.jpg"));
}

// ---- idphoto batch --spec: every photo framed; a photo without a face is a failed row (no_face)

TEST_F(spec_cli, batch_frames_to_the_spec) {
  fs::create_directories(dir / "photos");
  gen::write_file(dir / "photos" / "R1.jpg", gen::read_file(k_hopper));
  gen::write_file(dir / "photos" / "R2.png", gen::save(gen::pattern(300, 400), ".png"));
  gen::write_file(dir / "roster.csv", gen::bytes{});
  {
    std::ofstream f(dir / "roster.csv");
    f << "fullName,idNumber\nGrace Hopper,R1\nNobody,R2\n";
  }
  const auto r = run({"batch", (dir / "roster.csv").string(), (dir / "photos").string(), "--out-dir",
                      (dir / "out").string(), "--spec", "us-2x2"},
                     dir);
  EXPECT_EQ(r.code, 1) << shown(r);
  EXPECT_NE(r.err.find("1 of 2 rows done"), std::string::npos) << shown(r);
  const auto d = decode_output(gen::read_file(dir / "out" / "R1.jpg"));  // us-2x2 asks for JPEG
  EXPECT_EQ(d.info.width, 600);
  EXPECT_EQ(d.info.height, 600);
  const std::string csv = slurp(dir / "out" / "export.csv");
  EXPECT_NE(csv.find("no_face"), std::string::npos) << csv;
  EXPECT_FALSE(fs::exists(dir / "out" / "R2.jpg"));
}

// ---- the report flags the right rule: rotated 20 degrees, two faces, blurred, under-exposed, tiny

namespace {

// Runs a libvips operation that writes *out, and wraps the result (fails the test on an error).
template <typename F>
img::image vop(F op) {
  VipsImage* out = nullptr;
  EXPECT_EQ(op(&out), 0) << vips_error_buffer();
  return wrap(out);
}

}  // namespace

TEST_F(spec_cli, compliance_flags_the_right_rule) {
  const img::image hopper = load(k_hopper);
  fs::create_directories(dir / "in");
  gen::write_file(dir / "in" / "rotated.png", gen::save(rotated(hopper, 20), ".png"));
  {
    // Two copies of the head and shoulders side by side (each face ~0.35 of the width: the
    // short-range detector sees the whole photo at 128 px and misses faces far smaller).
    const auto b = decode_output(gen::read_file(k_hopper));
    ASSERT_EQ(b.px.bands, 3);
    const img::image two = gen::make(600, 420, 3, [&](int x, int y, int c) {
      const int sx = 106 + x % 300, sy = 40 + y;  // the 300 x 420 block around the face
      return b.px.data[(size_t(sy) * 512 + sx) * 3 + c];
    });
    gen::write_file(dir / "in" / "two.png", gen::save(two, ".png"));
  }
  gen::write_file(
      dir / "in" / "blurred.png",
      gen::save(vop([&](VipsImage** o) { return vips_gaussblur(hopper.v.get(), o, 5.0, nullptr); }), ".png"));
  gen::write_file(
      dir / "in" / "dark.png",
      gen::save(vop([&](VipsImage** o) { return vips_linear1(hopper.v.get(), o, 0.18, 0.0, "uchar", TRUE, nullptr); }),
                ".png"));
  {
    const img::image small = shrink_to(hopper, 200);
    double grey[3] = {235, 235, 235};
    VipsArrayDouble* bg = vips_array_double_new(grey, 3);
    const img::image tiny = vop([&](VipsImage** o) {
      return vips_embed(small.v.get(), o, 200, 150, 600, 500, "extend", VIPS_EXTEND_BACKGROUND, "background", bg,
                        nullptr);
    });
    vips_area_unref(VIPS_AREA(bg));
    gen::write_file(dir / "in" / "tiny.png", gen::save(tiny, ".png"));
  }
  const auto r = clean({(dir / "in").string(), "--out-dir", (dir / "out").string(), "--spec", "icao-35x45", "--json"});
  EXPECT_EQ(r.code, 0) << shown(r);
  const std::map<std::string, std::string> expect = {{"rotated.png", "roll"},
                                                     {"two.png", "one_face"},
                                                     {"blurred.png", "sharpness"},
                                                     {"dark.png", "exposure"},
                                                     {"tiny.png", "source_resolution"}};
  size_t seen = 0;
  for (const auto& line : lines(r.out)) {
    const json j = json::parse(line);
    const std::string name = fs::path(j["path"].get<std::string>()).filename().string();
    SCOPED_TRACE(name);
    ASSERT_TRUE(j["error"].is_null()) << line;
    const auto want = expect.find(name);
    ASSERT_NE(want, expect.end());
    ++seen;
    const json* broken = rule(j, want->second);
    ASSERT_NE(broken, nullptr);
    EXPECT_FALSE(broken->at("pass").get<bool>()) << want->second << " should fail: " << broken->dump();
    EXPECT_NE(j["compliance"]["verdict"], "pass");
  }
  EXPECT_EQ(seen, expect.size()) << r.out;
}

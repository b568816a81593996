// The pipeline's inputs that are plain text: parse_background, resolve_model,
// pipeline_config::validate, and cleaner::create's refusals (no real model loaded).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pipeline/clean.hpp"
#include "pipeline/face_detect.hpp"
#include "pipeline/model_spec.hpp"

using namespace idphoto::pipeline;
using idphoto::base::errc;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& tag) {
  auto p = fs::temp_directory_path() / ("idphoto-pipeline-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

bool same(const idphoto::image::rgb8& a, const idphoto::image::rgb8& b) {
  return a.r == b.r && a.g == b.g && a.b == b.b;
}

}  // namespace

// ---- parse_background

TEST(pipeline_parse_background, every_preset) {
  ASSERT_EQ(colour_presets().size(), 4u);
  for (const auto& p : colour_presets()) {
    auto r = parse_background(p.name);
    ASSERT_TRUE(r.ok()) << p.name;
    ASSERT_TRUE(r->has_value()) << p.name;
    EXPECT_TRUE(same(**r, p.rgb)) << p.name;
  }
  EXPECT_TRUE(same(**parse_background("blue"), {67, 142, 219}));
  EXPECT_TRUE(same(**parse_background("white"), {255, 255, 255}));
  EXPECT_TRUE(same(**parse_background("grey"), {240, 240, 240}));
  EXPECT_TRUE(same(**parse_background("red"), {255, 0, 0}));
}

TEST(pipeline_parse_background, none_and_transparent) {
  for (const char* s : {"none", "transparent"}) {
    auto r = parse_background(s);
    ASSERT_TRUE(r.ok()) << s;
    EXPECT_FALSE(r->has_value()) << s;
  }
}

TEST(pipeline_parse_background, hex_upper_lower_mixed) {
  EXPECT_TRUE(same(**parse_background("#00FF00"), {0, 255, 0}));
  EXPECT_TRUE(same(**parse_background("#00ff00"), {0, 255, 0}));
  EXPECT_TRUE(same(**parse_background("#aBcDeF"), {0xab, 0xcd, 0xef}));
  EXPECT_TRUE(same(**parse_background("#000000"), {0, 0, 0}));
  EXPECT_TRUE(same(**parse_background("#FFFFFF"), {255, 255, 255}));
  EXPECT_TRUE(same(**parse_background("#438EDB"), {67, 142, 219}));
  EXPECT_TRUE(same(**parse_background("#123456"), {0x12, 0x34, 0x56}));
}

TEST(pipeline_parse_background, bad_strings) {
  // Names are lower case only; hex needs '#' and exactly six hex digits.
  const std::string bad[] = {"",
                             "#",
                             "#FFF",
                             "#12345",
                             "#1234567",
                             "00FF00",
                             "#GG0000",
                             "#00FF0G",
                             "# 00FF0",
                             "#00FF00 ",
                             " #00FF00",
                             "Blue",
                             "BLUE",
                             "blue ",
                             "bluee",
                             "green",
                             "#-12345",
                             "#+12345",
                             "0x00FF00",
                             "rgb(0,255,0)",
                             std::string("#00\0FF0", 7),
                             std::string(10000, 'a'),
                             "\xff\xfe",
                             "none\n"};
  for (const auto& s : bad) {
    auto r = parse_background(s);
    ASSERT_FALSE(r.ok()) << "'" << s << "'";
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    // Names the accepted forms.
    EXPECT_NE(r.err().detail.find("#RRGGBB"), std::string::npos) << r.err().detail.substr(0, 200);
  }
  // The value is quoted in the message so the user sees what was wrong.
  EXPECT_NE(parse_background("#GG0000").err().detail.find("'#GG0000'"), std::string::npos);
}

// ---- resolve_model

TEST(pipeline_resolve_model, known_name_in_models_dir) {
  auto dir = temp_dir("known");
  const auto& m = known_models().at(0);
  auto missing = resolve_model(m.name, dir.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.err().code, errc::not_found);
  EXPECT_NE(missing.err().detail.find("fetch-models"), std::string::npos) << missing.err().detail;
  EXPECT_NE(missing.err().detail.find(m.name), std::string::npos);

  write(dir / m.file, "x");
  auto r = resolve_model(m.name, dir.string());
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->file, (dir / m.file).string());
  EXPECT_EQ(r->sha256, m.sha256);
  EXPECT_EQ(r->mean[0], 128.f);
  EXPECT_EQ(r->std[0], 256.f);
  EXPECT_FALSE(r->minmax_output);
  fs::remove_all(dir);
}

TEST(pipeline_resolve_model, unknown_name) {
  for (const char* n : {"isnet", "u2net", "", "ISNET-GENERAL-FP16", "isnet-general-fp16 "}) {
    auto r = resolve_model(n, "/nonexistent");
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.err().code, errc::not_found) << n;
  }
  auto r = resolve_model("u2net", "/nonexistent");
  EXPECT_NE(r.err().detail.find("isnet-general-fp16"), std::string::npos)
      << "lists the known names: " << r.err().detail;
  EXPECT_NE(r.err().detail.find("'u2net'"), std::string::npos);
}

TEST(pipeline_resolve_model, missing_file_and_directory) {
  auto dir = temp_dir("missing");
  for (std::string p :
       {(dir / "nope.onnx").string(), std::string("nope.onnx"), dir.string(), (dir / "sub/x.onnx").string()}) {
    auto r = resolve_model(p, "/nonexistent");
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.err().code, errc::not_found) << p;
    EXPECT_NE(r.err().detail.find(p), std::string::npos) << r.err().detail;
  }
  fs::remove_all(dir);
}

TEST(pipeline_resolve_model, path_with_each_norm_and_bad_norm) {
  auto dir = temp_dir("norm");
  const auto path = (dir / "my.onnx").string();
  write(path, "not checked here");
  auto d = resolve_model(path, "/nonexistent");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->file, path);
  EXPECT_EQ(d->input_name, "");  // the model's first input
  EXPECT_TRUE(d->sha256.empty());
  EXPECT_EQ(d->mean[1], 128.f);  // imgly default

  auto imagenet = resolve_model(path, "", "imagenet");
  ASSERT_TRUE(imagenet.ok());
  EXPECT_TRUE(imagenet->minmax_output);
  EXPECT_EQ(imagenet->native_size_px, 320);
  EXPECT_NEAR(imagenet->mean[0], 0.485 * 255, 1e-3);
  EXPECT_NEAR(imagenet->std[2], 0.225 * 255, 1e-3);

  auto half = resolve_model(path, "", "half");
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half->mean[2], 127.5f);
  EXPECT_EQ(half->std[2], 255.f);
  EXPECT_FALSE(half->minmax_output);

  for (const char* n : {"IMGLY", "bogus", " half", "imagenet\n"}) {
    auto r = resolve_model(path, "", n);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.err().code, errc::invalid_argument) << n;
    EXPECT_NE(r.err().detail.find("imgly"), std::string::npos);
  }
  fs::remove_all(dir);
}

// ---- pipeline_config::validate

TEST(pipeline_config, defaults_are_valid) { EXPECT_TRUE(pipeline_config{}.validate().ok()); }

TEST(pipeline_config, accepts_model_size_range_on_32) {
  for (int s : {384, 416, 640, 1024}) {
    pipeline_config c;
    c.model_size_px = s;
    EXPECT_TRUE(c.validate().ok()) << s;
  }
}

TEST(pipeline_config, rejects_each_bad_field) {
  struct bad_case {
    const char* what;
    void (*set)(pipeline_config&);
    const char* needle;
  };
  const bad_case cases[] = {
      {"model size 352", [](pipeline_config& c) { c.model_size_px = 352; }, "model size"},
      {"model size 1056", [](pipeline_config& c) { c.model_size_px = 1056; }, "model size"},
      {"model size 400", [](pipeline_config& c) { c.model_size_px = 400; }, "model size"},
      {"model size -640", [](pipeline_config& c) { c.model_size_px = -640; }, "model size"},
      {"retry size 500", [](pipeline_config& c) { c.retry_size_px = 500; }, "retry size"},
      {"retry coverage 2", [](pipeline_config& c) { c.retry_below_coverage = 2; }, "retry coverage"},
      {"threads -1", [](pipeline_config& c) { c.n_threads = -1; }, "threads"},
      {"work side 63", [](pipeline_config& c) { c.work_side_px = 63; }, "work side"},
      {"work side 8193", [](pipeline_config& c) { c.work_side_px = 8193; }, "work side"},
      {"limits bytes 0", [](pipeline_config& c) { c.limits.max_bytes = 0; }, ""},
      {"limits pixels -1", [](pipeline_config& c) { c.limits.max_pixels = -1; }, ""},
      {"limits side 0", [](pipeline_config& c) { c.limits.max_side_px = 0; }, ""},
  };
  for (const auto& k : cases) {
    pipeline_config c;
    k.set(c);
    auto r = c.validate();
    ASSERT_FALSE(r.ok()) << k.what;
    EXPECT_EQ(r.err().code, errc::invalid_argument) << k.what;
    EXPECT_NE(r.err().detail.find(k.needle), std::string::npos) << k.what << ": " << r.err().detail;
  }
}

TEST(pipeline_config, lists_every_bad_field_at_once) {
  pipeline_config c;
  c.model_size_px = 100;
  c.n_threads = -3;
  c.work_side_px = 1;
  auto r = c.validate();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().detail.find("model size"), std::string::npos) << r.err().detail;
  EXPECT_NE(r.err().detail.find("threads"), std::string::npos) << r.err().detail;
  EXPECT_NE(r.err().detail.find("work side"), std::string::npos) << r.err().detail;
  EXPECT_NE(r.err().detail.find("100"), std::string::npos) << "names the bad value: " << r.err().detail;
}

// ---- cleaner::create refusals (before any real model is loaded)

TEST(pipeline_cleaner_create, bad_config_refused_first) {
  pipeline_config c;
  c.models_dir = "/nonexistent";
  c.model_size_px = 10;
  auto r = cleaner::create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
}

TEST(pipeline_cleaner_create, missing_or_unknown_model) {
  pipeline_config c;
  c.models_dir = "/nonexistent";
  auto r = cleaner::create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::not_found);
  c.model = "no-such-model";
  r = cleaner::create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::not_found);
}

TEST(pipeline_cleaner_create, garbage_model_files_refused) {
  auto dir = temp_dir("garbage");
  const std::pair<const char*, std::string> files[] = {
      {"empty.onnx", ""},
      {"text.onnx", "this is not a protobuf at all\n"},
      {"zeros.onnx", std::string(4096, '\0')},
      {"ff.onnx", std::string(4096, '\xff')},
  };
  for (const auto& [name, content] : files) {
    write(dir / name, content);
    pipeline_config c;
    c.model = (dir / name).string();
    auto r = cleaner::create(c);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_NE(r.err().code, errc::internal) << name << ": " << r.err().to_string();
  }
  fs::remove_all(dir);
}

// ---- face_detector (the cascade is a file too)

TEST(pipeline_face_detector, missing_or_garbage_cascade) {
  auto missing = face_detector::load("/nonexistent/cascade.xml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.err().code, errc::not_found);
  auto dir = temp_dir("cascade");
  for (const auto& [name, content] : {std::pair<const char*, std::string>{"empty.xml", ""},
                                      {"junk.xml", "<?xml version=\"1.0\"?><opencv_storage><x>1</x></opencv_storage>"},
                                      {"binary.xml", std::string(512, '\x01')}}) {
    write(dir / name, content);
    auto r = face_detector::load((dir / name).string());
    EXPECT_FALSE(r.ok()) << name;
  }
  fs::remove_all(dir);
}

TEST(pipeline_face_detector, no_face_in_flat_noise_or_empty) {
  auto d = face_detector::load(face_detector::default_cascade_path());
  ASSERT_TRUE(d.ok()) << "opencv-data's cascade: " << d.err().to_string();
  EXPECT_TRUE((*d)->detect(rgb8_plane{}).empty());
  rgb8_plane flat{200, 150, std::vector<uint8_t>(200 * 150 * 3, 128)};
  EXPECT_TRUE((*d)->detect(flat).empty());
  rgb8_plane one{1, 1, {1, 2, 3}};
  EXPECT_TRUE((*d)->detect(one).empty());
  // A 1 x 2000 sliver (scaled down to 0 px wide for detection): still no crash.
  rgb8_plane sliver{1, 2000, std::vector<uint8_t>(2000 * 3, 50)};
  EXPECT_TRUE((*d)->detect(sliver).empty());
}

TEST(pipeline_model_size, follows_the_subject_unless_fixed) {
  pipeline_config c;  // defaults: auto, 640, 384 at a face >= 75% of the width or no face
  EXPECT_EQ(c.model_size_px, 0);
  EXPECT_EQ(choose_model_size(c, 0.0), 384);  // no face (the coverage retry covers far subjects)
  EXPECT_EQ(choose_model_size(c, 0.4), 640);  // half-body
  EXPECT_EQ(choose_model_size(c, 0.749), 640);
  EXPECT_EQ(choose_model_size(c, 0.75), 384);  // a tight face crop
  EXPECT_EQ(choose_model_size(c, 1.0), 384);
  c.model_size_px = 512;  // a fixed size wins over the rule
  EXPECT_EQ(choose_model_size(c, 0.9), 512);
  EXPECT_EQ(choose_model_size(c, 0.1), 512);
  c.model_size_px = 0;
  c.tight_face_fraction = 0;  // 0 = never tight
  EXPECT_EQ(choose_model_size(c, 0.95), 640);
  c.auto_no_face_size_px = 512;
  EXPECT_EQ(choose_model_size(c, 0.0), 512);
  c.tight_face_fraction = 0.5;
  c.auto_size_px = 768;
  c.auto_tight_size_px = 448;
  EXPECT_EQ(choose_model_size(c, 0.5), 448);
  EXPECT_EQ(choose_model_size(c, 0.49), 768);
}

TEST(pipeline_model_size, bad_auto_sizes_refused) {
  pipeline_config c;
  c.auto_size_px = 400;
  EXPECT_FALSE(c.validate().ok());
  c = {};
  c.auto_tight_size_px = 2048;
  EXPECT_FALSE(c.validate().ok());
  c = {};
  c.auto_no_face_size_px = 100;
  EXPECT_FALSE(c.validate().ok());
  c = {};
  c.tight_face_fraction = 1.5;
  EXPECT_FALSE(c.validate().ok());
  c = {};
  c.model_size_px = 0;  // auto is valid
  EXPECT_TRUE(c.validate().ok());
}

TEST(set_spec_output, a_colour_and_a_format_given_become_the_frames) {
  clean_options co;
  co.background = idphoto::image::rgb8{255, 255, 255};
  co.encode.fmt = idphoto::image::format::jpeg;
  co.encode.quality = 77;
  const spec_output_faults f = set_spec_output(true, true, &co);
  EXPECT_FALSE(f.any());
  ASSERT_TRUE(co.frame.background.has_value());
  EXPECT_EQ(co.frame.background->r, 255);
  ASSERT_TRUE(co.frame.format.has_value());
  EXPECT_EQ(*co.frame.format, idphoto::image::format::jpeg);
  EXPECT_EQ(co.frame.quality, 77);
}

TEST(set_spec_output, nothing_given_leaves_the_specs_defaults) {
  clean_options co;
  co.encode.quality = 61;
  EXPECT_FALSE(set_spec_output(false, false, &co).any());
  EXPECT_FALSE(co.frame.background.has_value());
  EXPECT_FALSE(co.frame.format.has_value());
  EXPECT_EQ(co.frame.quality, 61);
}

TEST(set_spec_output, no_colour_and_webp_are_both_reported) {
  clean_options co;
  co.background = std::nullopt;
  co.encode.fmt = idphoto::image::format::webp;
  const spec_output_faults f = set_spec_output(true, true, &co);
  EXPECT_TRUE(f.background_none);
  EXPECT_TRUE(f.webp);
  EXPECT_FALSE(co.frame.background.has_value());
  EXPECT_FALSE(co.frame.format.has_value());
}

// Compliance on synthetic portraits: a good one passes every rule, and each defect
// (rotated 20 degrees, tiny face, two faces, blur, under-exposure, head cut at the top,
// closed eyes, open mouth, turned head, wrong background, uneven light, a hole in the
// mask) fails the rule made for it.
#include <gtest/gtest.h>
#include <vips/vips.h>

#include <nlohmann/json.hpp>

#include <cstdlib>

#include "image/gen.hpp"
#include "pipeline/frame.hpp"
#include "pipeline/synthetic_portrait.hpp"

using namespace idphoto;

namespace {

synth::portrait_options good() {
  synth::portrait_options o;
  o.width = 1100, o.height = 1500;
  o.face.centre_x = 550, o.face.centre_y = 600, o.face.eye_distance_px = 140;
  return o;
}

pipeline::framed_photo run(const synth::portrait& p, const char* spec = "icao-35x45", pipeline::frame_options fo = {}) {
  auto s = pipeline::resolve_spec(spec);
  EXPECT_TRUE(s.ok());
  auto r = pipeline::frame_photo(p.photo, p.alpha, 1.0, p.mesh, p.faces, *s, fo);
  EXPECT_TRUE(r.ok()) << r.err().to_string();
  return r.ok() ? std::move(*r) : pipeline::framed_photo{};
}

std::string failing(const pipeline::compliance_report& c) {
  std::string s;
  for (const auto& r : c.rules)
    if (!r.pass) s += r.rule + "=" + std::to_string(r.value) + (r.hard ? "(hard) " : "(soft) ");
  return s;
}

void expect_fails(const pipeline::framed_photo& f, const char* rule, bool hard) {
  const auto* r = f.compliance.find(rule);
  ASSERT_NE(r, nullptr) << rule;
  EXPECT_FALSE(r->pass) << rule << " passed with value " << r->value << "; failing: " << failing(f.compliance);
  EXPECT_EQ(r->hard, hard) << rule;
  EXPECT_NE(f.compliance.overall, pipeline::verdict::pass);
  if (hard) {
    EXPECT_EQ(f.compliance.overall, pipeline::verdict::fail);
  }
}

void expect_passes(const pipeline::framed_photo& f, std::initializer_list<const char*> rules) {
  for (const char* rule : rules) {
    const auto* r = f.compliance.find(rule);
    ASSERT_NE(r, nullptr) << rule;
    EXPECT_TRUE(r->pass) << rule << " failed with value " << r->value << " (" << r->note << ")";
  }
}

}  // namespace

TEST(compliance, a_good_portrait_passes_every_rule) {
  gen::init();
  auto f = run(synth::make_portrait(good()));
  EXPECT_EQ(f.compliance.overall, pipeline::verdict::pass) << failing(f.compliance);
  if (const char* dir = std::getenv("IDPHOTO_DUMP_DIR"))
    gen::write_file(std::string(dir) + "/framed-icao.png", f.file.bytes);  // to look at
  const char* ids[] = {"one_face",
                       "head_height",
                       "eye_line",
                       "centring",
                       "roll",
                       "yaw",
                       "pitch",
                       "eyes_open",
                       "mouth_closed",
                       "sharpness",
                       "exposure",
                       "lighting_balance",
                       "source_resolution",
                       "frame_filled",
                       "background_colour",
                       "cutout_confidence"};
  ASSERT_EQ(f.compliance.rules.size(), std::size(ids));
  for (size_t i = 0; i < std::size(ids); ++i) EXPECT_EQ(f.compliance.rules[i].rule, ids[i]);
  // The JSON carries the same rows.
  const auto j = nlohmann::json::parse(pipeline::compliance_json(f.compliance));
  EXPECT_EQ(j["verdict"], "pass");
  ASSERT_EQ(j["rules"].size(), std::size(ids));
  EXPECT_EQ(j["rules"][1]["rule"], "head_height");
  for (const char* k : {"rule", "value", "min", "max", "pass", "hard"}) EXPECT_TRUE(j["rules"][0].contains(k)) << k;
  const auto face = nlohmann::json::parse(pipeline::face_json(f.face));
  ASSERT_EQ(face["eyes"].size(), 2u);
  EXPECT_LT(face["eyes"][0][0].get<double>(), face["eyes"][1][0].get<double>());
  for (const char* k : {"box", "chin", "crown", "roll_deg", "yaw_deg", "pitch_deg"}) EXPECT_TRUE(face.contains(k)) << k;
  EXPECT_NEAR(face["eyes"][0][0].get<double>(), 550 - 70, 1.0);  // photo pixels, not output pixels
}

TEST(compliance, rotated_20_degrees) {
  gen::init();
  auto o = good();
  o.face.roll_deg = 20;
  auto f = run(synth::make_portrait(o));
  if (const char* dir = std::getenv("IDPHOTO_DUMP_DIR"))
    gen::write_file(std::string(dir) + "/framed-rotated.png", f.file.bytes);
  expect_fails(f, "roll", false);
  expect_passes(f, {"head_height", "eye_line", "one_face", "eyes_open"});
  EXPECT_NEAR(f.compliance.find("roll")->value, 20, 0.05);
}

TEST(compliance, tiny_face) {
  gen::init();
  auto o = good();
  o.face.eye_distance_px = 30;
  auto f = run(synth::make_portrait(o));
  expect_fails(f, "source_resolution", true);
  expect_passes(f, {"head_height", "eye_line"});
}

TEST(compliance, two_faces) {
  gen::init();
  auto o = good();
  o.face.centre_x = 420;
  o.second_face = true;
  auto f = run(synth::make_portrait(o));
  expect_fails(f, "one_face", true);
  EXPECT_EQ(f.compliance.find("one_face")->value, 2);
}

TEST(compliance, blurred) {
  gen::init();
  auto p = synth::make_portrait(good());
  VipsImage* blurred = nullptr;
  ASSERT_EQ(vips_gaussblur(p.photo.v.get(), &blurred, 6.0, nullptr), 0);
  VipsImage* u8 = nullptr;
  ASSERT_EQ(vips_cast_uchar(blurred, &u8, nullptr), 0);
  g_object_unref(blurred);
  p.photo = image::image{image::vips_image_ptr(u8)};
  auto f = run(p);
  expect_fails(f, "sharpness", false);
  expect_passes(f, {"head_height", "exposure"});
  auto sharp = run(synth::make_portrait(good()));
  EXPECT_LT(sharp.compliance.find("sharpness")->value, f.compliance.find("sharpness")->value);
}

TEST(compliance, under_exposed) {
  gen::init();
  auto o = good();
  o.brightness = 0.25;
  auto f = run(synth::make_portrait(o));
  expect_fails(f, "exposure", false);
  EXPECT_LT(f.compliance.find("exposure")->value, 0.2);
  expect_passes(f, {"head_height", "eye_line"});
}

TEST(compliance, head_cut_at_the_top) {
  gen::init();
  auto o = good();
  o.face.centre_y = 180;  // the hair's top would be ~100 px above the photo
  auto f = run(synth::make_portrait(o));
  if (const char* dir = std::getenv("IDPHOTO_DUMP_DIR"))
    gen::write_file(std::string(dir) + "/framed-cut.png", f.file.bytes);
  expect_fails(f, "head_height", true);
  expect_fails(f, "frame_filled", true);
  EXPECT_GT(f.compliance.find("frame_filled")->value, 0.01);
}

TEST(compliance, frame_past_a_side_edge_is_a_soft_fail) {
  gen::init();
  auto o = good();
  o.face.centre_x = 200;  // the frame's left edge lies beyond the photo, beside the head
  auto f = run(synth::make_portrait(o));
  expect_fails(f, "frame_filled", false);
  expect_passes(f, {"head_height", "background_colour"});
}

TEST(compliance, closed_eyes_and_open_mouth) {
  gen::init();
  auto o = good();
  o.face.eye_half_height_mm = 0.3;
  expect_fails(run(synth::make_portrait(o)), "eyes_open", true);
  o = good();
  o.face.mouth_gap_mm = 18;
  expect_fails(run(synth::make_portrait(o)), "mouth_closed", true);
}

TEST(compliance, turned_head) {
  gen::init();
  auto o = good();
  o.face.yaw_deg = 25;  // the mesh turns; far beyond 5 degrees + the estimator's margin
  auto f = run(synth::make_portrait(o));
  expect_fails(f, "yaw", true);
  o = good();
  o.face.pitch_deg = 8;  // beyond 5 but within the margin: a warning
  expect_fails(run(synth::make_portrait(o)), "pitch", false);
}

TEST(compliance, background_not_allowed_by_the_spec) {
  gen::init();
  auto p = synth::make_portrait(good());
  pipeline::frame_options blue;
  blue.background = image::rgb8{67, 142, 219};
  expect_fails(run(p, "icao-35x45", blue), "background_colour", true);
  expect_passes(run(p, "card", blue), {"background_colour"});  // blue is the card's own default
  pipeline::frame_options none;
  none.transparent = true;
  expect_fails(run(p, "icao-35x45", none), "background_colour", true);
}

TEST(compliance, uneven_light) {
  gen::init();
  auto o = good();
  o.left_cheek_gain = 0.5;
  auto f = run(synth::make_portrait(o));
  expect_fails(f, "lighting_balance", false);
  EXPECT_NEAR(f.compliance.find("lighting_balance")->value, 0.5, 0.08);
}

TEST(compliance, hole_in_the_mask) {
  gen::init();
  auto p = synth::make_portrait(good());
  for (int y = 600; y < 800; ++y)
    for (int x = 470; x < 630; ++x) p.alpha.at(x, y) = 0;  // the cut-out lost the middle of the face
  auto f = run(p);
  expect_fails(f, "cutout_confidence", true);
}

TEST(compliance, unsure_mask_is_a_soft_fail) {
  gen::init();
  auto p = synth::make_portrait(good());
  for (auto& a : p.alpha.a) a = a > 0.5f ? 0.75f : 0.3f;  // a network that is never sure
  auto f = run(p);
  expect_fails(f, "cutout_confidence", false);
}

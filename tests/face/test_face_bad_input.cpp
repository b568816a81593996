// Bad input to the face module: empty, tiny and oversized views, detections that make no
// sense, bad configuration, and model files that are missing, corrupt, truncated or wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "face/face.hpp"
#include "fixtures.hpp"

using namespace idphoto::face;
using namespace face_test;
using idphoto::base::errc;
namespace fs = std::filesystem;

namespace {

detection some_detection() {
  detection d;
  d.x0 = 10;
  d.y0 = 10;
  d.x1 = 60;
  d.y1 = 60;
  d.keypoints[0] = {25, 30};
  d.keypoints[1] = {45, 30};
  return d;
}

// A fresh directory under the build tree holding the given files.
struct model_dir {
  fs::path path;
  explicit model_dir(const std::string& name) : path(fs::path(IDPHOTO_BINARY_DIR) / "face_test_models" / name) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~model_dir() { fs::remove_all(path); }
  void copy(const std::string& from, const std::string& to) const {
    fs::copy_file(fs::path(models_dir()) / from, path / to);
  }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path / name, std::ios::binary) << bytes;
  }
  void truncate_copy(const std::string& from, const std::string& to, size_t keep) const {
    std::ifstream in(fs::path(models_dir()) / from, std::ios::binary);
    std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    write(to, b.substr(0, keep));
  }
};

const char* k_detector = "blazeface-front-128.onnx";
const char* k_mesher = "face-mesh-468.onnx";

void expect_create_error(const std::string& dir, errc want, const std::string& names) {
  face_config c;
  c.models_dir = dir;
  auto r = face_analyser::create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, want) << r.err().to_string();
  EXPECT_NE(r.err().detail.find(names), std::string::npos) << r.err().to_string();
}

}  // namespace

TEST(face_bad_input, empty_views) {
  const uint8_t px[3] = {1, 2, 3};
  for (const rgb_view& v : {rgb_view{nullptr, 10, 10}, rgb_view{px, 0, 1}, rgb_view{px, 1, 0}, rgb_view{px, -5, 4},
                            rgb_view{nullptr, 0, 0}}) {
    auto d = analyser().detect(v);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.err().code, errc::invalid_argument) << d.err().to_string();
    auto m = analyser().landmarks(v, some_detection());
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.err().code, errc::invalid_argument) << m.err().to_string();
  }
}

// One pixel is a valid photo: no face in it, and a mesh can still be asked for.
TEST(face_bad_input, one_pixel) {
  const uint8_t px[3] = {200, 150, 100};
  auto d = analyser().detect({px, 1, 1});
  ASSERT_TRUE(d.ok()) << d.err().to_string();
  EXPECT_TRUE(d->empty());
  detection tiny;
  tiny.x1 = tiny.y1 = 1;
  tiny.keypoints[1] = {1, 0};
  auto m = analyser().landmarks({px, 1, 1}, tiny);
  ASSERT_TRUE(m.ok()) << m.err().to_string();
  EXPECT_EQ(m->pts.size(), 468u);
  EXPECT_LT(m->presence, 0.5f);
}

// Views over the limits are refused from their dimensions alone: the pixels (here a
// 3-byte buffer) are never read.
TEST(face_bad_input, oversized_views_are_refused_before_reading) {
  const uint8_t px[3] = {0, 0, 0};
  for (const rgb_view& v :
       {rgb_view{px, k_max_side_px + 1, 1}, rgb_view{px, 1, k_max_side_px + 1}, rgb_view{px, 40000, 40000}}) {
    auto d = analyser().detect(v);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.err().code, errc::invalid_argument) << d.err().to_string();
    auto m = analyser().landmarks(v, some_detection());
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.err().code, errc::invalid_argument);
  }
}

// A large photo (6000 x 4000, 24 MP of pixels) holding the portrait at 5x: the face is
// found where it was put, and its mesh too.
TEST(face_bad_input, large_photo) {
  const rgb_image src = load(grace_hopper_path());
  ASSERT_GT(src.width, 0);
  auto small = analyser().detect(src.view());
  ASSERT_TRUE(small.ok() && small->size() == 1);
  const similarity t{5.0, 0, 1700, 300};
  const rgb_image big = warp(src, t, 6000, 4000);
  auto d = analyser().detect(big.view());
  ASSERT_TRUE(d.ok()) << d.err().to_string();
  ASSERT_EQ(d->size(), 1u);
  // Within 5 input px of the detector (6000 / 128 photo px each) of 5x the small answer.
  for (int k = 0; k < 4; ++k) {
    const point want = t.apply((*small)[0].keypoints[k]);
    EXPECT_LT(std::hypot((*d)[0].keypoints[k].x - want.x, (*d)[0].keypoints[k].y - want.y), 5 * 6000.0 / 128) << k;
  }
  auto m = analyser().landmarks(big.view(), (*d)[0]);
  ASSERT_TRUE(m.ok()) << m.err().to_string();
  EXPECT_GT(m->presence, 0.9f);
}

TEST(face_bad_input, detections_that_make_no_sense) {
  const uint8_t px[3 * 4] = {};
  const rgb_view v{px, 2, 2};
  detection nan_box = some_detection();
  nan_box.x0 = std::nanf("");
  detection nan_kp = some_detection();
  nan_kp.keypoints[1].y = INFINITY;
  detection empty = some_detection();
  empty.x1 = empty.x0;
  detection inverted = some_detection();
  std::swap(inverted.y0, inverted.y1);
  detection enormous = some_detection();
  enormous.x1 = 1e9f;
  for (const detection& d : {nan_box, nan_kp, empty, inverted, enormous}) {
    auto m = analyser().landmarks(v, d);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.err().code, errc::invalid_argument) << m.err().to_string();
  }
}

TEST(face_bad_input, bad_config) {
  for (auto set : std::vector<void (*)(face_config&)>{
           [](face_config& c) { c.n_threads = 0; }, [](face_config& c) { c.n_threads = 10000; },
           [](face_config& c) { c.min_score = 0; }, [](face_config& c) { c.min_score = 1.5f; },
           [](face_config& c) { c.min_score = std::nanf(""); }, [](face_config& c) { c.nms_iou = -0.1f; },
           [](face_config& c) { c.max_faces = 0; }}) {
    face_config c;
    c.models_dir = models_dir();
    set(c);
    auto r = face_analyser::create(c);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::invalid_argument) << r.err().to_string();
  }
}

TEST(face_bad_input, missing_model_files) {
  expect_create_error((fs::path(IDPHOTO_BINARY_DIR) / "no_such_dir").string(), errc::not_found, k_detector);
  model_dir only_detector("only_detector");
  only_detector.copy(k_detector, k_detector);
  expect_create_error(only_detector.path.string(), errc::not_found, k_mesher);
  face_config c;
  c.models_dir = (fs::path(IDPHOTO_BINARY_DIR) / "no_such_dir").string();
  auto r = face_analyser::create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().detail.find("scripts/fetch-models"), std::string::npos) << r.err().to_string();
}

TEST(face_bad_input, corrupt_truncated_and_wrong_models) {
  {
    model_dir d("garbage");
    d.write(k_detector, std::string(4096, '\x5a'));
    d.copy(k_mesher, k_mesher);
    expect_create_error(d.path.string(), errc::corrupt, k_detector);
  }
  {
    model_dir d("empty");
    d.copy(k_detector, k_detector);
    d.write(k_mesher, "");
    expect_create_error(d.path.string(), errc::corrupt, k_mesher);
  }
  {
    model_dir d("truncated");
    d.truncate_copy(k_detector, k_detector, 200000);
    d.copy(k_mesher, k_mesher);
    expect_create_error(d.path.string(), errc::corrupt, k_detector);
  }
  {
    // A valid ONNX file, but the other model: its input and outputs do not match.
    model_dir d("swapped");
    d.copy(k_mesher, k_detector);
    d.copy(k_detector, k_mesher);
    expect_create_error(d.path.string(), errc::unsupported, k_detector);
  }
  {
    // A directory where the file should be.
    model_dir d("directory");
    fs::create_directories(d.path / k_detector);
    d.copy(k_mesher, k_mesher);
    expect_create_error(d.path.string(), errc::not_found, k_detector);
  }
}

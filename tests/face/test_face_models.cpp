// The face models on real, licence-clear photos and on synthetic copies of them: one face
// where there is one, key points in anatomical order, a mesh on the face, and detections and
// meshes that follow a rotation, shift or scale of the photo.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "face/face.hpp"
#include "fixtures.hpp"

using namespace idphoto::face;
using namespace face_test;

namespace {

const rgb_image& photo(const char* path) {
  static std::vector<std::pair<std::string, rgb_image>> cache;
  for (auto& [p, im] : cache)
    if (p == path) return im;
  cache.push_back({path, load(path)});
  if (cache.back().second.width == 0)
    ADD_FAILURE() << path << " did not load (apt-get install facedetect python3-skimage)";
  return cache.back().second;
}

float dist(point a, point b) { return std::hypot(a.x - b.x, a.y - b.y); }
point kp(const detection& d, keypoint k) { return d.keypoints[static_cast<int>(k)]; }
float eye_distance(const detection& d) { return dist(kp(d, keypoint::right_eye), kp(d, keypoint::left_eye)); }

std::vector<detection> detect_ok(const rgb_image& im) {
  auto r = analyser().detect(im.view());
  EXPECT_TRUE(r.ok()) << r.err().to_string();
  return r.ok() ? *r : std::vector<detection>{};
}

mesh mesh_ok(const rgb_image& im, const detection& d) {
  auto r = analyser().landmarks(im.view(), d);
  EXPECT_TRUE(r.ok()) << r.err().to_string();
  return r.ok() ? *r : mesh{};
}

point mean_of(const mesh& m, std::initializer_list<int> idx) {
  point p{0, 0};
  for (int i : idx) {
    p.x += m.pts[i].x / static_cast<float>(idx.size());
    p.y += m.pts[i].y / static_cast<float>(idx.size());
  }
  return p;
}

// An upright frontal portrait: one face, key points in anatomical order, a mesh on it.
void expect_upright_portrait(const rgb_image& im, const char* name) {
  SCOPED_TRACE(name);
  const auto faces = detect_ok(im);
  ASSERT_EQ(faces.size(), 1u);
  const detection& d = faces[0];
  EXPECT_GT(d.score, 0.75f);
  EXPECT_LT(d.x0, d.x1);
  EXPECT_LT(d.y0, d.y1);
  // The subject's right eye is on the image's left; ear tragions outside the eyes.
  EXPECT_LT(kp(d, keypoint::right_ear).x, kp(d, keypoint::right_eye).x);
  EXPECT_LT(kp(d, keypoint::right_eye).x, kp(d, keypoint::nose_tip).x);
  EXPECT_LT(kp(d, keypoint::nose_tip).x, kp(d, keypoint::left_eye).x);
  EXPECT_LT(kp(d, keypoint::left_eye).x, kp(d, keypoint::left_ear).x);
  // Top to bottom: eyes, nose, mouth, all inside the box.
  EXPECT_LT(kp(d, keypoint::right_eye).y, kp(d, keypoint::nose_tip).y);
  EXPECT_LT(kp(d, keypoint::left_eye).y, kp(d, keypoint::nose_tip).y);
  EXPECT_LT(kp(d, keypoint::nose_tip).y, kp(d, keypoint::mouth).y);
  for (keypoint k : {keypoint::right_eye, keypoint::left_eye, keypoint::nose_tip, keypoint::mouth}) {
    EXPECT_GT(kp(d, k).x, d.x0);
    EXPECT_LT(kp(d, k).x, d.x1);
    EXPECT_GT(kp(d, k).y, d.y0);
    EXPECT_LT(kp(d, k).y, d.y1);
  }

  const mesh m = mesh_ok(im, d);
  ASSERT_EQ(m.pts.size(), 468u);
  ASSERT_EQ(m.z.size(), 468u);
  EXPECT_GT(m.presence, 0.9f);
  // FaceMesh's eye corners (33/133 subject's right, 263/362 left) around BlazeFace's eyes,
  // within a quarter of the eye distance; nose tip (1) near BlazeFace's nose; chin (152)
  // below the mouth; forehead top (10) above the eyes.
  const float e = eye_distance(d);
  EXPECT_LT(dist(mean_of(m, {33, 133}), kp(d, keypoint::right_eye)), 0.25f * e);
  EXPECT_LT(dist(mean_of(m, {263, 362}), kp(d, keypoint::left_eye)), 0.25f * e);
  EXPECT_LT(dist(m.pts[1], kp(d, keypoint::nose_tip)), 0.25f * e);
  EXPECT_GT(m.pts[152].y, kp(d, keypoint::mouth).y);
  EXPECT_LT(m.pts[10].y, kp(d, keypoint::right_eye).y);
  EXPECT_LT(m.pts[33].x, m.pts[133].x);  // outer corner of the right eye is further left
  EXPECT_GT(m.pts[263].x, m.pts[362].x);
  // The nose tip is nearer the camera than the face sides.
  EXPECT_LT(m.z[1], m.z[234]);
  EXPECT_LT(m.z[1], m.z[454]);
}

}  // namespace

TEST(face_models, grace_hopper) { expect_upright_portrait(photo(grace_hopper_path()), "grace_hopper"); }

TEST(face_models, astronaut) { expect_upright_portrait(photo(astronaut_path()), "astronaut"); }

TEST(face_models, photos_without_a_face) {
  for (const char* p : {iceberg_path(), coffee_path()}) {
    SCOPED_TRACE(p);
    const rgb_image& im = photo(p);
    ASSERT_GT(im.width, 0);
    EXPECT_TRUE(detect_ok(im).empty());
  }
}

TEST(face_models, two_faces_side_by_side) {
  const rgb_image both = side_by_side(photo(grace_hopper_path()), photo(grace_hopper_path()), 40);
  const auto faces = detect_ok(both);
  ASSERT_EQ(faces.size(), 2u);
  const bool hopper_first = faces[0].x0 < faces[1].x0;
  const detection& left = faces[hopper_first ? 0 : 1];
  const detection& right = faces[hopper_first ? 1 : 0];
  EXPECT_LT(left.x1, 512.f);
  EXPECT_GT(right.x0, 552.f);
  EXPECT_GE(faces[0].score, faces[1].score);
}

// The same photo gives the same answer, bit for bit.
TEST(face_models, deterministic) {
  const rgb_image& im = photo(grace_hopper_path());
  const auto a = detect_ok(im), b = detect_ok(im);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].x0, b[0].x0);
  EXPECT_EQ(a[0].keypoints[3].y, b[0].keypoints[3].y);
  const mesh m1 = mesh_ok(im, a[0]), m2 = mesh_ok(im, a[0]);
  ASSERT_EQ(m1.pts.size(), 468u);
  for (int i = 0; i < 468; ++i) ASSERT_EQ(m1.pts[i].x, m2.pts[i].x);
}

// A crop that holds no face gets a low presence score.
TEST(face_models, presence_is_low_off_the_face) {
  const rgb_image& im = photo(coffee_path());
  detection d;
  d.x0 = 20;
  d.y0 = 20;
  d.x1 = 170;
  d.y1 = 170;
  d.keypoints[0] = {60, 70};
  d.keypoints[1] = {130, 70};
  const mesh m = mesh_ok(im, d);
  EXPECT_LT(m.presence, 0.5f);
}

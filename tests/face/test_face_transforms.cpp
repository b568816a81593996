// Detections and meshes must follow the photo: on copies of the portraits turned, shifted
// and scaled by a known similarity T, the key points and all 468 landmarks found on the
// copy must be T of those found on the original, within the tolerances stated below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numbers>
#include <vector>

#include "face/face.hpp"
#include "fixtures.hpp"

using namespace idphoto::face;
using namespace face_test;

namespace {

float dist(point a, point b) { return std::hypot(a.x - b.x, a.y - b.y); }

struct case_t {
  const char* name;
  double scale, angle_deg;
  int canvas_w, canvas_h;  // the copy's size; the photo's centre goes to the canvas centre,
  double dx, dy;           // then moves by (dx, dy)
};

similarity place(const case_t& c, int w, int h) {
  // T(p) = s R p + t with T(centre of the photo) = centre of the canvas + (dx, dy).
  similarity t{c.scale, c.angle_deg, 0, 0};
  const point mid = t.apply({w / 2.f, h / 2.f});
  t.tx = c.canvas_w / 2.0 + c.dx - mid.x;
  t.ty = c.canvas_h / 2.0 + c.dy - mid.y;
  return t;
}

struct errors {
  double kp_input_px[6] = {};  // each key point: |found - T(original)|, in BlazeFace input px
  double box_centre = 0;       // box centre, in BlazeFace input px
  double mesh_mean = 0;        // landmarks (x, y): mean and max, in eye distances
  double mesh_max = 0;
  double z_mean = 0;    // depth: mean |z - s z_original|, in eye distances
  double roll_deg = 0;  // eye-line roll on the copy minus the original's, minus the turn
};

/*
 * Tolerances. BlazeFace sees the whole copy at 128 px, so its precision is a matter of its
 * input pixels (4-5 photo px here), and a shifted, scaled or turned copy falls differently
 * on its anchor grid; FaceMesh sees the face at 192 px and is measured against the eye
 * distance (IOD, the original's eye distance times the scale). Measured over the 16 cases
 * below (printed on every run): key points at most 3.1 input px (the ear tragions, the
 * least defined; eyes, nose and mouth at most 2.7), box centres 2.3 input px, mesh mean
 * 0.019 IOD and max 0.06 IOD, depth 0.025 IOD, eye-line roll 1.5 degrees. The bounds are
 * about twice that:
 *  - key points 5 input px, box centre 4 input px;
 *  - mesh mean 0.04 IOD, max 0.12 IOD over the 468 points; depth mean 0.05 IOD;
 *  - roll of the eye line (mesh points 33 -> 263) minus the copy's turn: 3 degrees.
 * What they catch (measured by breaking the code once): a face crop not turned with the
 * eyes gives, at 20 degrees, mesh mean 0.057 and max 0.18 IOD and a roll error of 5.8
 * degrees (FaceMesh itself copes with some roll, so the error is smaller than the turn);
 * detection key points that did not follow a rotation move by 7-9 input px at 20 degrees;
 * a mirrored face swaps the eyes (1 IOD); a wrong scale moves the contour by the scale
 * error times ~2 IOD.
 */
constexpr double k_kp_tol_input_px = 5, k_box_tol_input_px = 4;
constexpr double k_mesh_mean_tol = 0.04, k_mesh_max_tol = 0.12, k_z_tol = 0.05, k_roll_tol_deg = 3;

double roll_deg(const mesh& m) {
  return std::atan2(m.pts[263].y - m.pts[33].y, m.pts[263].x - m.pts[33].x) * 180 / std::numbers::pi;
}

errors follow(const rgb_image& src, const case_t& c) {
  errors e;
  auto base = analyser().detect(src.view());
  EXPECT_TRUE(base.ok());
  if (!base.ok() || base->size() != 1) {
    ADD_FAILURE() << "expected one face on the original";
    return e;
  }
  const detection d0 = (*base)[0];
  auto m0 = analyser().landmarks(src.view(), d0);
  EXPECT_TRUE(m0.ok());
  if (!m0.ok()) return e;

  const similarity t = place(c, src.width, src.height);
  const rgb_image copy = warp(src, t, c.canvas_w, c.canvas_h);
  auto found = analyser().detect(copy.view());
  EXPECT_TRUE(found.ok());
  if (!found.ok() || found->size() != 1) {
    ADD_FAILURE() << c.name << ": expected one face on the copy, got " << (found.ok() ? found->size() : 0);
    return e;
  }
  const detection& d1 = (*found)[0];
  const double iod = c.scale * dist(d0.keypoints[0], d0.keypoints[1]);
  const double input_px = std::max(c.canvas_w, c.canvas_h) / 128.0;
  for (int k = 0; k < 6; ++k) e.kp_input_px[k] = dist(d1.keypoints[k], t.apply(d0.keypoints[k])) / input_px;
  e.box_centre =
      dist({(d1.x0 + d1.x1) / 2, (d1.y0 + d1.y1) / 2}, t.apply({(d0.x0 + d0.x1) / 2, (d0.y0 + d0.y1) / 2})) / input_px;

  auto m1 = analyser().landmarks(copy.view(), d1);
  EXPECT_TRUE(m1.ok());
  if (!m1.ok()) return e;
  for (int i = 0; i < 468; ++i) {
    const double err = dist(m1->pts[i], t.apply(m0->pts[i])) / iod;
    e.mesh_mean += err / 468;
    e.mesh_max = std::max(e.mesh_max, err);
    e.z_mean += std::fabs(m1->z[i] - c.scale * m0->z[i]) / iod / 468;
  }
  e.roll_deg = roll_deg(*m1) - roll_deg(*m0) - c.angle_deg;
  std::printf(
      "[face transforms] %-26s key points (input px) %.1f %.1f %.1f %.1f %.1f %.1f  box centre %.1f  "
      "mesh mean %.3f max %.3f IOD  z %.3f IOD  roll %+.1f deg  (IOD %.0f px)\n",
      c.name, e.kp_input_px[0], e.kp_input_px[1], e.kp_input_px[2], e.kp_input_px[3], e.kp_input_px[4],
      e.kp_input_px[5], e.box_centre, e.mesh_mean, e.mesh_max, e.z_mean, e.roll_deg, iod);
  return e;
}

const std::vector<case_t>& cases() {
  static const std::vector<case_t> v = {
      {"shift (+41, +23)", 1.0, 0, 512, 512, 41, 23}, {"shift (-37, +30), wider", 1.0, 0, 600, 512, -37, 30},
      {"scale 0.8", 0.8, 0, 512, 512, 0, 0},          {"scale 1.25", 1.25, 0, 512, 512, 0, 20},
      {"turn +20 deg", 1.0, 20, 512, 512, 0, 0},      {"turn -20 deg", 1.0, -20, 512, 512, 0, 0},
      {"turn +30 deg", 1.0, 30, 512, 512, 0, 0},      {"scale 0.9, turn -15, shift", 0.9, -15, 512, 512, -20, 15},
  };
  return v;
}

void check_photo(const char* path) {
  const rgb_image src = load(path);
  ASSERT_GT(src.width, 0) << path;
  for (const case_t& c : cases()) {
    SCOPED_TRACE(std::string(path) + ": " + c.name);
    const errors e = follow(src, c);
    for (int k = 0; k < 6; ++k) EXPECT_LT(e.kp_input_px[k], k_kp_tol_input_px) << "key point " << k;
    EXPECT_LT(e.box_centre, k_box_tol_input_px);
    EXPECT_LT(e.mesh_mean, k_mesh_mean_tol);
    EXPECT_LT(e.mesh_max, k_mesh_max_tol);
    EXPECT_LT(e.z_mean, k_z_tol);
    EXPECT_LT(std::fabs(e.roll_deg), k_roll_tol_deg);
  }
}

}  // namespace

TEST(face_transforms, grace_hopper) { check_photo(grace_hopper_path()); }

TEST(face_transforms, astronaut) { check_photo(astronaut_path()); }

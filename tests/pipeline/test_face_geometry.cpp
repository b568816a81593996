// Face geometry on synthetic FaceMesh sets with known answers: eye centres and roll follow
// rotated, shifted and scaled copies; the pose fit's error on synthetic 3-D rotations
// (with perspective, landmark noise and faces that differ from the reference); the crown.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "pipeline/face_geometry.hpp"

using namespace idphoto;
using pipeline::synthetic_face;

TEST(face_geometry, eye_centres_chin_and_roll_follow_the_face) {
  for (double roll : {-20.0, -5.0, 0.0, 7.5, 20.0})
    for (double scale : {40.0, 100.0, 400.0})
      for (double cx : {200.0, 1234.5}) {
        synthetic_face sf;
        sf.roll_deg = roll;
        sf.eye_distance_px = scale;
        sf.centre_x = cx;
        sf.centre_y = 900;
        auto f = pipeline::measure_face(pipeline::make_synthetic_mesh(sf));
        ASSERT_TRUE(f.ok()) << f.err().to_string();
        const double px_per_mm = scale / 63;
        // The eye centres are 0.5 mm below the model's origin (the contours' mean), and 63 mm apart.
        EXPECT_NEAR(f->eye_distance_px, scale, 1e-3 * scale);
        EXPECT_NEAR(f->roll_deg, roll, 1e-3);
        const double ca = std::cos(roll * M_PI / 180), sa = std::sin(roll * M_PI / 180);
        EXPECT_NEAR(f->eye_mid.x, cx - sa * 0.5 * px_per_mm, 1e-2);
        EXPECT_NEAR(f->eye_mid.y, 900 + ca * 0.5 * px_per_mm, 1e-2);
        EXPECT_NEAR(f->chin.x, cx - sa * 112 * px_per_mm, 1e-2 * scale);
        EXPECT_NEAR(f->chin.y, 900 + ca * 112 * px_per_mm, 1e-2 * scale);
        EXPECT_LT(f->eye_left.x, f->eye_right.x + (std::fabs(roll) > 80 ? 1e9 : 0));
        EXPECT_GT(f->eye_open, 0.05);
        EXPECT_LT(f->mouth_open, 0.02);
      }
}

TEST(face_geometry, eye_and_mouth_openings) {
  synthetic_face sf;
  sf.eye_half_height_mm = 0.3;
  sf.mouth_gap_mm = 20;
  auto f = pipeline::measure_face(pipeline::make_synthetic_mesh(sf));
  ASSERT_TRUE(f.ok());
  EXPECT_LT(f->eye_open, 0.01);    // 0.6 mm over ~112 mm
  EXPECT_GT(f->mouth_open, 0.15);  // 20 mm over ~112 mm
}

TEST(face_geometry, mirrored_mesh_still_orders_eyes_left_to_right) {
  auto m = pipeline::make_synthetic_mesh({});
  for (auto& p : m.pts) p.x = 1000 - p.x;
  auto f = pipeline::measure_face(m);
  ASSERT_TRUE(f.ok());
  EXPECT_LT(f->eye_left.x, f->eye_right.x);
  EXPECT_NEAR(f->roll_deg, 0, 1e-3);
}

TEST(face_geometry, bad_meshes) {
  face::mesh empty;
  EXPECT_FALSE(pipeline::measure_face(empty).ok());
  auto m = pipeline::make_synthetic_mesh({});
  auto short_mesh = m;
  short_mesh.pts.resize(467);
  EXPECT_FALSE(pipeline::measure_face(short_mesh).ok());
  auto nan = m;
  nan.pts[200].x = std::nanf("");
  EXPECT_FALSE(pipeline::measure_face(nan).ok());
  auto inf = m;
  inf.pts[33].y = INFINITY;
  EXPECT_FALSE(pipeline::estimate_pose(inf).ok());
  auto flat = m;
  for (auto& p : flat.pts) p = {5, 5};
  EXPECT_FALSE(pipeline::measure_face(flat).ok());
  auto upside = m;
  for (auto& p : upside.pts) p.y = 2000 - p.y;
  auto r = pipeline::measure_face(upside);
  EXPECT_FALSE(r.ok());
  if (!r.ok()) {
    EXPECT_NE(r.err().detail.find("chin"), std::string::npos);
  }
}

TEST(face_geometry, pose_exact_on_the_reference_face) {
  for (double yaw : {-25.0, 0.0, 12.0})
    for (double pitch : {-15.0, 0.0, 20.0})
      for (double roll : {-10.0, 0.0, 30.0}) {
        synthetic_face sf;
        sf.yaw_deg = yaw, sf.pitch_deg = pitch, sf.roll_deg = roll;
        auto p = pipeline::estimate_pose(pipeline::make_synthetic_mesh(sf));
        ASSERT_TRUE(p.ok());
        EXPECT_NEAR(p->yaw_deg, yaw, 1e-3);
        EXPECT_NEAR(p->pitch_deg, pitch, 1e-3);
        EXPECT_NEAR(p->roll_deg, roll, 1e-3);
        EXPECT_LT(p->rms_px, 1e-3);
      }
}

/* The error check behind docs/specs.md: 600 random poses (yaw, pitch in +-25, roll in
 * +-15 degrees), each seen in perspective from 450-900 mm, with every landmark moved by
 * Gaussian noise of 1 % of the eye distance and each face's shape differing from the
 * reference (every reference point moved by Gaussian noise of 3 mm in x, y and z before
 * posing). Fixed seed; the numbers printed are the ones in the docs. */
namespace {
struct pose_errors {
  double mean_yaw = 0, mean_pitch = 0, p95_yaw = 0, p95_pitch = 0, max_yaw = 0, max_pitch = 0;
};
pose_errors pose_check(double shape_mm, double noise_frac, bool perspective, int n = 600) {
  std::mt19937 rng(20240611);
  std::uniform_real_distribution<double> ang(-25, 25), rl(-15, 15), dist(450, 900);
  std::normal_distribution<double> shape(0, 1), noise(0, 1);
  std::vector<double> ey, ep;
  pose_errors r;
  for (int k = 0; k < n; ++k) {
    synthetic_face sf;
    sf.yaw_deg = ang(rng), sf.pitch_deg = ang(rng), sf.roll_deg = rl(rng);
    sf.camera_distance_mm = perspective ? dist(rng) : 0;
    sf.eye_distance_px = 120;
    face::mesh m = pipeline::make_synthetic_mesh(sf);
    const double px_per_mm = sf.eye_distance_px / 63;
    const double ya = sf.yaw_deg * M_PI / 180, pa = sf.pitch_deg * M_PI / 180, ra = sf.roll_deg * M_PI / 180;
    for (const auto& rp : pipeline::pose_reference_points()) {
      // A different face: the point moved by (dx, dy, dz) mm in the face's own frame, i.e. by R * d in the image.
      const double dx = shape_mm * shape(rng), dy = shape_mm * shape(rng), dz = shape_mm * shape(rng);
      const double x1 = std::cos(ya) * dx - std::sin(ya) * dz, z1 = std::sin(ya) * dx + std::cos(ya) * dz;
      const double y2 = std::cos(pa) * dy + std::sin(pa) * z1;
      const double ix = std::cos(ra) * x1 - std::sin(ra) * y2, iy = std::sin(ra) * x1 + std::cos(ra) * y2;
      auto& p = m.pts[static_cast<size_t>(rp.index)];
      p.x += static_cast<float>(ix * px_per_mm + noise(rng) * noise_frac * sf.eye_distance_px);
      p.y += static_cast<float>(iy * px_per_mm + noise(rng) * noise_frac * sf.eye_distance_px);
    }
    auto est = pipeline::estimate_pose(m);
    if (!est.ok()) return {1e9, 1e9, 1e9, 1e9, 1e9, 1e9};
    ey.push_back(std::fabs(est->yaw_deg - sf.yaw_deg));
    ep.push_back(std::fabs(est->pitch_deg - sf.pitch_deg));
  }
  for (size_t i = 0; i < ey.size(); ++i) r.mean_yaw += ey[i] / n, r.mean_pitch += ep[i] / n;
  std::sort(ey.begin(), ey.end());
  std::sort(ep.begin(), ep.end());
  r.p95_yaw = ey[static_cast<size_t>(0.95 * n)], r.p95_pitch = ep[static_cast<size_t>(0.95 * n)];
  r.max_yaw = ey.back(), r.max_pitch = ep.back();
  return r;
}
}  // namespace

/* The error check behind docs/specs.md: 600 random poses (yaw, pitch in +-25, roll in
 * +-15 degrees) of faces that differ from the reference (each reference point moved by
 * Gaussian noise of 3 mm in x, y and z), seen in perspective from 450-900 mm, with every
 * landmark moved by Gaussian noise of 1 % of the eye distance. Each error source is also
 * run alone. Fixed seed; the printed numbers are the ones in the docs. */
TEST(face_geometry, pose_error_on_synthetic_faces) {
  const struct {
    const char* what;
    double shape, noise;
    bool persp;
  } runs[] = {{"perspective only", 0, 0, true},
              {"landmark noise 1 %", 0, 0.01, false},
              {"face shape 3 mm", 3, 0, false},
              {"all three", 3, 0.01, true}};
  pose_errors all;
  for (const auto& r : runs) {
    const auto e = pose_check(r.shape, r.noise, r.persp);
    std::printf("pose error, %-20s yaw mean %.2f p95 %.2f max %.2f | pitch mean %.2f p95 %.2f max %.2f (deg)\n", r.what,
                e.mean_yaw, e.p95_yaw, e.max_yaw, e.mean_pitch, e.p95_pitch, e.max_pitch);
    all = e;
  }
  EXPECT_LT(all.mean_yaw, 3.0);
  EXPECT_LT(all.mean_pitch, 3.0);
  EXPECT_LT(all.p95_yaw, 7.0);  // the compliance rules' hard margin (compliance_limits::pose_hard_margin_deg)
  EXPECT_LT(all.p95_pitch, 7.0);
}

namespace {
// A mask: an upright ellipse "head" whose top is at `top_y` (photo px), scale 0.25.
pipeline::alpha_plane head_mask(int w, int h, double scale, double cx, double top_y, double bottom_y, double half_w) {
  pipeline::alpha_plane a;
  a.width = static_cast<int>(w * scale), a.height = static_cast<int>(h * scale);
  a.a.assign(static_cast<size_t>(a.width) * a.height, 0.f);
  const double cy = (top_y + bottom_y) / 2, ry = (bottom_y - top_y) / 2;
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x) {
      const double px = (x + 0.5) / scale, py = (y + 0.5) / scale;
      const double dx = (px - cx) / half_w, dy = (py - cy) / ry;
      if (dx * dx + dy * dy <= 1 || py > cy) a.at(x, y) = (std::fabs(px - cx) < 2.5 * half_w) ? 1.f : 0.f;
    }
  return a;
}
}  // namespace

TEST(face_geometry, crown_from_the_mask) {
  synthetic_face sf;  // eye midpoint at (500, 500), 100 px eye distance: 1 mm = 1.587 px
  auto f = pipeline::measure_face(pipeline::make_synthetic_mesh(sf));
  ASSERT_TRUE(f.ok());
  const double top = 500 - 125 * 100 / 63.0;  // hair top 125 mm above the eyes
  for (double scale : {0.25, 0.5, 1.0}) {
    auto a = head_mask(1000, 1000, scale, 500, top, 700, 140);
    auto c = pipeline::find_crown(a, scale, 1000, 1000, *f);
    ASSERT_TRUE(c.ok()) << c.err().to_string();
    EXPECT_FALSE(c->at_top_edge);
    EXPECT_FALSE(c->estimated);
    EXPECT_NEAR(c->crown.y, top, 1.5 / scale + 1) << scale;
    EXPECT_NEAR(c->crown.x, f->eye_mid.x, 1e-6);
    EXPECT_NEAR(c->head_height_px, f->chin.y - c->crown.y, 1e-6);
  }
}

TEST(face_geometry, crown_follows_a_rotated_head) {
  synthetic_face sf;
  sf.roll_deg = 25;
  auto f = pipeline::measure_face(pipeline::make_synthetic_mesh(sf));
  ASSERT_TRUE(f.ok());
  // A disc of radius 180 px centred 20 px below the eye midpoint: along the tilted axis the
  // crown is 160 px above the eyes.
  pipeline::alpha_plane a;
  a.width = a.height = 500;
  a.a.assign(250000, 0.f);
  const double ccx = f->eye_mid.x + 20 * f->axis_n.x, ccy = f->eye_mid.y + 20 * f->axis_n.y;
  for (int y = 0; y < 500; ++y)
    for (int x = 0; x < 500; ++x)
      if (std::hypot((x + 0.5) * 2 - ccx, (y + 0.5) * 2 - ccy) <= 180) a.at(x, y) = 1.f;
  auto c = pipeline::find_crown(a, 0.5, 1000, 1000, *f);
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(c->above_eyes_px, 160, 4);
}

TEST(face_geometry, crown_cut_by_the_photo_or_missing) {
  synthetic_face sf;
  sf.centre_y = 150;  // hair top would be at 150 - 198 < 0: cut by the photo
  auto f = pipeline::measure_face(pipeline::make_synthetic_mesh(sf));
  ASSERT_TRUE(f.ok());
  auto a = head_mask(1000, 1000, 0.5, 500, -50, 400, 140);
  auto c = pipeline::find_crown(a, 0.5, 1000, 1000, *f);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->at_top_edge);
  EXPECT_TRUE(c->estimated);
  EXPECT_GE(c->above_eyes_px, 150 - 2);  // at least up to the photo's edge
  // A mask that ends at the eyebrows (it missed the hair): estimated from the forehead.
  synthetic_face sf2;
  auto f2 = pipeline::measure_face(pipeline::make_synthetic_mesh(sf2));
  ASSERT_TRUE(f2.ok());
  auto low = head_mask(1000, 1000, 0.5, 500, 480, 800, 140);
  auto c2 = pipeline::find_crown(low, 0.5, 1000, 1000, *f2);
  ASSERT_TRUE(c2.ok());
  EXPECT_TRUE(c2->estimated);
  EXPECT_FALSE(c2->at_top_edge);
  EXPECT_NEAR(c2->above_eyes_px, pipeline::crown_over_forehead * (68.5 * 100 / 63.0), 2);
}

TEST(face_geometry, crown_bad_input) {
  auto f = pipeline::measure_face(pipeline::make_synthetic_mesh({}));
  ASSERT_TRUE(f.ok());
  pipeline::alpha_plane empty;
  EXPECT_FALSE(pipeline::find_crown(empty, 0.5, 1000, 1000, *f).ok());
  auto a = head_mask(1000, 1000, 0.5, 500, 300, 700, 140);
  EXPECT_FALSE(pipeline::find_crown(a, 0, 1000, 1000, *f).ok());
  EXPECT_FALSE(pipeline::find_crown(a, -1, 1000, 1000, *f).ok());
  EXPECT_FALSE(pipeline::find_crown(a, 0.25, 1000, 1000, *f).ok());  // the mask is not at that scale
  EXPECT_FALSE(pipeline::find_crown(a, 0.5, 0, 1000, *f).ok());
  auto broken = a;
  broken.a.resize(10);
  EXPECT_FALSE(pipeline::find_crown(broken, 0.5, 1000, 1000, *f).ok());
}

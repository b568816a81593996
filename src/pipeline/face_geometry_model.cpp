// The parametric 3-D reference face (millimetres, average adult proportions) that the
// pose fit uses, and a synthetic FaceMesh generator built on it for tests and benchmarks.
#include <array>
#include <cmath>

#include "pipeline/face_geometry.hpp"

namespace idphoto::pipeline {

namespace {

/* The reference face. Origin at the eye midpoint, x to the image's right (the subject's
 * left), y down, z away from the camera. Proportions are round anthropometric averages
 * for adults (inter-pupillary 63 mm; eye line to nose tip 42 mm, to mouth 69 mm, to chin
 * 112 mm; nose tip 24 mm in front of the eye corners; cheek contour 50 mm behind them).
 * They are ours, not MediaPipe's canonical model (which is not on npm): the pose fit
 * depends only on these dozen points, and its error against faces that differ from them
 * is measured in tests/pipeline/test_face_geometry.cpp (docs/specs.md). */
constexpr model_point pose_points[] = {
    {mesh_index::right_eye_outer, -45.5, 0.5, 4},
    {mesh_index::right_eye_inner, -17.5, 0.5, 4},
    {mesh_index::left_eye_inner, 17.5, 0.5, 4},
    {mesh_index::left_eye_outer, 45.5, 0.5, 4},
    {mesh_index::nose_tip, 0, 42, -24},
    {mesh_index::nose_bridge, 0, -3, -8},
    {mesh_index::mouth_right, -25, 70, -2},
    {mesh_index::mouth_left, 25, 70, -2},
    {mesh_index::chin, 0, 112, -8},
    {mesh_index::forehead, 0, -68, -6},
    {mesh_index::side_right, -72, 12, 50},
    {mesh_index::side_left, 72, 12, 50},
};

struct p3 {
  double x, y, z;
};

// FaceMesh's face oval (FACEMESH_FACE_OVAL), clockwise from the forehead (#10) in the
// image: through the subject's left cheek (#454, image right), the chin (#152), #234.
constexpr int face_oval[36] = {10,  338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288,
                               397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
                               172, 58,  132, 93,  234, 127, 162, 21,  54,  103, 67,  109};

// Inner-lip pairs (upper, lower) from the mouth centre outwards, and their x (mm).
constexpr int lip_pairs[7][2] = {{13, 14}, {82, 87}, {312, 317}, {81, 178}, {311, 402}, {80, 88}, {310, 318}};
constexpr double lip_x[7] = {0, -6, 6, -12, 12, -17, 17};

std::array<p3, 468> build_face(const synthetic_face& f) {
  std::array<p3, 468> pts{};
  std::array<bool, 468> set{};
  auto put = [&](int i, double x, double y, double z) {
    pts[static_cast<size_t>(i)] = {x, y, z};
    set[static_cast<size_t>(i)] = true;
  };
  // Face oval: an ellipse from y = -68 (forehead) to 112 (chin), half-width 72 at y = 22;
  // #234/#454 sit on it at y ~ 12 below, set exactly afterwards.
  for (int k = 0; k < 36; ++k) {
    const double th = 2 * M_PI * k / 36.0;
    const double x = 72 * std::sin(th), y = 22 - 90 * std::cos(th);
    put(face_oval[k], x, y, -8 + 58 * (x / 72) * (x / 72));
  }
  for (const auto& p : pose_points) put(p.index, p.x, p.y, p.z);
  // Eyes: each contour is 9 lower-lid points from the outer to the inner corner (both
  // corners included) and 7 upper-lid points between them, on an ellipse of the given half-height.
  auto eye = [&](const int(&idx)[16], double outer_x, double inner_x) {
    const double h = f.eye_half_height_mm;
    for (int k = 0; k <= 8; ++k) {  // idx[0..8]: outer corner, lower lid, inner corner
      const double t = k / 8.0;
      put(idx[k], outer_x + t * (inner_x - outer_x), 0.5 + h * std::sin(M_PI * t), 4 - 3 * std::sin(M_PI * t));
    }
    for (int k = 1; k <= 7; ++k) {  // idx[9..15]: upper lid from the inner corner back to the outer
      const double t = 1.0 - k / 8.0;
      put(idx[8 + k], outer_x + t * (inner_x - outer_x), 0.5 - h * std::sin(M_PI * t), 4 - 3 * std::sin(M_PI * t));
    }
  };
  eye(mesh_index::right_eye, -45.5, -17.5);
  eye(mesh_index::left_eye, 45.5, 17.5);
  // Inner lips around y = 69, the gap shrinking towards the corners.
  for (int k = 0; k < 7; ++k) {
    const double x = lip_x[k], g = f.mouth_gap_mm * std::cos(x / 22 * M_PI / 2);
    put(lip_pairs[k][0], x, 69 - g / 2, -14 + 0.01 * x * x);
    put(lip_pairs[k][1], x, 69 + g / 2, -14 + 0.01 * x * x);
  }
  put(78, -21, 70, -6);
  put(308, 21, 70, -6);
  // Everything else: spread over the inside of the oval (deterministic, by index).
  for (int i = 0; i < 468; ++i) {
    if (set[static_cast<size_t>(i)]) continue;
    const double th = i * 2.39996323;  // golden angle
    const double r = std::sqrt((i % 97) / 97.0) * 0.8;
    const double x = 72 * r * std::sin(th), y = 22 - 90 * r * std::cos(th);
    pts[static_cast<size_t>(i)] = {x, y, -8 - 12 * (1 - r * r)};
  }
  return pts;
}

// The pose rotation R = roll * pitch * yaw (see face_geometry_pose.cpp for the convention).
void rotate(const synthetic_face& f, double& x, double& y, double& z) {
  const double ya = f.yaw_deg * M_PI / 180, pa = f.pitch_deg * M_PI / 180, ra = f.roll_deg * M_PI / 180;
  double x1 = std::cos(ya) * x - std::sin(ya) * z, z1 = std::sin(ya) * x + std::cos(ya) * z, y1 = y;
  double y2 = std::cos(pa) * y1 + std::sin(pa) * z1, z2 = -std::sin(pa) * y1 + std::cos(pa) * z1, x2 = x1;
  x = std::cos(ra) * x2 - std::sin(ra) * y2;
  y = std::sin(ra) * x2 + std::cos(ra) * y2;
  z = z2;
}

void project(const synthetic_face& f, double x, double y, double z, double& u, double& v) {
  rotate(f, x, y, z);
  const double px_per_mm = f.eye_distance_px / reference_eye_distance_mm;
  double k = 1;
  if (f.camera_distance_mm > 0) k = f.camera_distance_mm / (f.camera_distance_mm + z);
  u = f.centre_x + x * k * px_per_mm;
  v = f.centre_y + y * k * px_per_mm;
}

}  // namespace

std::span<const model_point> pose_reference_points() { return pose_points; }

face::mesh make_synthetic_mesh(const synthetic_face& f) {
  const auto pts = build_face(f);
  face::mesh m;
  m.pts.resize(468);
  m.z.resize(468);
  m.presence = 1;
  const double px_per_mm = f.eye_distance_px / reference_eye_distance_mm;
  for (size_t i = 0; i < 468; ++i) {
    double u = 0, v = 0;
    project(f, pts[i].x, pts[i].y, pts[i].z, u, v);
    double x = pts[i].x, y = pts[i].y, z = pts[i].z;
    rotate(f, x, y, z);
    m.pts[i] = {static_cast<float>(u), static_cast<float>(v)};
    m.z[i] = static_cast<float>(z * px_per_mm);
  }
  return m;
}

vec2 synthetic_crown(const synthetic_face& f) {
  double u = 0, v = 0;
  project(f, 0, -f.crown_mm, 30, u, v);
  return {u, v};
}

}  // namespace idphoto::pipeline

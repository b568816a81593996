// Points measured on one FaceMesh: eye centres (mean of each eye's 16 contour points),
// chin (#152), nose tip (#1), mouth centre, roll from the eye line, eye and mouth openings.
#include <cmath>

#include "pipeline/face_geometry.hpp"

namespace idphoto::pipeline {

using base::errc;
using base::make_error;

namespace {

vec2 at(const face::mesh& m, int i) { return {m.pts[static_cast<size_t>(i)].x, m.pts[static_cast<size_t>(i)].y}; }
double dist(vec2 a, vec2 b) { return std::hypot(a.x - b.x, a.y - b.y); }

vec2 mean_of(const face::mesh& m, const int (&idx)[16]) {
  vec2 s;
  for (int i : idx) {
    s.x += m.pts[static_cast<size_t>(i)].x;
    s.y += m.pts[static_cast<size_t>(i)].y;
  }
  return {s.x / 16, s.y / 16};
}

// Largest distance over pairs of points facing each other across an opening.
double max_gap(const face::mesh& m, std::initializer_list<std::pair<int, int>> pairs) {
  double g = 0;
  for (const auto& [a, b] : pairs) g = std::max(g, dist(at(m, a), at(m, b)));
  return g;
}

}  // namespace

base::result<face_points> measure_face(const face::mesh& m) {
  if (m.pts.size() != static_cast<size_t>(mesh_index::n_points))
    return make_error(errc::invalid_argument, "face mesh: " + std::to_string(m.pts.size()) + " points, need 468");
  for (const auto& p : m.pts)
    if (!std::isfinite(p.x) || !std::isfinite(p.y) || std::fabs(p.x) > 1e6 || std::fabs(p.y) > 1e6)
      return make_error(errc::invalid_argument, "face mesh: a point is not finite or out of range");
  face_points f;
  // The subject's right eye is on the image's left in a non-mirrored photo; order by x
  // anyway, so a mirrored photo (or a mesh with swapped labels) still gives left-to-right.
  vec2 a = mean_of(m, mesh_index::right_eye), b = mean_of(m, mesh_index::left_eye);
  const bool swapped = a.x > b.x;
  if (swapped) std::swap(a, b);
  f.eye_left = a;
  f.eye_right = b;
  f.eye_mid = {(a.x + b.x) / 2, (a.y + b.y) / 2};
  f.eye_distance_px = dist(a, b);
  if (!(f.eye_distance_px >= 2))
    return make_error(errc::invalid_argument, "face mesh: the eyes are less than 2 px apart");
  f.axis_u = {(b.x - a.x) / f.eye_distance_px, (b.y - a.y) / f.eye_distance_px};
  f.axis_n = {-f.axis_u.y, f.axis_u.x};  // u turned 90 degrees clockwise: down the face
  f.roll_deg = std::atan2(b.y - a.y, b.x - a.x) * 180.0 / M_PI;
  f.chin = at(m, mesh_index::chin);
  f.nose = at(m, mesh_index::nose_tip);
  f.forehead = at(m, mesh_index::forehead);
  const vec2 ml = at(m, mesh_index::mouth_right), mr = at(m, mesh_index::mouth_left);
  const vec2 lu = at(m, mesh_index::lip_upper_inner), ll = at(m, mesh_index::lip_lower_inner);
  f.mouth = {(ml.x + mr.x + lu.x + ll.x) / 4, (ml.y + mr.y + lu.y + ll.y) / 4};
  vec2 sl = at(m, mesh_index::side_right), sr = at(m, mesh_index::side_left);
  if (sl.x > sr.x) std::swap(sl, sr);
  f.side_left = sl;
  f.side_right = sr;
  const double chin_down = (f.chin.x - f.eye_mid.x) * f.axis_n.x + (f.chin.y - f.eye_mid.y) * f.axis_n.y;
  if (!(chin_down > 0.5 * f.eye_distance_px))
    return make_error(errc::invalid_argument,
                      "face mesh: the chin is not below the eyes (an upside-down or broken mesh)");
  f.t_px = dist(f.eye_mid, f.chin);
  // Lid pairs at the same place along each eye (upper, lower), inner-lip pairs along the mouth.
  const double right_open = max_gap(m, {{159, 145}, {158, 153}, {160, 144}});
  const double left_open = max_gap(m, {{386, 374}, {385, 380}, {387, 373}});
  f.eye_open = std::min(right_open, left_open) / f.t_px;
  f.mouth_open = max_gap(m, {{13, 14}, {82, 87}, {81, 178}, {80, 88}, {312, 317}, {311, 402}, {310, 318}}) / f.t_px;
  return f;
}

}  // namespace idphoto::pipeline

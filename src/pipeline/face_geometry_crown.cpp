// The crown: the top of the person mask above the face (hair included), found along the
// face's own vertical axis so a tilted head is measured as it stands.
#include <algorithm>
#include <cmath>

#include "pipeline/face_geometry.hpp"

namespace idphoto::pipeline {

namespace {

// Bilinear alpha at continuous alpha-plane coordinates (pixel centres at +0.5); -1 outside.
double sample(const alpha_plane& a, double x, double y) {
  if (x < 0 || y < 0 || x >= a.width || y >= a.height) return -1;
  const double fx = std::clamp(x - 0.5, 0.0, a.width - 1.0), fy = std::clamp(y - 0.5, 0.0, a.height - 1.0);
  const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
  const int x1 = std::min(x0 + 1, a.width - 1), y1 = std::min(y0 + 1, a.height - 1);
  const double tx = fx - x0, ty = fy - y0;
  return (a.at(x0, y0) * (1 - tx) + a.at(x1, y0) * tx) * (1 - ty) + (a.at(x0, y1) * (1 - tx) + a.at(x1, y1) * tx) * ty;
}

}  // namespace

/* Column walk.
 *
 * The face's axes come from the eye line: u along it, n down the face. Columns are taken
 * parallel to n across the middle of the skull (within 0.6 x the eye distance of the
 * centre line); each walks up from the eye line in steps of one alpha pixel while the
 * mask is foreground (alpha >= 0.5), bridging gaps shorter than 4 % of the eye distance
 * (a thin parting, a stray dark pixel). The crown height is the 90th percentile of the
 * columns' tops: the round top of the head, not one flyaway strand. A walk that leaves
 * the photo while still on the person means the photo cuts the head: the crown is then
 * unknown, and it is estimated from the forehead (FaceMesh #10, the top of the mesh) as
 * crown_over_forehead x its height above the eyes — as it is when the mask ends below the
 * forehead (a mask that missed the head). Cost: O(columns x head height) samples. */
base::result<crown_result> find_crown(const alpha_plane& alpha, double alpha_scale, int photo_w, int photo_h,
                                      const face_points& f) {
  if (alpha.width < 1 || alpha.height < 1 || alpha.a.size() != static_cast<size_t>(alpha.width) * alpha.height)
    return base::make_error(base::errc::invalid_argument, "crown: empty or inconsistent mask");
  if (!(alpha_scale > 0) || photo_w < 1 || photo_h < 1)
    return base::make_error(base::errc::invalid_argument, "crown: bad mask scale or photo size");
  if (std::fabs(alpha.width - photo_w * alpha_scale) > 1.5 || std::fabs(alpha.height - photo_h * alpha_scale) > 1.5)
    return base::make_error(base::errc::invalid_argument, "crown: the mask (" + std::to_string(alpha.width) + "x" +
                                                              std::to_string(alpha.height) + ") is not the photo (" +
                                                              std::to_string(photo_w) + "x" + std::to_string(photo_h) +
                                                              ") at scale " + std::to_string(alpha_scale));
  const double step = 1.0 / alpha_scale;  // one alpha pixel, in photo pixels
  const double gap_max = std::max(2 * step, 0.04 * f.eye_distance_px);
  const double half_span = 0.6 * f.eye_distance_px;
  const double forehead_up = -((f.forehead.x - f.eye_mid.x) * f.axis_n.x + (f.forehead.y - f.eye_mid.y) * f.axis_n.y);
  const double chin_down = (f.chin.x - f.eye_mid.x) * f.axis_n.x + (f.chin.y - f.eye_mid.y) * f.axis_n.y;
  const double limit = 6 * f.eye_distance_px + 10 * step;  // no head is that tall above the eyes

  std::vector<double> tops;
  bool cut = false;
  for (double c = -half_span; c <= half_span + 1e-9; c += step) {
    double top = -1, since_fg = 0;
    for (double v = 0; v <= limit; v += step) {
      const double px = f.eye_mid.x + c * f.axis_u.x - v * f.axis_n.x;
      const double py = f.eye_mid.y + c * f.axis_u.y - v * f.axis_n.y;
      const double a = sample(alpha, px * alpha_scale, py * alpha_scale);
      if (a < 0) {  // left the photo
        if (top >= 0 && since_fg <= gap_max) cut = true;
        break;
      }
      if (a >= 0.5) {
        top = v;
        since_fg = 0;
      } else {
        since_fg += step;
        if (top >= 0 && since_fg > gap_max) break;
      }
    }
    if (top >= 0) tops.push_back(top);
  }
  crown_result r;
  double up = 0;
  if (!tops.empty()) {
    std::sort(tops.begin(), tops.end());
    up = tops[std::min(tops.size() - 1, static_cast<size_t>(0.9 * static_cast<double>(tops.size())))];
  }
  r.at_top_edge = cut;
  if (cut || up < forehead_up) {
    r.estimated = true;
    up = std::max(up, crown_over_forehead * forehead_up);
  }
  r.above_eyes_px = up;
  r.head_height_px = up + chin_down;
  r.crown = {f.eye_mid.x - up * f.axis_n.x, f.eye_mid.y - up * f.axis_n.y};
  return r;
}

}  // namespace idphoto::pipeline

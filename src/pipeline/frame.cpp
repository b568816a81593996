// Planning the frame: the similarity transform that puts the head into the spec's bands
// (frame.hpp). Pure arithmetic on the measured points; no pixels.
#include <algorithm>
#include <cmath>

#include "pipeline/frame.hpp"

namespace idphoto::pipeline {

namespace {
double dot(vec2 a, vec2 b) { return a.x * b.x + a.y * b.y; }
vec2 sub(vec2 a, vec2 b) { return {a.x - b.x, a.y - b.y}; }
}  // namespace

vec2 frame_transform::to_output(vec2 p) const {
  const vec2 d = sub(p, pivot);
  return {out_w / 2.0 + scale * (dot(d, axis_u) - centre_u), eye_y + scale * dot(d, axis_n)};
}

vec2 frame_transform::to_source(vec2 o) const {
  const double u = (o.x - out_w / 2.0) / scale + centre_u, v = (o.y - eye_y) / scale;
  return {pivot.x + u * axis_u.x + v * axis_n.x, pivot.y + u * axis_u.y + v * axis_n.y};
}

base::result<frame_transform> plan_frame(const id_spec& spec, const face_points& f, const crown_result& crown) {
  if (spec.width_px < 1 || spec.height_px < 1)
    return base::make_error(base::errc::invalid_argument, "frame: the spec has no pixel size");
  if (!(crown.head_height_px > 0) || !(f.eye_distance_px > 0))
    return base::make_error(base::errc::invalid_argument, "frame: the head has no height");
  frame_transform t;
  t.out_w = spec.width_px;
  t.out_h = spec.height_px;
  t.pivot = f.eye_mid;
  t.axis_u = f.axis_u;
  t.axis_n = f.axis_n;
  const double H = spec.height_px;
  t.scale = spec.head.centre() * H / crown.head_height_px;
  t.centre_u = dot(sub(f.mouth, f.eye_mid), f.axis_u) / 2;  // midway between the eye midpoint (0) and the mouth
  const double crown_up = crown.above_eyes_px * t.scale;    // output px from the eye line up to the crown
  const double chin_down = dot(sub(f.chin, f.eye_mid), f.axis_n) * t.scale;         // and down to the chin
  const double eye_lo = (1 - spec.eyes.max) * H, eye_hi = (1 - spec.eyes.min) * H;  // allowed eye_y, from the top
  if (spec.crown_margin) {
    t.eye_y = spec.crown_margin->centre() * H + crown_up;
    return t;
  }
  t.eye_y = (1 - spec.eyes.centre()) * H;
  const double top_min = 0.03 * H, bottom_min = 0.02 * H;
  if (t.eye_y - crown_up < top_min) {
    const double want = top_min + crown_up;
    t.eye_y = std::min(want, eye_hi);
    if (want > eye_hi) t.bands_conflict = true;
  } else if (t.eye_y + chin_down > H - bottom_min) {
    const double want = H - bottom_min - chin_down;
    t.eye_y = std::max(want, eye_lo);
    if (want < eye_lo) t.bands_conflict = true;
  }
  return t;
}

}  // namespace idphoto::pipeline

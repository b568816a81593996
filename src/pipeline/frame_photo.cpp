// frame_photo: the framing entry point (frame.hpp) — measure, plan, render from the
// full-resolution photo, assess, encode, and report the face in photo coordinates.
#include <algorithm>
#include <cmath>

#include "image/ops.hpp"
#include "image/resolution.hpp"
#include "pipeline/frame.hpp"
#include "pipeline/load_photo.hpp"

namespace idphoto::pipeline {

using base::errc;
using base::make_error;

base::result<framed_photo> frame_photo(const image::image& photo, const alpha_plane& alpha, double alpha_scale,
                                       const face::mesh& mesh, const std::vector<face::detection>& faces,
                                       const id_spec& spec, const frame_options& o) {
  if (photo.empty()) return make_error(errc::invalid_argument, "frame: empty photo");
  if (spec.width_px < 16 || spec.height_px < 16 || spec.width_px > 10000 || spec.height_px > 10000 ||
      spec.backgrounds.empty() || !(spec.head.min > 0 && spec.head.max <= 1 && spec.head.min <= spec.head.max) ||
      !(spec.eyes.min > 0 && spec.eyes.max < 1))
    return make_error(errc::invalid_argument, "frame: spec '" + spec.name + "' is incomplete");
  const int pw = photo.width(), ph = photo.height();
  auto f = measure_face(mesh);
  IDPHOTO_TRY(f);
  if (f->eye_mid.x < 0 || f->eye_mid.y < 0 || f->eye_mid.x > pw || f->eye_mid.y > ph)
    return make_error(errc::invalid_argument, "frame: the landmarks are not inside the photo (wrong coordinates?)");
  auto pose = estimate_pose(mesh);
  IDPHOTO_TRY(pose);
  auto crown = find_crown(alpha, alpha_scale, pw, ph, *f);
  IDPHOTO_TRY(crown);
  auto plan = plan_frame(spec, *f, *crown);
  IDPHOTO_TRY(plan);
  const image::rgb8 bg = o.background ? *o.background : spec.default_background().rgb;

  // The frame's footprint in the photo, clipped to it: only that part is decoded to pixels.
  double x0 = 1e18, y0 = 1e18, x1 = -1e18, y1 = -1e18;
  for (const vec2 c : {vec2{0, 0}, vec2{double(plan->out_w), 0}, vec2{0, double(plan->out_h)},
                       vec2{double(plan->out_w), double(plan->out_h)}}) {
    const vec2 p = plan->to_source(c);
    x0 = std::min(x0, p.x), y0 = std::min(y0, p.y), x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
  }
  const int cx0 = std::clamp(static_cast<int>(std::floor(x0)) - 2, 0, pw - 1),
            cy0 = std::clamp(static_cast<int>(std::floor(y0)) - 2, 0, ph - 1);
  const int cx1 = std::clamp(static_cast<int>(std::ceil(x1)) + 2, cx0 + 1, pw),
            cy1 = std::clamp(static_cast<int>(std::ceil(y1)) + 2, cy0 + 1, ph);
  auto srgb = image::to_srgb(photo);
  IDPHOTO_TRY(srgb);
  auto region = image::crop(srgb->rgb, cx0, cy0, cx1 - cx0, cy1 - cy0);
  IDPHOTO_TRY(region);
  image::image src_im = std::move(*region);
  double sx = 1, sy = 1;
  if (plan->scale < 0.5) {  // large reduction: Lanczos down to twice the output scale first
    const int w = cx1 - cx0, h = cy1 - cy0;
    const int nw = std::max(1, static_cast<int>(std::lround(w * 2 * plan->scale)));
    const int nh = std::max(1, static_cast<int>(std::lround(h * 2 * plan->scale)));
    auto small = image::resize_exact(src_im, nw, nh);
    IDPHOTO_TRY(small);
    src_im = std::move(*small);
    sx = static_cast<double>(nw) / w;
    sy = static_cast<double>(nh) / h;
  }
  auto plane = plane_of(src_im);
  IDPHOTO_TRY(plane);
  frame_source src{&*plane, {double(cx0), double(cy0)}, sx, sy, pw, ph};
  const vec2 chin_out = plan->to_output(f->chin);
  auto out = render_frame(src, alpha, alpha_scale, *plan, bg, chin_out.y);
  IDPHOTO_TRY(out);

  int n_faces = 0;
  const face::detection* mine = nullptr;
  for (const auto& d : faces) {
    if (d.score >= o.min_face_score) ++n_faces;
    if (f->eye_mid.x >= d.x0 && f->eye_mid.x <= d.x1 && f->eye_mid.y >= d.y0 && f->eye_mid.y <= d.y1 &&
        (!mine || d.score > mine->score))
      mine = &d;
  }

  compliance_input ci;
  ci.spec = &spec;
  ci.face = &*f;
  ci.crown = &*crown;
  ci.yaw_deg = pose->yaw_deg;
  ci.pitch_deg = pose->pitch_deg;
  ci.n_faces = n_faces;
  ci.scale = plan->scale;
  ci.out_eye_left = plan->to_output(f->eye_left);
  ci.out_eye_right = plan->to_output(f->eye_right);
  ci.out_chin = chin_out;
  ci.out_crown = plan->to_output(crown->crown);
  ci.out_mouth = plan->to_output(f->mouth);
  ci.out_nose = plan->to_output(f->nose);
  ci.out_forehead = plan->to_output(f->forehead);
  ci.out_side_left = plan->to_output(f->side_left);
  ci.out_side_right = plan->to_output(f->side_right);
  ci.out_face_centre_x =
      plan->to_output({f->eye_mid.x + plan->centre_u * f->axis_u.x, f->eye_mid.y + plan->centre_u * f->axis_u.y}).x;
  ci.out_rgb = &out->rgb;
  ci.out_alpha = &out->alpha;
  ci.outside_fraction = out->outside_fraction;
  ci.outside_person_fraction = out->outside_person_fraction;
  ci.background = bg;
  ci.transparent = o.transparent;
  ci.bands_conflict = plan->bands_conflict;

  framed_photo r;
  r.compliance = assess(ci);
  const image::format fmt = o.format ? *o.format : spec.file_format ? *spec.file_format : image::format::png;
  const int max_kb = o.max_kb >= 0 ? o.max_kb : spec.max_kb;
  auto enc = encode_frame(out->rgb, spec.dpi, fmt, o.quality, max_kb);
  IDPHOTO_TRY(enc);
  r.file = std::move(*enc);
  if (spec.file_format && fmt != *spec.file_format)
    r.warnings.push_back(std::string("the spec asks for ") + image::format_name(*spec.file_format) + ", written as " +
                         image::format_name(fmt));
  if (spec.min_kb && r.file.bytes.size() < static_cast<size_t>(spec.min_kb) * 1000)
    r.warnings.push_back("the file is under the spec's minimum of " + std::to_string(spec.min_kb) + " KB");
  r.width = plan->out_w;
  r.height = plan->out_h;
  r.dpi = spec.dpi;
  r.background = bg;
  r.transform = *plan;
  if (mine) {
    r.face.box[0] = mine->x0, r.face.box[1] = mine->y0, r.face.box[2] = mine->x1, r.face.box[3] = mine->y1;
  } else {
    float bx0 = 1e30f, by0 = 1e30f, bx1 = -1e30f, by1 = -1e30f;
    for (const auto& p : mesh.pts)
      bx0 = std::min(bx0, p.x), by0 = std::min(by0, p.y), bx1 = std::max(bx1, p.x), by1 = std::max(by1, p.y);
    r.face.box[0] = bx0, r.face.box[1] = by0, r.face.box[2] = bx1, r.face.box[3] = by1;
    r.warnings.push_back("no detection holds the mesh: the face box is the mesh's bounding box");
  }
  r.face.eyes[0] = f->eye_left;
  r.face.eyes[1] = f->eye_right;
  r.face.chin = f->chin;
  r.face.crown = crown->crown;
  r.face.roll_deg = f->roll_deg;
  r.face.yaw_deg = pose->yaw_deg;
  r.face.pitch_deg = pose->pitch_deg;
  return r;
}

}  // namespace idphoto::pipeline

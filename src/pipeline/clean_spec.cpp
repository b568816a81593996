// cleaner::frame_to_spec (clean.hpp): the cut-out framed to an ID spec. BlazeFace and
// FaceMesh (src/face) run on the work-size photo and the frame is planned there; when the
// plan enlarges the photo (the head needs more pixels than the work size has) and the file
// has more, the file is decoded again at the size the frame needs (at most its full size)
// and the landmarks are scaled to it. The face is reported in full-size photo pixels.
#include <algorithm>
#include <cmath>
#include <utility>

#include "pipeline/clean.hpp"
#include "pipeline/load_photo.hpp"

namespace idphoto::pipeline {

using base::errc;
using base::make_error;

bool is_no_face(const base::error& e) {
  return e.code == errc::invalid_argument && e.detail.rfind(no_face_error, 0) == 0;
}

spec_output_faults set_spec_output(bool background_given, bool format_given, clean_options* co) {
  spec_output_faults f;
  if (background_given) {
    if (!co->background) f.background_none = true;
    else co->frame.background = co->background;
  }
  if (format_given) {
    if (co->encode.fmt == image::format::webp) f.webp = true;
    else co->frame.format = co->encode.fmt;
  }
  co->frame.quality = co->encode.quality;
  return f;
}

namespace {

// The subject: the largest face among those the one_face rule counts (the highest score if none does).
const face::detection& choose_face(const std::vector<face::detection>& faces, float min_score) {
  const face::detection* best = &faces.front();
  double best_area = -1;
  for (const auto& d : faces) {
    const double area = static_cast<double>(d.x1 - d.x0) * (d.y1 - d.y0);
    if (d.score >= min_score && area > best_area) best = &d, best_area = area;
  }
  return *best;
}

face::mesh scaled(face::mesh m, double k) {
  for (auto& p : m.pts) p.x = static_cast<float>(p.x * k), p.y = static_cast<float>(p.y * k);
  for (auto& z : m.z) z = static_cast<float>(z * k);
  return m;
}

std::vector<face::detection> scaled(std::vector<face::detection> ds, double k) {
  for (auto& d : ds) {
    d.x0 = static_cast<float>(d.x0 * k), d.y0 = static_cast<float>(d.y0 * k);
    d.x1 = static_cast<float>(d.x1 * k), d.y1 = static_cast<float>(d.y1 * k);
    for (auto& p : d.keypoints) p.x = static_cast<float>(p.x * k), p.y = static_cast<float>(p.y * k);
  }
  return ds;
}

vec2 times(vec2 p, double k) { return {p.x * k, p.y * k}; }

}  // namespace

base::result<void> cleaner::frame_to_spec(std::span<const uint8_t> bytes, int full_w, const image::image& photo,
                                          const rgb8_plane& work, const alpha_plane& alpha, const clean_options& o,
                                          clean_result& res) {
  const id_spec& spec = *o.spec;
  if (alpha.width != work.width || alpha.height != work.height || photo.width() != work.width ||
      photo.height() != work.height)
    return make_error(errc::internal, "frame: the work photo and its mask differ in size");
  if (!landmarks_) {
    face::face_config fc;
    fc.models_dir = cfg_.models_dir;
    fc.n_threads = 1;  // both nets are small: one thread is as fast as two on them
    auto a = face::face_analyser::create(fc);
    IDPHOTO_TRY(a);
    landmarks_ = std::move(*a);
  }
  const face::rgb_view view{work.px.data(), work.width, work.height};
  auto faces = landmarks_->detect(view);
  IDPHOTO_TRY(faces);
  if (faces->empty())
    return make_error(errc::invalid_argument,
                      std::string(no_face_error) + ": the photo cannot be framed to " + spec.name);
  auto mesh = landmarks_->landmarks(view, choose_face(*faces, o.frame.min_face_score));
  IDPHOTO_TRY(mesh);

  // Plan at the work size: the scale says how many photo pixels the frame needs.
  auto points = measure_face(*mesh);
  IDPHOTO_TRY(points);
  auto crown = find_crown(alpha, 1.0, work.width, work.height, *points);
  IDPHOTO_TRY(crown);
  auto plan = plan_frame(spec, *points, *crown);
  IDPHOTO_TRY(plan);
  const double full_over_work = static_cast<double>(full_w) / work.width;

  const image::image* src = &photo;
  image::image larger;
  if (plan->scale > 1.0 && full_over_work > 1.0 + 1e-9) {
    const double want = std::min(full_over_work, plan->scale);
    const int side = static_cast<int>(std::ceil(std::max(work.width, work.height) * want));
    auto again = load_photo(bytes, want >= full_over_work ? 0 : side, cfg_.limits);
    IDPHOTO_TRY(again);
    larger = std::move(*again);
    src = &larger;
  }
  const double k = static_cast<double>(src->width()) / work.width;  // source px per work px
  auto framed = k == 1.0 ? frame_photo(*src, alpha, 1.0, *mesh, *faces, spec, o.frame)
                         : frame_photo(*src, alpha, 1.0 / k, scaled(*mesh, k), scaled(*faces, k), spec, o.frame);
  IDPHOTO_TRY(framed);

  // The face in full-size photo pixels.
  const double r = static_cast<double>(full_w) / src->width();
  face_report& f = framed->face;
  for (float& b : f.box) b = static_cast<float>(b * r);
  f.eyes[0] = times(f.eyes[0], r), f.eyes[1] = times(f.eyes[1], r);
  f.chin = times(f.chin, r), f.crown = times(f.crown, r);

  res.person = true;
  if (res.warning == clean_warning::no_person) res.warning = clean_warning::none;
  std::erase_if(res.warnings, [](const std::string& w) { return w.rfind("no face found", 0) == 0; });
  for (auto& w : framed->warnings) res.warnings.push_back(w);
  res.bytes = std::move(framed->file.bytes);
  framed->file.bytes.clear();
  res.fmt = framed->file.fmt;
  res.width = framed->width;
  res.height = framed->height;
  res.spec_name = spec.name;
  res.framed = std::move(*framed);
  return {};
}

}  // namespace idphoto::pipeline

// The clean pipeline, one named step after another (see clean.hpp). Each step's
// error is returned as is; nothing here allocates in proportion to the input file
// before check_limits has accepted its header.
#include "pipeline/clean.hpp"

#include <chrono>
#include <cstdio>

#include "image/ops.hpp"
#include "image/probe.hpp"
#include "pipeline/decontaminate.hpp"
#include "pipeline/load_photo.hpp"
#include "pipeline/person_only.hpp"
#include "pipeline/refine_edges.hpp"

namespace idphoto::pipeline {

using base::errc;
using base::make_error;
using base::result;

const std::vector<colour_preset>& colour_presets() {
  static const std::vector<colour_preset> p = {
      {"blue", {67, 142, 219}},  // #438EDB, the usual ID-photo blue
      {"white", {255, 255, 255}},
      {"grey", {240, 240, 240}},  // #F0F0F0, passport-style light grey
      {"red", {255, 0, 0}},       // #FF0000, the ID-photo red
  };
  return p;
}

result<std::optional<image::rgb8>> parse_background(const std::string& s) {
  if (s == "none" || s == "transparent") return std::optional<image::rgb8>{};
  for (const auto& p : colour_presets())
    if (s == p.name) return std::optional<image::rgb8>{p.rgb};
  if (auto hex = image::parse_hex_rgb(s)) return std::optional<image::rgb8>{*hex};
  return make_error(errc::invalid_argument, "background '" + s + "' is not blue, white, grey, red, #RRGGBB or none");
}

result<void> pipeline_config::validate() const {
  std::string bad;
  auto bad_size = [](int s) { return s < 384 || s > 1024 || s % 32 != 0; };
  if (model_size_px != 0 && bad_size(model_size_px))
    bad += "model size must be 0 (follow the subject) or a multiple of 32 from 384 to 1024 (got " +
           std::to_string(model_size_px) + "); ";
  if (bad_size(auto_size_px))
    bad += "auto model size must be a multiple of 32 from 384 to 1024 (got " + std::to_string(auto_size_px) + "); ";
  if (bad_size(auto_no_face_size_px))
    bad += "no-face model size must be a multiple of 32 from 384 to 1024 (got " + std::to_string(auto_no_face_size_px) +
           "); ";
  if (bad_size(auto_tight_size_px))
    bad += "tight-face model size must be a multiple of 32 from 384 to 1024 (got " +
           std::to_string(auto_tight_size_px) + "); ";
  if (!(tight_face_fraction >= 0 && tight_face_fraction <= 1)) bad += "tight face fraction must be 0..1; ";
  if (retry_size_px != 0 && (retry_size_px < 384 || retry_size_px > 1024 || retry_size_px % 32 != 0))
    bad += "retry size must be 0 or a multiple of 32 from 384 to 1024 (got " + std::to_string(retry_size_px) + "); ";
  if (!(retry_below_coverage >= 0 && retry_below_coverage <= 1)) bad += "retry coverage must be 0..1; ";
  if (n_threads < 0) bad += "threads must be >= 0; ";
  if (work_side_px < 64 || work_side_px > 8192) bad += "work side must be 64..8192 px; ";
  if (auto r = limits.validate(); !r.ok()) bad += r.err().detail + "; ";
  if (!bad.empty()) return make_error(errc::invalid_argument, bad.substr(0, bad.size() - 2));
  return {};
}

cleaner::~cleaner() = default;

result<std::unique_ptr<cleaner>> cleaner::create(const pipeline_config& cfg) {
  IDPHOTO_TRY(cfg.validate());
  std::unique_ptr<cleaner> c(new cleaner());
  c->cfg_ = cfg;
  auto spec = resolve_model(cfg.model, cfg.models_dir, cfg.model_norm);
  IDPHOTO_TRY(spec);
  c->spec_ = *spec;
  auto m = infer::load_model(c->spec_.file);
  IDPHOTO_TRY(m);
  c->model_ = *m;
  if (c->model_->inputs.empty()) return make_error(errc::unsupported, "model '" + c->spec_.name + "' has no inputs");
  if (c->spec_.input_name.empty()) c->spec_.input_name = c->model_->inputs[0].name;
  if (c->spec_.output_name.empty()) c->spec_.output_name = c->model_->outputs[0].name;
  infer::session_options so;
  so.n_threads = cfg.n_threads;
  so.weights = cfg.weights;
  so.outputs = {c->spec_.output_name};
  so.trim_after_run = cfg.trim_after_run;
  auto s = infer::session::create(c->model_, so);
  IDPHOTO_TRY(s);
  c->session_ = std::move(*s);
  auto fd = face_detector::load(cfg.face_cascade.empty() ? face_detector::default_cascade_path() : cfg.face_cascade);
  IDPHOTO_TRY(fd);
  c->faces_ = std::move(*fd);
  return c;
}

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int choose_model_size(const pipeline_config& cfg, double face_fraction) {
  if (cfg.model_size_px > 0) return cfg.model_size_px;
  if (face_fraction <= 0) return cfg.auto_no_face_size_px;
  if (cfg.tight_face_fraction > 0 && face_fraction >= cfg.tight_face_fraction) return cfg.auto_tight_size_px;
  return cfg.auto_size_px;
}

result<clean_result> cleaner::clean(std::span<const uint8_t> bytes, const clean_options& o) {
  using clock = std::chrono::steady_clock;
  if (o.max_size_px < 16 || o.max_size_px > 4096)
    return make_error(errc::invalid_argument,
                      "max size must be 16..4096 px (got " + std::to_string(o.max_size_px) + ")");
  std::lock_guard<std::mutex> lock(mu_);
  clean_result res;
  const auto t_all = clock::now();

  // probe -> limits -> decode (shrink-on-load) -> orient -> sRGB
  auto t0 = clock::now();
  auto info = image::probe(bytes);
  IDPHOTO_TRY(info);
  IDPHOTO_TRY(image::check_limits(*info, cfg_.limits));
  if (o.spec && o.mask_only) return make_error(errc::invalid_argument, "a mask cannot be framed to a spec");
  auto loaded = load_photo(bytes, std::max(cfg_.work_side_px, o.max_size_px), cfg_.limits);
  IDPHOTO_TRY(loaded);
  image::image photo = std::move(*loaded);
  // With a spec, the mask is made at the work size (the frame is rendered from the photo).
  auto out_plane = [&]() -> result<rgb8_plane> {
    if (o.spec) return plane_of(photo);
    auto out_img = image::resize_to_fit(photo, o.max_size_px, o.max_size_px);
    IDPHOTO_TRY(out_img);
    return plane_of(*out_img);
  }();
  IDPHOTO_TRY(out_plane);
  res.timing.decode_ms = ms_since(t0);

  // faces (on the output-size photo) -> model size -> model input -> infer -> mask to output size
  t0 = clock::now();
  const std::vector<box> faces = faces_->detect(*out_plane);
  res.person = !faces.empty();
  res.face_fraction = faces.empty() ? 0.0 : static_cast<double>(faces.front().width) / std::max(1, out_plane->width);
  const int size_px = choose_model_size(cfg_, res.face_fraction);
  auto infer_at = [&](int s) -> result<alpha_plane> {
    auto mi = to_model_input(photo, spec_, s, cfg_.fit);
    IDPHOTO_TRY(mi);
    auto outs = session_->run({{spec_.input_name, std::move(mi->t)}});
    IDPHOTO_TRY(outs);
    return mask_from_output(outs->at(0).t, spec_, *mi);
  };
  auto raw = infer_at(size_px);
  IDPHOTO_TRY(raw);
  res.model_size_px = size_px;
  if (cfg_.retry_size_px > size_px) {
    double cov = 0;
    for (float v : raw->a) cov += v;
    cov /= static_cast<double>(std::max<size_t>(1, raw->a.size()));
    if (cov < cfg_.retry_below_coverage) {
      auto again = infer_at(cfg_.retry_size_px);
      IDPHOTO_TRY(again);
      raw = std::move(again);
      res.model_size_px = cfg_.retry_size_px;
    }
  }
  alpha_plane alpha = resize_alpha(*raw, out_plane->width, out_plane->height);
  res.timing.infer_ms = ms_since(t0);

  // person only -> edge refinement -> colour decontamination
  t0 = clock::now();
  // Decontaminated colours only for the plain composite: a frame is rendered from the photo.
  std::optional<rgb8_plane> fg;
  if (o.refine) {
    person_only_result po = person_only(alpha, faces);
    alpha = refine_edges(*out_plane, po.alpha);
    if (!o.spec) fg = decontaminate(*out_plane, alpha);
  }
  double sum = 0;
  for (float v : alpha.a) sum += v;
  res.coverage = alpha.a.empty() ? 0 : sum / static_cast<double>(alpha.a.size());
  if (!res.person) res.warnings.push_back("no face found: the cut-out may not be a person");
  if (res.coverage < 0.02) res.warnings.push_back("the mask is almost empty");
  if (res.coverage > 0.98) res.warnings.push_back("the mask is almost full");
  res.warning = res.coverage < 0.02   ? clean_warning::mask_empty
                : res.coverage > 0.98 ? clean_warning::mask_full
                : !res.person         ? clean_warning::no_person
                                      : clean_warning::none;
  res.timing.refine_ms = ms_since(t0);

  // frame to the spec (landmarks, plan, render from the photo, assess, encode) or composite -> encode
  t0 = clock::now();
  if (o.spec) {
    IDPHOTO_TRY(
        frame_to_spec(bytes, info->swaps_axes() ? info->height : info->width, photo, *out_plane, alpha, o, res));
    res.timing.encode_ms = ms_since(t0);
    res.timing.total_ms = ms_since(t_all);
    return res;
  }
  auto mask = image::mask_from_float(alpha.a, alpha.width, alpha.height);
  IDPHOTO_TRY(mask);
  image::encode_options eo = o.encode;
  image::image final_img;
  if (o.mask_only) {
    eo.fmt = image::format::png;
    final_img = std::move(*mask);
  } else {
    const rgb8_plane& colours = fg ? *fg : *out_plane;
    auto fg_img = image::from_pixels(colours.px, colours.width, colours.height, 3);
    IDPHOTO_TRY(fg_img);
    if (!o.background && eo.fmt == image::format::jpeg)
      return make_error(errc::invalid_argument, "a transparent background needs PNG or WebP output, not JPEG");
    auto comp = image::composite(*fg_img, *mask, o.background);
    IDPHOTO_TRY(comp);
    final_img = std::move(*comp);
  }
  auto enc = image::encode(final_img, eo);
  IDPHOTO_TRY(enc);
  res.bytes = std::move(*enc);
  res.fmt = eo.fmt;
  res.width = alpha.width;
  res.height = alpha.height;
  res.timing.encode_ms = ms_since(t0);
  res.timing.total_ms = ms_since(t_all);
  return res;
}

}  // namespace idphoto::pipeline

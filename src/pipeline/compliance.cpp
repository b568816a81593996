// The compliance rules, measured on the framed output (compliance.hpp). Geometry rules use
// the landmarks mapped into the output; image rules read the output's pixels and mask.
#include "pipeline/compliance.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace idphoto::pipeline {

namespace {

double luma(const uint8_t* p) { return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]; }

struct rect {
  int x0, y0, x1, y1;  // half-open
};
rect clip(double x0, double y0, double x1, double y1, int w, int h) {
  rect r{static_cast<int>(std::floor(x0)), static_cast<int>(std::floor(y0)), static_cast<int>(std::ceil(x1)),
         static_cast<int>(std::ceil(y1))};
  r.x0 = std::clamp(r.x0, 0, w);
  r.x1 = std::clamp(r.x1, 0, w);
  r.y0 = std::clamp(r.y0, 0, h);
  r.y1 = std::clamp(r.y1, 0, h);
  return r;
}

struct region_stats {
  size_t n = 0, opaque = 0, clipped = 0;
  double luma_sum = 0;
};
region_stats stats(const rgb8_plane& rgb, const alpha_plane& a, rect r) {
  region_stats s;
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x) {
      ++s.n;
      if (a.at(x, y) < 0.5f) continue;
      ++s.opaque;
      const double l = luma(rgb.at(x, y));
      s.luma_sum += l;
      if (l <= 25 || l >= 247) ++s.clipped;
    }
  return s;
}

std::string fmt(const char* f, double v) {
  char b[96];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

const char* verdict_name(verdict v) {
  switch (v) {
    case verdict::pass:
      return "pass";
    case verdict::warn:
      return "warn";
    default:
      return "fail";
  }
}

const rule_result* compliance_report::find(const std::string& rule) const {
  for (const auto& r : rules)
    if (r.rule == rule) return &r;
  return nullptr;
}

/* Edge blur as a Gaussian sigma. Across a step edge of height A blurred by a Gaussian of
 * sigma s, |gradient| integrates to A and |second derivative| to 2A/(s*sqrt(2*pi)), so
 * s = 0.798 * sum|grad| / sum|Laplacian| — independent of the edge's contrast and of how
 * many edges the region has. Only pixels with a gradient of at least 3 levels/px count,
 * so sensor noise in flat skin does not pass for detail. Trade-off: strong noise or JPEG
 * ringing still reads as sharper than it is (the check is lenient, never harsh). */
double edge_blur_px(const rgb8_plane& rgb, const alpha_plane& alpha, int x0, int y0, int x1, int y1) {
  x0 = std::max(x0, 1), y0 = std::max(y0, 1);
  x1 = std::min(x1, rgb.width - 1), y1 = std::min(y1, rgb.height - 1);
  double sg = 0, sl = 0;
  size_t n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      if (alpha.at(x, y) < 0.5f) continue;
      const double c = luma(rgb.at(x, y)), l = luma(rgb.at(x - 1, y)), r = luma(rgb.at(x + 1, y));
      const double u = luma(rgb.at(x, y - 1)), d = luma(rgb.at(x, y + 1));
      const double g = std::hypot((r - l) / 2, (d - u) / 2);
      if (g < 3) continue;
      sg += g;
      sl += std::fabs(l + r + u + d - 4 * c);
      ++n;
    }
  if (n < 20 || sl <= 0) return -1;
  return 0.798 * sg / sl;
}

compliance_report assess(const compliance_input& in, const compliance_limits& lim) {
  compliance_report rep;
  auto add = [&](const char* id, double v, double mn, double mx, bool pass, bool hard, std::string note = {}) {
    rep.rules.push_back(rule_result{id, v, mn, mx, pass, hard, std::move(note)});
  };
  const id_spec& spec = *in.spec;
  const double W = in.out_rgb->width, H = in.out_rgb->height;

  add("one_face", in.n_faces, 1, 1, in.n_faces == 1, true,
      in.n_faces == 1 ? ""
                      : (in.n_faces == 0 ? "no face detected above the score threshold"
                                         : std::to_string(in.n_faces) + " faces in the photo"));

  const double head = (in.out_chin.y - in.out_crown.y) / H;
  std::string head_note;
  bool head_pass = spec.head.contains(head);
  if (in.crown->at_top_edge) {
    head_pass = false;
    head_note = "the photo cuts the head at the top: the crown is estimated";
  } else if (in.crown->estimated) {
    head_note = "the mask does not reach above the forehead: the crown is estimated";
  }
  add("head_height", head, spec.head.min, spec.head.max, head_pass, true, head_note);

  const double eye_line = (H - (in.out_eye_left.y + in.out_eye_right.y) / 2) / H;
  add("eye_line", eye_line, spec.eyes.min, spec.eyes.max, spec.eyes.contains(eye_line), spec.eyes_from_authority,
      spec.eyes_from_authority ? (in.bands_conflict ? "the head and the margins did not fit the eye band together" : "")
                               : "the authority sets no eye band: ISO/IEC 19794-5's is checked");

  const double centre = in.out_face_centre_x / W;
  add("centring", centre, lim.centre_min, lim.centre_max, centre >= lim.centre_min && centre <= lim.centre_max, true);

  const double roll = in.face->roll_deg;
  add("roll", roll, -lim.roll_max_deg, lim.roll_max_deg, std::fabs(roll) <= lim.roll_max_deg, false,
      std::fabs(roll) > 0.05 ? fmt("levelled in the output (the photo was turned by %.1f degrees)", -roll) : "");
  auto pose_rule = [&](const char* id, double v, double mx) {
    const bool pass = std::fabs(v) <= mx;
    const bool hard = std::fabs(v) > mx + lim.pose_hard_margin_deg;
    add(id, v, -mx, mx, pass, hard, pass ? "" : "estimated from the landmarks (docs/specs.md: method and error)");
  };
  pose_rule("yaw", in.yaw_deg, lim.yaw_max_deg);
  pose_rule("pitch", in.pitch_deg, lim.pitch_max_deg);

  add("eyes_open", in.face->eye_open, lim.eye_open_min, 1, in.face->eye_open >= lim.eye_open_min, true,
      "lid gap / eye-to-chin distance");
  add("mouth_closed", in.face->mouth_open, 0, lim.mouth_open_max, in.face->mouth_open <= lim.mouth_open_max, true,
      "inner-lip gap / eye-to-chin distance");

  // Regions of the output face (the output is levelled: axis-aligned boxes).
  const double eye_y = (in.out_eye_left.y + in.out_eye_right.y) / 2;
  const double t = std::max(1.0, in.out_chin.y - eye_y);
  const double fl = in.out_side_left.x, fr = in.out_side_right.x, fw = std::max(1.0, fr - fl);
  const int w = in.out_rgb->width, h = in.out_rgb->height;
  const rect face_box = clip(fl + 0.1 * fw, eye_y - 0.35 * t, fr - 0.1 * fw, in.out_chin.y - 0.1 * t, w, h);
  const rect sharp_box = clip(fl + 0.1 * fw, eye_y - 0.3 * t, fr - 0.1 * fw, in.out_mouth.y + 0.1 * t, w, h);

  const double blur = edge_blur_px(*in.out_rgb, *in.out_alpha, sharp_box.x0, sharp_box.y0, sharp_box.x1, sharp_box.y1);
  add("sharpness", blur, 0, lim.blur_max_px, blur >= 0 && blur <= lim.blur_max_px, false,
      blur < 0 ? "no edges to measure in the face"
               : fmt("edges blurred over a Gaussian sigma of %.2f output px", blur));

  const region_stats fs = stats(*in.out_rgb, *in.out_alpha, face_box);
  const double mean_luma = fs.opaque ? fs.luma_sum / static_cast<double>(fs.opaque) / 255.0 : 0;
  const double clipped = fs.opaque ? static_cast<double>(fs.clipped) / static_cast<double>(fs.opaque) : 1;
  add("exposure", mean_luma, lim.luma_min, lim.luma_max,
      mean_luma >= lim.luma_min && mean_luma <= lim.luma_max && clipped <= lim.clipped_max, false,
      fmt("face luminance; clipped pixels %.1f %%", 100 * clipped));

  const double cheek_y0 = eye_y + 0.2 * t, cheek_y1 = in.out_mouth.y - 0.05 * t;
  const double nx = in.out_nose.x;
  const region_stats ls =
      stats(*in.out_rgb, *in.out_alpha, clip(fl + 0.15 * (nx - fl), cheek_y0, nx - 0.1 * fw, cheek_y1, w, h));
  const region_stats rs =
      stats(*in.out_rgb, *in.out_alpha, clip(nx + 0.1 * fw, cheek_y0, fr - 0.15 * (fr - nx), cheek_y1, w, h));
  double balance = 0;
  if (ls.opaque && rs.opaque) {
    const double a = ls.luma_sum / static_cast<double>(ls.opaque), b = rs.luma_sum / static_cast<double>(rs.opaque);
    balance = std::max(a, b) > 0 ? std::min(a, b) / std::max(a, b) : 0;
  }
  add("lighting_balance", balance, lim.balance_min, 1, balance >= lim.balance_min, false,
      "darker / brighter cheek luminance");

  const double src_ied = in.face->eye_distance_px;
  const double out_ied = src_ied * in.scale;
  add("source_resolution", src_ied, out_ied, 0, in.scale <= 1.0 + 1e-6, in.scale > 2.0,
      in.scale <= 1.0 + 1e-6
          ? ""
          : fmt("the face was enlarged %.2fx: the photo has fewer pixels than the spec needs", in.scale));

  const bool filled = in.outside_fraction <= 1e-4;
  add("frame_filled", in.outside_fraction, 0, 0, filled, in.outside_person_fraction > 1e-3,
      filled ? ""
             : (in.outside_person_fraction > 1e-3
                    ? "the frame runs past the photo through the head: it was extended"
                    : "the frame runs past the photo's edge: extended with the background or the photo's edge"));

  // Background: measured on pure-background pixels of the output, else the colour used.
  double bg_dist = 0;
  std::string bg_note;
  if (in.transparent) {
    bg_dist = 441.7;
    bg_note = "transparent output: the spec asks for a background colour";
  } else {
    double sum[3] = {0, 0, 0};
    size_t n = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (in.out_alpha->at(x, y) < 0.02f) {
          const uint8_t* p = in.out_rgb->at(x, y);
          for (int k = 0; k < 3; ++k) sum[k] += p[k];
          ++n;
        }
    image::rgb8 measured = in.background;
    if (n)
      measured = {static_cast<uint8_t>(std::lround(sum[0] / static_cast<double>(n))),
                  static_cast<uint8_t>(std::lround(sum[1] / static_cast<double>(n))),
                  static_cast<uint8_t>(std::lround(sum[2] / static_cast<double>(n)))};
    bg_dist = 1e9;
    std::string nearest;
    for (const auto& c : spec.backgrounds) {
      const double dm =
          std::sqrt(std::pow(double(c.rgb.r) - measured.r, 2) + std::pow(double(c.rgb.g) - measured.g, 2) +
                    std::pow(double(c.rgb.b) - measured.b, 2));
      const double du =
          std::sqrt(std::pow(double(c.rgb.r) - in.background.r, 2) + std::pow(double(c.rgb.g) - in.background.g, 2) +
                    std::pow(double(c.rgb.b) - in.background.b, 2));
      const double d = std::max(dm, du);  // both the colour asked for and the one measured must match
      if (d < bg_dist) {
        bg_dist = d;
        nearest = c.name;
      }
    }
    std::string allowed;
    for (const auto& c : spec.backgrounds) allowed += (allowed.empty() ? "" : ", ") + c.name;
    bg_note = bg_dist <= lim.background_tolerance ? "matches " + nearest : "allowed: " + allowed;
  }
  add("background_colour", bg_dist, 0, lim.background_tolerance, bg_dist <= lim.background_tolerance, true, bg_note);

  double certainty = 0;
  for (float a : in.out_alpha->a) certainty += std::fabs(2.0 * a - 1.0);
  certainty /= static_cast<double>(std::max<size_t>(1, in.out_alpha->a.size()));
  const double face_opaque = fs.n ? static_cast<double>(fs.opaque) / static_cast<double>(fs.n) : 0;
  const bool hole = face_opaque < lim.face_opaque_min;
  add("cutout_confidence", certainty, lim.certainty_min, 1, certainty >= lim.certainty_min && !hole, hole,
      hole ? fmt("the mask misses %.0f %% of the face", 100 * (1 - face_opaque)) : "mean |2 alpha - 1| over the frame");

  bool any_hard = false, any_soft = false;
  for (const auto& r : rep.rules)
    if (!r.pass) (r.hard ? any_hard : any_soft) = true;
  rep.overall = any_hard ? verdict::fail : any_soft ? verdict::warn : verdict::pass;
  return rep;
}

}  // namespace idphoto::pipeline

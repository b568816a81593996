// The compliance report of a framed ID photo: one row per rule (value, allowed range,
// pass, hard) and a verdict — fail when a hard rule fails, warn when only soft ones do.
// Thresholds and their sources: docs/specs.md.
#pragma once
#include <string>
#include <vector>

#include "image/image.hpp"
#include "pipeline/face_geometry.hpp"
#include "pipeline/id_spec.hpp"
#include "pipeline/planes.hpp"

namespace idphoto::pipeline {

struct rule_result {
  std::string rule;  // one_face, head_height, eye_line, centring, roll, yaw, pitch, eyes_open, mouth_closed,
                     // sharpness, exposure, lighting_balance, source_resolution, frame_filled,
                     // background_colour, cutout_confidence
  double value = 0, min = 0, max = 0;  // fractions of the output height/width, degrees, px, or 1/0
  bool pass = false;
  bool hard = true;  // a failing hard rule makes the verdict "fail"; a soft one "warn"
  std::string note;  // one line for people, "" when there is nothing to add
};

enum class verdict { pass, warn, fail };
const char* verdict_name(verdict v);  // "pass", "warn", "fail"

struct compliance_report {
  verdict overall = verdict::pass;
  std::vector<rule_result> rules;
  const rule_result* find(const std::string& rule) const;
};

// Thresholds not set by a spec (docs/specs.md gives each one's source).
struct compliance_limits {
  double roll_max_deg = 8, yaw_max_deg = 5, pitch_max_deg = 5;  // ICAO TR Portrait Quality
  double pose_hard_margin_deg =
      7;  // yaw/pitch fail hard beyond max + this: about the 95th-percentile error of our estimator (docs/specs.md)
  double centre_min = 0.45, centre_max = 0.55;  // ISO/IEC 19794-5 face centre, fraction of the width
  double eye_open_min = 0.02;                   // OFIQ EyesOpen sigmoid centre: lid gap / eye-to-chin
  double mouth_open_max = 0.08;                 // OFIQ MouthClosed: x0 - 2w (0.2 - 2 x 0.06)
  double blur_max_px = 2.0;                     // ours: edge blur (Gaussian sigma) in output pixels
  double luma_min = 0.2, luma_max = 0.8;        // OFIQ LuminanceMean sigmoid centres
  double clipped_max = 0.10;                    // ours: share of face pixels <= 25 or >= 247
  double balance_min = 0.7;                     // ours: darker / brighter half of the face
  double background_tolerance = 8;              // ours: RGB distance to an allowed colour
  double certainty_min = 0.9;                   // ours: mean |2a - 1| over the frame
  double face_opaque_min = 0.9;                 // ours: share of the face with alpha >= 0.5
};

// What assess() looks at: the framed output and how it was made.
struct compliance_input {
  const id_spec* spec = nullptr;
  const face_points* face = nullptr;  // in photo pixels
  const crown_result* crown = nullptr;
  double yaw_deg = 0, pitch_deg = 0;
  int n_faces = 0;   // detections above the score threshold
  double scale = 1;  // output px per photo px
  vec2 out_eye_left, out_eye_right, out_chin, out_crown, out_mouth, out_nose, out_forehead;  // output pixels
  vec2 out_side_left, out_side_right;
  double out_face_centre_x = 0;            // the face centre line, output pixels
  const rgb8_plane* out_rgb = nullptr;     // the framed output
  const alpha_plane* out_alpha = nullptr;  // its mask
  double outside_fraction = 0, outside_person_fraction = 0;
  image::rgb8 background;
  bool transparent = false;
  bool bands_conflict = false;
};

// Never fails: every rule gets a row (a rule that cannot be measured fails with a note).
compliance_report assess(const compliance_input& in, const compliance_limits& lim = {});

// Edge blur of an RGB region, as a Gaussian sigma in pixels: 0.8 x mean |gradient| /
// mean |Laplacian| of the luma over pixels with alpha >= 0.5 (see compliance.cpp).
// Returns -1 when the region has no edges to measure.
double edge_blur_px(const rgb8_plane& rgb, const alpha_plane& alpha, int x0, int y0, int x1, int y1);

// JSON objects (snake_case) for --json: {"verdict": ..., "rules": [...]}.
std::string compliance_json(const compliance_report& r);

}  // namespace idphoto::pipeline

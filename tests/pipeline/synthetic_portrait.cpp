// Synthetic portraits for the framing tests (see synthetic_portrait.hpp).
#include "pipeline/synthetic_portrait.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace synth {

using idphoto::pipeline::vec2;

namespace {

bool in_ellipse(double x, double y, double cx, double cy, double ax, double ay) {
  const double dx = (x - cx) / ax, dy = (y - cy) / ay;
  return dx * dx + dy * dy <= 1;
}

struct sample {
  double rgb[3];
  double a;
};

// The scene at face millimetres (x right, y down, origin at the eye midpoint).
sample scene(double x, double y, const portrait_options& o, double wx, double wy) {
  const auto& f = o.face;
  sample s{
      {double(o.wall.r) + 10 * std::sin(wx * 0.013), double(o.wall.g) + 10 * std::sin(wy * 0.011), double(o.wall.b)},
      0};
  auto set = [&](double r, double g, double b) {
    s.rgb[0] = r, s.rgb[1] = g, s.rgb[2] = b;
    s.a = 1;
  };
  const double tex = 6 * std::sin(x * 1.3) * std::sin(y * 1.7);
  if (in_ellipse(x, y, 0, 260, 230, 110) || (std::fabs(x) <= 35 && y >= 90 && y <= 170))
    set(40 + tex, 60 + tex, 110 + tex);                                                 // shirt
  if (std::fabs(x) <= 35 && y >= 90 && y <= 160) set(205 + tex, 160 + tex, 135 + tex);  // neck
  const double crown = f.crown_mm;
  if (in_ellipse(x, y, 0, -20, 85, crown - 20) && y < 60) set(60 + tex, 45 + tex, 30 + tex);  // hair
  if (in_ellipse(x, y, 0, 22, 72, 90)) {                                                      // face
    set(215 + tex, 170 + tex, 145 + tex);
    if (x < 0)
      for (double& c : s.rgb) c *= o.left_cheek_gain;
  }
  if (y > -16 && y < -10 && std::fabs(x) > 16 && std::fabs(x) < 47) set(50, 35, 25);  // brows
  for (const double ex : {-31.5, 31.5}) {
    if (in_ellipse(x, y, ex, 0.5, 14, std::max(0.4, f.eye_half_height_mm))) {
      set(240, 240, 235);
      if (in_ellipse(x, y, ex, 0.5, 5.5, std::min(5.5, std::max(0.4, f.eye_half_height_mm)))) set(60, 40, 30);
      if (f.eye_half_height_mm < 1) set(150, 100, 80);  // closed: a lid line
    }
  }
  if (in_ellipse(x, y, 0, 42, 9, 6)) set(185 + tex, 135 + tex, 115 + tex);  // nose shading
  if (in_ellipse(x, y, 0, 69.5, 25, std::max(2.5, f.mouth_gap_mm / 2 + 2.5))) {
    set(170, 70, 70);
    if (in_ellipse(x, y, 0, 69.5, 20, f.mouth_gap_mm / 2)) set(50, 15, 20);  // open mouth
  }
  return s;
}

}  // namespace

portrait make_portrait(const portrait_options& o) {
  portrait p;
  const auto& f = o.face;
  const double mm_per_px = idphoto::pipeline::reference_eye_distance_mm / f.eye_distance_px;
  const double ca = std::cos(f.roll_deg * M_PI / 180), sa = std::sin(f.roll_deg * M_PI / 180);
  p.rgb.width = p.alpha.width = o.width;
  p.rgb.height = p.alpha.height = o.height;
  p.rgb.px.resize(size_t(o.width) * o.height * 3);
  p.alpha.a.resize(size_t(o.width) * o.height);
  // A second person: same drawing at 0.45x, placed to the right.
  portrait_options o2 = o;
  o2.face.eye_distance_px = f.eye_distance_px * 0.45;
  o2.face.centre_x = f.centre_x + 4.2 * f.eye_distance_px;
  const double mm2 = idphoto::pipeline::reference_eye_distance_mm / o2.face.eye_distance_px;
  for (int y = 0; y < o.height; ++y)
    for (int x = 0; x < o.width; ++x) {
      double acc[3] = {0, 0, 0}, acc_a = 0;
      for (int j = 0; j < 2; ++j)
        for (int i = 0; i < 2; ++i) {
          const double px = x + 0.25 + 0.5 * i, py = y + 0.25 + 0.5 * j;
          // Photo pixels -> face mm: undo the centre, the roll (clockwise positive) and the scale.
          const double dx = px - f.centre_x, dy = py - f.centre_y;
          const double fx = (ca * dx + sa * dy) * mm_per_px, fy = (-sa * dx + ca * dy) * mm_per_px;
          sample s = scene(fx, fy, o, px, py);
          if (o.second_face && s.a == 0) {
            const double dx2 = px - o2.face.centre_x, dy2 = py - o2.face.centre_y;
            const sample s2 = scene((ca * dx2 + sa * dy2) * mm2, (-sa * dx2 + ca * dy2) * mm2, o2, px, py);
            if (s2.a > 0) s = s2, s.a = 0;  // drawn, but not in this person's mask
          }
          for (int k = 0; k < 3; ++k) acc[k] += s.rgb[k];
          acc_a += s.a;
        }
      uint8_t* d = p.rgb.px.data() + (size_t(y) * o.width + x) * 3;
      for (int k = 0; k < 3; ++k)
        d[k] = static_cast<uint8_t>(std::clamp(std::lround(acc[k] / 4 * o.brightness), 0L, 255L));
      p.alpha.at(x, y) = static_cast<float>(acc_a / 4);
    }
  p.photo = std::move(idphoto::image::from_pixels(p.rgb.px, o.width, o.height, 3).value());
  p.mesh = idphoto::pipeline::make_synthetic_mesh(f);
  p.crown = idphoto::pipeline::synthetic_crown(f);
  auto box_of = [](const idphoto::pipeline::synthetic_face& sf) {
    idphoto::face::detection d;
    const double r = sf.eye_distance_px * 1.2;
    d.x0 = float(sf.centre_x - r), d.x1 = float(sf.centre_x + r), d.y0 = float(sf.centre_y - r * 0.8),
    d.y1 = float(sf.centre_y + r * 1.6);
    d.score = 0.95f;
    return d;
  };
  p.faces.push_back(box_of(f));
  if (o.second_face) p.faces.push_back(box_of(o2.face));
  return p;
}

}  // namespace synth

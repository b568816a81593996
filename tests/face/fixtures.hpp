// Fixtures for the face tests: one shared analyser on the real models, licence-clear photos
// from Debian packages decoded with src/image, and synthetic copies (turned, shifted, scaled).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "face/face.hpp"

namespace face_test {

using idphoto::face::point;

struct rgb_image {
  int width = 0, height = 0;
  std::vector<uint8_t> px;
  idphoto::face::rgb_view view() const { return {px.data(), width, height}; }
};

// Debian facedetect: a public-domain US Navy portrait of Grace Hopper, 512 x 512.
const char* grace_hopper_path();
// Debian python3-skimage: NASA's astronaut portrait of Eileen Collins (public domain), 512 x 512.
const char* astronaut_path();
// Photos with no face: facedetect's iceberg (640 x 427) and skimage's coffee cup (600 x 400, CC0).
const char* iceberg_path();
const char* coffee_path();
// The repository's models/ folder (scripts/fetch-models).
std::string models_dir();
// One analyser on models_dir(), made on first use; aborts the test binary (after a
// failure saying why) when the models cannot be opened.
idphoto::face::face_analyser& analyser();

// Decoded, upright, 8-bit sRGB; width 0 (and a message on stderr) when it cannot be read.
rgb_image load(const std::string& path);

// p' = scale * R(angle) * p + shift (angle in degrees, positive turns x towards y, i.e.
// clockwise on screen), in the photo coordinates of face.hpp (pixel centres at +0.5).
struct similarity {
  double scale = 1, angle_deg = 0, tx = 0, ty = 0;
  point apply(point p) const;
};

// The w x h image whose pixel at q shows the source at t^-1(q) (bilinear; mid-grey outside).
// The test's own code: it does not trust the module's sampler.
rgb_image warp(const rgb_image& src, const similarity& t, int w, int h);
// a and b side by side on a mid-grey canvas, b's top-left at (a.width + gap, 0).
rgb_image side_by_side(const rgb_image& a, const rgb_image& b, int gap);

}  // namespace face_test

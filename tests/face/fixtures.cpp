// Fixtures for the face tests: the shared analyser, decoding with src/image (libvips), and
// synthetic similarity transforms of photos with the test's own bilinear warp.
#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numbers>

#include "image/decode.hpp"
#include "image/image.hpp"
#include "image/ops.hpp"

namespace face_test {

const char* grace_hopper_path() { return "/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg"; }
const char* astronaut_path() { return "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"; }
const char* iceberg_path() { return "/usr/share/doc/facedetect/examples/640px-IceBlockNearJoekullsarlon.jpg"; }
const char* coffee_path() { return "/usr/lib/python3/dist-packages/skimage/data/coffee.png"; }
std::string models_dir() { return std::string(IDPHOTO_SOURCE_DIR) + "/models"; }

idphoto::face::face_analyser& analyser() {
  static std::unique_ptr<idphoto::face::face_analyser> a = [] {
    idphoto::face::face_config c;
    c.models_dir = models_dir();
    auto r = idphoto::face::face_analyser::create(c);
    if (!r.ok()) {
      ADD_FAILURE() << "face_analyser::create: " << r.err().to_string();
      return std::unique_ptr<idphoto::face::face_analyser>();
    }
    return std::move(*r);
  }();
  if (!a) std::abort();
  return *a;
}

rgb_image load(const std::string& path) {
  namespace im = idphoto::image;
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "face_test: cannot read %s: %s\n", path.c_str(), why.c_str());
    return rgb_image{};
  };
  if (auto ok = im::init_vips(1); !ok.ok()) return fail(ok.err().to_string());
  im::decode_options o;
  o.max_width = o.max_height = 0;
  auto d = im::decode_file(path, o);
  if (!d.ok()) return fail(d.err().to_string());
  auto up = im::orient(*d);
  if (!up.ok()) return fail(up.err().to_string());
  auto srgb = im::to_srgb(*up);
  if (!srgb.ok()) return fail(srgb.err().to_string());
  auto px = im::to_rgb8(srgb->rgb);
  if (!px.ok()) return fail(px.err().to_string());
  return {px->width, px->height, std::move(px->data)};
}

point similarity::apply(point p) const {
  const double a = angle_deg * std::numbers::pi / 180, c = std::cos(a), s = std::sin(a);
  return {static_cast<float>(scale * (c * p.x - s * p.y) + tx), static_cast<float>(scale * (s * p.x + c * p.y) + ty)};
}

rgb_image warp(const rgb_image& src, const similarity& t, int w, int h) {
  rgb_image out{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, 128)};
  const double a = t.angle_deg * std::numbers::pi / 180, c = std::cos(a), s = std::sin(a);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      // Inverse: p = R^-1 (q - t) / scale, at the output pixel's centre.
      const double qx = x + 0.5 - t.tx, qy = y + 0.5 - t.ty;
      const double px = (c * qx + s * qy) / t.scale - 0.5, py = (-s * qx + c * qy) / t.scale - 0.5;
      const double fx = std::floor(px), fy = std::floor(py);
      const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
      if (x0 < 0 || y0 < 0 || x0 >= src.width || y0 >= src.height) continue;
      const int x1 = std::min(x0 + 1, src.width - 1), y1 = std::min(y0 + 1, src.height - 1);
      const double wx = px - fx, wy = py - fy;
      for (int ch = 0; ch < 3; ++ch) {
        auto at = [&](int xx, int yy) {
          return static_cast<double>(src.px[(static_cast<size_t>(yy) * src.width + xx) * 3 + ch]);
        };
        const double v =
            (1 - wy) * ((1 - wx) * at(x0, y0) + wx * at(x1, y0)) + wy * ((1 - wx) * at(x0, y1) + wx * at(x1, y1));
        out.px[(static_cast<size_t>(y) * w + x) * 3 + ch] = static_cast<uint8_t>(std::lround(v));
      }
    }
  return out;
}

rgb_image side_by_side(const rgb_image& a, const rgb_image& b, int gap) {
  rgb_image out;
  out.width = a.width + gap + b.width;
  out.height = std::max(a.height, b.height);
  out.px.assign(static_cast<size_t>(out.width) * out.height * 3, 128);
  auto blit = [&](const rgb_image& im, int ox) {
    for (int y = 0; y < im.height; ++y)
      for (int x = 0; x < im.width; ++x)
        for (int ch = 0; ch < 3; ++ch)
          out.px[(static_cast<size_t>(y) * out.width + ox + x) * 3 + ch] =
              im.px[(static_cast<size_t>(y) * im.width + x) * 3 + ch];
  };
  blit(a, 0);
  blit(b, a.width + gap);
  return out;
}

}  // namespace face_test

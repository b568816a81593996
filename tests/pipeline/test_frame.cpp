// Framing on synthetic portraits: the frame follows shifted, scaled and rotated copies;
// every spec's exact pixels and dpi in the file; the size limit; bad input.
#include <gtest/gtest.h>
#include <vips/vips.h>

#include <cmath>
#include <cstring>

#include "image/gen.hpp"
#include "image/resolution.hpp"
#include "pipeline/frame.hpp"
#include "pipeline/synthetic_portrait.hpp"

using namespace idphoto;

namespace {

synth::portrait_options base_options() {
  synth::portrait_options o;
  o.width = 1100, o.height = 1500;
  o.face.centre_x = 550, o.face.centre_y = 600, o.face.eye_distance_px = 140;
  return o;
}

base::result<pipeline::framed_photo> frame(const synth::portrait& p, const std::string& spec_name,
                                           pipeline::frame_options fo = {}) {
  auto spec = pipeline::resolve_spec(spec_name);
  if (!spec.ok()) return spec.err();
  return pipeline::frame_photo(p.photo, p.alpha, 1.0, p.mesh, p.faces, *spec, fo);
}

// PNG pHYs (pixels per metre, unit 1) or JPEG JFIF density (unit 1 = dpi): the dpi written in the file.
double file_dpi(const std::vector<uint8_t>& b) {
  if (b.size() > 8 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') {
    for (size_t i = 8; i + 12 <= b.size();) {
      const uint32_t len = gen::get_be32(b, i);
      if (std::memcmp(b.data() + i + 4, "pHYs", 4) == 0 && len == 9) {
        const uint32_t ppm = gen::get_be32(b, i + 8);
        return b[i + 16] == 1 ? ppm * 0.0254 : -2;
      }
      i += 12 + len;
    }
    return -1;
  }
  if (b.size() > 20 && b[0] == 0xFF && b[1] == 0xD8) {
    for (size_t i = 2; i + 16 < b.size(); ++i)
      if (b[i] == 0xFF && b[i + 1] == 0xE0 && std::memcmp(b.data() + i + 4, "JFIF", 5) == 0) {
        const int unit = b[i + 11];
        const int xd = (b[i + 12] << 8) | b[i + 13];
        return unit == 1 ? xd : unit == 2 ? xd * 2.54 : -2;
      }
  }
  return -1;
}

std::vector<uint8_t> decoded_rgb(const std::vector<uint8_t>& b) {
  VipsImage* im = vips_image_new_from_buffer(b.data(), b.size(), "", nullptr);
  if (!im) return {};
  size_t len = 0;
  void* mem = vips_image_write_to_memory(im, &len);
  std::vector<uint8_t> out(static_cast<uint8_t*>(mem), static_cast<uint8_t*>(mem) + len);
  g_free(mem);
  g_object_unref(im);
  return out;
}

std::pair<int, int> decoded_size(const std::vector<uint8_t>& b) {
  VipsImage* im = vips_image_new_from_buffer(b.data(), b.size(), "", nullptr);
  if (!im) return {-1, -1};
  const std::pair<int, int> r{vips_image_get_width(im), vips_image_get_height(im)};
  g_object_unref(im);
  return r;
}

}  // namespace

TEST(frame, head_and_eyes_at_their_band_centres) {
  gen::init();
  auto p = synth::make_portrait(base_options());
  for (const char* name : {"icao-35x45", "us-2x2", "canada-50x70", "schengen-visa", "uk-35x45"}) {
    auto r = frame(p, name);
    ASSERT_TRUE(r.ok()) << name << ": " << r.err().to_string();
    const auto* head = r->compliance.find("head_height");
    const auto* eyes = r->compliance.find("eye_line");
    ASSERT_TRUE(head && eyes);
    auto spec = pipeline::resolve_spec(name);
    EXPECT_NEAR(head->value, spec->head.centre(), 2.0 / spec->height_px) << name;  // within 2 output px
    EXPECT_TRUE(eyes->pass) << name << " eye line " << eyes->value;
    // The eye line is at its band centre, unless the 3 % top margin moved it (inside the band).
    const double crown_y = r->transform.to_output(r->face.crown).y;
    if (crown_y > 0.03 * spec->height_px + 1)
      EXPECT_NEAR(eyes->value, spec->eyes.centre(), 1.0 / spec->height_px) << name;
    else EXPECT_NEAR(crown_y, 0.03 * spec->height_px, 1.0) << name;
    EXPECT_TRUE(r->compliance.find("centring")->pass) << name;
  }
  // China: the crown sits at the centre of its 3-5 mm margin.
  auto cn = frame(p, "china-33x48");
  ASSERT_TRUE(cn.ok());
  const auto spec = pipeline::resolve_spec("china-33x48");
  const pipeline::vec2 crown_out = cn->transform.to_output(cn->face.crown);
  EXPECT_NEAR(crown_out.y / spec->height_px * 48, 4.0, 0.1);
}

TEST(frame, follows_shifted_scaled_and_rotated_copies) {
  gen::init();
  auto base = base_options();
  auto ref = synth::make_portrait(base);
  auto r0 = frame(ref, "icao-35x45");
  ASSERT_TRUE(r0.ok()) << r0.err().to_string();
  const pipeline::vec2 e0l = r0->transform.to_output(r0->face.eyes[0]), e0r = r0->transform.to_output(r0->face.eyes[1]);
  const pipeline::vec2 c0 = r0->transform.to_output(r0->face.chin);
  struct variant {
    const char* what;
    double dx, dy, k, roll;
  } vs[] = {{"shifted", -120, 90, 1, 0},
            {"scaled 1.5x", 0, 0, 1.5, 0},
            {"scaled 0.8x", 0, 0, 0.8, 0},
            {"rotated 12 deg", 0, 0, 1, 12},
            {"rotated -20 deg, shifted, scaled", 60, -40, 1.25, -20}};
  for (const auto& v : vs) {
    auto o = base;
    o.width = static_cast<int>(base.width * v.k);
    o.height = static_cast<int>(base.height * v.k);
    o.face.centre_x = base.face.centre_x * v.k + v.dx;
    o.face.centre_y = base.face.centre_y * v.k + v.dy;
    o.face.eye_distance_px = base.face.eye_distance_px * v.k;
    o.face.roll_deg = v.roll;
    auto p = synth::make_portrait(o);
    auto r = frame(p, "icao-35x45");
    ASSERT_TRUE(r.ok()) << v.what << ": " << r.err().to_string();
    const pipeline::vec2 el = r->transform.to_output(r->face.eyes[0]), er = r->transform.to_output(r->face.eyes[1]);
    const pipeline::vec2 c = r->transform.to_output(r->face.chin);
    EXPECT_NEAR(el.x, e0l.x, 0.5) << v.what;
    EXPECT_NEAR(el.y, e0l.y, 0.5) << v.what;
    EXPECT_NEAR(er.x, e0r.x, 0.5) << v.what;
    EXPECT_NEAR(er.y, e0r.y, 0.5) << v.what;
    EXPECT_NEAR(c.y, c0.y, 1.0) << v.what;
    EXPECT_NEAR(r->face.roll_deg, v.roll, 0.05) << v.what;
    // The same picture: the face region of the two outputs agrees (up to resampling).
    const auto a = decoded_rgb(r0->file.bytes), b = decoded_rgb(r->file.bytes);
    ASSERT_EQ(a.size(), b.size());
    double diff = 0;
    size_t n = 0;
    const int w = r->width;
    for (int y = static_cast<int>(e0l.y - 60); y < static_cast<int>(c0.y); ++y)
      for (int x = static_cast<int>(e0l.x - 40); x < static_cast<int>(e0r.x + 40); ++x)
        for (int k = 0; k < 3; ++k, ++n)
          diff += std::fabs(double(a[(size_t(y) * w + x) * 3 + k]) - b[(size_t(y) * w + x) * 3 + k]);
    EXPECT_LT(diff / n, 6.0) << v.what << ": mean absolute difference in the face";
  }
}

TEST(frame, exact_pixels_and_dpi_of_every_spec) {
  gen::init();
  auto p = synth::make_portrait(base_options());
  const auto& cat = pipeline::builtin_catalogue();
  ASSERT_TRUE(cat.ok());
  for (const auto& spec : cat->specs) {
    for (double dpi : {0.0, 600.0}) {
      auto s = pipeline::at_dpi(spec, dpi);
      ASSERT_TRUE(s.ok());
      auto r = pipeline::frame_photo(p.photo, p.alpha, 1.0, p.mesh, p.faces, *s);
      ASSERT_TRUE(r.ok()) << spec.name << ": " << r.err().to_string();
      EXPECT_EQ(r->width, s->width_px) << spec.name;
      EXPECT_EQ(r->height, s->height_px) << spec.name;
      const auto [w, h] = decoded_size(r->file.bytes);
      EXPECT_EQ(w, s->width_px) << spec.name;
      EXPECT_EQ(h, s->height_px) << spec.name;
      // PNG stores pixels per metre (rounded), JPEG whole dots per inch.
      EXPECT_NEAR(file_dpi(r->file.bytes), s->dpi, 0.6) << spec.name << " at " << dpi;
      if (spec.file_format) {
        EXPECT_EQ(r->file.fmt, *spec.file_format) << spec.name;
      }
      if (spec.max_kb) {
        EXPECT_LE(r->file.bytes.size(), static_cast<size_t>(spec.max_kb) * 1000) << spec.name;
      }
    }
  }
}

TEST(frame, size_limit_by_jpeg_quality) {
  gen::init();
  // A noisy plane compresses badly: a real test of the search.
  pipeline::rgb8_plane px;
  px.width = 600, px.height = 600;
  px.px.resize(600 * 600 * 3);
  uint32_t s = 12345;
  for (auto& v : px.px) v = static_cast<uint8_t>((s = s * 1103515245 + 12345) >> 24);
  auto full = pipeline::encode_frame(px, 300, image::format::jpeg, 92, 0);
  ASSERT_TRUE(full.ok());
  ASSERT_GT(full->bytes.size(), 120000u);
  auto fit = pipeline::encode_frame(px, 300, image::format::jpeg, 92, 100);
  ASSERT_TRUE(fit.ok()) << fit.err().to_string();
  EXPECT_LE(fit->bytes.size(), 100000u);
  EXPECT_LT(fit->quality, 92);
  EXPECT_GE(fit->quality, 1);
  // The next quality up would not have fitted: the search found the best.
  auto up = pipeline::encode_frame(px, 300, image::format::jpeg, fit->quality + 1, 0);
  ASSERT_TRUE(up.ok());
  EXPECT_GT(up->bytes.size(), 100000u);
  EXPECT_NEAR(file_dpi(fit->bytes), 300, 0.01);
  auto tiny = pipeline::encode_frame(px, 300, image::format::jpeg, 92, 2);
  ASSERT_FALSE(tiny.ok());
  EXPECT_EQ(tiny.err().code, base::errc::too_large);
  auto png = pipeline::encode_frame(px, 300, image::format::png, 92, 50);
  ASSERT_FALSE(png.ok());
  EXPECT_EQ(png.err().code, base::errc::too_large);
  EXPECT_FALSE(pipeline::encode_frame(px, 300, image::format::webp, 92, 0).ok());
  EXPECT_FALSE(pipeline::encode_frame(px, 300, image::format::jpeg, 0, 0).ok());
  EXPECT_FALSE(pipeline::encode_frame(px, 0, image::format::jpeg, 90, 0).ok());
  EXPECT_FALSE(pipeline::encode_frame(px, 300, image::format::jpeg, 90, -1).ok());
  pipeline::rgb8_plane empty;
  EXPECT_FALSE(pipeline::encode_frame(empty, 300, image::format::png, 90, 0).ok());
}

TEST(frame, bad_input) {
  gen::init();
  auto p = synth::make_portrait(base_options());
  auto spec = pipeline::resolve_spec("icao-35x45");
  ASSERT_TRUE(spec.ok());
  image::image none;
  EXPECT_FALSE(pipeline::frame_photo(none, p.alpha, 1.0, p.mesh, p.faces, *spec).ok());
  face::mesh short_mesh = p.mesh;
  short_mesh.pts.resize(100);
  EXPECT_FALSE(pipeline::frame_photo(p.photo, p.alpha, 1.0, short_mesh, p.faces, *spec).ok());
  pipeline::alpha_plane empty;
  EXPECT_FALSE(pipeline::frame_photo(p.photo, empty, 1.0, p.mesh, p.faces, *spec).ok());
  EXPECT_FALSE(pipeline::frame_photo(p.photo, p.alpha, 0.5, p.mesh, p.faces, *spec).ok());  // mask is not at that scale
  EXPECT_FALSE(pipeline::frame_photo(p.photo, p.alpha, std::nan(""), p.mesh, p.faces, *spec).ok());
  auto far = p.mesh;
  for (auto& q : far.pts) q.x += 50000;
  EXPECT_FALSE(pipeline::frame_photo(p.photo, p.alpha, 1.0, far, p.faces, *spec).ok());
  auto broken = *spec;
  broken.backgrounds.clear();
  EXPECT_FALSE(pipeline::frame_photo(p.photo, p.alpha, 1.0, p.mesh, p.faces, broken).ok());
  broken = *spec;
  broken.width_px = 0;
  EXPECT_FALSE(pipeline::frame_photo(p.photo, p.alpha, 1.0, p.mesh, p.faces, broken).ok());
  pipeline::frame_options o;
  o.max_kb = 1;
  o.format = image::format::jpeg;
  auto r = pipeline::frame_photo(p.photo, p.alpha, 1.0, p.mesh, p.faces, *spec, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, base::errc::too_large);
  // A mask at a quarter of the photo's size works as well as a full one.
  auto quarter = pipeline::resize_alpha(p.alpha, p.alpha.width / 4, p.alpha.height / 4);
  auto q = pipeline::frame_photo(p.photo, quarter, 0.25, p.mesh, p.faces, *spec);
  ASSERT_TRUE(q.ok()) << q.err().to_string();
  EXPECT_NEAR(q->compliance.find("head_height")->value, spec->head.centre(), 0.01);
}

TEST(frame, image_resolution_helpers) {
  gen::init();
  auto im = gen::pattern(40, 30);
  auto tagged = image::with_dpi(im, 300);
  ASSERT_TRUE(tagged.ok());
  EXPECT_NEAR(*image::dpi_of(*tagged), 300, 1e-9);
  EXPECT_FALSE(image::with_dpi(im, 0).ok());
  EXPECT_FALSE(image::with_dpi(im, std::nan("")).ok());
  EXPECT_FALSE(image::with_dpi(image::image{}, 300).ok());
  EXPECT_FALSE(image::dpi_of(image::image{}).ok());
  auto c = image::crop(im, 5, 5, 10, 10);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->width(), 10);
  EXPECT_FALSE(image::crop(im, 35, 0, 10, 10).ok());
  EXPECT_FALSE(image::crop(im, -1, 0, 10, 10).ok());
  EXPECT_FALSE(image::crop(im, 0, 0, 0, 10).ok());
  EXPECT_FALSE(image::crop(image::image{}, 0, 0, 1, 1).ok());
  const auto jpeg = gen::save(im, ".jpg");
  auto d = image::with_jpeg_density(jpeg, 457.2);
  ASSERT_TRUE(d.ok());
  EXPECT_NEAR(file_dpi(*d), 457, 0);
  auto twice = image::with_jpeg_density(*d, 300);  // replaces, does not stack
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->size(), d->size());
  EXPECT_NEAR(file_dpi(*twice), 300, 0);
  EXPECT_EQ(decoded_size(*twice), (std::pair<int, int>{40, 30}));
  const std::vector<uint8_t> not_jpeg{1, 2, 3, 4, 5};
  EXPECT_FALSE(image::with_jpeg_density(not_jpeg, 300).ok());
  EXPECT_FALSE(image::with_jpeg_density(std::vector<uint8_t>{}, 300).ok());
  std::vector<uint8_t> bad_app0{0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF, 0x00};  // APP0 length past the end
  EXPECT_FALSE(image::with_jpeg_density(bad_app0, 300).ok());
  EXPECT_FALSE(image::with_jpeg_density(jpeg, 0).ok());
  EXPECT_FALSE(image::with_jpeg_density(jpeg, 1e6).ok());
}

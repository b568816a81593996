// to_model_input: squash / letterbox geometry and normalisation values on tiny
// generated images. mask_from_output: shape checks, cutting the letterbox back out,
// clamping, min-max rescaling, and NaN / infinity handling.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "image/gen.hpp"
#include "pipeline/model_spec.hpp"
#include "pipeline/to_model_input.hpp"

using namespace idphoto::pipeline;
using idphoto::base::errc;
using idphoto::infer::dtype;
using idphoto::infer::tensor;

namespace {

model_spec imgly() {
  model_spec s;  // defaults: (x - 128) / 256
  return s;
}

model_spec imagenet() {
  model_spec s;
  const float m[3] = {0.485f * 255, 0.456f * 255, 0.406f * 255}, d[3] = {0.229f * 255, 0.224f * 255, 0.225f * 255};
  for (int c = 0; c < 3; ++c) {
    s.mean[c] = m[c];
    s.std[c] = d[c];
  }
  s.minmax_output = true;
  return s;
}

float at(const tensor& t, int c, int y, int x) {
  const int S = static_cast<int>(t.shape[3]);
  return t.data<float>()[(static_cast<size_t>(c) * S + y) * S + x];
}

// A constant colour image: any resampling keeps it (up to one 8-bit level).
idphoto::image::image solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  return gen::make(w, h, 3, [=](int, int, int band) { return band == 0 ? r : band == 1 ? g : b; });
}

model_input input_with(int S, int cx, int cy, int cw, int ch) {
  model_input mi;
  mi.size_px = S;
  mi.content_x = cx;
  mi.content_y = cy;
  mi.content_w = cw;
  mi.content_h = ch;
  return mi;
}

}  // namespace

// Tolerance: one 8-bit level over std (1/256 for imgly): the resizer may round a
// constant colour by one level; a wrong mean or std is off by far more.
TEST(pipeline_to_model_input, squash_geometry_and_normalisation) {
  gen::init();
  const auto im = solid(5, 3, 10, 128, 250);
  for (int S : {8, 32}) {
    auto mi = to_model_input(im, imgly(), S, fit_mode::squash);
    ASSERT_TRUE(mi.ok()) << mi.err().to_string();
    EXPECT_EQ(mi->size_px, S);
    EXPECT_EQ(mi->t.type, dtype::f32);
    EXPECT_EQ(mi->t.shape, (idphoto::infer::shape_t{1, 3, S, S}));
    EXPECT_EQ(mi->content_x, 0);
    EXPECT_EQ(mi->content_y, 0);
    EXPECT_EQ(mi->content_w, S);
    EXPECT_EQ(mi->content_h, S);
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        EXPECT_NEAR(at(mi->t, 0, y, x), (10 - 128) / 256.f, 1.f / 256);
        EXPECT_NEAR(at(mi->t, 1, y, x), 0.f, 1.f / 256);
        EXPECT_NEAR(at(mi->t, 2, y, x), (250 - 128) / 256.f, 1.f / 256);
      }
  }
}

TEST(pipeline_to_model_input, imagenet_normalisation_per_channel) {
  gen::init();
  auto mi = to_model_input(solid(4, 4, 255, 0, 128), imagenet(), 8, fit_mode::squash);
  ASSERT_TRUE(mi.ok());
  const float want[3] = {(255 - 0.485f * 255) / (0.229f * 255), (0 - 0.456f * 255) / (0.224f * 255),
                         (128 - 0.406f * 255) / (0.225f * 255)};
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(at(mi->t, c, 4, 4), want[c], 1.f / (0.224f * 255)) << c;
}

TEST(pipeline_to_model_input, squash_keeps_left_right_layout) {
  gen::init();
  // Left half black, right half white, 6 x 2: squashed to 12 x 12 the left columns
  // are dark and the right columns bright.
  auto im = gen::make(6, 2, 3, [](int x, int, int) { return uint8_t(x < 3 ? 0 : 255); });
  auto mi = to_model_input(im, imgly(), 12, fit_mode::squash);
  ASSERT_TRUE(mi.ok());
  for (int y = 0; y < 12; ++y) {
    EXPECT_LT(at(mi->t, 0, y, 0), -0.4f);
    EXPECT_GT(at(mi->t, 0, y, 11), 0.4f);
  }
}

TEST(pipeline_to_model_input, letterbox_geometry_and_padding) {
  gen::init();
  struct geo_case {
    int w, h, S;
    int cx, cy, cw, ch;
  };
  const geo_case cases[] = {
      {4, 2, 8, 0, 2, 8, 4},                               // landscape 2:1
      {2, 4, 8, 2, 0, 4, 8},                               // portrait 1:2
      {3, 1, 8, 0, 2, 8, 3},                               // 8/3 = 2.67 rounds to 3 rows, centred (5 / 2 = 2)
      {5, 5, 8, 0, 0, 8, 8},                               // square: no padding
      {100, 1, 8, 0, 3, 8, 1},                             // a sliver keeps at least one row
      {1, 1, 16, 0, 0, 16, 16}, {7, 3, 32, 0, 9, 32, 14},  // 32 * 3 / 7 = 13.7 -> 14, (32 - 14) / 2 = 9
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(std::to_string(k.w) + "x" + std::to_string(k.h) + " in " + std::to_string(k.S));
    auto mi = to_model_input(solid(k.w, k.h, 250, 250, 250), imgly(), k.S, fit_mode::letterbox);
    ASSERT_TRUE(mi.ok()) << mi.err().to_string();
    EXPECT_EQ(mi->t.shape, (idphoto::infer::shape_t{1, 3, k.S, k.S}));
    EXPECT_EQ(mi->content_x, k.cx);
    EXPECT_EQ(mi->content_y, k.cy);
    EXPECT_EQ(mi->content_w, k.cw);
    EXPECT_EQ(mi->content_h, k.ch);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < k.S; ++y)
        for (int x = 0; x < k.S; ++x) {
          const bool inside = x >= k.cx && x < k.cx + k.cw && y >= k.cy && y < k.cy + k.ch;
          if (inside) ASSERT_NEAR(at(mi->t, c, y, x), (250 - 128) / 256.f, 1.f / 256) << x << "," << y;
          else
            ASSERT_EQ(at(mi->t, c, y, x), 0.f)
                << "padding is the mean colour, 0 after normalisation: " << x << "," << y;
        }
  }
}

TEST(pipeline_to_model_input, empty_image_is_an_error) {
  gen::init();
  for (fit_mode f : {fit_mode::squash, fit_mode::letterbox}) {
    auto r = to_model_input(idphoto::image::image{}, imgly(), 8, f);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::invalid_argument);
  }
}

// ---- mask_from_output

TEST(pipeline_mask_from_output, squash_copies_and_clamps) {
  const int S = 4;
  std::vector<float> v(S * S);
  for (int i = 0; i < S * S; ++i) v[i] = i / 10.f - 0.3f;  // -0.3 .. 1.2
  auto a = mask_from_output(tensor::from_f32({1, 1, S, S}, v), imgly(), input_with(S, 0, 0, S, S));
  ASSERT_TRUE(a.ok()) << a.err().to_string();
  EXPECT_EQ(a->width, S);
  EXPECT_EQ(a->height, S);
  for (int i = 0; i < S * S; ++i) EXPECT_FLOAT_EQ(a->a[i], std::clamp(v[i], 0.f, 1.f)) << i;
}

TEST(pipeline_mask_from_output, letterbox_cut_back_to_content) {
  const int S = 8;
  std::vector<float> v(S * S, 0.9f);  // padding rows say "foreground": must not leak in
  for (int y = 2; y < 6; ++y)
    for (int x = 0; x < S; ++x) v[y * S + x] = (y * S + x) / 100.f;
  auto a = mask_from_output(tensor::from_f32({1, 1, S, S}, v), imgly(), input_with(S, 0, 2, 8, 4));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->width, 8);
  EXPECT_EQ(a->height, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x) EXPECT_FLOAT_EQ(a->at(x, y), ((y + 2) * S + x) / 100.f);
}

TEST(pipeline_mask_from_output, wrong_shapes_refused) {
  const int S = 8;
  const model_input mi = input_with(S, 0, 0, S, S);
  const idphoto::infer::shape_t shapes[] = {
      {1, 1, S, S + 1}, {1, 1, S - 1, S}, {1, 2, S, S}, {2, 1, S, S}, {1, 1, S, S, 1},
      {S, S},           {1, S * S},       {},           {1, 1, 0, 0},
  };
  for (const auto& s : shapes) {
    tensor t = tensor::zeros(dtype::f32, s);
    auto r = mask_from_output(t, imgly(), mi);
    ASSERT_FALSE(r.ok()) << idphoto::infer::shape_str(s);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().detail.find(idphoto::infer::shape_str(s)), std::string::npos) << r.err().detail;
  }
}

TEST(pipeline_mask_from_output, wrong_type_or_short_buffer_refused) {
  // [1,1,S,S] by shape, but not S*S float32 values behind it: refused, never read.
  const int S = 16;
  const model_input mi = input_with(S, 0, 0, S, S);
  for (dtype d : {dtype::f16, dtype::u8, dtype::i64, dtype::f64}) {
    tensor t = tensor::zeros(d, {1, 1, S, S});
    auto r = mask_from_output(t, imgly(), mi);
    ASSERT_FALSE(r.ok()) << idphoto::infer::dtype_name(d);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
  }
  tensor short_buf;
  short_buf.type = dtype::f32;
  short_buf.shape = {1, 1, S, S};
  short_buf.bytes.resize(10);
  auto r = mask_from_output(short_buf, imgly(), mi);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
}

TEST(pipeline_mask_from_output, nan_and_infinity_become_background) {
  const int S = 4;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> v(S * S, 0.75f);
  v[0] = nan;
  v[5] = inf;
  v[6] = -inf;
  v[15] = -nan;
  auto a = mask_from_output(tensor::from_f32({1, 1, S, S}, v), imgly(), input_with(S, 0, 0, S, S));
  ASSERT_TRUE(a.ok());
  for (int i = 0; i < S * S; ++i) {
    ASSERT_TRUE(std::isfinite(a->a[i])) << i;
    EXPECT_EQ(a->a[i], (i == 0 || i == 5 || i == 6 || i == 15) ? 0.f : 0.75f) << i;
  }
}

TEST(pipeline_mask_from_output, minmax_rescales_by_the_finite_values) {
  const int S = 4;
  std::vector<float> v(S * S);
  for (int i = 0; i < S * S; ++i) v[i] = 2.f + i;  // 2 .. 17
  auto a = mask_from_output(tensor::from_f32({1, 1, S, S}, v), imagenet(), input_with(S, 0, 0, S, S));
  ASSERT_TRUE(a.ok());
  EXPECT_FLOAT_EQ(a->a[0], 0.f);
  EXPECT_FLOAT_EQ(a->a[15], 1.f);
  EXPECT_FLOAT_EQ(a->a[5], 5.f / 15.f);

  // Constant output: no range, all background, no division by zero.
  std::vector<float> flat(S * S, 3.f);
  auto f = mask_from_output(tensor::from_f32({1, 1, S, S}, flat), imagenet(), input_with(S, 0, 0, S, S));
  ASSERT_TRUE(f.ok());
  for (float x : f->a) EXPECT_EQ(x, 0.f);

  // NaN first (where min/max scans start) and +-infinity: the non-finite pixels are
  // background, the others are rescaled by the finite min and max (2 .. 17).
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> w = v;
  w[0] = nan;
  w[3] = -inf;
  w[9] = inf;
  auto r = mask_from_output(tensor::from_f32({1, 1, S, S}, w), imagenet(), input_with(S, 0, 0, S, S));
  ASSERT_TRUE(r.ok());
  for (int i = 0; i < S * S; ++i) {
    ASSERT_TRUE(std::isfinite(r->a[i])) << i << " = " << r->a[i];
    if (i == 0 || i == 3 || i == 9) EXPECT_EQ(r->a[i], 0.f) << i;
    else EXPECT_NEAR(r->a[i], (v[i] - 3.f) / (17.f - 3.f), 1e-6) << i;  // finite min is v[1] = 3
  }
  // All NaN: all background.
  std::vector<float> all_nan(S * S, nan);
  auto n = mask_from_output(tensor::from_f32({1, 1, S, S}, all_nan), imagenet(), input_with(S, 0, 0, S, S));
  ASSERT_TRUE(n.ok());
  for (float x : n->a) EXPECT_EQ(x, 0.f);
}

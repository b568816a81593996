// BlazeFace's post-processing with hand-computed answers: the 896 anchors, the decoding of
// box and key-point offsets and scores, IoU, and weighted NMS.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "face/anchors.hpp"
#include "face/blazeface_decode.hpp"
#include "face/weighted_nms.hpp"

using namespace idphoto::face;

namespace {

detection box(float x0, float y0, float x1, float y1, float score) {
  detection d;
  d.x0 = x0;
  d.y0 = y0;
  d.x1 = x1;
  d.y1 = y1;
  d.score = score;
  for (int k = 0; k < 6; ++k) d.keypoints[k] = {x0 + static_cast<float>(k), y0 + 2 * static_cast<float>(k)};
  return d;
}

}  // namespace

// Strides 8, 16, 16, 16 on 128 px: a 16 x 16 map with 2 anchors per cell, then the three
// stride-16 layers merged into one 8 x 8 map with 6 per cell.
TEST(anchors, short_range_front_layout) {
  const std::vector<anchor> a = make_anchors();
  ASSERT_EQ(a.size(), 896u);
  auto at = [&](size_t i, float x, float y) {
    EXPECT_FLOAT_EQ(a[i].x, x) << "anchor " << i;
    EXPECT_FLOAT_EQ(a[i].y, y) << "anchor " << i;
  };
  at(0, 0.5f / 16, 0.5f / 16);
  at(1, 0.5f / 16, 0.5f / 16);   // the cell's second slot
  at(2, 1.5f / 16, 0.5f / 16);   // next cell to the right
  at(32, 0.5f / 16, 1.5f / 16);  // next row: 16 cells x 2 slots later
  at(511, 15.5f / 16, 15.5f / 16);
  for (size_t i = 512; i < 518; ++i) at(i, 0.5f / 8, 0.5f / 8);  // 6 slots in the first 8x8 cell
  at(518, 1.5f / 8, 0.5f / 8);
  at(512 + 6 * 8, 0.5f / 8, 1.5f / 8);
  at(895, 7.5f / 8, 7.5f / 8);
}

TEST(anchors, other_options_and_bad_options) {
  anchor_options o;
  o.strides = {8, 16};
  o.anchors_per_layer = 1;
  EXPECT_EQ(make_anchors(o).size(), 16u * 16 + 8 * 8);
  o.input_width = 100;  // ceil(100 / 8) = 13 and ceil(100 / 16) = 7 columns
  o.input_height = 64;  // 8 and 4 rows
  const auto a = make_anchors(o);
  ASSERT_EQ(a.size(), 13u * 8 + 7 * 4);
  EXPECT_FLOAT_EQ(a[12].x, 12.5f / 13);
  EXPECT_FLOAT_EQ(a[13].y, 1.5f / 8);
  for (anchor_options bad :
       {anchor_options{0}, anchor_options{128, -1}, anchor_options{128, 128, {8, 0}}, anchor_options{128, 128, {8}, 0}})
    EXPECT_TRUE(make_anchors(bad).empty());
}

// One anchor at (0.5, 0.5): offsets in input px / 128, sizes / 128.
TEST(decode, offsets_sizes_keypoints_and_scores) {
  const std::vector<anchor> a = {{0.5f, 0.5f}, {0.25f, 0.75f}};
  std::vector<float> raw(32, 0.f);
  raw[0] = 12.8f;  // cx = 0.5 + 0.1
  raw[1] = -6.4f;  // cy = 0.5 - 0.05
  raw[2] = 25.6f;  // w = 0.2
  raw[3] = 38.4f;  // h = 0.3
  for (int k = 0; k < 6; ++k) {
    raw[4 + 2 * k] = 1.28f * static_cast<float>(k);   // + 0.01 k
    raw[5 + 2 * k] = -2.56f * static_cast<float>(k);  // - 0.02 k
  }
  raw[16 + 2] = raw[16 + 3] = 12.8f;               // second anchor: a 0.1 x 0.1 box at its centre
  const std::vector<float> logits = {0.f, 200.f};  // sigmoid(0) = 0.5; 200 is clipped to 100
  const auto d = decode_candidates(logits.data(), raw.data(), a);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_FLOAT_EQ(d[0].score, 0.5f);
  EXPECT_NEAR(d[0].x0, 0.5f, 1e-6);
  EXPECT_NEAR(d[0].x1, 0.7f, 1e-6);
  EXPECT_NEAR(d[0].y0, 0.3f, 1e-6);
  EXPECT_NEAR(d[0].y1, 0.6f, 1e-6);
  for (int k = 0; k < 6; ++k) {
    EXPECT_NEAR(d[0].keypoints[k].x, 0.5f + 0.01f * static_cast<float>(k), 1e-6);
    EXPECT_NEAR(d[0].keypoints[k].y, 0.5f - 0.02f * static_cast<float>(k), 1e-6);
  }
  EXPECT_FLOAT_EQ(d[1].score, 1.f);
  EXPECT_NEAR(d[1].x0, 0.2f, 1e-6);
  EXPECT_NEAR(d[1].y1, 0.8f, 1e-6);
  EXPECT_NEAR(d[1].keypoints[3].x, 0.25f, 1e-6);
}

TEST(decode, threshold_and_bad_values_are_dropped) {
  const std::vector<anchor> a(5, anchor{0.5f, 0.5f});
  std::vector<float> raw(5 * 16, 0.f);
  for (int i = 0; i < 5; ++i) raw[i * 16 + 2] = raw[i * 16 + 3] = 10.f;
  raw[2 * 16 + 2] = -10.f;                  // anchor 2: negative width
  raw[3 * 16 + 5] = std::nanf("");          // anchor 3: a NaN key point
  const std::vector<float> logits = {-1.f,  // 0.269 < 0.5
                                     std::nanf(""), 5.f, 5.f, 5.f};
  decode_options o;
  o.min_score = 0.5f;
  const auto d = decode_candidates(logits.data(), raw.data(), a, o);
  ASSERT_EQ(d.size(), 1u);  // only anchor 4
  EXPECT_NEAR(d[0].score, 1.f / (1.f + std::exp(-5.f)), 1e-6);
  o.min_score = 0.25f;
  EXPECT_EQ(decode_candidates(logits.data(), raw.data(), a, o).size(), 2u);  // anchor 0 too
}

TEST(nms, iou_by_hand) {
  EXPECT_FLOAT_EQ(iou(box(0, 0, 2, 2, 1), box(0, 0, 2, 2, 1)), 1.f);
  EXPECT_FLOAT_EQ(iou(box(0, 0, 2, 2, 1), box(1, 0, 3, 2, 1)), 2.f / 6.f);  // overlap 1x2 of 4+4-2
  EXPECT_FLOAT_EQ(iou(box(0, 0, 1, 1, 1), box(1, 0, 2, 1, 1)), 0.f);        // touching
  EXPECT_FLOAT_EQ(iou(box(0, 0, 1, 1, 1), box(5, 5, 6, 6, 1)), 0.f);
  EXPECT_FLOAT_EQ(iou(box(0, 0, 0, 0, 1), box(0, 0, 0, 0, 1)), 0.f);  // no area
}

// Two overlapping boxes merge into their score-weighted mean with the best score; a far
// box stays apart; output is by score.
TEST(nms, weighted_merge_by_hand) {
  std::vector<detection> c = {box(0.1f, 0, 1.1f, 1, 0.6f), box(5, 5, 6, 6, 0.7f), box(0, 0, 1, 1, 0.9f)};
  // IoU of the first and last: 0.9 / 1.1 = 0.818 > 0.3.
  const auto out = weighted_nms(c, 0.3f, 8);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0].score, 0.9f);
  EXPECT_NEAR(out[0].x0, (0.9 * 0 + 0.6 * 0.1) / 1.5, 1e-6);
  EXPECT_NEAR(out[0].x1, (0.9 * 1 + 0.6 * 1.1) / 1.5, 1e-6);
  EXPECT_NEAR(out[0].y0, 0, 1e-6);
  EXPECT_NEAR(out[0].y1, 1, 1e-6);
  // Key point k of box(x0, y0, ...) is (x0 + k, y0 + 2k): the mean moves with x0 only.
  EXPECT_NEAR(out[0].keypoints[3].x, (0.9 * 3 + 0.6 * 3.1) / 1.5, 1e-5);
  EXPECT_NEAR(out[0].keypoints[3].y, 6, 1e-5);
  EXPECT_FLOAT_EQ(out[1].score, 0.7f);
  EXPECT_FLOAT_EQ(out[1].x0, 5.f);
  // max_out stops early; the threshold is strict (IoU equal to it does not merge).
  EXPECT_EQ(weighted_nms(c, 0.3f, 1).size(), 1u);
  const auto apart = weighted_nms({box(0, 0, 2, 2, 0.9f), box(1, 0, 3, 2, 0.8f)}, 2.f / 6.f, 8);
  EXPECT_EQ(apart.size(), 2u);
  const auto merged = weighted_nms({box(0, 0, 2, 2, 0.9f), box(1, 0, 3, 2, 0.8f)}, 0.3f, 8);
  EXPECT_EQ(merged.size(), 1u);
  EXPECT_TRUE(weighted_nms({}, 0.3f, 8).empty());
}

// Equal scores keep anchor order (stable), so the result does not depend on the sort.
TEST(nms, ties_are_deterministic) {
  const auto out = weighted_nms({box(10, 0, 11, 1, 0.5f), box(0, 0, 1, 1, 0.5f)}, 0.3f, 8);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0].x0, 10.f);
  EXPECT_FLOAT_EQ(out[1].x0, 0.f);
}

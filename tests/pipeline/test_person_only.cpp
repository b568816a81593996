// person_only on synthetic masks: the face's region is the subject, other objects go;
// without a face the central / larger region wins; small enclosed holes are filled,
// large ones kept; the subject's soft edge survives; empty stays empty.
#include <gtest/gtest.h>

#include "pipeline/person_only.hpp"

using namespace idphoto::pipeline;

namespace {

alpha_plane blank(int w, int h, float v = 0.f) { return alpha_plane{w, h, std::vector<float>(static_cast<size_t>(w) * h, v)}; }

void fill_rect(alpha_plane& p, int x0, int y0, int w, int h, float v) {
  for (int y = y0; y < y0 + h; ++y)
    for (int x = x0; x < x0 + w; ++x) p.at(x, y) = v;
}

// Sum of alpha over a rectangle.
double sum_rect(const alpha_plane& p, int x0, int y0, int w, int h) {
  double s = 0;
  for (int y = y0; y < y0 + h; ++y)
    for (int x = x0; x < x0 + w; ++x) s += p.at(x, y);
  return s;
}

}  // namespace

TEST(pipeline_person_only, face_region_kept_other_blob_dropped) {
  // 120 x 80: blob A (30x40) on the left holds the face; blob B (50x60, larger and
  // nearer the centre) on the right must go because the face says A is the person.
  auto a = blank(120, 80);
  fill_rect(a, 5, 20, 30, 40, 1.f);
  fill_rect(a, 55, 10, 50, 60, 1.f);
  const box face{10, 25, 20, 20};
  auto r = person_only(a, {face});
  EXPECT_TRUE(r.subject_from_face);
  EXPECT_EQ(r.dropped_regions, 1);
  EXPECT_EQ(sum_rect(r.alpha, 5, 20, 30, 40), 30.0 * 40);
  EXPECT_EQ(sum_rect(r.alpha, 55, 10, 50, 60), 0.0);
}

TEST(pipeline_person_only, largest_face_decides) {
  auto a = blank(120, 80);
  fill_rect(a, 5, 20, 30, 40, 1.f);
  fill_rect(a, 70, 10, 40, 60, 1.f);
  // A small face on A, a large one on B: B is the subject.
  auto r = person_only(a, {box{10, 25, 8, 8}, box{75, 15, 30, 30}});
  EXPECT_TRUE(r.subject_from_face);
  EXPECT_EQ(sum_rect(r.alpha, 5, 20, 30, 40), 0.0);
  EXPECT_EQ(sum_rect(r.alpha, 70, 10, 40, 60), 40.0 * 60);
}

TEST(pipeline_person_only, no_face_keeps_central_blob_over_equal_edge_blob) {
  auto a = blank(100, 100);
  fill_rect(a, 40, 40, 20, 20, 1.f);  // centre
  fill_rect(a, 0, 0, 20, 20, 1.f);    // corner, same size
  auto r = person_only(a, {});
  EXPECT_FALSE(r.subject_from_face);
  EXPECT_EQ(r.dropped_regions, 1);
  EXPECT_EQ(sum_rect(r.alpha, 40, 40, 20, 20), 400.0);
  EXPECT_EQ(sum_rect(r.alpha, 0, 0, 20, 20), 0.0);
}

TEST(pipeline_person_only, no_face_keeps_much_larger_blob_even_off_centre) {
  auto a = blank(100, 100);
  fill_rect(a, 45, 45, 10, 10, 1.f);  // small, central (100 px)
  fill_rect(a, 0, 50, 40, 50, 1.f);   // large, bottom left (2000 px)
  auto r = person_only(a, {});
  EXPECT_EQ(sum_rect(r.alpha, 0, 50, 40, 50), 2000.0);
  EXPECT_EQ(sum_rect(r.alpha, 45, 45, 10, 10), 0.0);
}

TEST(pipeline_person_only, face_box_on_background_or_outside_falls_back) {
  auto a = blank(100, 100);
  fill_rect(a, 40, 40, 20, 20, 1.f);
  fill_rect(a, 0, 0, 10, 10, 1.f);
  for (box f : {box{70, 70, 20, 20}, box{-500, -500, 90, 90}, box{150, 20, 30, 30}, box{0, 0, 0, 0}}) {
    auto r = person_only(a, {f});
    EXPECT_FALSE(r.subject_from_face);
    EXPECT_EQ(sum_rect(r.alpha, 40, 40, 20, 20), 400.0);
    EXPECT_EQ(sum_rect(r.alpha, 0, 0, 10, 10), 0.0);
  }
  // A box partly outside the image still votes with the part inside.
  auto r = person_only(a, {box{-15, -15, 30, 30}});
  EXPECT_TRUE(r.subject_from_face);
  EXPECT_EQ(sum_rect(r.alpha, 0, 0, 10, 10), 100.0);
  EXPECT_EQ(sum_rect(r.alpha, 40, 40, 20, 20), 0.0);
}

TEST(pipeline_person_only, small_hole_filled_large_hole_kept) {
  // 100 x 100 (max hole = 2% = 200 px): a 3x3 hole (9 px) is a glint, filled; a 20x20
  // hole (400 px) is real (an arm on a hip), kept.
  auto a = blank(100, 100);
  fill_rect(a, 10, 10, 80, 80, 1.f);
  fill_rect(a, 20, 20, 3, 3, 0.f);
  fill_rect(a, 50, 50, 20, 20, 0.f);
  auto r = person_only(a, {});
  EXPECT_EQ(r.filled_holes, 1);
  EXPECT_EQ(sum_rect(r.alpha, 20, 20, 3, 3), 9.0);
  EXPECT_EQ(sum_rect(r.alpha, 50, 50, 20, 20), 0.0);
  // A gap open to the border is background, not a hole.
  auto b = blank(100, 100);
  fill_rect(b, 10, 10, 80, 80, 1.f);
  fill_rect(b, 45, 0, 3, 50, 0.f);
  auto rb = person_only(b, {});
  EXPECT_EQ(rb.filled_holes, 0);
  EXPECT_EQ(sum_rect(rb.alpha, 45, 10, 3, 40), 0.0);
}

TEST(pipeline_person_only, hole_threshold_follows_option) {
  auto a = blank(100, 100);
  fill_rect(a, 10, 10, 80, 80, 1.f);
  fill_rect(a, 50, 50, 20, 20, 0.f);
  person_only_options o;
  o.max_hole_fraction = 0.05f;  // 500 px: now the 400 px hole is filled
  auto r = person_only(a, {}, o);
  EXPECT_EQ(r.filled_holes, 1);
  EXPECT_EQ(sum_rect(r.alpha, 50, 50, 20, 20), 400.0);
}

TEST(pipeline_person_only, soft_edge_next_to_subject_kept_soft_halo_of_other_object_removed) {
  auto a = blank(100, 60);
  fill_rect(a, 30, 10, 30, 40, 1.f);
  fill_rect(a, 60, 10, 2, 40, 0.3f);  // hair: soft, touching the subject
  fill_rect(a, 85, 10, 10, 10, 1.f);  // another object
  fill_rect(a, 83, 10, 2, 10, 0.3f);  // its soft halo
  person_only_options o;
  o.keep_margin_px = 3;
  auto r = person_only(a, {}, o);
  EXPECT_FLOAT_EQ(r.alpha.at(60, 20), 0.3f);
  EXPECT_FLOAT_EQ(r.alpha.at(61, 20), 0.3f);
  EXPECT_EQ(sum_rect(r.alpha, 83, 10, 12, 10), 0.0);
}

TEST(pipeline_person_only, empty_mask_stays_empty) {
  auto a = blank(64, 48);
  auto r = person_only(a, {box{10, 10, 20, 20}});
  EXPECT_EQ(r.alpha.a, a.a);
  EXPECT_EQ(r.dropped_regions, 0);
  EXPECT_EQ(r.filled_holes, 0);
  EXPECT_FALSE(r.subject_from_face);
  // Soft but below threshold everywhere: nothing is a region, nothing changes.
  auto faint = blank(32, 32, 0.4f);
  EXPECT_EQ(person_only(faint, {}).alpha.a, faint.a);
  // 0 x 0.
  auto e = person_only(alpha_plane{}, {box{0, 0, 5, 5}});
  EXPECT_TRUE(e.alpha.a.empty());
}

TEST(pipeline_person_only, full_mask_and_one_pixel) {
  auto full = blank(40, 30, 1.f);
  auto r = person_only(full, {});
  EXPECT_EQ(r.alpha.a, full.a);
  EXPECT_EQ(r.dropped_regions, 0);
  auto one = blank(1, 1, 1.f);
  EXPECT_EQ(person_only(one, {box{0, 0, 1, 1}}).alpha.a, one.a);
  auto one0 = blank(1, 1, 0.f);
  EXPECT_EQ(person_only(one0, {}).alpha.a, one0.a);
}

TEST(pipeline_person_only, many_tiny_regions) {
  // A checkerboard of single pixels (8-connected: one region) and a grid of isolated
  // dots (many regions): labelling stays linear and keeps one subject.
  auto dots = blank(101, 101);
  for (int y = 0; y < 101; y += 3)
    for (int x = 0; x < 101; x += 3) dots.at(x, y) = 1.f;
  auto r = person_only(dots, {});
  EXPECT_EQ(r.dropped_regions, 34 * 34 - 1);
  double kept = 0;
  for (float v : r.alpha.a) kept += v;
  EXPECT_GE(kept, 1.0);
}

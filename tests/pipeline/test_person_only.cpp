// person_only on synthetic masks: the face's region is the subject, other objects go;
// without a face the central / larger region wins; parts joined by a weak path or lying
// where the body must be stay; edge objects beside the head go; small enclosed holes are
// filled, large ones kept; the subject's soft edge survives; empty stays empty.
#include <gtest/gtest.h>

#include "pipeline/person_only.hpp"

using namespace idphoto::pipeline;

namespace {

alpha_plane blank(int w, int h, float v = 0.f) {
  return alpha_plane{w, h, std::vector<float>(static_cast<size_t>(w) * h, v)};
}

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
  // A box partly outside the image still votes with the part inside. (The centre blob lies
  // below that face, where its body would be: the body prior is switched off to see the vote.)
  person_only_options no_body;
  no_body.body_half_width_faces = 0;
  auto r = person_only(a, {box{-15, -15, 30, 30}}, no_body);
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

TEST(pipeline_person_only, weak_neck_joins_head_and_shoulders) {
  // 100 x 120, no face: a head (1.0), a neck at 0.3 (below the 0.5 threshold), shoulders
  // (1.0, larger and lower: without the link they would win or be dropped), and a separate
  // object joined by nothing.
  auto a = blank(100, 120);
  fill_rect(a, 35, 10, 30, 30, 1.f);   // head, 900 px
  fill_rect(a, 45, 40, 10, 10, 0.3f);  // neck
  fill_rect(a, 20, 50, 60, 70, 1.f);   // shoulders and body, 4200 px
  fill_rect(a, 0, 0, 12, 12, 1.f);     // another object
  auto r = person_only(a, {});
  EXPECT_EQ(sum_rect(r.alpha, 35, 10, 30, 30), 900.0);
  EXPECT_EQ(sum_rect(r.alpha, 20, 50, 60, 70), 4200.0);
  EXPECT_FLOAT_EQ(r.alpha.at(50, 45), 0.3f);  // the neck itself stays (a bridge, not a halo)
  EXPECT_EQ(sum_rect(r.alpha, 0, 0, 12, 12), 0.0);
  EXPECT_EQ(r.joined_regions, 1);
  EXPECT_EQ(r.dropped_regions, 1);
  // The same with the face on the head: the head is the subject, the shoulders are joined.
  auto rf = person_only(a, {box{40, 15, 20, 20}});
  EXPECT_TRUE(rf.subject_from_face);
  EXPECT_EQ(sum_rect(rf.alpha, 20, 50, 60, 70), 4200.0);
  EXPECT_EQ(sum_rect(rf.alpha, 0, 0, 12, 12), 0.0);
  // A neck weaker than link_alpha does not join: without a face the larger part wins.
  person_only_options strict;
  strict.link_alpha = 0.4f;
  auto rs = person_only(a, {}, strict);
  EXPECT_EQ(sum_rect(rs.alpha, 20, 50, 60, 70), 4200.0);
  EXPECT_EQ(sum_rect(rs.alpha, 35, 10, 30, 30), 0.0);
  // A weak halo touching only the subject is no bridge: beyond the margin it goes.
  auto b = blank(100, 120);
  fill_rect(b, 20, 50, 60, 70, 1.f);
  fill_rect(b, 80, 50, 20, 70, 0.3f);
  auto rh = person_only(b, {});
  EXPECT_FLOAT_EQ(rh.alpha.at(81, 60), 0.3f);  // within the 2 px margin
  EXPECT_EQ(rh.alpha.at(95, 60), 0.f);
}

TEST(pipeline_person_only, body_below_the_face_kept_without_any_path) {
  // 200 x 200, face box 80..120 x 20..60 on a head region; the body (dark clothes the network
  // barely saw) is cut off from the head by a zero gap. Also: an object level with the head
  // (not below the face's middle) and one below but far to the side (beyond 2.5 face widths).
  auto a = blank(200, 200);
  fill_rect(a, 75, 10, 50, 60, 1.f);    // head
  fill_rect(a, 50, 90, 100, 110, 1.f);  // body, below a gap at rows 70..89
  fill_rect(a, 150, 20, 20, 20, 1.f);   // beside the head: not body
  fill_rect(a, 0, 150, 2, 50, 1.f);     // below, centre x = 0.5: |0.5 - 100| = 99.5 < 100: body by the rule...
  fill_rect(a, 190, 185, 10, 15, 1.f);  // ... this one is 94.5 px right of the centre, also within: kept
  const box face{80, 20, 40, 40};
  auto r = person_only(a, {face});
  EXPECT_TRUE(r.subject_from_face);
  EXPECT_EQ(sum_rect(r.alpha, 50, 90, 100, 110), 100.0 * 110);
  EXPECT_EQ(sum_rect(r.alpha, 150, 20, 20, 20), 0.0);
  // Narrow the body zone to 1.5 face widths (60 px): the two side blocks go, the body stays.
  person_only_options narrow;
  narrow.body_half_width_faces = 1.5f;
  auto rn = person_only(a, {face}, narrow);
  EXPECT_EQ(sum_rect(rn.alpha, 50, 90, 100, 110), 100.0 * 110);
  EXPECT_EQ(sum_rect(rn.alpha, 0, 150, 2, 50), 0.0);
  EXPECT_EQ(sum_rect(rn.alpha, 190, 185, 10, 15), 0.0);
  // A speck below the face is not body (min_body_fraction 0.2% of 40000 px = 80 px).
  auto b = blank(200, 200);
  fill_rect(b, 75, 10, 50, 60, 1.f);
  fill_rect(b, 95, 150, 5, 5, 1.f);
  EXPECT_EQ(sum_rect(person_only(b, {face}).alpha, 95, 150, 5, 5), 0.0);
}

TEST(pipeline_person_only, edge_object_beside_the_head_removed) {
  // 200 x 200, face 80..120 x 20..60 (head half-width 1.3 x 40 = 52 px: |x - 100| > 52 is
  // beside; shoulder line 20 + 1.6 x 40 = 84). A flag (alpha 0.8, weak) from the left edge
  // joins the body; its lower part, below the shoulder line, is weak too and goes with it.
  auto a = blank(200, 200);
  fill_rect(a, 75, 10, 50, 70, 1.f);    // head and neck
  fill_rect(a, 40, 80, 120, 120, 1.f);  // body (x 40..159: partly beside the head, strong)
  fill_rect(a, 0, 0, 40, 140, 0.8f);    // the flag: left edge, rows 0..139, touching the body
  const box face{80, 20, 40, 40};
  auto r = person_only(a, {face});
  EXPECT_GT(r.side_cut_px, 0);
  EXPECT_EQ(sum_rect(r.alpha, 0, 0, 36, 140), 0.0);         // flag gone (a few px of halo may stay)
  EXPECT_EQ(sum_rect(r.alpha, 75, 10, 50, 70), 50.0 * 70);  // head kept
  // The body below the shoulder line is kept whole, its strong side beside the head too (its
  // top rows beside the head, rows 80..83 left of x = 48, touch the flag there and go with it).
  EXPECT_EQ(sum_rect(r.alpha, 40, 84, 120, 116), 120.0 * 116);
  // Switched off, the flag stays (it is joined to the body at 0.5).
  person_only_options off;
  off.head_half_width_faces = 0;
  EXPECT_EQ(person_only(a, {face}, off).side_cut_px, 0);
  EXPECT_FLOAT_EQ(person_only(a, {face}, off).alpha.at(5, 5), 0.8f);
  // Beside the head but not reaching the photo's edge (a raised hand): kept.
  auto b = blank(200, 200);
  fill_rect(b, 75, 10, 50, 70, 1.f);
  fill_rect(b, 40, 80, 120, 120, 1.f);
  fill_rect(b, 20, 30, 25, 55, 1.f);  // x 20..44, rows 30..84: touches the body, not the edge
  auto rb = person_only(b, {face});
  EXPECT_EQ(rb.side_cut_px, 0);
  EXPECT_EQ(sum_rect(rb.alpha, 20, 30, 25, 55), 25.0 * 55);
  // No face: nothing is cut beside a head nobody found.
  EXPECT_EQ(person_only(a, {}).side_cut_px, 0);
}

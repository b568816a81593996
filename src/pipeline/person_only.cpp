// Person-only cleanup of a soft mask.
//
// 1. Threshold at 0.5 and label 8-connected foreground regions (BFS).
// 2. The subject is the region covering the centre of the largest face box; with no
//    face, the region with the largest area weighted by closeness of its centroid to
//    the image centre (ID photos are centred; a bright object at the edge is not
//    the subject).
// 3. Joined parts. The network's mask often thins to a weak stretch (alpha 0.2-0.5) at a
//    dark neck or collar, which splits head and shoulders at 0.5. Regions reachable from the
//    subject through pixels with alpha >= link_alpha (hysteresis, as in Canny's edge
//    linking) are the subject's. With a face, a region lying where the body must be (its
//    top below the face's middle, its centre within a few face widths of the face's centre,
//    not a speck) is kept even with no path: clothing the network barely saw.
// 4. Beside the head. Above the shoulder line and outside the head's width, a kept part that
//    reaches the photo's left, right or top edge is background seen as salient (a flag, a
//    door frame) joined to the person at 0.5; it is removed, with the weak (alpha < 0.9)
//    pixels connected to it. Trade-off: a raised arm reaching the photo's edge beside the
//    head would go too; in a portrait (the input this tool is for) that is rare, a flag or
//    a frame behind the shoulder is not.
// 5. Everything farther than a small margin from what is kept is set to 0, so other objects
//    and their soft halos vanish, while the subject's soft edge (hair) stays.
// 6. Background regions (4-connected, alpha < 0.5) that do not touch the border and
//    are smaller than max_hole_fraction of the image are filled (alpha = 1): glasses
//    glints, shirt buttons. Larger enclosed regions (an arm on a hip) are real and kept.
// Cost: a few linear passes over the plane (labels, chamfer distance); no allocation
// proportional to more than a few planes of int.
#include "pipeline/person_only.hpp"

#include <algorithm>
#include <cmath>
#include <deque>

namespace idphoto::pipeline {

namespace {

// Labels connected pixels where in_set(i) holds. Returns labels (-1 = not in set) and sizes.
template <class Pred>
int label_regions(int w, int h, bool eight, Pred in_set, std::vector<int>& label, std::vector<int64_t>& sizes) {
  label.assign(static_cast<size_t>(w) * h, -1);
  sizes.clear();
  std::deque<int> q;
  int n = 0;
  for (int start = 0; start < w * h; ++start) {
    if (label[start] >= 0 || !in_set(start)) continue;
    label[start] = n;
    q.push_back(start);
    int64_t count = 0;
    while (!q.empty()) {
      const int i = q.front();
      q.pop_front();
      ++count;
      const int x = i % w, y = i / w;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          if ((dx == 0 && dy == 0) || (!eight && dx != 0 && dy != 0)) continue;
          const int nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
          const int j = ny * w + nx;
          if (label[j] < 0 && in_set(j)) {
            label[j] = n;
            q.push_back(j);
          }
        }
    }
    sizes.push_back(count);
    ++n;
  }
  return n;
}

// Chamfer-like distance (in pixels, 8-neighbour) to the nearest pixel where src is true, capped.
std::vector<int> distance_to(const std::vector<char>& src, int w, int h, int cap) {
  std::vector<int> d(src.size(), cap);
  for (size_t i = 0; i < src.size(); ++i)
    if (src[i]) d[i] = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int& v = d[static_cast<size_t>(y) * w + x];
      if (x > 0) v = std::min(v, d[static_cast<size_t>(y) * w + x - 1] + 1);
      if (y > 0) v = std::min(v, d[static_cast<size_t>(y - 1) * w + x] + 1);
      if (x > 0 && y > 0) v = std::min(v, d[static_cast<size_t>(y - 1) * w + x - 1] + 1);
      if (x + 1 < w && y > 0) v = std::min(v, d[static_cast<size_t>(y - 1) * w + x + 1] + 1);
    }
  for (int y = h - 1; y >= 0; --y)
    for (int x = w - 1; x >= 0; --x) {
      int& v = d[static_cast<size_t>(y) * w + x];
      if (x + 1 < w) v = std::min(v, d[static_cast<size_t>(y) * w + x + 1] + 1);
      if (y + 1 < h) v = std::min(v, d[static_cast<size_t>(y + 1) * w + x] + 1);
      if (x + 1 < w && y + 1 < h) v = std::min(v, d[static_cast<size_t>(y + 1) * w + x + 1] + 1);
      if (x > 0 && y + 1 < h) v = std::min(v, d[static_cast<size_t>(y + 1) * w + x - 1] + 1);
    }
  return d;
}

}  // namespace

person_only_result person_only(const alpha_plane& alpha, const std::vector<box>& faces, const person_only_options& o) {
  person_only_result r;
  r.alpha = alpha;
  const int w = alpha.width, h = alpha.height;
  if (w <= 0 || h <= 0) return r;
  const size_t n_px = static_cast<size_t>(w) * h;
  std::vector<int> label;
  std::vector<int64_t> sizes;
  const int n = label_regions(
      w, h, true, [&](int i) { return alpha.a[i] >= 0.5f; }, label, sizes);
  if (n == 0) return r;

  int subject = -1;
  const box* face = nullptr;
  if (!faces.empty()) {
    face = &*std::max_element(faces.begin(), faces.end(),
                              [](const box& a, const box& b) { return a.width * a.height < b.width * b.height; });
    const box& f = *face;
    // The region holding most of the face box's central third.
    std::vector<int64_t> votes(n, 0);
    for (int y = f.y + f.height / 3; y < f.y + 2 * f.height / 3; ++y)
      for (int x = f.x + f.width / 3; x < f.x + 2 * f.width / 3; ++x)
        if (x >= 0 && y >= 0 && x < w && y < h && label[static_cast<size_t>(y) * w + x] >= 0)
          ++votes[label[static_cast<size_t>(y) * w + x]];
    auto best = std::max_element(votes.begin(), votes.end());
    if (*best > 0) {
      subject = static_cast<int>(best - votes.begin());
      r.subject_from_face = true;
    }
  }
  std::vector<double> cx(n, 0), cy(n, 0);
  std::vector<int> top(n, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (int l = label[static_cast<size_t>(y) * w + x]; l >= 0) {
        cx[l] += x;
        cy[l] += y;
        top[l] = std::min(top[l], y);
      }
  for (int l = 0; l < n; ++l) {
    cx[l] /= static_cast<double>(sizes[l]);
    cy[l] /= static_cast<double>(sizes[l]);
  }
  if (subject < 0) {
    double best = -1;
    const double diag = std::hypot(w / 2.0, h / 2.0);
    for (int l = 0; l < n; ++l) {
      const double score =
          static_cast<double>(sizes[l]) * (1.0 - 0.5 * std::hypot(cx[l] - w / 2.0, cy[l] - h / 2.0) / diag);
      if (score > best) {
        best = score;
        subject = l;
      }
    }
  }
  if (!r.subject_from_face) face = nullptr;  // a face that holds no region says nothing about the body

  // 3. Joined parts: hysteresis through alpha >= link_alpha, then the body prior.
  std::vector<char> keep_region(n, 0);
  keep_region[subject] = 1;
  std::vector<int> link_label;
  int link_of_subject = -1;
  if (o.link_alpha > 0 && o.link_alpha < 0.5f) {
    std::vector<int64_t> link_sizes;
    label_regions(
        w, h, true, [&](int i) { return alpha.a[i] >= o.link_alpha; }, link_label, link_sizes);
    for (size_t i = 0; i < n_px && link_of_subject < 0; ++i)
      if (label[i] == subject) link_of_subject = link_label[i];
    for (size_t i = 0; i < n_px; ++i)
      if (label[i] >= 0 && link_label[i] == link_of_subject) keep_region[label[i]] = 1;
  }
  if (face) {
    const double fcx = face->x + face->width / 2.0, fmid = face->y + face->height / 2.0;
    const double min_px = o.min_body_fraction * static_cast<double>(n_px);
    for (int l = 0; l < n; ++l)
      if (!keep_region[l] && top[l] > fmid &&
          std::abs(cx[l] - fcx) < o.body_half_width_faces * static_cast<float>(face->width) &&
          static_cast<double>(sizes[l]) >= min_px)
        keep_region[l] = 2;
  }
  std::vector<char> kept(n_px, 0);
  for (size_t i = 0; i < n_px; ++i) kept[i] = label[i] >= 0 && keep_region[label[i]];
  for (int l = 0; l < n; ++l) {
    if (l == subject) continue;
    if (keep_region[l]) ++r.joined_regions;
    else ++r.dropped_regions;
  }

  // 4. Beside the head: parts above the shoulder line, outside the head's width, reaching the
  // left, right or top edge, and the weak pixels joined to them.
  if (face && o.head_half_width_faces > 0) {
    const double fcx = face->x + face->width / 2.0, half = o.head_half_width_faces * static_cast<float>(face->width);
    const double shoulder_y = static_cast<float>(face->y) + o.shoulder_faces * static_cast<float>(face->height);
    auto beside = [&](int i) { return std::abs(i % w - fcx) > half; };
    std::vector<int> side_label;
    std::vector<int64_t> side_sizes;
    const int ns = label_regions(
        w, h, true, [&](int i) { return kept[i] && beside(i) && i / w < shoulder_y; }, side_label, side_sizes);
    std::vector<char> at_edge(ns, 0);
    for (int y = 0; y < h; ++y)
      for (int x : {0, w - 1})
        if (int l = side_label[static_cast<size_t>(y) * w + x]; l >= 0) at_edge[l] = 1;
    for (int x = 0; x < w; ++x)
      if (int l = side_label[x]; l >= 0) at_edge[l] = 1;
    if (std::find(at_edge.begin(), at_edge.end(), 1) != at_edge.end()) {
      // Grow the cut through weak kept pixels beside the head (any height).
      std::vector<int> grow_label;
      std::vector<int64_t> grow_sizes;
      auto cut_seed = [&](int i) { return side_label[i] >= 0 && at_edge[side_label[i]]; };
      const int ng = label_regions(
          w, h, true, [&](int i) { return cut_seed(i) || (kept[i] && beside(i) && alpha.a[i] < 0.9f); }, grow_label,
          grow_sizes);
      std::vector<char> drop(ng, 0);
      for (size_t i = 0; i < n_px; ++i)
        if (cut_seed(static_cast<int>(i))) drop[grow_label[i]] = 1;
      for (size_t i = 0; i < n_px; ++i)
        if (grow_label[i] >= 0 && drop[grow_label[i]]) {
          kept[i] = 0;
          ++r.side_cut_px;
        }
    }
  }

  // 5. Keep what is kept plus a margin for its soft edge, and the weak bridges (the neck)
  // that joined parts to the subject: weak pixels of the subject's link component lying
  // within bridge_px of both the subject and another kept part (a halo touching only one
  // side is not a bridge and gets the margin rule).
  const int margin = o.keep_margin_px > 0 ? o.keep_margin_px : std::max(2, std::min(w, h) / 100);
  const std::vector<int> dist = distance_to(kept, w, h, margin + 1);
  std::vector<char> bridge(n_px, 0);
  if (link_of_subject >= 0 && r.joined_regions > 0) {
    const int bridge_px = 16 * margin;
    std::vector<char> core(n_px, 0), others(n_px, 0);
    for (size_t i = 0; i < n_px; ++i) {
      core[i] = kept[i] && label[i] == subject;
      others[i] = kept[i] && label[i] != subject;
    }
    const std::vector<int> d_core = distance_to(core, w, h, bridge_px + 1);
    const std::vector<int> d_others = distance_to(others, w, h, bridge_px + 1);
    for (size_t i = 0; i < n_px; ++i)
      bridge[i] =
          link_label[i] == link_of_subject && alpha.a[i] < 0.5f && d_core[i] <= bridge_px && d_others[i] <= bridge_px;
  }
  for (size_t i = 0; i < n_px; ++i)
    if ((dist[i] > margin && !bridge[i]) || (r.side_cut_px > 0 && !kept[i] && alpha.a[i] >= 0.5f)) r.alpha.a[i] = 0.f;

  // 6. Fill small enclosed background holes.
  std::vector<int> bg_label;
  std::vector<int64_t> bg_sizes;
  const int nb = label_regions(
      w, h, false, [&](int i) { return r.alpha.a[i] < 0.5f; }, bg_label, bg_sizes);
  std::vector<char> touches_border(nb, 0);
  for (int x = 0; x < w; ++x) {
    if (int l = bg_label[x]; l >= 0) touches_border[l] = 1;
    if (int l = bg_label[static_cast<size_t>(h - 1) * w + x]; l >= 0) touches_border[l] = 1;
  }
  for (int y = 0; y < h; ++y) {
    if (int l = bg_label[static_cast<size_t>(y) * w]; l >= 0) touches_border[l] = 1;
    if (int l = bg_label[static_cast<size_t>(y) * w + w - 1]; l >= 0) touches_border[l] = 1;
  }
  const int64_t max_hole = static_cast<int64_t>(o.max_hole_fraction * static_cast<double>(w) * h);
  std::vector<char> fill(nb, 0);
  for (int l = 0; l < nb; ++l)
    if (!touches_border[l] && bg_sizes[l] <= max_hole) {
      fill[l] = 1;
      ++r.filled_holes;
    }
  for (size_t i = 0; i < bg_label.size(); ++i)
    if (bg_label[i] >= 0 && fill[bg_label[i]]) r.alpha.a[i] = 1.f;
  return r;
}

}  // namespace idphoto::pipeline

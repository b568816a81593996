// Person-only cleanup of a soft mask.
//
// 1. Threshold at 0.5 and label 8-connected foreground regions (two-pass BFS).
// 2. The subject is the region covering the centre of the largest face box; with no
//    face, the region with the largest area weighted by closeness of its centroid to
//    the image centre (ID photos are centred; a bright object at the edge is not
//    the subject).
// 3. Everything farther than a small margin from the subject is set to 0, so other
//    objects and their soft halos vanish, while the subject's soft edge (hair) stays.
// 4. Background regions (4-connected, alpha < 0.5) that do not touch the border and
//    are smaller than max_hole_fraction of the image are filled (alpha = 1): glasses
//    glints, shirt buttons. Larger enclosed regions (an arm on a hip) are real and kept.
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
  std::vector<int> label;
  std::vector<int64_t> sizes;
  const int n = label_regions(w, h, true, [&](int i) { return alpha.a[i] >= 0.5f; }, label, sizes);
  if (n == 0) return r;

  int subject = -1;
  if (!faces.empty()) {
    const box& f = *std::max_element(faces.begin(), faces.end(),
                                     [](const box& a, const box& b) { return a.width * a.height < b.width * b.height; });
    // The region holding most of the face box's central third.
    std::vector<int64_t> votes(n, 0);
    for (int y = f.y + f.height / 3; y < f.y + 2 * f.height / 3; ++y)
      for (int x = f.x + f.width / 3; x < f.x + 2 * f.width / 3; ++x)
        if (x >= 0 && y >= 0 && x < w && y < h && label[static_cast<size_t>(y) * w + x] >= 0) ++votes[label[static_cast<size_t>(y) * w + x]];
    auto best = std::max_element(votes.begin(), votes.end());
    if (*best > 0) {
      subject = static_cast<int>(best - votes.begin());
      r.subject_from_face = true;
    }
  }
  if (subject < 0) {
    std::vector<double> cx(n, 0), cy(n, 0);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (int l = label[static_cast<size_t>(y) * w + x]; l >= 0) {
          cx[l] += x;
          cy[l] += y;
        }
    double best = -1;
    const double diag = std::hypot(w / 2.0, h / 2.0);
    for (int l = 0; l < n; ++l) {
      const double dx = cx[l] / sizes[l] - w / 2.0, dy = cy[l] / sizes[l] - h / 2.0;
      const double score = static_cast<double>(sizes[l]) * (1.0 - 0.5 * std::hypot(dx, dy) / diag);
      if (score > best) {
        best = score;
        subject = l;
      }
    }
  }
  r.dropped_regions = n - 1;

  // Keep the subject plus a margin for its soft edge.
  const int margin = o.keep_margin_px > 0 ? o.keep_margin_px : std::max(2, std::min(w, h) / 100);
  std::vector<char> is_subject(label.size());
  for (size_t i = 0; i < label.size(); ++i) is_subject[i] = label[i] == subject;
  const std::vector<int> dist = distance_to(is_subject, w, h, margin + 1);
  for (size_t i = 0; i < label.size(); ++i)
    if (dist[i] > margin) r.alpha.a[i] = 0.f;

  // Fill small enclosed background holes.
  std::vector<int> bg_label;
  std::vector<int64_t> bg_sizes;
  const int nb = label_regions(w, h, false, [&](int i) { return r.alpha.a[i] < 0.5f; }, bg_label, bg_sizes);
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

// Weighted NMS over candidate faces: each cluster of boxes overlapping the best remaining
// one becomes one face whose box and key points are the score-weighted mean of the cluster.
#include "face/weighted_nms.hpp"

#include <algorithm>
#include <numeric>

namespace idphoto::face {

float iou(const detection& a, const detection& b) {
  const float ix = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
  const float iy = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
  if (!(ix > 0) || !(iy > 0)) return 0;
  const float inter = ix * iy;
  const float uni = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter;
  return uni > 0 ? inter / uni : 0;
}

/*
 * Weighted NMS. Sort by score; take the best remaining candidate; every remaining
 * candidate whose IoU with it exceeds the threshold (the best one included, IoU 1) joins
 * its cluster and leaves the list; the face is the cluster's score-weighted mean box and
 * key points, with the best one's score. Repeat until the list is empty or max_out faces
 * are made. Against plain NMS, this averages the many near-duplicate anchors BlazeFace
 * fires for one face, so the box and key points jitter less; the cost is O(n^2) in the
 * candidates, which the score threshold keeps to a few dozen. A stable sort keeps equal
 * scores in anchor order, so the result is deterministic.
 */
std::vector<detection> weighted_nms(std::vector<detection> candidates, float iou_threshold, int max_out) {
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return candidates[a].score > candidates[b].score; });
  std::vector<detection> out;
  while (!order.empty() && static_cast<int>(out.size()) < max_out) {
    const detection& best = candidates[order[0]];
    std::vector<size_t> rest;
    double total = 0, x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    std::array<double, 12> kp{};
    for (size_t idx : order) {
      const detection& c = candidates[idx];
      if (iou(best, c) <= iou_threshold) {
        rest.push_back(idx);
        continue;
      }
      const double w = c.score;
      total += w;
      x0 += w * c.x0;
      y0 += w * c.y0;
      x1 += w * c.x1;
      y1 += w * c.y1;
      for (int k = 0; k < 6; ++k) {
        kp[2 * k] += w * c.keypoints[k].x;
        kp[2 * k + 1] += w * c.keypoints[k].y;
      }
    }
    detection merged = best;
    if (total > 0) {
      merged.x0 = static_cast<float>(x0 / total);
      merged.y0 = static_cast<float>(y0 / total);
      merged.x1 = static_cast<float>(x1 / total);
      merged.y1 = static_cast<float>(y1 / total);
      for (int k = 0; k < 6; ++k)
        merged.keypoints[k] = {static_cast<float>(kp[2 * k] / total), static_cast<float>(kp[2 * k + 1] / total)};
    }
    out.push_back(merged);
    if (rest.size() == order.size()) rest.erase(rest.begin());  // a degenerate best box: never loop
    order = std::move(rest);
  }
  return out;
}

}  // namespace idphoto::face

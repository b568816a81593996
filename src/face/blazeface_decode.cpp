// BlazeFace box decoding (MediaPipe's TensorsToDetections with the short-range options):
// centre offsets and sizes relative to each anchor, six key points, sigmoid scores.
#include "face/blazeface_decode.hpp"

#include <algorithm>
#include <cmath>

namespace idphoto::face {

/*
 * Each anchor has 16 regression values in model-input pixels: the box centre offset
 * (x, y) from the anchor centre, the box size (w, h), and six key points as offsets from
 * the anchor centre. With fixed 1 x 1 anchors, centre = anchor + offset / scale and
 * size = value / scale, as fractions of the input. Score = sigmoid(clip(logit)).
 */
std::vector<detection> decode_candidates(const float* logits, const float* raw, const std::vector<anchor>& anchors,
                                         const decode_options& o) {
  std::vector<detection> out;
  for (size_t i = 0; i < anchors.size(); ++i) {
    const float logit = std::clamp(logits[i], -o.logit_clip, o.logit_clip);
    const float score = 1.f / (1.f + std::exp(-logit));
    if (!(score >= o.min_score)) continue;  // also drops NaN
    const float* r = raw + i * 16;
    const anchor& a = anchors[i];
    const float cx = a.x + r[0] / o.scale, cy = a.y + r[1] / o.scale;
    const float w = r[2] / o.scale, h = r[3] / o.scale;
    if (!(w > 0) || !(h > 0) || !std::isfinite(cx) || !std::isfinite(cy) || !std::isfinite(w) || !std::isfinite(h))
      continue;
    detection d;
    d.x0 = cx - w / 2;
    d.y0 = cy - h / 2;
    d.x1 = cx + w / 2;
    d.y1 = cy + h / 2;
    d.score = score;
    bool finite = true;
    for (int k = 0; k < 6; ++k) {
      d.keypoints[k] = {a.x + r[4 + 2 * k] / o.scale, a.y + r[5 + 2 * k] / o.scale};
      finite = finite && std::isfinite(d.keypoints[k].x) && std::isfinite(d.keypoints[k].y);
    }
    if (finite) out.push_back(d);
  }
  return out;
}

}  // namespace idphoto::face

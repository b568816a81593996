// Weighted non-maximum suppression (MediaPipe's WEIGHTED algorithm): overlapping
// candidates are merged into their score-weighted mean instead of being thrown away.
#pragma once
#include <vector>

#include "face/face.hpp"

namespace idphoto::face {

// Intersection over union of two boxes; 0 when they do not overlap or have no area.
float iou(const detection& a, const detection& b);

// Highest score first, at most max_out faces. Never fails.
std::vector<detection> weighted_nms(std::vector<detection> candidates, float iou_threshold, int max_out);

}  // namespace idphoto::face

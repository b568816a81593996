// BlazeFace's raw outputs to candidate faces: box and key-point offsets applied to their
// anchors, scores through a clipped sigmoid, candidates under the threshold dropped.
#pragma once
#include <vector>

#include "face/anchors.hpp"
#include "face/face.hpp"

namespace idphoto::face {

struct decode_options {
  float scale = 128;       // offsets are in model-input px: divided by this (x, y, w, h scales)
  float min_score = 0.5f;  // after the sigmoid
  float logit_clip = 100;  // logits clipped to [-clip, clip] before the sigmoid
};

// logits: one per anchor; raw: 16 per anchor (x, y, w, h of the box centre and size, then
// 6 key points as x, y), both in anchor order. Returns the candidates scoring at least
// min_score with a positive box, coordinates as fractions of the model input (0..1), in
// anchor order. Never fails; non-finite values are dropped.
std::vector<detection> decode_candidates(const float* logits, const float* raw, const std::vector<anchor>& anchors,
                                         const decode_options& o = {});

}  // namespace idphoto::face

// Colour decontamination: estimates the true foreground colour where 0 < alpha < 1,
// so no trace of the old background remains on hair and shoulders after compositing.
#pragma once
#include "pipeline/planes.hpp"

namespace idphoto::pipeline {

struct decontaminate_options {
  int coarse_radius_px = 0;  // 0 = from image size (short side / 9)
  int fine_radius_px = 3;
};

// Returns the estimated foreground RGB (same size as the photo). Pixels with alpha
// >= 0.999 keep the photo's colour exactly. Never fails.
rgb8_plane decontaminate(const rgb8_plane& photo, const alpha_plane& alpha, const decontaminate_options& o = {});

}  // namespace idphoto::pipeline

// Person only: keep the subject region (the one holding the face, or the largest
// central one when no face is found), drop other salient objects, fill holes.
#pragma once
#include <vector>

#include "pipeline/planes.hpp"

namespace idphoto::pipeline {

struct box {
  int x = 0, y = 0, width = 0, height = 0;  // in alpha-plane pixels
};

struct person_only_options {
  float max_hole_fraction = 0.02f;  // enclosed background holes up to this share of the image are filled
  int keep_margin_px = 0;           // soft edge kept around the subject; 0 = short side / 100 (at least 2)
};

struct person_only_result {
  alpha_plane alpha;
  int dropped_regions = 0;  // other objects removed
  int filled_holes = 0;
  bool subject_from_face = false;  // the subject was chosen by a face box
};

// faces: detected face boxes (may be empty). Never fails; an empty mask stays empty.
person_only_result person_only(const alpha_plane& alpha, const std::vector<box>& faces, const person_only_options& o = {});

}  // namespace idphoto::pipeline

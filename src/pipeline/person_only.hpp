// Person only: keep the subject (the region holding the face, or the largest central one
// when no face is found) with every part joined to it or lying where its body must be,
// drop other salient objects and objects beside the head that reach the photo's edge,
// fill small holes.
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
  // Parts of the subject (alpha >= 0.5) separated from it only by a weak stretch (a dark
  // neck, a thin strap) are joined when a path with alpha >= link_alpha connects them.
  float link_alpha = 0.15f;
  // Body prior (needs a face): a region whose top lies below the face's middle and whose
  // centre lies within body_half_width_faces face widths of the face's centre is body.
  float body_half_width_faces = 2.5f;
  float min_body_fraction = 0.002f;  // such a region must cover at least this share of the image
  // Beside the head: above the shoulder line (face top + shoulder_faces face heights) and
  // farther than head_half_width_faces face widths from the face's centre, subject parts
  // that reach the left, right or top edge of the photo are not the person (a flag, a
  // door frame); weak ones (alpha < 0.9) joined to them go with them. 0 = off.
  float head_half_width_faces = 1.3f;
  float shoulder_faces = 1.6f;
};

struct person_only_result {
  alpha_plane alpha;
  int dropped_regions = 0;  // other objects removed
  int joined_regions = 0;   // regions kept because a weak path or the body prior joined them to the subject
  int filled_holes = 0;
  bool subject_from_face = false;  // the subject was chosen by a face box
  int side_cut_px = 0;             // subject pixels removed beside the head
};

// faces: face boxes (may be empty; the largest is the subject's). Today they come from the
// Haar detector (face_detect.hpp); a src/face detection converts in one line
// (box{x0, y0, x1 - x0, y1 - y0}): the box is all the geometry here uses.
// Never fails; an empty mask stays empty.
person_only_result person_only(const alpha_plane& alpha, const std::vector<box>& faces,
                               const person_only_options& o = {});

}  // namespace idphoto::pipeline

// Where each model looks in the photo: the letterbox square BlazeFace sees, and the
// eye-aligned square FaceMesh sees (MediaPipe's face-landmark front end), with both maps.
#pragma once
#include "face/affine_sample.hpp"
#include "face/face.hpp"

namespace idphoto::face {

// The square of side max(width, height) centred on the photo: what a model input of
// side n px shows when the photo is letterboxed into it (aspect kept, padding around).
struct letterbox {
  point origin;    // photo point at the square's top-left corner
  float side = 0;  // photo px

  static letterbox of(int width, int height);
  // A point given as fractions (0..1) of the square, in photo coordinates.
  point to_photo(point frac) const { return {origin.x + frac.x * side, origin.y + frac.y * side}; }
  // Model input pixel -> photo, for a model input of n x n px.
  affine_map map(int n) const;
};

// FaceMesh's crop: a square centred on the detection box, side 1.5 x the box's longer
// side, turned by `angle` so that its x axis runs from key point 0 (the eye on the
// photo's left in an upright portrait) to key point 1: in the crop, the eyes are level.
struct face_roi {
  point centre;
  float side = 0;   // photo px
  float angle = 0;  // radians; the crop's x axis in the photo is (cos a, sin a) (y down)

  static face_roi of(const detection& d);
  // A point given in crop pixels of an n x n crop, in photo coordinates.
  point to_photo(point crop_px, int n) const;
  // Crop pixel -> photo, for an n x n crop.
  affine_map map(int n) const;
};

}  // namespace idphoto::face

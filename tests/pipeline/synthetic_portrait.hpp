// Synthetic portraits for the framing tests: a drawn head-and-shoulders photo, its person
// mask and its FaceMesh, all from one parametric face — never a detection.
#pragma once
#include <vector>

#include "face/face.hpp"
#include "image/image.hpp"
#include "pipeline/face_geometry.hpp"
#include "pipeline/planes.hpp"

namespace synth {

struct portrait_options {
  int width = 900, height = 1200;
  idphoto::pipeline::synthetic_face face;    // centre, scale, pose, eyes, mouth, crown
  idphoto::image::rgb8 wall{190, 170, 150};  // the photo's own background (not an allowed ID colour)
  double brightness = 1.0;                   // multiplies every pixel (under-exposure)
  double left_cheek_gain = 1.0;              // multiplies the image-left half of the face (uneven light)
  bool second_face = false;                  // a second, smaller person on the right (mask and mesh only for the first)
};

struct portrait {
  idphoto::image::image photo;           // 3-band sRGB
  idphoto::pipeline::rgb8_plane rgb;     // the same pixels
  idphoto::pipeline::alpha_plane alpha;  // person mask, photo size
  idphoto::face::mesh mesh;
  std::vector<idphoto::face::detection> faces;  // a box per drawn face
  idphoto::pipeline::vec2 crown;                // the true crown, photo pixels
};

// Draws the portrait (2x2 supersampled). Shapes are defined in the face's millimetres and
// mapped by the face's roll, scale and centre, so shifted, scaled and rotated copies are
// the same picture moved. Yaw and pitch move only the mesh (the drawing stays frontal).
portrait make_portrait(const portrait_options& o);

}  // namespace synth

// Face geometry from FaceMesh landmarks (face/face.hpp): eye centres, chin, nose, mouth,
// roll from the eye line, yaw and pitch from a 3-D reference face, and the crown from the
// person mask. One step per file: face_geometry.cpp (points), _pose.cpp, _crown.cpp, _model.cpp.
#pragma once
#include <span>
#include <vector>

#include "base/result.hpp"
#include "face/face.hpp"
#include "pipeline/planes.hpp"

namespace idphoto::pipeline {

// Well-known FaceMesh indices used here (MediaPipe's canonical order).
namespace mesh_index {
inline constexpr int nose_tip = 1, chin = 152, forehead = 10, nose_bridge = 168;
inline constexpr int right_eye_outer = 33, right_eye_inner = 133, left_eye_outer = 263, left_eye_inner = 362;
inline constexpr int lip_upper_inner = 13, lip_lower_inner = 14, mouth_right = 61, mouth_left = 291;
inline constexpr int side_right = 234, side_left = 454;  // the subject's right side is on the image's left
inline constexpr int n_points = 468;
// The 16 contour points of each eye (MediaPipe's FACEMESH_RIGHT_EYE / FACEMESH_LEFT_EYE).
inline constexpr int right_eye[16] = {33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246};
inline constexpr int left_eye[16] = {263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466};
}  // namespace mesh_index

struct vec2 {
  double x = 0, y = 0;
};

// Points measured on one face, in the pixel coordinates of the mesh (x right, y down).
struct face_points {
  vec2 eye_left, eye_right;  // eye centres, left and right IN THE IMAGE (eye_left = subject's right eye)
  vec2 eye_mid;              // midpoint of the two
  vec2 chin, nose, mouth, forehead;
  vec2 side_left, side_right;  // face contour at the cheeks, left and right in the image
  double eye_distance_px = 0;  // between the eye centres
  double roll_deg = 0;         // angle of the eye line; positive = clockwise in the image (right eye lower)
  vec2 axis_u, axis_n;         // unit vectors: along the eye line (left to right), and down the face (perpendicular)
  double t_px = 0;             // eye midpoint to chin: the face's size unit (OFIQ's "T")
  double eye_open = 0;         // smaller eye's largest lid gap / t_px
  double mouth_open = 0;       // largest inner-lip gap / t_px
};

// Fails with invalid_argument: not 468 points, a non-finite coordinate, or degenerate
// geometry (eyes on top of each other, chin not below the eyes).
base::result<face_points> measure_face(const face::mesh& m);

/* Head pose from the 2-D landmarks (face_geometry_pose.cpp): a scaled-orthographic
 * camera fitted to a 3-D reference face; see the block comment there for the method and
 * docs/specs.md for its measured error. Angles in degrees: yaw > 0 = the face turned
 * towards the image's right, pitch > 0 = chin up, roll > 0 = clockwise in the image. */
struct head_pose {
  double yaw_deg = 0, pitch_deg = 0, roll_deg = 0;
  double rms_px = 0;  // fit residual, in mesh pixels
};
// Fails with invalid_argument as measure_face does.
base::result<head_pose> estimate_pose(const face::mesh& m);

// The 3-D reference face (face_geometry_model.cpp): millimetres, origin at the eye
// midpoint, x to the image's right when frontal, y down, z away from the camera.
struct model_point {
  int index;
  double x, y, z;
};
// The points the pose fit uses (eye corners, nose, mouth corners, chin, forehead, cheeks).
std::span<const model_point> pose_reference_points();

/* A synthetic FaceMesh (never a detection): the parametric reference face posed,
 * projected and placed in an image, for tests and benchmarks of everything downstream of
 * the landmark model. All 468 points are filled; the ones the geometry uses follow the
 * reference face, the rest lie inside the face oval. */
struct synthetic_face {
  double centre_x = 500, centre_y = 500;  // where the eye midpoint lands, pixels
  double eye_distance_px = 100;           // scale: pixels per 63 mm
  double yaw_deg = 0, pitch_deg = 0, roll_deg = 0;
  double eye_half_height_mm = 5;  // 5 = open, < 1 = closed
  double mouth_gap_mm = 1;        // inner-lip gap; 1 = closed
  double camera_distance_mm = 0;  // 0 = orthographic; else perspective from that distance
  double crown_mm = 125;          // eye line to the top of the hair (for synthetic masks)
};
face::mesh make_synthetic_mesh(const synthetic_face& f);
// The crown (top of the hair) of a synthetic face, in the same pixel coordinates.
vec2 synthetic_crown(const synthetic_face& f);
// Anthropometric constants of the reference face, millimetres.
inline constexpr double reference_eye_distance_mm = 63;
inline constexpr double reference_chin_mm = 112;     // eye line to chin
inline constexpr double reference_forehead_mm = 68;  // eye line to FaceMesh #10
inline constexpr double crown_over_forehead = 1.8;   // eye-to-crown / eye-to-#10, when the crown must be estimated

// The top of the head (hair included) from the person mask (face_geometry_crown.cpp).
struct crown_result {
  vec2 crown;                 // on the face's centre line, mesh pixel coordinates
  double above_eyes_px = 0;   // distance from the eye line up to the crown, along the face axis
  double head_height_px = 0;  // crown to chin along the face axis
  bool at_top_edge = false;   // the mask runs off the photo above the head: the head is cut
  bool estimated = false;     // no usable mask above the face: crown_over_forehead x the forehead distance
};
/* alpha: the person mask at any scale; alpha_scale = alpha pixels per photo pixel
 * (alpha.width / photo width). photo_w/photo_h: the photo the mesh coordinates refer to. */
// Fails with invalid_argument (empty alpha, alpha_scale <= 0 or not matching the sizes).
base::result<crown_result> find_crown(const alpha_plane& alpha, double alpha_scale, int photo_w, int photo_h,
                                      const face_points& f);

}  // namespace idphoto::pipeline

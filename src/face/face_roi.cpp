// The two regions of interest and their pixel maps: the photo letterboxed into BlazeFace's
// square input, and the eye-aligned, 1.5x-enlarged square around a face for FaceMesh.
#include "face/face_roi.hpp"

#include <algorithm>
#include <cmath>

namespace idphoto::face {

letterbox letterbox::of(int width, int height) {
  letterbox l;
  l.side = static_cast<float>(std::max(width, height));
  l.origin = {static_cast<float>(width) / 2 - l.side / 2, static_cast<float>(height) / 2 - l.side / 2};
  return l;
}

affine_map letterbox::map(int n) const {
  const float s = side / static_cast<float>(n);
  return {origin, {s, 0}, {0, s}};
}

/*
 * MediaPipe's face-landmark front end (face_detection_front_detection_to_roi): the rect
 * is the detection box, rotated by the angle of the line from key point 0 to key point 1
 * measured in photo pixels (DetectionsToRects, target angle 0), then made square on its
 * longer side and scaled by 1.5 about its centre (RectTransformation square_long, scale
 * 1.5). The box itself is axis-aligned; only the crop turns.
 */
face_roi face_roi::of(const detection& d) {
  face_roi r;
  r.centre = {(d.x0 + d.x1) / 2, (d.y0 + d.y1) / 2};
  r.side = 1.5f * std::max(d.x1 - d.x0, d.y1 - d.y0);
  const point a = d.keypoints[static_cast<int>(keypoint::right_eye)];
  const point b = d.keypoints[static_cast<int>(keypoint::left_eye)];
  r.angle = std::atan2(b.y - a.y, b.x - a.x);
  return r;
}

point face_roi::to_photo(point crop_px, int n) const {
  const float u = crop_px.x / static_cast<float>(n) - 0.5f, v = crop_px.y / static_cast<float>(n) - 0.5f;
  const float c = std::cos(angle), s = std::sin(angle);
  return {centre.x + side * (u * c - v * s), centre.y + side * (u * s + v * c)};
}

affine_map face_roi::map(int n) const {
  const float c = std::cos(angle), s = std::sin(angle), step = side / static_cast<float>(n);
  return {to_photo({0, 0}, n), {step * c, step * s}, {-step * s, step * c}};
}

}  // namespace idphoto::face

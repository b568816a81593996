// Frontal face detection (OpenCV Haar cascade from Debian's opencv-data), used to
// choose the subject and to flag photos with no person.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "pipeline/person_only.hpp"
#include "pipeline/planes.hpp"

namespace idphoto::pipeline {

class face_detector {
 public:
  // Fails with not_found when the cascade file is missing, corrupt when it does not load.
  static base::result<std::unique_ptr<face_detector>> load(const std::string& cascade_path);
  ~face_detector();

  // Faces in photo coordinates, largest first. Detection runs on a grey copy scaled
  // to at most detect_side_px on its long side. Returns empty on any OpenCV error.
  std::vector<box> detect(const rgb8_plane& photo, int detect_side_px = 480) const;

  static const char* default_cascade_path();

 private:
  face_detector() = default;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace idphoto::pipeline

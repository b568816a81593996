// Haar-cascade face detection (Viola-Jones, OpenCV objdetect). Cheap (~10 ms on a
// 480 px grey image) and good enough to tell "is there a frontal face, and where";
// ID photos are frontal by definition. OpenCV exceptions stop here.
#include "pipeline/face_detect.hpp"

#include <algorithm>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

namespace idphoto::pipeline {

struct face_detector::impl {
  mutable cv::CascadeClassifier cascade;
};

face_detector::~face_detector() = default;

const char* face_detector::default_cascade_path() {
  return "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";
}

base::result<std::unique_ptr<face_detector>> face_detector::load(const std::string& path) {
  std::unique_ptr<face_detector> d(new face_detector());
  d->impl_ = std::make_unique<impl>();
  try {
    if (!d->impl_->cascade.load(path))
      return base::make_error(base::errc::not_found,
                              "face cascade '" + path + "' is missing or unreadable (Debian package opencv-data)");
  } catch (const cv::Exception& e) {
    return base::make_error(base::errc::corrupt, "face cascade '" + path + "': " + e.what());
  }
  return d;
}

std::vector<box> face_detector::detect(const rgb8_plane& photo, int detect_side_px) const {
  std::vector<box> out;
  if (photo.width <= 0 || photo.height <= 0) return out;
  try {
    cv::Mat rgb(photo.height, photo.width, CV_8UC3, const_cast<uint8_t*>(photo.px.data()));
    cv::Mat grey;
    cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
    const double scale = std::min(1.0, static_cast<double>(detect_side_px) / std::max(photo.width, photo.height));
    if (scale < 1.0) cv::resize(grey, grey, cv::Size(), scale, scale, cv::INTER_AREA);
    cv::equalizeHist(grey, grey);
    std::vector<cv::Rect> faces;
    const int min_side = std::max(12, std::min(grey.cols, grey.rows) / 10);
    impl_->cascade.detectMultiScale(grey, faces, 1.1, 5, 0, cv::Size(min_side, min_side));
    for (const auto& f : faces)
      out.push_back({static_cast<int>(f.x / scale), static_cast<int>(f.y / scale), static_cast<int>(f.width / scale),
                     static_cast<int>(f.height / scale)});
    std::sort(out.begin(), out.end(),
              [](const box& a, const box& b) { return a.width * a.height > b.width * b.height; });
  } catch (const cv::Exception&) {
    out.clear();
  }
  return out;
}

}  // namespace idphoto::pipeline

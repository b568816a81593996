// Faces in a photo: BlazeFace (short range, 128x128) for boxes and six key points, then
// MediaPipe FaceMesh (468 landmarks, 192x192) on a crop aligned to the eyes. Both models come
// from npm (scripts/fetch-models, docs/models.md) and run on idphoto's own runtime (src/infer).
// This header is the module's contract; everything else in src/face is internal.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace idphoto::face {

// A point in the pixel coordinates of the image passed in (x right, y down, pixel centres at
// +0.5: the top-left pixel covers [0,1) x [0,1)).
struct point {
  float x = 0, y = 0;
};

// An RGB photo the caller owns: interleaved 8-bit sRGB, row-major, no padding (stride = 3 * width).
struct rgb_view {
  const uint8_t* px = nullptr;
  int width = 0, height = 0;
};

// Views larger than this are refused (invalid_argument) before a pixel is read. Neither
// model looks at more than ~192 x 192 samples, so size costs time only through sampling.
constexpr int k_max_side_px = 1 << 16;
constexpr int64_t k_max_pixels = int64_t{1} << 30;

// BlazeFace key points, in the model's order. "Right"/"left" are the subject's: the subject's
// right eye appears on the LEFT of a non-mirrored photo. Checked on grace_hopper_512x512.jpg
// (tests/face): key point 0 lies left of key point 1 in the image, 4 (right ear tragion) at the
// image's left edge of the face, and FaceMesh's subject-right eye corners (33, 133) next to
// key point 0. (MediaPipe's ROI graph comments index 0 as "left eye": the viewer's left.)
enum class keypoint : int { right_eye = 0, left_eye, nose_tip, mouth, right_ear, left_ear };

struct detection {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // face box, image pixels (x0 < x1, y0 < y1); may reach
                                         // past the photo's edges for a face cut by the frame
  float score = 0;                       // 0..1 (after the sigmoid), after weighted NMS
  std::array<point, 6> keypoints;        // indexed by keypoint
};

// FaceMesh's 468 landmarks in image pixels (x, y) plus z (depth relative to the face centre,
// in the same pixel scale as x; smaller = nearer the camera), in MediaPipe's canonical order.
// Well-known indices: 1 nose tip, 152 chin, 10 forehead top of the mesh (not the crown: hair is
// not in the mesh), 33/133 subject's right eye outer/inner corner, 263/362 left eye outer/inner,
// 159/145 right eye upper/lower lid, 386/374 left eye upper/lower lid, 13/14 inner lips upper/lower,
// 61/291 mouth corners, 234/454 face sides (cheek contour).
struct mesh {
  std::vector<point> pts;  // 468
  std::vector<float> z;    // 468
  float presence = 0;      // 0..1: the model's face-presence score for this crop
};

struct face_config {
  std::string models_dir = "models";  // holds blazeface-front-128.onnx and face-mesh-468.onnx
  int n_threads = 1;                  // inference threads, 1..256 (these nets are small)
  float min_score = 0.5f;             // (0, 1]: detections below are dropped (MediaPipe's default)
  float nms_iou = 0.3f;               // (0, 1]: weighted NMS merges boxes overlapping more than this
  int max_faces = 8;                  // 1..1000
};

// Not thread-safe: one analyser per thread (or a lock around it). Holds both models planned
// for their fixed inputs, weights widened to float32 (~5 MB with the model files' copies),
// activation arenas (~3 MB), oneDNN primitives; measured, it adds ~27 MB resident to a fresh
// process, a third of it oneDNN's own code, shared with ISNet (docs/performance.md, "Faces").
class face_analyser {
 public:
  // Fails with not_found (a model file missing: names it and says to run scripts/fetch-models),
  // corrupt/unsupported (a model does not load, plan or have the expected outputs; both
  // are planned and run once here), invalid_argument (config).
  static base::result<std::unique_ptr<face_analyser>> create(const face_config& cfg);
  ~face_analyser();

  // Faces in the whole photo (any size: it is letterboxed to 128x128 as MediaPipe does), highest
  // score first. Faces far smaller than ~1/10 of the photo's long side may be missed (the
  // short-range model's limit: it sees the whole photo at 128 px). Empty vector = no face.
  // Fails with invalid_argument for an empty view or one over the limits above; internal for
  // a runtime failure.
  base::result<std::vector<detection>> detect(const rgb_view& photo);

  // Dense landmarks for one detected face: the crop is rotated so the eyes are level, scaled
  // from the detection box as MediaPipe does (1.5x the box), run at 192x192, mapped back to photo
  // pixels. Any detection may be passed (e.g. one from an earlier frame or another detector);
  // presence says whether the crop really holds a face. Fails with invalid_argument (empty
  // view, a box that is empty, not finite or far larger than the photo), internal (runtime
  // failure).
  base::result<mesh> landmarks(const rgb_view& photo, const detection& d);

 private:
  face_analyser() = default;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace idphoto::face

// face_analyser: the two models on idphoto's runtime, from a photo to detections (BlazeFace
// letterboxed, decoded, merged) and from a detection to 468 landmarks (FaceMesh on the crop).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "face/affine_sample.hpp"
#include "face/anchors.hpp"
#include "face/blazeface_decode.hpp"
#include "face/face.hpp"
#include "face/face_roi.hpp"
#include "face/weighted_nms.hpp"
#include "infer/session.hpp"

namespace idphoto::face {

using base::errc;
using base::make_error;

namespace {

constexpr int k_detect_side = 128;  // BlazeFace short-range input, px
constexpr int k_mesh_side = 192;    // FaceMesh input, px
constexpr int k_mesh_points = 468;
const char* const k_detect_file = "blazeface-front-128.onnx";
const char* const k_mesh_file = "face-mesh-468.onnx";
// Model interfaces (docs/models.md).
const char* const k_detect_input = "input:0";
const char* const k_detect_scores[2] = {"Identity:0", "Identity_1:0"};  // strides 8 and 16
const char* const k_detect_boxes[2] = {"Identity_2:0", "Identity_3:0"};
const char* const k_mesh_input = "input_1";
const char* const k_mesh_landmarks = "conv2d_21";
const char* const k_mesh_presence = "conv2d_31";

base::result<void> check_view(const rgb_view& v) {
  if (!v.px || v.width <= 0 || v.height <= 0)
    return make_error(errc::invalid_argument, "empty photo view (" + std::to_string(v.width) + "x" +
                                                  std::to_string(v.height) + ", pixels " + (v.px ? "set" : "null") +
                                                  ")");
  if (v.width > k_max_side_px || v.height > k_max_side_px || static_cast<int64_t>(v.width) * v.height > k_max_pixels)
    return make_error(errc::invalid_argument, "photo view " + std::to_string(v.width) + "x" + std::to_string(v.height) +
                                                  " is over the limits (" + std::to_string(k_max_side_px) +
                                                  " px a side, " + std::to_string(k_max_pixels) + " px)");
  return {};
}

bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Loads one model and plans it once for its fixed input (so a model that loads but does
// not run here fails at create, not on the first photo); checks the outputs' sizes.
base::result<std::unique_ptr<infer::session>> open_model(const std::string& dir, const char* file, const char* input,
                                                         infer::shape_t shape,
                                                         std::vector<std::pair<std::string, int64_t>> outputs,
                                                         int n_threads) {
  const std::string path = dir + "/" + file;
  if (!file_exists(path))
    return make_error(errc::not_found, "face model " + path + " is missing (run scripts/fetch-models)");
  auto m = infer::load_model(path);
  if (!m.ok()) return make_error(m.err().code, "face model " + path + ": " + m.err().detail);
  infer::session_options o;
  o.backend = infer::backend_kind::onednn;
  o.weights = infer::weights_mode::resident;  // small nets: widen once, run fast
  o.n_threads = n_threads;
  for (const auto& [name, count] : outputs) o.outputs.push_back(name);
  auto s = infer::session::create(*m, o);
  if (!s.ok()) return make_error(s.err().code, "face model " + path + ": " + s.err().detail);
  auto r = (*s)->run({{input, infer::tensor::zeros(infer::dtype::f32, shape)}});
  if (!r.ok())
    return make_error(r.err().code == errc::invalid_argument ? errc::unsupported : r.err().code,
                      "face model " + path + " does not run: " + r.err().detail);
  for (size_t k = 0; k < outputs.size(); ++k)
    if ((*r)[k].t.size() != outputs[k].second)
      return make_error(errc::unsupported, "face model " + path + ": output '" + outputs[k].first + "' has " +
                                               std::to_string((*r)[k].t.size()) + " values, expected " +
                                               std::to_string(outputs[k].second));
  return std::move(*s);
}

float sigmoid(float x) { return 1.f / (1.f + std::exp(-std::clamp(x, -100.f, 100.f))); }

bool finite_detection(const detection& d) {
  bool ok = std::isfinite(d.x0) && std::isfinite(d.y0) && std::isfinite(d.x1) && std::isfinite(d.y1);
  for (const point& p : d.keypoints) ok = ok && std::isfinite(p.x) && std::isfinite(p.y);
  return ok;
}

}  // namespace

struct face_analyser::impl {
  face_config cfg;
  std::unique_ptr<infer::session> detector, mesher;
  std::vector<anchor> anchors = make_anchors();
};

face_analyser::~face_analyser() = default;

base::result<std::unique_ptr<face_analyser>> face_analyser::create(const face_config& cfg) {
  if (cfg.n_threads < 1 || cfg.n_threads > 256)
    return make_error(errc::invalid_argument, "n_threads must be 1..256, got " + std::to_string(cfg.n_threads));
  if (!(cfg.min_score > 0 && cfg.min_score <= 1))
    return make_error(errc::invalid_argument, "min_score must be in (0, 1], got " + std::to_string(cfg.min_score));
  if (!(cfg.nms_iou > 0 && cfg.nms_iou <= 1))
    return make_error(errc::invalid_argument, "nms_iou must be in (0, 1], got " + std::to_string(cfg.nms_iou));
  if (cfg.max_faces < 1 || cfg.max_faces > 1000)
    return make_error(errc::invalid_argument, "max_faces must be 1..1000, got " + std::to_string(cfg.max_faces));
  auto p = std::make_unique<impl>();
  p->cfg = cfg;
  const int64_t n_anchors = static_cast<int64_t>(p->anchors.size());  // 896 = 512 + 384
  auto det = open_model(cfg.models_dir, k_detect_file, k_detect_input, {1, k_detect_side, k_detect_side, 3},
                        {{k_detect_scores[0], 512},
                         {k_detect_scores[1], n_anchors - 512},
                         {k_detect_boxes[0], 512 * 16},
                         {k_detect_boxes[1], (n_anchors - 512) * 16}},
                        cfg.n_threads);
  if (!det.ok()) return det.err();
  auto mesh = open_model(cfg.models_dir, k_mesh_file, k_mesh_input, {1, k_mesh_side, k_mesh_side, 3},
                         {{k_mesh_landmarks, k_mesh_points * 3}, {k_mesh_presence, 1}}, cfg.n_threads);
  if (!mesh.ok()) return mesh.err();
  p->detector = std::move(*det);
  p->mesher = std::move(*mesh);
  std::unique_ptr<face_analyser> a(new face_analyser());
  a->impl_ = std::move(p);
  return a;
}

/*
 * Detection, as MediaPipe's short-range face detection graph: the photo letterboxed into
 * 128 x 128 (aspect kept, black around it, RGB scaled to [-1, 1]), the model, anchor
 * decoding, weighted NMS at IoU 0.3, and the boxes and key points mapped from the square
 * back to photo pixels. Sampling is anti-aliased (affine_sample.cpp), so large photos are
 * shrunk by averaging rather than by skipping pixels.
 */
base::result<std::vector<detection>> face_analyser::detect(const rgb_view& photo) {
  IDPHOTO_TRY(check_view(photo));
  const letterbox box = letterbox::of(photo.width, photo.height);
  infer::tensor x = infer::tensor::zeros(infer::dtype::f32, {1, k_detect_side, k_detect_side, 3});
  sample_rgb(photo, box.map(k_detect_side), k_detect_side, k_detect_side, border::zero, 1.f / 127.5f, -1.f,
             x.data<float>());
  auto r = impl_->detector->run({{k_detect_input, std::move(x)}});
  if (!r.ok()) return make_error(errc::internal, "face detection: " + r.err().to_string());
  // The two heads in anchor order: stride 8 (16 x 16 x 2) then stride 16 (8 x 8 x 6).
  const size_t n = impl_->anchors.size();
  std::vector<float> logits, raw;
  logits.reserve(n);
  raw.reserve(n * 16);
  for (int h = 0; h < 2; ++h) {
    const infer::tensor& s = (*r)[h].t;
    const infer::tensor& b = (*r)[2 + h].t;
    logits.insert(logits.end(), s.data<float>(), s.data<float>() + s.size());
    raw.insert(raw.end(), b.data<float>(), b.data<float>() + b.size());
  }
  decode_options o;
  o.scale = static_cast<float>(k_detect_side);
  o.min_score = impl_->cfg.min_score;
  std::vector<detection> faces = weighted_nms(decode_candidates(logits.data(), raw.data(), impl_->anchors, o),
                                              impl_->cfg.nms_iou, impl_->cfg.max_faces);
  for (detection& d : faces) {
    const point a = box.to_photo({d.x0, d.y0}), b = box.to_photo({d.x1, d.y1});
    d.x0 = a.x;
    d.y0 = a.y;
    d.x1 = b.x;
    d.y1 = b.y;
    for (point& k : d.keypoints) k = box.to_photo(k);
  }
  return faces;
}

/*
 * Landmarks, as MediaPipe's face-landmark front end: the eye-aligned square crop of
 * face_roi (1.5x the box, turned so the eyes are level), resampled to 192 x 192 with the
 * edge pixels repeated past the photo's border, RGB scaled to [0, 1]; the model's 468
 * (x, y, z) are crop pixels, mapped back through the crop's rotation and scale (z scales
 * with the crop like x). Presence is the sigmoid of the model's face-flag logit.
 */
base::result<mesh> face_analyser::landmarks(const rgb_view& photo, const detection& d) {
  IDPHOTO_TRY(check_view(photo));
  if (!finite_detection(d) || !(d.x1 > d.x0) || !(d.y1 > d.y0))
    return make_error(errc::invalid_argument, "the detection's box is empty or not finite");
  const face_roi roi = face_roi::of(d);
  if (!(roi.side < 64.f * static_cast<float>(std::max(photo.width, photo.height))))
    return make_error(errc::invalid_argument, "the detection's box is far larger than the photo");
  infer::tensor x = infer::tensor::zeros(infer::dtype::f32, {1, k_mesh_side, k_mesh_side, 3});
  sample_rgb(photo, roi.map(k_mesh_side), k_mesh_side, k_mesh_side, border::replicate, 1.f / 255.f, 0.f,
             x.data<float>());
  auto r = impl_->mesher->run({{k_mesh_input, std::move(x)}});
  if (!r.ok()) return make_error(errc::internal, "face landmarks: " + r.err().to_string());
  const float* lm = (*r)[0].t.data<float>();
  mesh out;
  out.pts.resize(k_mesh_points);
  out.z.resize(k_mesh_points);
  const float z_scale = roi.side / static_cast<float>(k_mesh_side);
  for (int i = 0; i < k_mesh_points; ++i) {
    out.pts[i] = roi.to_photo({lm[3 * i], lm[3 * i + 1]}, k_mesh_side);
    out.z[i] = lm[3 * i + 2] * z_scale;
  }
  out.presence = sigmoid((*r)[1].t.data<float>()[0]);
  return out;
}

}  // namespace idphoto::face

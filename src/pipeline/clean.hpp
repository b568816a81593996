// The clean story from bytes to an ID-ready image: probe, limits, decode, orient,
// sRGB, model input, infer, mask to output size, person only, edge refinement,
// colour decontamination, composite, encode; or, with a spec, framing to it from the photo
// at the resolution the spec needs (clean_spec.cpp). One cleaner = one inference slot.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "image/encode.hpp"
#include "image/image.hpp"
#include "image/limits.hpp"
#include "infer/session.hpp"
#include "pipeline/face_detect.hpp"
#include "pipeline/frame.hpp"
#include "pipeline/id_spec.hpp"
#include "pipeline/model_spec.hpp"
#include "pipeline/to_model_input.hpp"

namespace idphoto::pipeline {

// Background presets. blue is the common ID-photo blue (#438EDB).
struct colour_preset {
  const char* name;
  image::rgb8 rgb;
};
const std::vector<colour_preset>& colour_presets();
// "blue", "white", "grey", "red", "#RRGGBB", or "none" (nullopt = transparent).
// Fails with invalid_argument naming the value and the accepted forms.
base::result<std::optional<image::rgb8>> parse_background(const std::string& s);

struct pipeline_config {
  std::string models_dir = "models";
  std::string model = "isnet-general-fp16";  // a known name or a path to an .onnx
  std::string model_norm;                    // for a path: imgly | imagenet | half
  // Network input side, 384..1024 and a multiple of 32; 0 = follow the subject: when the
  // largest face box is at least tight_face_fraction of the photo's width (a face that fills
  // the frame, as in a passport crop) auto_tight_size_px, with a smaller face (half-body,
  // selfies) auto_size_px, with no face auto_no_face_size_px (and the retry below for a small,
  // far subject). Measured on three portrait sets (docs/performance.md, "Choosing the model
  // size"): 384 is best on tight face crops, 640 on selfies and half-body photos; with no face
  // 384 is as good or better on two of the three sets and cheaper.
  int model_size_px = 0;
  int auto_size_px = 640;
  int auto_tight_size_px = 384;
  int auto_no_face_size_px = 384;
  double tight_face_fraction = 0.75;
  // Small subjects: when the network's mask at the chosen size covers less than
  // retry_below_coverage of the photo (a person far away in a street scene), run it again
  // at retry_size_px (when larger) and keep that mask. 0 = never. Portraits do not trigger it.
  int retry_size_px = 640;
  double retry_below_coverage = 0.15;
  fit_mode fit = fit_mode::squash;
  int n_threads = 0;  // 0 = all cores
  infer::weights_mode weights = infer::weights_mode::streamed;
  std::string face_cascade;  // empty = OpenCV's frontal-face default
  image::image_limits limits;
  int work_side_px = 1024;  // decode box for refinement; >= max_size_px is used
  // Give the network's activation memory back after each photo, so refinement and
  // encoding (and an idle server) do not sit on it. Costs ~10-20% of inference time.
  bool trim_after_run = true;

  // Returns invalid_argument listing every bad field.
  base::result<void> validate() const;
};

// The network input side for a photo whose largest face box is face_fraction of its width
// (0 = no face): cfg.model_size_px when set, else the size rule above. Never fails.
int choose_model_size(const pipeline_config& cfg, double face_fraction);

struct clean_options {
  int max_size_px = 800;                                              // output fits max_size x max_size, never upscaled
  std::optional<image::rgb8> background = image::rgb8{67, 142, 219};  // nullopt = transparent PNG
  image::encode_options encode;                                       // format and quality
  bool refine = true;                                                 // person only + edge refinement + decontamination
  bool mask_only = false;                                             // output the final alpha as an 8-bit grey PNG
  // Framing to an ID spec (at its dpi: at_dpi / resolve_spec): the output is exactly the
  // spec's pixels, framed from the face's landmarks (frame.hpp), with a compliance report.
  // max_size_px, background, encode and mask_only do not apply then; `frame` says the
  // background (nullopt = the spec's default), format (nullopt = the spec's, else PNG),
  // quality and size limit. A photo with no face found fails with invalid_argument.
  std::optional<id_spec> spec;
  frame_options frame;
};

struct clean_timing {
  double decode_ms = 0, infer_ms = 0, refine_ms = 0, encode_ms = 0, total_ms = 0;
};

// The doubt about a result, most serious first (the mask's thresholds live in clean.cpp only).
enum class clean_warning { none, mask_empty, mask_full, no_person };

struct clean_result {
  std::vector<uint8_t> bytes;  // the encoded output
  image::format fmt = image::format::png;
  int width = 0, height = 0;
  bool person = false;       // a face was found
  double coverage = 0;       // mean alpha, 0..1
  int model_size_px = 0;     // the network input side used (retry_size_px after a retry)
  double face_fraction = 0;  // largest face box width / photo width (0 = no face): drives the size rule
  std::vector<std::string> warnings;
  clean_warning warning = clean_warning::none;  // the first of these that applies
  clean_timing timing;
  // With a spec: the face (full-resolution photo pixels after EXIF orientation), the
  // compliance report, the dpi and JPEG quality; framed->file.bytes is empty (moved to bytes).
  std::optional<framed_photo> framed;
  std::string spec_name;
};

// Framing to a spec fails with invalid_argument and this text first when no face is found.
inline constexpr const char* no_face_error = "no face found";
// Whether e is that failure (the photo is fine, it is not a portrait).
bool is_no_face(const base::error& e);

// What a colour and a format given for the output mean when a spec frames it (the CLI's
// --spec and the service's spec): the colour becomes the frame's and must be one (not none);
// the format becomes the frame's and must be png or jpg (WebP has no dpi field); the frame
// keeps the encoder's quality. Sets co->frame; each fault found is set in the answer (the
// callers word them for their users).
struct spec_output_faults {
  bool background_none = false;  // a colour was given and it is none
  bool webp = false;             // a format was given and it is WebP
  bool any() const { return background_none || webp; }
};
spec_output_faults set_spec_output(bool background_given, bool format_given, clean_options* co);

class cleaner {
 public:
  // Loads the model and the face cascade. Fails with not_found (model/cascade missing),
  // corrupt/unsupported (model does not load), invalid_argument (config).
  static base::result<std::unique_ptr<cleaner>> create(const pipeline_config& cfg);

  // Fails with the step's error: unsupported (format), too_large (limits), corrupt
  // (undecodable), invalid_argument (options), internal. Thread-safe (one at a time).
  base::result<clean_result> clean(std::span<const uint8_t> bytes, const clean_options& o);

  const model_spec& spec() const { return spec_; }
  const pipeline_config& config() const { return cfg_; }
  ~cleaner();

 private:
  cleaner() = default;
  // clean_spec.cpp: frames the cut-out to o.spec. photo, work and alpha: the work-size photo,
  // its pixels and its final mask (all one size); bytes: the file, decoded again when the
  // frame needs more pixels than the work size has; full_w: its upright width (from the probe).
  base::result<void> frame_to_spec(std::span<const uint8_t> bytes, int full_w, const image::image& photo,
                                   const rgb8_plane& work, const alpha_plane& alpha, const clean_options& o,
                                   clean_result& res);
  std::unique_ptr<face::face_analyser> landmarks_;  // loaded on the first photo framed to a spec
  pipeline_config cfg_;
  model_spec spec_;
  std::shared_ptr<infer::model> model_;
  std::unique_ptr<infer::session> session_;
  std::unique_ptr<face_detector> faces_;
  std::mutex mu_;
};

}  // namespace idphoto::pipeline

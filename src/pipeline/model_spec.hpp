// Segmentation models described as data: file, tensor names, size, normalisation.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace idphoto::pipeline {

struct model_spec {
  std::string name;    // "isnet-general-fp16"
  std::string file;    // file name under the models directory, or a path
  std::string sha256;  // empty = not checked (a user-supplied file)
  std::string input_name = "input";
  std::string output_name;  // empty = the model's first output
  int native_size_px = 1024;
  float mean[3] = {128, 128, 128};  // input = (pixel - mean) / std, pixel in 0..255
  float std[3] = {256, 256, 256};
  bool minmax_output = false;  // rembg's U²-Net family: rescale output to 0..1 by its min and max
  std::string note;            // provenance, one line
};

// The models idphoto knows by name.
const std::vector<model_spec>& known_models();

// A known name, or a path to a compatible .onnx with normalisation preset `norm`
// ("imgly" = (x-128)/256, "imagenet" = rembg's U²-Net, "half" = rembg's ISNet (x/255-0.5)).
// Fails with not_found (unknown name, missing file) or invalid_argument (unknown preset).
base::result<model_spec> resolve_model(const std::string& name_or_path, const std::string& models_dir,
                                       const std::string& norm = "");

}  // namespace idphoto::pipeline

// Model input: the photo resized to the network's square input (squash or letterbox)
// and normalised per the model spec into an NCHW float tensor.
#pragma once
#include "base/result.hpp"
#include "image/image.hpp"
#include "infer/tensor.hpp"
#include "pipeline/model_spec.hpp"
#include "pipeline/planes.hpp"

namespace idphoto::pipeline {

enum class fit_mode {
  squash,     // stretch to S x S (what the model was trained with; the default)
  letterbox,  // fit inside S x S, pad with the mean colour
};

struct model_input {
  infer::tensor t;                                                 // [1, 3, S, S]; may be moved into the session
  int size_px = 0;                                                 // S
  int content_x = 0, content_y = 0, content_w = 0, content_h = 0;  // where the photo lies in S x S
};

// Fails with the image module's errors (invalid_argument, internal) on a bad image.
base::result<model_input> to_model_input(const image::image& srgb, const model_spec& spec, int size_px, fit_mode fit);

// The network's probability map (S x S) cut back to the photo's region; applies the
// spec's min-max rescaling (over the finite values; NaN and infinities become 0). Fails with
// invalid_argument when the tensor is not float32 [1,1,S,S].
base::result<alpha_plane> mask_from_output(const infer::tensor& out, const model_spec& spec, const model_input& in);

}  // namespace idphoto::pipeline

// An execution plan: the model resolved for one set of input shapes.
// Shape ops are folded to constants, every runtime value has a shape, ops are
// decoded into parameter structs, and buffers are assigned by liveness.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "infer/model.hpp"
#include "infer/tensor.hpp"

namespace idphoto::infer {

enum class op_kind {
  conv,
  relu,
  sigmoid,
  clip,
  max_pool,
  avg_pool,
  global_avg_pool,
  batch_norm,
  resize,
  concat,
  add,
  mul,
  sub,
  div,
  prelu,
  transpose,
  pad,
};
const char* op_kind_name(op_kind k);

// All spatial ops are 2-D (NCHW). Pads are top, left, bottom, right.
struct conv_params {
  int64_t n = 1, c_in = 0, h_in = 0, w_in = 0, c_out = 0, h_out = 0, w_out = 0;
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  int64_t group = 1;
  bool has_bias = false;
  bool fuse_relu = false;  // a following Relu folded into this step
};

struct pool_params {
  int64_t n = 1, c = 0, h_in = 0, w_in = 0, h_out = 0, w_out = 0;
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;  // as in the file
  bool ceil_mode = false;
  bool count_include_pad = false;  // AveragePool only
};

enum class resize_mode { nearest, linear };
enum class resize_coord { half_pixel, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn };
enum class resize_nearest { round_prefer_floor, round_prefer_ceil, floor, ceil };

struct resize_params {
  int64_t n = 1, c = 0, h_in = 0, w_in = 0, h_out = 0, w_out = 0;
  float scale_h = 1, scale_w = 1;  // the scale ONNX uses in the coordinate transform
  resize_mode mode = resize_mode::nearest;
  resize_coord coord = resize_coord::half_pixel;
  resize_nearest nearest = resize_nearest::round_prefer_floor;
};

struct clip_params {
  float lo = -3.402823466e38f, hi = 3.402823466e38f;
};

struct batch_norm_params {
  // y = x * scale[c] + shift[c], folded from gamma, beta, mean, var, epsilon at plan time.
  std::vector<float> scale, shift;
};

struct concat_params {
  int64_t axis = 0;  // normalised, non-negative
};

struct transpose_params {
  std::vector<int64_t> perm;  // output dim i is input dim perm[i]
};

enum class pad_mode { constant, reflect, edge };

struct pad_params {
  // Per dimension of the input (any rank): cells added before / after; negative crops.
  std::vector<int64_t> begin, end;
  pad_mode mode = pad_mode::constant;
  float value = 0;  // constant mode
};

struct no_params {};

using op_params = std::variant<no_params, conv_params, pool_params, resize_params, clip_params, batch_norm_params,
                               concat_params, transpose_params, pad_params>;

struct step {
  op_kind kind = op_kind::relu;
  std::string node;         // node label, for errors and profiles
  std::vector<int> inputs;  // value ids; for conv: x, w, [b] (w, b are constants); prelu: x, slope
  int output = -1;          // value id
  op_params params;
};

enum class value_kind { graph_input, runtime, constant };

struct value {
  std::string name;
  value_kind kind = value_kind::runtime;
  dtype type = dtype::f32;  // runtime values are always computed in f32
  shape_t shape;
  // constant: points into model initialisers or plan::folded (never null for constants).
  const tensor* constant = nullptr;
  // runtime: this value shares the buffer of another (Identity, Reshape, Squeeze,
  // Unsqueeze, Flatten, Cast between float types). -1 if it owns its buffer.
  int alias_of = -1;
  bool graph_output = false;
  int producer = -1;  // step index; -1 for graph inputs and aliases
  int last_use = -1;  // last step index reading it (through aliases); steps.size() for outputs
  // Buffer assignment (filled by assign_buffers for owners, copied for aliases).
  int64_t offset = -1;
  int64_t bytes = 0;
};

struct plan {
  std::vector<value> values;
  std::vector<step> steps;
  std::vector<int> inputs;                      // value ids of graph inputs, in model order
  std::vector<int> outputs;                     // value ids of requested outputs, in request order
  std::vector<std::unique_ptr<tensor>> folded;  // constants made at plan time
  int64_t arena_bytes = 0;                      // planned peak of activation memory
  int n_folded_nodes = 0;
  int n_fused_relu = 0;
  int n_resize_retargeted = 0;

  int root(int v) const;  // follow alias_of to the owning value
};

struct plan_request {
  std::vector<std::pair<std::string, shape_t>> input_shapes;  // every graph input
  std::vector<std::string> outputs;                           // empty = every graph output
  bool fuse_relu = true;
  // Make size-baked Resize targets follow the spatial size of their partner (see plan.cpp).
  bool retarget_resize = true;
};

// Fails with unsupported (an op, dtype or attribute we do not run, naming the node),
// invalid_argument (shapes that do not fit, missing inputs, wrong rank).
base::result<std::unique_ptr<plan>> make_plan(const model& m, const plan_request& req);

// Assigns offsets to every buffer-owning runtime value so that values whose live
// ranges overlap never overlap in memory. size_of(value) returns the bytes the
// executor needs for it (a blocked layout may pad). Fills value::offset/bytes and
// plan::arena_bytes; aliases get their owner's offset. Alignment: 64 bytes.
void assign_buffers(plan& p, const std::function<int64_t(const value&)>& size_of);

}  // namespace idphoto::infer

// Shared helpers for the infer tests: tiny models built in C++, random tensors,
// TensorProto files read into tensors, models serialised to ONNX bytes, comparisons.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "infer/model.hpp"
#include "infer/session.hpp"
#include "infer/tensor.hpp"

namespace idphoto::infer::test {

// ---------------------------------------------------------------- attributes

attribute attr_int(int64_t v);
attribute attr_float(float v);
attribute attr_string(std::string v);
attribute attr_ints(std::vector<int64_t> v);
attribute attr_floats(std::vector<float> v);
attribute attr_tensor(tensor v);

// ---------------------------------------------------------------- tiny models

// Builds a model struct node by node. Nodes keep the order they are added in
// (the caller adds them topologically, as load_model would leave them).
// An empty node name becomes "<op_type>#<index>", the loader's convention.
class model_builder {
 public:
  explicit model_builder(int64_t opset = 13);
  model_builder& input(const std::string& name, shape_t dims, dtype t = dtype::f32);
  model_builder& output(const std::string& name, dtype t = dtype::f32);
  model_builder& initializer(const std::string& name, tensor t);
  model_builder& add_node(const std::string& op_type, std::vector<std::string> inputs, std::vector<std::string> outputs,
                          std::map<std::string, attribute> attrs = {}, const std::string& name = "");
  model& get() { return m_; }
  std::shared_ptr<model> build() const;  // a copy

 private:
  model m_;
};

// ---------------------------------------------------------------- tensors

// Uniform values in [lo, hi) drawn from rng, float32.
tensor random_tensor(std::mt19937& rng, shape_t s, float lo = -1.0f, float hi = 1.0f);
// Elementwise |x| of a float32 tensor.
tensor abs_tensor(const tensor& t);
// float32 -> float16 (round to nearest even), and back. Own implementation, so the
// test does not trust the runtime's conversion to make its inputs.
uint16_t f32_to_f16_bits(float f);
float f16_bits_to_f32(uint16_t h);
tensor to_f16_tensor(const tensor& f32);
tensor f16_to_f32_tensor(const tensor& f16);

bool is_float_type(dtype t);
// Element values widened to double (float and integer types). Own implementation.
std::vector<double> values_f64(const tensor& t);
std::vector<float> values_f32(const tensor& t);

// Reads a serialised onnx.TensorProto file (the backend tests' input_K.pb / output_K.pb).
// Fails with not_found (no file), corrupt (not a TensorProto, or data not matching dims),
// unsupported (an element type infer::dtype has no equivalent for; the detail names it).
base::result<tensor> read_tensor_pb(const std::string& path);

// Serialises a model struct as an ONNX ModelProto (ir_version 8, default-domain opset
// m.opset). Graph inputs are declared with their dims; initialisers keep their dtype.
std::string serialise_model(const model& m);

// ---------------------------------------------------------------- comparisons

// Each returns "" when got matches expected, else a description of the first bad
// element and the count of bad elements. Shapes must be equal; dtypes must be equal
// unless allow_dtype_change. NaN matches NaN.
std::string compare_exact(const tensor& expected, const tensor& got);
std::string compare_allclose(const tensor& expected, const tensor& got, double rtol, double atol,
                             bool allow_dtype_change = false);
// |got[i] - expected[i]| <= bound[i] for every i (bound has one entry per element).
std::string compare_bounded(const tensor& expected, const tensor& got, const std::vector<double>& bound);

// ---------------------------------------------------------------- running

session_options options_for(backend_kind b, weights_mode w = weights_mode::streamed);
const char* backend_label(backend_kind b);
// Creates a session and runs it once.
base::result<std::vector<named_tensor>> run_once(std::shared_ptr<const model> m, const session_options& o,
                                                 const std::vector<named_tensor>& inputs);
// Finds an output by name; nullptr if absent.
const tensor* find_output(const std::vector<named_tensor>& outs, const std::string& name);

}  // namespace idphoto::infer::test

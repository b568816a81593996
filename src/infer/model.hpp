// An ONNX model loaded into plain structs: nodes in topological order,
// initialisers kept in their stored dtype (fp16 stays fp16), inputs and outputs.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.hpp"
#include "infer/tensor.hpp"

namespace idphoto::infer {

struct attribute {
  enum class kind { i, f, s, ints, floats, t, strings, unsupported } k = kind::unsupported;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  tensor t;
};

struct node {
  std::string name;  // may be empty in the file; then "<op_type>#<index>"
  std::string op_type;
  std::string domain;
  std::vector<std::string> inputs;  // "" = optional input omitted
  std::vector<std::string> outputs;
  std::map<std::string, attribute> attrs;

  bool has(const std::string& a) const { return attrs.count(a) != 0; }
  int64_t get_int(const std::string& a, int64_t def) const;
  float get_float(const std::string& a, float def) const;
  std::string get_string(const std::string& a, const std::string& def) const;
  std::vector<int64_t> get_ints(const std::string& a, std::vector<int64_t> def = {}) const;
  std::string label() const;  // "Conv '/stage1/conv'" for error messages
};

struct value_info {
  std::string name;
  dtype type = dtype::unknown;
  std::vector<int64_t> dims;  // -1 where the file leaves a dimension symbolic
};

struct model {
  int64_t opset = 0;        // default-domain opset version
  std::vector<node> nodes;  // topologically sorted
  std::unordered_map<std::string, tensor> initializers;
  std::vector<value_info> inputs;  // graph inputs that are not initialisers
  std::vector<value_info> outputs;
  int64_t initializer_bytes = 0;  // as stored (fp16 counts 2 bytes per weight)
};

// Fails with corrupt (not an ONNX protobuf / truncated), unsupported (external data,
// sparse initialisers, a non-default domain), invalid_argument (a cycle or a dangling input).
base::result<std::shared_ptr<model>> load_model(const std::string& path);
base::result<std::shared_ptr<model>> load_model_from_bytes(const void* data, size_t size);

}  // namespace idphoto::infer

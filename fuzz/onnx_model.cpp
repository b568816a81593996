// Fuzz target onnx_model: an ONNX file through both ways the model loader reads one: from
// bytes (load_model_from_bytes: protobuf parses it whole) and from a file (load_model: mapped,
// walked by hand to leave raw initialisers of 64 KiB or more in the mapping, protobuf parses the
// rest), then the conversion into plain structs (dtypes and sizes, attributes, topological
// sort, dangling inputs and outputs).
// Invariants: both ways agree on whether the model loads, and on what they load; a loaded
// model's nodes are in an order where every input is an initialiser, a graph input or the
// output of an earlier node.
#include <set>
#include <string>

#include "fuzz_target.hpp"
#include "infer/model.hpp"
#include "temp_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace idphoto;
  static fuzz::temp_file file(".onnx");
  auto from_bytes = infer::load_model_from_bytes(data, size);
  auto from_file = infer::load_model(file.write(data, size));
  FUZZ_CHECK(from_bytes.ok() == from_file.ok());
  if (!from_bytes.ok()) return 0;

  const infer::model& model = **from_bytes;
  const infer::model& mapped = **from_file;
  FUZZ_CHECK(model.nodes.size() == mapped.nodes.size());
  FUZZ_CHECK(model.initializers.size() == mapped.initializers.size());
  FUZZ_CHECK(model.initializer_bytes == mapped.initializer_bytes);
  FUZZ_CHECK(model.inputs.size() == mapped.inputs.size() && model.outputs.size() == mapped.outputs.size());

  std::set<std::string> known;
  for (const auto& [name, t] : model.initializers) known.insert(name);
  for (const auto& in : model.inputs) known.insert(in.name);
  for (const auto& n : model.nodes) {
    for (const auto& in : n.inputs) FUZZ_CHECK(in.empty() || known.count(in) != 0);
    for (const auto& out : n.outputs) known.insert(out);
  }
  return 0;
}

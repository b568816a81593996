// Runs the ONNX backend node tests that Debian ships (libonnx-testdata) through both
// executors and compares with the stored outputs; prints run/passed/failed/skipped.
//
// Selection: every test directory whose model's nodes all have an op_type the runtime
// supports (read with the onnx protobuf directly, not with the loader under test, so a
// broken loader cannot shrink the selection). Each selected directory is one test case
// per backend.
//
// How inputs are fed. The node tests declare every tensor as a graph input, even the
// ones that are constants in real models. We feed them the way our models use them:
//  * operands in parameter slots (Conv W/B, BatchNormalization statistics, Clip min/max,
//    Resize roi/scales/sizes, Upsample scales, Reshape shape, Slice starts/ends/axes/steps,
//    Squeeze/Unsqueeze axes, Gather indices, Pad pads/constant_value) are given as
//    initialisers (PRelu's slope stays a runtime input: the runtime takes either);
//  * in a model made only of shape ops (Shape, Slice, Gather, Unsqueeze, Squeeze, Cast,
//    Constant, ConstantOfShape, Reshape, Identity) every input, data included, is given as
//    an initialiser:
//    the runtime folds shape ops at plan time when their inputs are known then, which is
//    the only way they run in our models (shape chains over constant shapes);
//  * everything else is a runtime graph input.
// Sessions use the default options, as the application does (Resize retargeting only
// touches sizes computed by a Concat, which no node test has).
//
// Tolerance: |got - expected| <= atol + rtol * |expected| with rtol = 1e-3, atol = 1e-7,
// the defaults of ONNX's own backend runner (onnx/backend/test/runner), which these
// expected outputs were made for. Integer outputs (Shape, ...) must match exactly;
// shapes and element types must match exactly.
//
// Skips. A case is skipped only when
//  (a) the runtime refused it with errc::unsupported AND the case is one of the listed
//      variants the runtime does not claim to support (k_listed_exceptions below), or
//  (b) the case's inputs/outputs are not tensors or have an element type infer::dtype
//      cannot hold (the runtime cannot be fed them at all).
// A refusal of a case outside the list is a FAILURE (the runtime claims the op), and so is
// any wrong answer or any other error.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "infer/model.hpp"
#include "infer/session.hpp"
#include "infer/test_util.hpp"

namespace fs = std::filesystem;
using namespace idphoto::infer;
using idphoto::base::errc;

namespace {

std::string node_test_root() {
  if (const char* e = std::getenv("IDPHOTO_ONNX_NODE_TESTS")) return e;
  return "/usr/share/libonnx-testdata/data/node";
}

// Ops that run on runtime tensors.
const std::set<std::string> k_runtime_ops = {"Conv",
                                             "Relu",
                                             "Sigmoid",
                                             "Clip",
                                             "MaxPool",
                                             "AveragePool",
                                             "GlobalAveragePool",
                                             "BatchNormalization",
                                             "Resize",
                                             "Upsample",
                                             "Concat",
                                             "Add",
                                             "Mul",
                                             "Sub",
                                             "Div",
                                             "PRelu",
                                             "Transpose",
                                             "Pad"};
// Ops folded at plan time when their inputs are known then.
const std::set<std::string> k_shape_ops = {"Shape", "Slice",    "Gather",          "Unsqueeze", "Squeeze",
                                           "Cast",  "Constant", "ConstantOfShape", "Reshape",   "Identity"};

// Operands from this index on are parameters (constants in real models).
int first_parameter_slot(const std::string& op) {
  static const std::set<std::string> with_params = {
      "Conv",    "BatchNormalization", "Clip",   "Resize", "Upsample", "Reshape", "Slice",
      "Squeeze", "Unsqueeze",          "Gather", "Pad"};
  return with_params.count(op) ? 1 : 1 << 30;
}

// Variants the runtime does not claim to support. A case matching one of these may be
// skipped, but only if the runtime itself answers errc::unsupported.
struct listed_exception {
  std::regex pattern;
  const char* reason;
};
const std::vector<listed_exception>& listed_exceptions() {
  static const std::vector<listed_exception> v = {
      {std::regex("pool_(1d|3d)_"), "1-D/3-D pooling: the runtime runs 2-D (NCHW) spatial ops only"},
      {std::regex("cubic"), "Resize mode cubic: only nearest and linear are implemented"},
      {std::regex("tf_crop_and_resize"), "Resize tf_crop_and_resize (roi): not implemented"},
      {std::regex("training_mode"), "BatchNormalization training_mode=1: inference runtime"},
      {std::regex("u?int8"), "integer element types on runtime tensors: runtime values are float32"},
      {std::regex("^test_(edge|reflect)_pad$"),
       "int32 data on a runtime tensor: runtime values are float32 (edge/reflect Pad on float data: test_fast_vs_ref)"},
      {std::regex("with_argmax"), "MaxPool second output (Indices): not implemented"},
      {std::regex("BFLOAT16|STRING"), "bfloat16/string element types: no infer::dtype"},
  };
  return v;
}
const char* listed_reason(const std::string& name) {
  for (const auto& e : listed_exceptions())
    if (std::regex_search(name, e.pattern)) return e.reason;
  return nullptr;
}

struct node_case {
  std::string name;  // directory name, e.g. test_conv_with_strides_padding
  std::string dir;
  std::set<std::string> op_types;
  std::vector<std::string> input_names;  // graph inputs (not initialisers), file order
  std::vector<std::string> output_names;
  std::set<std::string> constant_inputs;  // fed as initialisers (see the top comment)
  std::string non_tensor;                 // non-empty: a graph input/output is not a tensor
};

// Reads the model with the onnx protobuf and decides whether the case is selected.
bool describe_case(const fs::path& dir, node_case& c) {
  std::ifstream in(dir / "model.onnx", std::ios::binary);
  if (!in) return false;
  onnx::ModelProto mp;
  if (!mp.ParseFromIstream(&in)) return false;
  const auto& g = mp.graph();
  if (g.node_size() == 0) return false;
  bool all_shape_ops = true;
  for (const auto& n : g.node()) {
    if (!n.domain().empty() && n.domain() != "ai.onnx") return false;
    if (!k_runtime_ops.count(n.op_type()) && !k_shape_ops.count(n.op_type())) return false;
    c.op_types.insert(n.op_type());
    if (!k_shape_ops.count(n.op_type())) all_shape_ops = false;
  }
  c.name = dir.filename().string();
  c.dir = dir.string();
  std::set<std::string> inits;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  for (const auto& vi : g.input()) {
    if (inits.count(vi.name())) continue;
    c.input_names.push_back(vi.name());
    if (!vi.type().has_tensor_type()) c.non_tensor = "graph input '" + vi.name() + "' is not a tensor";
  }
  for (const auto& vi : g.output()) {
    c.output_names.push_back(vi.name());
    if (!vi.type().has_tensor_type()) c.non_tensor = "graph output '" + vi.name() + "' is not a tensor";
  }
  const std::set<std::string> graph_inputs(c.input_names.begin(), c.input_names.end());
  // All of them in a shape-op model, including inputs no node reads (CastLike's
  // expansion keeps the 'like' input only for its type).
  if (all_shape_ops) c.constant_inputs = graph_inputs;
  for (const auto& n : g.node())
    for (int i = 0; i < n.input_size(); ++i) {
      const std::string& in_name = n.input(i);
      if (!graph_inputs.count(in_name)) continue;
      if (all_shape_ops || i >= first_parameter_slot(n.op_type())) c.constant_inputs.insert(in_name);
    }
  return true;
}

const std::vector<node_case>& all_cases() {
  static const std::vector<node_case> cases = [] {
    std::vector<node_case> v;
    std::error_code ec;
    const fs::path root = node_test_root();
    if (!fs::is_directory(root, ec)) return v;
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(root, ec))
      if (e.is_directory() && e.path().filename().string().rfind("test_", 0) == 0) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
      node_case c;
      if (describe_case(d, c)) v.push_back(std::move(c));
    }
    return v;
  }();
  return cases;
}

enum class status { passed, failed, skipped };
struct outcome {
  status s = status::failed;
  std::string message;  // failure detail or skip reason
};

outcome pass() { return {status::passed, ""}; }
outcome fail(std::string m) { return {status::failed, std::move(m)}; }
outcome skip(std::string m) { return {status::skipped, std::move(m)}; }

// The runtime answered with an error: a listed skip, or a failure.
outcome refused(const node_case& c, const char* stage, const idphoto::base::error& e) {
  if (e.code == errc::unsupported) {
    if (const char* why = listed_reason(c.name)) return skip(std::string(why) + " [runtime: " + e.detail + "]");
    return fail(std::string(stage) + " refused a case in the supported set: " + e.to_string());
  }
  return fail(std::string(stage) + " failed: " + e.to_string());
}

struct data_set {
  std::vector<tensor> inputs, outputs;
};

// Reads input_K.pb / output_K.pb of every test_data_set_N. An element type infer::dtype
// cannot hold comes back as errc::unsupported.
idphoto::base::result<std::vector<data_set>> read_data_sets(const node_case& c) {
  std::vector<fs::path> set_dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(c.dir, ec))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) set_dirs.push_back(e.path());
  std::sort(set_dirs.begin(), set_dirs.end());
  std::vector<data_set> sets;
  for (const auto& sd : set_dirs) {
    data_set ds;
    for (size_t k = 0; k < c.input_names.size(); ++k) {
      const fs::path p = sd / ("input_" + std::to_string(k) + ".pb");
      if (!fs::exists(p)) break;
      auto t = test::read_tensor_pb(p.string());
      if (!t.ok()) return t.err();
      ds.inputs.push_back(std::move(*t));
    }
    for (size_t k = 0; k < c.output_names.size(); ++k) {
      auto t = test::read_tensor_pb((sd / ("output_" + std::to_string(k) + ".pb")).string());
      if (!t.ok()) return t.err();
      ds.outputs.push_back(std::move(*t));
    }
    sets.push_back(std::move(ds));
  }
  if (sets.empty()) return idphoto::base::make_error(errc::not_found, c.dir + ": no test_data_set_N");
  return sets;
}

constexpr double k_rtol = 1e-3;  // ONNX backend runner default
constexpr double k_atol = 1e-7;  // ONNX backend runner default

outcome run_case(const node_case& c, backend_kind backend) {
  if (!c.non_tensor.empty())
    return skip("optional/sequence values: the runtime runs tensors only (" + c.non_tensor + ")");
  auto sets = read_data_sets(c);
  if (!sets.ok()) {
    if (sets.err().code == errc::unsupported) return skip("element type with no infer::dtype: " + sets.err().detail);
    return fail("reading test data: " + sets.err().to_string());
  }
  auto loaded = load_model(c.dir + "/model.onnx");
  if (!loaded.ok()) return refused(c, "load_model", loaded.err());

  // Move constant-slot inputs into the initialisers (see the top comment). The values
  // come from the first data set: the node tests have one each, and a constant cannot
  // change between runs of one session anyway.
  const data_set& first = (*sets)[0];
  auto m = std::make_shared<model>(**loaded);
  for (size_t k = 0; k < first.inputs.size() && k < c.input_names.size(); ++k) {
    const std::string& name = c.input_names[k];
    if (!c.constant_inputs.count(name)) continue;
    m->initializers[name] = first.inputs[k];
    m->inputs.erase(
        std::remove_if(m->inputs.begin(), m->inputs.end(), [&](const value_info& v) { return v.name == name; }),
        m->inputs.end());
  }
  auto s = session::create(m, test::options_for(backend));
  if (!s.ok()) return refused(c, "session::create", s.err());

  for (size_t set_i = 0; set_i < sets->size(); ++set_i) {
    const data_set& ds = (*sets)[set_i];
    std::vector<named_tensor> feeds;
    for (size_t k = 0; k < ds.inputs.size() && k < c.input_names.size(); ++k)
      if (!c.constant_inputs.count(c.input_names[k])) feeds.push_back({c.input_names[k], ds.inputs[k]});
    auto outs = (*s)->run(feeds);
    if (!outs.ok()) return refused(c, "session::run", outs.err());
    for (size_t k = 0; k < ds.outputs.size(); ++k) {
      const tensor* got = test::find_output(*outs, c.output_names[k]);
      if (!got) return fail("output '" + c.output_names[k] + "' missing from the results");
      const tensor& want = ds.outputs[k];
      std::string diff = test::is_float_type(want.type) ? test::compare_allclose(want, *got, k_rtol, k_atol)
                                                        : test::compare_exact(want, *got);
      if (!diff.empty())
        return fail("data set " + std::to_string(set_i) + ", output '" + c.output_names[k] + "': " + diff);
    }
  }
  return pass();
}

// ---------------------------------------------------------------- GTest plumbing

struct case_param {
  size_t index;
  backend_kind backend;
};

// How GTest shows a parameter (otherwise it dumps the struct's bytes, padding included).
void PrintTo(const case_param& p, std::ostream* os) {
  *os << all_cases()[p.index].name << " [" << test::backend_label(p.backend) << "]";
}

std::vector<case_param> all_params() {
  std::vector<case_param> v;
  for (size_t i = 0; i < all_cases().size(); ++i)
    for (backend_kind b : {backend_kind::onednn, backend_kind::reference}) v.push_back({i, b});
  return v;
}

std::string param_name(const testing::TestParamInfo<case_param>& info) {
  std::string n = all_cases()[info.param.index].name + "_" + test::backend_label(info.param.backend);
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') ch = '_';
  return n;
}

// Outcomes of the cases run in this process, printed when the process ends.
struct tally {
  std::mutex mu;
  std::vector<std::tuple<std::string, backend_kind, outcome>> rows;
};
tally& process_tally() {
  static tally t;
  return t;
}

void print_summary(std::ostream& os, const std::vector<std::tuple<std::string, backend_kind, outcome>>& rows) {
  for (backend_kind b : {backend_kind::onednn, backend_kind::reference}) {
    int run = 0, passed = 0, failed = 0, skipped = 0;
    for (const auto& [name, rb, o] : rows) {
      if (rb != b) continue;
      if (o.s == status::skipped) ++skipped;
      else ++run;
      passed += o.s == status::passed;
      failed += o.s == status::failed;
    }
    if (run + skipped == 0) continue;
    os << "[node conformance] " << test::backend_label(b) << ": run " << run << " / passed " << passed << " / failed "
       << failed << " / skipped " << skipped << "\n";
    for (const auto& [name, rb, o] : rows)
      if (rb == b && o.s == status::skipped) os << "  skip " << name << ": " << o.message << "\n";
    for (const auto& [name, rb, o] : rows)
      if (rb == b && o.s == status::failed) os << "  FAIL " << name << ": " << o.message << "\n";
  }
}

class tally_printer : public testing::Environment {
 public:
  void TearDown() override {
    auto& t = process_tally();
    std::lock_guard lock(t.mu);
    if (t.rows.size() > 1) print_summary(std::cout, t.rows);
  }
};
[[maybe_unused]] testing::Environment* const k_printer = testing::AddGlobalTestEnvironment(new tally_printer);

class node_conformance : public testing::TestWithParam<case_param> {};

TEST_P(node_conformance, matches_stored_outputs) {
  const node_case& c = all_cases()[GetParam().index];
  const backend_kind b = GetParam().backend;
  outcome o = run_case(c, b);
  {
    auto& t = process_tally();
    std::lock_guard lock(t.mu);
    t.rows.emplace_back(c.name, b, o);
  }
  if (o.s == status::skipped) GTEST_SKIP() << o.message;
  EXPECT_EQ(o.s, status::passed) << c.name << " [" << test::backend_label(b) << "]: " << o.message;
}

INSTANTIATE_TEST_SUITE_P(onnx_node, node_conformance, testing::ValuesIn(all_params()), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(node_conformance);

// Runs every selected case on both backends in this one process (ctest runs each test
// above in its own process, so their outcomes cannot be gathered), prints the counts and
// each skip's reason, and fails when less than 80% of the cases the runtime is expected to
// support pass, so that a broken loader cannot turn the suite into skips.
TEST(node_conformance_summary, most_selected_cases_pass) {
  const auto& cases = all_cases();
  ASSERT_GE(cases.size(), 100u) << "expected the ONNX node tests under " << node_test_root()
                                << " (Debian package libonnx-testdata); found " << cases.size() << " selected cases";
  std::vector<std::tuple<std::string, backend_kind, outcome>> rows;
  for (const auto& c : cases)
    for (backend_kind b : {backend_kind::onednn, backend_kind::reference}) rows.emplace_back(c.name, b, run_case(c, b));
  print_summary(std::cout, rows);

  size_t expected_supported = 0;
  for (const auto& c : cases) expected_supported += listed_reason(c.name) == nullptr && c.non_tensor.empty();
  std::cout << "[node conformance] selected " << cases.size() << " cases, " << expected_supported
            << " outside the listed exceptions\n";
  for (backend_kind b : {backend_kind::onednn, backend_kind::reference}) {
    size_t passed = 0;
    for (const auto& [name, rb, o] : rows) passed += rb == b && o.s == status::passed;
    EXPECT_GE(passed * 10, expected_supported * 8) << test::backend_label(b) << ": only " << passed << " of "
                                                   << expected_supported << " expected-supported cases passed";
  }
}

}  // namespace

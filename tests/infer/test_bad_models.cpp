// Malformed models and malformed calls: each must give a clear error (the right errc,
// a detail naming the node, tensor or field) and never crash, hang or allocate wildly.
// These run under AddressSanitizer and UBSan in the dev preset.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <random>

#include "infer/model.hpp"
#include "infer/session.hpp"
#include "infer/test_util.hpp"

namespace fs = std::filesystem;
using namespace idphoto::infer;
using namespace idphoto::infer::test;
using idphoto::base::errc;
using idphoto::base::errc_name;

namespace {

// A valid model: x[1,3,8,8] -> Conv(4x3x3x3, pads 1) -> Relu -> y.
std::shared_ptr<model> small_valid_model() {
  std::mt19937 rng(42);
  model_builder b;
  b.input("x", {1, 3, 8, 8});
  b.initializer("W", random_tensor(rng, {4, 3, 3, 3}));
  b.initializer("B", random_tensor(rng, {4}));
  b.add_node("Conv", {"x", "W", "B"}, {"c"}, {{"pads", attr_ints({1, 1, 1, 1})}}, "conv0");
  b.add_node("Relu", {"c"}, {"y"}, {}, "relu0");
  b.output("y");
  return b.build();
}

tensor input_for_small_model() {
  std::mt19937 rng(7);
  return random_tensor(rng, {1, 3, 8, 8});
}

onnx::ModelProto proto_of(const model& m) {
  onnx::ModelProto mp;
  const std::string bytes = serialise_model(m);
  EXPECT_TRUE(mp.ParseFromString(bytes));
  return mp;
}

std::string text_of(const std::string& what, const idphoto::base::error& e) { return what + " -> " + e.to_string(); }

#define EXPECT_ERROR(res, want_code, ...)                                            \
  do {                                                                               \
    const auto& r_ = (res);                                                          \
    ASSERT_FALSE(r_.ok()) << "expected " << errc_name(want_code) << ", got success"; \
    EXPECT_EQ(r_.err().code, want_code) << r_.err().to_string();                     \
    for (const char* needle_ : std::initializer_list<const char*>{__VA_ARGS__})      \
      EXPECT_NE(r_.err().detail.find(needle_), std::string::npos)                    \
          << "detail should name '" << needle_ << "': " << r_.err().to_string();     \
  } while (0)

// A session on m, run once on the inputs.
idphoto::base::result<std::vector<named_tensor>> run_model(std::shared_ptr<const model> m,
                                                           std::vector<named_tensor> inputs,
                                                           backend_kind b = backend_kind::reference) {
  return run_once(std::move(m), options_for(b), inputs);
}

class temp_dir {
 public:
  temp_dir() {
    path_ = fs::temp_directory_path() / ("idphoto_test_bad_models_" + std::to_string(::getpid()));
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& bytes) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Loads `bytes`; the onnx protobuf itself is the oracle of whether they parse. If they do
// not, the loader must say corrupt. If they do (a cut on a field boundary), the result
// may load or not, and a loaded model must run or fail cleanly on a correct input.
void check_bytes_never_crash(const std::string& what, const std::string& bytes) {
  SCOPED_TRACE(what + " (" + std::to_string(bytes.size()) + " bytes)");
  onnx::ModelProto oracle;
  const bool parses = !bytes.empty() && oracle.ParseFromString(bytes);
  auto m = load_model_from_bytes(bytes.data(), bytes.size());
  if (!parses) {
    ASSERT_FALSE(m.ok()) << "protobuf rejects these bytes but load_model_from_bytes accepted them";
    EXPECT_EQ(m.err().code, errc::corrupt) << m.err().to_string();
    EXPECT_FALSE(m.err().detail.empty());
    return;
  }
  if (!m.ok()) {
    EXPECT_FALSE(m.err().detail.empty()) << text_of(what, m.err());
    return;
  }
  for (backend_kind b : {backend_kind::reference, backend_kind::onednn}) {
    auto out = run_model(*m, {{"x", input_for_small_model()}}, b);
    if (!out.ok()) {
      EXPECT_FALSE(out.err().detail.empty());
    }
  }
}

// ---------------------------------------------------------------- bytes

TEST(bad_models, truncated_at_every_length) {
  const std::string bytes = serialise_model(*small_valid_model());
  ASSERT_GT(bytes.size(), 400u);
  auto whole = load_model_from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(whole.ok()) << whole.err().to_string();
  auto out = run_model(*whole, {{"x", input_for_small_model()}});
  ASSERT_TRUE(out.ok()) << out.err().to_string();
  for (size_t len = 0; len < bytes.size(); ++len) {
    check_bytes_never_crash("prefix of length " + std::to_string(len), bytes.substr(0, len));
    if (HasFatalFailure()) return;
  }
}

TEST(bad_models, truncated_files) {
  temp_dir dir;
  const std::string bytes = serialise_model(*small_valid_model());
  for (size_t len : {size_t{1}, size_t{7}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 5}) {
    const std::string path = dir.write("cut_" + std::to_string(len) + ".onnx", bytes.substr(0, len));
    onnx::ModelProto oracle;
    if (oracle.ParseFromString(bytes.substr(0, len))) continue;  // a field boundary: covered above
    auto m = load_model(path);
    EXPECT_ERROR(m, errc::corrupt, path.c_str());
  }
}

TEST(bad_models, random_garbage) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t size : {1, 2, 3, 16, 100, 1000, 4096, 65536}) {
    for (int rep = 0; rep < 4; ++rep) {
      std::string g(size, '\0');
      for (auto& ch : g) ch = static_cast<char>(byte(rng));
      check_bytes_never_crash("garbage #" + std::to_string(rep), g);
      if (HasFatalFailure()) return;
    }
  }
  // Garbage after a valid model (protobuf would merge it as extra fields).
  std::string bytes = serialise_model(*small_valid_model());
  for (int i = 0; i < 64; ++i) bytes.push_back(static_cast<char>(byte(rng)));
  check_bytes_never_crash("valid model + garbage", bytes);
}

TEST(bad_models, bit_flips) {
  // Single-byte corruptions of a valid model: parse errors, or valid protobufs with
  // wrong sizes/types/names that the loader or planner must refuse cleanly.
  std::mt19937 rng(42);
  const std::string bytes = serialise_model(*small_valid_model());
  std::uniform_int_distribution<size_t> pos(0, bytes.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 300; ++i) {
    std::string b = bytes;
    b[pos(rng)] = static_cast<char>(byte(rng));
    check_bytes_never_crash("byte flip #" + std::to_string(i), b);
    if (HasFatalFailure()) return;
  }
}

TEST(bad_models, zero_bytes) {
  const char nothing = 0;
  EXPECT_ERROR(load_model_from_bytes(&nothing, 0), errc::corrupt);
  temp_dir dir;
  const std::string path = dir.write("empty.onnx", "");
  EXPECT_ERROR(load_model(path), errc::corrupt, path.c_str());
}

TEST(bad_models, text_file) {
  temp_dir dir;
  const std::string text =
      "# idphoto example configuration\nIDPHOTO_MAX_BODY_BYTES=10485760\nPORT=8080\n"
      "This is a text file, not an ONNX model.\n";
  const std::string path = dir.write("model.onnx", text);
  auto m = load_model(path);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.err().code == errc::corrupt) << m.err().to_string();
  EXPECT_NE(m.err().detail.find(path), std::string::npos) << m.err().to_string();
  check_bytes_never_crash("text", text);
}

TEST(bad_models, missing_file_and_directory) {
  temp_dir dir;
  const std::string missing = (dir.path() / "nope.onnx").string();
  EXPECT_ERROR(load_model(missing), errc::not_found, missing.c_str());
  auto d = load_model(dir.path().string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.err().detail.find(dir.path().string()), std::string::npos) << d.err().to_string();
}

// ---------------------------------------------------------------- unsupported content

TEST(bad_models, unsupported_op_names_the_node) {
  model_builder b;
  b.input("x", {5, 1, 8});
  b.initializer("W", tensor::zeros(dtype::f32, {1, 16, 8}));
  b.initializer("R", tensor::zeros(dtype::f32, {1, 16, 4}));
  b.add_node("LSTM", {"x", "W", "R"}, {"y"}, {{"hidden_size", attr_int(4)}}, "my_lstm");
  b.output("y");
  // As a struct...
  EXPECT_ERROR(run_model(b.build(), {{"x", tensor::zeros(dtype::f32, {5, 1, 8})}}), errc::unsupported, "my_lstm",
               "LSTM");
  // ...and through the loader (a model file with an LSTM loads; planning refuses it).
  const std::string bytes = serialise_model(b.get());
  auto m = load_model_from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(m.ok()) << m.err().to_string();
  for (backend_kind bk : {backend_kind::reference, backend_kind::onednn})
    EXPECT_ERROR(run_model(*m, {{"x", tensor::zeros(dtype::f32, {5, 1, 8})}}, bk), errc::unsupported, "my_lstm",
                 "LSTM");
}

TEST(bad_models, unsupported_domain_names_the_node) {
  model_builder b;
  b.input("x", {1, 3, 4, 4});
  b.add_node("Relu", {"x"}, {"y"}, {}, "vendor_relu");
  b.get().nodes.back().domain = "com.microsoft";
  b.output("y");
  EXPECT_ERROR(run_model(b.build(), {{"x", tensor::zeros(dtype::f32, {1, 3, 4, 4})}}), errc::unsupported,
               "vendor_relu");
}

TEST(bad_models, unsupported_attribute_values_name_the_node) {
  std::mt19937 rng(42);
  auto resize = [&](const char* mode, const char* coord) {
    model_builder b(13);
    b.input("x", {1, 2, 4, 4});
    b.initializer("scales", tensor::from_f32({4}, {1, 1, 2, 2}));
    b.add_node("Resize", {"x", "", "scales"}, {"y"},
               {{"mode", attr_string(mode)}, {"coordinate_transformation_mode", attr_string(coord)}}, "the_resize");
    b.output("y");
    return b.build();
  };
  const std::vector<named_tensor> in = {{"x", random_tensor(rng, {1, 2, 4, 4})}};
  EXPECT_ERROR(run_model(resize("cubic", "half_pixel"), in), errc::unsupported, "the_resize", "cubic");
  EXPECT_ERROR(run_model(resize("linear", "tf_crop_and_resize"), in), errc::unsupported, "the_resize");

  model_builder bn(15);
  bn.input("x", {1, 2, 4, 4});
  for (const char* n : {"s", "b", "m", "v"}) bn.initializer(n, tensor::from_f32({2}, {1, 1}));
  bn.add_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, {{"training_mode", attr_int(1)}}, "train_bn");
  bn.output("y");
  EXPECT_ERROR(run_model(bn.build(), in), errc::unsupported, "train_bn");

  // 3-D convolution (5-D input).
  model_builder c3;
  c3.input("x", {1, 2, 4, 4, 4});
  c3.initializer("W", tensor::zeros(dtype::f32, {2, 2, 3, 3, 3}));
  c3.add_node("Conv", {"x", "W"}, {"y"}, {}, "conv3d");
  c3.output("y");
  EXPECT_ERROR(run_model(c3.build(), {{"x", tensor::zeros(dtype::f32, {1, 2, 4, 4, 4})}}), errc::unsupported, "conv3d");

  // Conv weights given at run time (a graph input) instead of as an initialiser.
  model_builder rw;
  rw.input("x", {1, 2, 4, 4}).input("W", {2, 2, 3, 3});
  rw.add_node("Conv", {"x", "W"}, {"y"}, {}, "runtime_w_conv");
  rw.output("y");
  EXPECT_ERROR(run_model(rw.build(), {{"x", tensor::zeros(dtype::f32, {1, 2, 4, 4})},
                                      {"W", tensor::zeros(dtype::f32, {2, 2, 3, 3})}}),
               errc::unsupported, "runtime_w_conv");
}

TEST(bad_models, int8_input_feeding_conv) {
  std::mt19937 rng(42);
  model_builder b;
  b.input("pixels_i8", {1, 3, 4, 4}, dtype::i8);
  b.initializer("W", random_tensor(rng, {2, 3, 3, 3}));
  b.add_node("Conv", {"pixels_i8", "W"}, {"y"}, {}, "conv_on_int8");
  b.output("y");
  for (backend_kind bk : {backend_kind::reference, backend_kind::onednn}) {
    auto r = run_model(b.build(), {{"pixels_i8", tensor::zeros(dtype::i8, {1, 3, 4, 4})}}, bk);
    EXPECT_ERROR(r, errc::unsupported, "pixels_i8");
  }
  // Through the loader too.
  const std::string bytes = serialise_model(b.get());
  auto m = load_model_from_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(m.ok()) << m.err().to_string();
  EXPECT_EQ(m->get()->inputs.at(0).type, dtype::i8);
  EXPECT_ERROR(run_model(*m, {{"pixels_i8", tensor::zeros(dtype::i8, {1, 3, 4, 4})}}), errc::unsupported, "pixels_i8");
}

TEST(bad_models, external_data_and_unknown_dtypes) {
  onnx::ModelProto mp = proto_of(*small_valid_model());
  {
    onnx::ModelProto ext = mp;
    auto* w = ext.mutable_graph()->mutable_initializer(0);
    w->clear_raw_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = w->add_external_data();
    kv->set_key("location");
    kv->set_value("weights.bin");
    const std::string bytes = ext.SerializeAsString();
    EXPECT_ERROR(load_model_from_bytes(bytes.data(), bytes.size()), errc::unsupported, "external");
  }
  {
    onnx::ModelProto bf = mp;
    auto* w = bf.mutable_graph()->mutable_initializer(0);
    const std::string name = w->name();
    w->set_data_type(onnx::TensorProto::BFLOAT16);
    w->set_raw_data(std::string(static_cast<size_t>(4 * 3 * 3 * 3 * 2), '\0'));
    const std::string bytes = bf.SerializeAsString();
    auto m = load_model_from_bytes(bytes.data(), bytes.size());
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.err().code, errc::unsupported) << m.err().to_string();
    EXPECT_NE(m.err().detail.find(name), std::string::npos) << m.err().to_string();
  }
}

// ---------------------------------------------------------------- inconsistent sizes

// The valid small model with its initialiser 'W' edited, serialised.
std::string with_edited_w(const std::function<void(onnx::TensorProto&)>& edit) {
  onnx::ModelProto mp = proto_of(*small_valid_model());
  for (auto& t : *mp.mutable_graph()->mutable_initializer())
    if (t.name() == "W") edit(t);
  return mp.SerializeAsString();
}

TEST(bad_models, huge_dims_overflowing_int64) {
  const std::string bytes = with_edited_w([](onnx::TensorProto& t) {
    t.clear_dims();
    for (int i = 0; i < 4; ++i) t.add_dims(int64_t{1} << 40);
  });
  auto m = load_model_from_bytes(bytes.data(), bytes.size());
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.err().code == errc::too_large || m.err().code == errc::corrupt) << m.err().to_string();
  EXPECT_NE(m.err().detail.find("'W'"), std::string::npos) << m.err().to_string();
}

// 2^39 elements declared with a few bytes of raw_data: refused before allocating.
TEST(bad_models, huge_dims_with_short_raw_data) {
  const std::string bytes = with_edited_w([](onnx::TensorProto& t) {
    t.clear_dims();
    t.add_dims(int64_t{1} << 20);
    t.add_dims(int64_t{1} << 19);
  });
  EXPECT_ERROR(load_model_from_bytes(bytes.data(), bytes.size()), errc::corrupt, "'W'");
}

// The same with 8 values in float_data (no raw_data): a ~100-byte file must not make
// the loader allocate 2 TiB; it is refused as corrupt (8 values for 2^39 elements).
TEST(bad_models, huge_dims_with_short_float_data) {
  const std::string bytes = with_edited_w([](onnx::TensorProto& t) {
    t.clear_raw_data();
    t.clear_dims();
    t.add_dims(int64_t{1} << 20);
    t.add_dims(int64_t{1} << 19);
    for (int i = 0; i < 8; ++i) t.add_float_data(1.0f);
  });
  EXPECT_ERROR(load_model_from_bytes(bytes.data(), bytes.size()), errc::corrupt, "'W'");
}

TEST(bad_models, negative_dim) {
  const std::string bytes = with_edited_w([](onnx::TensorProto& t) { t.set_dims(0, -4); });
  EXPECT_ERROR(load_model_from_bytes(bytes.data(), bytes.size()), errc::corrupt, "'W'");
}

TEST(bad_models, raw_data_of_the_wrong_length) {
  const std::string bytes = with_edited_w([](onnx::TensorProto& t) { t.set_raw_data(std::string(12, '\0')); });
  EXPECT_ERROR(load_model_from_bytes(bytes.data(), bytes.size()), errc::corrupt, "'W'");
}

TEST(bad_models, huge_resize_output_is_refused) {
  // Resize to 400000 x 400000 from a 4x4 input: refused at plan time, not allocated.
  model_builder b(13);
  b.input("x", {1, 1, 4, 4});
  b.initializer("scales", tensor::from_f32({4}, {1, 1, 100000, 100000}));
  b.add_node("Resize", {"x", "", "scales"}, {"y"}, {}, "huge_resize");
  b.output("y");
  for (backend_kind bk : {backend_kind::reference, backend_kind::onednn}) {
    auto r = run_model(b.build(), {{"x", tensor::zeros(dtype::f32, {1, 1, 4, 4})}}, bk);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.err().code == errc::too_large || r.err().code == errc::invalid_argument) << r.err().to_string();
    EXPECT_NE(r.err().detail.find("huge_resize"), std::string::npos) << r.err().to_string();
  }
}

// Reshape to dims whose product overflows int64 (2^62 * 4): refused without signed
// overflow (UBSan aborts on it in the dev preset).
TEST(bad_models, reshape_with_overflowing_dims) {
  model_builder rs;
  rs.input("x", {1, 1, 4, 4});
  rs.initializer("shape", tensor::from_i64({4}, {int64_t{1} << 62, 4, 1, 1}));
  rs.add_node("Reshape", {"x", "shape"}, {"r"}, {}, "overflow_reshape");
  rs.add_node("Relu", {"r"}, {"y"}, {}, "relu");
  rs.output("y");
  auto r = run_model(rs.build(), {{"x", tensor::zeros(dtype::f32, {1, 1, 4, 4})}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().detail.find("overflow_reshape"), std::string::npos) << r.err().to_string();
}

TEST(bad_models, inconsistent_weights_name_the_node) {
  std::mt19937 rng(42);
  const std::vector<named_tensor> in = {{"x", random_tensor(rng, {1, 3, 8, 8})}};
  // Weights of rank 3.
  model_builder b;
  b.input("x", {1, 3, 8, 8});
  b.initializer("W", random_tensor(rng, {4, 3, 9}));
  b.add_node("Conv", {"x", "W"}, {"y"}, {}, "rank3_w_conv");
  b.output("y");
  EXPECT_ERROR(run_model(b.build(), in), errc::invalid_argument, "rank3_w_conv");
  // Weights for 5 input channels on a 3-channel input.
  model_builder c;
  c.input("x", {1, 3, 8, 8});
  c.initializer("W", random_tensor(rng, {4, 5, 3, 3}));
  c.add_node("Conv", {"x", "W"}, {"y"}, {}, "wrong_cin_conv");
  c.output("y");
  EXPECT_ERROR(run_model(c.build(), in), errc::invalid_argument, "wrong_cin_conv");
  // Kernel larger than the padded input.
  model_builder k;
  k.input("x", {1, 3, 8, 8});
  k.initializer("W", random_tensor(rng, {4, 3, 11, 11}));
  k.add_node("Conv", {"x", "W"}, {"y"}, {}, "too_big_kernel");
  k.output("y");
  EXPECT_ERROR(run_model(k.build(), in), errc::invalid_argument, "too_big_kernel");
  // Bias with the wrong count.
  model_builder bb;
  bb.input("x", {1, 3, 8, 8});
  bb.initializer("W", random_tensor(rng, {4, 3, 3, 3}));
  bb.initializer("B", random_tensor(rng, {3}));
  bb.add_node("Conv", {"x", "W", "B"}, {"y"}, {}, "bad_bias_conv");
  bb.output("y");
  EXPECT_ERROR(run_model(bb.build(), in), errc::invalid_argument, "bad_bias_conv");
  // Group that does not divide the channels.
  model_builder g;
  g.input("x", {1, 3, 8, 8});
  g.initializer("W", random_tensor(rng, {4, 1, 3, 3}));
  g.add_node("Conv", {"x", "W"}, {"y"}, {{"group", attr_int(2)}}, "bad_group_conv");
  g.output("y");
  EXPECT_ERROR(run_model(g.build(), in), errc::invalid_argument, "bad_group_conv");
  // Binary op on shapes that do not broadcast.
  model_builder a;
  a.input("x", {1, 3, 8, 8}).input("z", {1, 3, 8, 7});
  a.add_node("Add", {"x", "z"}, {"y"}, {}, "bad_bcast_add");
  a.output("y");
  EXPECT_ERROR(run_model(a.build(), {{"x", in[0].t}, {"z", random_tensor(rng, {1, 3, 8, 7})}}), errc::invalid_argument,
               "bad_bcast_add");
  // Concat of inputs that differ off the axis.
  model_builder cc;
  cc.input("x", {1, 3, 8, 8}).input("z", {1, 3, 8, 7});
  cc.add_node("Concat", {"x", "z"}, {"y"}, {{"axis", attr_int(1)}}, "bad_concat");
  cc.output("y");
  EXPECT_ERROR(run_model(cc.build(), {{"x", in[0].t}, {"z", random_tensor(rng, {1, 3, 8, 7})}}), errc::invalid_argument,
               "bad_concat");
}

// Transpose, Pad and ConstantOfShape attributes that do not fit: refused at plan time,
// naming the node.
TEST(bad_models, bad_transpose_pad_and_constant_of_shape_name_the_node) {
  std::mt19937 rng(7);
  const std::vector<named_tensor> in = {{"x", random_tensor(rng, {1, 3, 4, 4})}};
  for (const std::vector<int64_t>& perm :
       {std::vector<int64_t>{0, 1, 2}, std::vector<int64_t>{0, 1, 1, 2}, std::vector<int64_t>{0, 1, 2, 4}}) {
    model_builder b;
    b.input("x", {1, 3, 4, 4});
    b.add_node("Transpose", {"x"}, {"y"}, {{"perm", attr_ints(perm)}}, "bad_perm").output("y");
    EXPECT_ERROR(run_model(b.build(), in), errc::invalid_argument, "bad_perm");
  }
  struct pad_case {
    std::vector<int64_t> pads;
    const char* mode;
    errc want;
  };
  for (const pad_case& pc : {pad_case{{0, 0, 1, 1}, "constant", errc::invalid_argument},                // too few
                             pad_case{{0, 0, -3, 0, 0, 0, -2, 0}, "constant", errc::invalid_argument},  // empty
                             pad_case{{0, 0, 1, 1, 0, 0, 1, 1}, "wrap", errc::unsupported},
                             pad_case{{0, 0, -1, 0, 0, 0, 0, 0}, "reflect", errc::unsupported}}) {
    model_builder b(13);
    b.input("x", {1, 3, 4, 4}).initializer("pads", tensor::from_i64({static_cast<int64_t>(pc.pads.size())}, pc.pads));
    b.add_node("Pad", {"x", "pads"}, {"y"}, {{"mode", attr_string(pc.mode)}}, "bad_pad").output("y");
    EXPECT_ERROR(run_model(b.build(), in), pc.want, "bad_pad");
  }
  // pads from a runtime tensor cannot be planned.
  model_builder r(13);
  r.input("x", {1, 3, 4, 4}).input("p", {8});
  r.add_node("Pad", {"x", "p"}, {"y"}, {}, "runtime_pads").output("y");
  EXPECT_ERROR(run_model(r.build(), {in[0], {"p", random_tensor(rng, {8})}}), errc::unsupported, "runtime_pads");
  // ConstantOfShape with a negative or enormous shape.
  for (const std::vector<int64_t>& dims :
       {std::vector<int64_t>{1, -1, 4, 4}, std::vector<int64_t>{1 << 20, 1 << 20, 4, 4}}) {
    model_builder c(12);
    c.input("x", {1, 3, 4, 4}).initializer("shape", tensor::from_i64({4}, dims));
    c.add_node("ConstantOfShape", {"shape"}, {"k"}, {}, "bad_const_of_shape");
    c.add_node("Add", {"x", "k"}, {"y"}, {}, "add").output("y");
    auto res = run_model(c.build(), in);
    ASSERT_FALSE(res.ok());
    EXPECT_NE(res.err().detail.find("bad_const_of_shape"), std::string::npos) << res.err().to_string();
  }
}

// ---------------------------------------------------------------- graph structure

TEST(bad_models, cycle) {
  model_builder b;
  b.input("x", {1, 3, 4, 4});
  b.add_node("Add", {"x", "t2"}, {"t1"}, {}, "cycle_add");
  b.add_node("Relu", {"t1"}, {"t2"}, {}, "cycle_relu");
  b.add_node("Sigmoid", {"t2"}, {"y"}, {}, "out");
  b.output("y");
  // Through the loader: the topological sort finds the cycle.
  const std::string bytes = serialise_model(b.get());
  auto m = load_model_from_bytes(bytes.data(), bytes.size());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.err().code, errc::invalid_argument) << m.err().to_string();
  EXPECT_TRUE(m.err().detail.find("cycle_add") != std::string::npos ||
              m.err().detail.find("cycle_relu") != std::string::npos)
      << m.err().to_string();
  // A model struct built with the cycle (not through the loader): refused, no hang.
  for (backend_kind bk : {backend_kind::reference, backend_kind::onednn}) {
    auto r = run_model(b.build(), {{"x", tensor::zeros(dtype::f32, {1, 3, 4, 4})}}, bk);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::invalid_argument) << r.err().to_string();
  }
  // A self-loop.
  model_builder s;
  s.input("x", {1, 3, 4, 4});
  s.add_node("Add", {"x", "loop"}, {"loop"}, {}, "self_loop");
  s.add_node("Relu", {"loop"}, {"y"}, {}, "out");
  s.output("y");
  const std::string sb = serialise_model(s.get());
  auto sm = load_model_from_bytes(sb.data(), sb.size());
  ASSERT_FALSE(sm.ok());
  EXPECT_EQ(sm.err().code, errc::invalid_argument) << sm.err().to_string();
  EXPECT_NE(sm.err().detail.find("self_loop"), std::string::npos) << sm.err().to_string();
}

TEST(bad_models, undefined_tensor) {
  model_builder b;
  b.input("x", {1, 3, 4, 4});
  b.add_node("Add", {"x", "ghost"}, {"y"}, {}, "haunted_add");
  b.output("y");
  const std::string bytes = serialise_model(b.get());
  EXPECT_ERROR(load_model_from_bytes(bytes.data(), bytes.size()), errc::invalid_argument, "haunted_add", "ghost");
  for (backend_kind bk : {backend_kind::reference, backend_kind::onednn})
    EXPECT_ERROR(run_model(b.build(), {{"x", tensor::zeros(dtype::f32, {1, 3, 4, 4})}}, bk), errc::invalid_argument,
                 "ghost");
}

TEST(bad_models, output_never_produced) {
  model_builder b;
  b.input("x", {1, 3, 4, 4});
  b.add_node("Relu", {"x"}, {"y"}, {}, "relu");
  b.output("y").output("phantom_output");
  const std::string bytes = serialise_model(b.get());
  EXPECT_ERROR(load_model_from_bytes(bytes.data(), bytes.size()), errc::invalid_argument, "phantom_output");
  EXPECT_ERROR(run_model(b.build(), {{"x", tensor::zeros(dtype::f32, {1, 3, 4, 4})}}), errc::invalid_argument,
               "phantom_output");
}

TEST(bad_models, tensor_defined_twice) {
  model_builder d;
  d.input("x", {1, 3, 4, 4});
  d.add_node("Relu", {"x"}, {"y"}, {}, "first_writer");
  d.add_node("Sigmoid", {"x"}, {"y"}, {}, "second_writer");
  d.output("y");
  const std::string db = serialise_model(d.get());
  auto dm = load_model_from_bytes(db.data(), db.size());
  ASSERT_FALSE(dm.ok());
  EXPECT_EQ(dm.err().code, errc::invalid_argument) << dm.err().to_string();
  EXPECT_NE(dm.err().detail.find("'y'"), std::string::npos) << dm.err().to_string();
}

TEST(bad_models, no_graph_or_no_outputs) {
  onnx::ModelProto mp;
  mp.set_ir_version(8);
  mp.add_opset_import()->set_version(13);
  std::string bytes = mp.SerializeAsString();
  auto m = load_model_from_bytes(bytes.data(), bytes.size());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.err().code, errc::corrupt) << m.err().to_string();

  model_builder b;
  b.input("x", {1, 3, 4, 4});
  b.add_node("Relu", {"x"}, {"y"}, {}, "relu");
  bytes = serialise_model(b.get());  // no graph outputs
  EXPECT_ERROR(load_model_from_bytes(bytes.data(), bytes.size()), errc::invalid_argument, "output");
}

// ---------------------------------------------------------------- bad calls to run

TEST(bad_calls, wrong_rank_names_the_input) {
  for (backend_kind bk : {backend_kind::reference, backend_kind::onednn}) {
    auto s = session::create(small_valid_model(), options_for(bk));
    ASSERT_TRUE(s.ok()) << s.err().to_string();
    EXPECT_ERROR((*s)->run({{"x", tensor::zeros(dtype::f32, {3, 8, 8})}}), errc::invalid_argument, "'x'");
    EXPECT_ERROR((*s)->run({{"x", tensor::zeros(dtype::f32, {1, 1, 3, 8, 8})}}), errc::invalid_argument, "'x'");
    // Right rank, a channel count other than the declared 3: names the input.
    EXPECT_ERROR((*s)->run({{"x", tensor::zeros(dtype::f32, {1, 4, 8, 8})}}), errc::invalid_argument, "'x'");
    // The session still works after the errors.
    auto ok = (*s)->run({{"x", input_for_small_model()}});
    EXPECT_TRUE(ok.ok()) << ok.err().to_string();
  }
}

TEST(bad_calls, channels_not_fitting_the_weights_name_the_node) {
  // Channels left symbolic in the declaration: the planner finds the mismatch.
  auto m = std::make_shared<model>(*small_valid_model());
  m->inputs[0].dims = {1, -1, -1, -1};
  for (backend_kind bk : {backend_kind::reference, backend_kind::onednn})
    EXPECT_ERROR(run_model(m, {{"x", tensor::zeros(dtype::f32, {1, 4, 8, 8})}}, bk), errc::invalid_argument, "conv0");
}

TEST(bad_calls, wrong_name_missing_input_wrong_dtype) {
  auto s = session::create(small_valid_model(), options_for(backend_kind::onednn));
  ASSERT_TRUE(s.ok()) << s.err().to_string();
  // Wrong name: the model's input 'x' is missing.
  EXPECT_ERROR((*s)->run({{"not_x", input_for_small_model()}}), errc::invalid_argument, "'x'");
  // No inputs at all.
  EXPECT_ERROR((*s)->run({}), errc::invalid_argument, "'x'");
  // Wrong dtype.
  EXPECT_ERROR((*s)->run({{"x", tensor::zeros(dtype::i64, {1, 3, 8, 8})}}), errc::invalid_argument, "'x'");
  // Byte count that does not match the shape (a malformed tensor): refused, not read.
  tensor short_t = input_for_small_model();
  short_t.bytes.resize(short_t.bytes.size() / 2);
  EXPECT_ERROR((*s)->run({{"x", short_t}}), errc::invalid_argument, "'x'");

  // Two inputs, one given.
  model_builder b;
  b.input("left", {1, 2, 3, 3}).input("right", {1, 2, 3, 3});
  b.add_node("Add", {"left", "right"}, {"y"}, {}, "add");
  b.output("y");
  for (backend_kind bk : {backend_kind::reference, backend_kind::onednn}) {
    auto s2 = session::create(b.build(), options_for(bk));
    ASSERT_TRUE(s2.ok()) << s2.err().to_string();
    EXPECT_ERROR((*s2)->run({{"left", tensor::zeros(dtype::f32, {1, 2, 3, 3})}}), errc::invalid_argument, "right");
  }
}

TEST(bad_calls, bad_session_options) {
  session_options o;
  o.n_threads = -1;
  EXPECT_ERROR(session::create(small_valid_model(), o), errc::invalid_argument);
  o = {};
  o.outputs = {"no_such_output"};
  auto s = session::create(small_valid_model(), o);
  if (s.ok()) {
    EXPECT_ERROR((*s)->run({{"x", input_for_small_model()}}), errc::invalid_argument, "no_such_output");
  } else {
    EXPECT_EQ(s.err().code, errc::invalid_argument);
    EXPECT_NE(s.err().detail.find("no_such_output"), std::string::npos) << s.err().to_string();
  }
}

}  // namespace

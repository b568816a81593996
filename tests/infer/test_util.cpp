// Shared helpers for the infer tests (see test_util.hpp).
// Conversions here are written independently of src/infer so a test never uses the
// code under test to make its own inputs or expectations.
#include "infer/test_util.hpp"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace idphoto::infer::test {

using base::errc;
using base::make_error;

// ---------------------------------------------------------------- attributes

attribute attr_int(int64_t v) {
  attribute a;
  a.k = attribute::kind::i;
  a.i = v;
  return a;
}
attribute attr_float(float v) {
  attribute a;
  a.k = attribute::kind::f;
  a.f = v;
  return a;
}
attribute attr_string(std::string v) {
  attribute a;
  a.k = attribute::kind::s;
  a.s = std::move(v);
  return a;
}
attribute attr_ints(std::vector<int64_t> v) {
  attribute a;
  a.k = attribute::kind::ints;
  a.ints = std::move(v);
  return a;
}
attribute attr_floats(std::vector<float> v) {
  attribute a;
  a.k = attribute::kind::floats;
  a.floats = std::move(v);
  return a;
}
attribute attr_tensor(tensor v) {
  attribute a;
  a.k = attribute::kind::t;
  a.t = std::move(v);
  return a;
}

// ---------------------------------------------------------------- tiny models

model_builder::model_builder(int64_t opset) { m_.opset = opset; }

model_builder& model_builder::input(const std::string& name, shape_t dims, dtype t) {
  m_.inputs.push_back(value_info{name, t, std::move(dims)});
  return *this;
}

model_builder& model_builder::output(const std::string& name, dtype t) {
  m_.outputs.push_back(value_info{name, t, {}});
  return *this;
}

model_builder& model_builder::initializer(const std::string& name, tensor t) {
  m_.initializer_bytes += static_cast<int64_t>(t.bytes.size());
  m_.initializers[name] = std::move(t);
  return *this;
}

model_builder& model_builder::add_node(const std::string& op_type, std::vector<std::string> inputs,
                                       std::vector<std::string> outputs, std::map<std::string, attribute> attrs,
                                       const std::string& name) {
  node n;
  n.op_type = op_type;
  n.name = name.empty() ? op_type + "#" + std::to_string(m_.nodes.size()) : name;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attrs = std::move(attrs);
  m_.nodes.push_back(std::move(n));
  return *this;
}

std::shared_ptr<model> model_builder::build() const { return std::make_shared<model>(m_); }

// ---------------------------------------------------------------- tensors

tensor random_tensor(std::mt19937& rng, shape_t s, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  tensor t;
  t.type = dtype::f32;
  t.shape = std::move(s);
  const int64_t n = numel(t.shape);
  t.bytes.resize(static_cast<size_t>(n) * 4);
  float* p = t.data<float>();
  for (int64_t i = 0; i < n; ++i) p[i] = dist(rng);
  return t;
}

tensor abs_tensor(const tensor& t) {
  tensor r = t;
  float* p = r.data<float>();
  for (int64_t i = 0; i < r.size(); ++i) p[i] = std::fabs(p[i]);
  return r;
}

uint16_t f32_to_f16_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to infinity
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): value = abs_float / 2^-24, rounded to nearest even.
    float af;
    std::memcpy(&af, &abs, 4);
    const float scaled = af * 16777216.0f;   // exact: power of two
    const float r = std::nearbyint(scaled);  // default rounding mode: to nearest even
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(r));
  }
  uint32_t mant = abs & 0x7fffffu;
  uint32_t exp = (abs >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into the exponent correctly
  return static_cast<uint16_t>(sign | h);
}

float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  float r;
  if (exp == 0) {
    r = std::ldexp(static_cast<float>(mant), -24);
    if (sign) r = -r;
    return r;
  }
  uint32_t x;
  if (exp == 31) x = sign | 0x7f800000u | (mant << 13);
  else x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  std::memcpy(&r, &x, 4);
  return r;
}

tensor to_f16_tensor(const tensor& f32) {
  tensor r = tensor::zeros(dtype::f16, f32.shape);
  for (int64_t i = 0; i < f32.size(); ++i) r.data<uint16_t>()[i] = f32_to_f16_bits(f32.data<float>()[i]);
  return r;
}

tensor f16_to_f32_tensor(const tensor& f16) {
  tensor r = tensor::zeros(dtype::f32, f16.shape);
  for (int64_t i = 0; i < f16.size(); ++i) r.data<float>()[i] = f16_bits_to_f32(f16.data<uint16_t>()[i]);
  return r;
}

bool is_float_type(dtype t) { return t == dtype::f32 || t == dtype::f16 || t == dtype::f64; }

std::vector<double> values_f64(const tensor& t) {
  const int64_t n = t.size();
  std::vector<double> v(static_cast<size_t>(n));
  const size_t want = static_cast<size_t>(n) * dtype_size(t.type);
  if (t.bytes.size() < want) return {};  // malformed tensor: the caller reports a size mismatch
  for (int64_t i = 0; i < n; ++i) {
    double x = 0;
    switch (t.type) {
      case dtype::f32:
        x = t.data<float>()[i];
        break;
      case dtype::f16:
        x = f16_bits_to_f32(t.data<uint16_t>()[i]);
        break;
      case dtype::f64:
        x = t.data<double>()[i];
        break;
      case dtype::i64:
        x = static_cast<double>(t.data<int64_t>()[i]);
        break;
      case dtype::i32:
        x = t.data<int32_t>()[i];
        break;
      case dtype::i8:
        x = t.data<int8_t>()[i];
        break;
      case dtype::u8:
        x = t.data<uint8_t>()[i];
        break;
      case dtype::boolean:
        x = t.data<uint8_t>()[i] != 0;
        break;
      case dtype::unknown:
        break;
    }
    v[static_cast<size_t>(i)] = x;
  }
  return v;
}

std::vector<float> values_f32(const tensor& t) {
  auto d = values_f64(t);
  return std::vector<float>(d.begin(), d.end());
}

namespace {

const char* onnx_type_name(int t) {
  switch (t) {
    case onnx::TensorProto::FLOAT:
      return "FLOAT";
    case onnx::TensorProto::UINT8:
      return "UINT8";
    case onnx::TensorProto::INT8:
      return "INT8";
    case onnx::TensorProto::UINT16:
      return "UINT16";
    case onnx::TensorProto::INT16:
      return "INT16";
    case onnx::TensorProto::INT32:
      return "INT32";
    case onnx::TensorProto::INT64:
      return "INT64";
    case onnx::TensorProto::STRING:
      return "STRING";
    case onnx::TensorProto::BOOL:
      return "BOOL";
    case onnx::TensorProto::FLOAT16:
      return "FLOAT16";
    case onnx::TensorProto::DOUBLE:
      return "DOUBLE";
    case onnx::TensorProto::UINT32:
      return "UINT32";
    case onnx::TensorProto::UINT64:
      return "UINT64";
    case onnx::TensorProto::COMPLEX64:
      return "COMPLEX64";
    case onnx::TensorProto::COMPLEX128:
      return "COMPLEX128";
    case onnx::TensorProto::BFLOAT16:
      return "BFLOAT16";
    default:
      return "UNDEFINED";
  }
}

dtype dtype_of_onnx(int t) {
  switch (t) {
    case onnx::TensorProto::FLOAT:
      return dtype::f32;
    case onnx::TensorProto::FLOAT16:
      return dtype::f16;
    case onnx::TensorProto::DOUBLE:
      return dtype::f64;
    case onnx::TensorProto::INT64:
      return dtype::i64;
    case onnx::TensorProto::INT32:
      return dtype::i32;
    case onnx::TensorProto::INT8:
      return dtype::i8;
    case onnx::TensorProto::UINT8:
      return dtype::u8;
    case onnx::TensorProto::BOOL:
      return dtype::boolean;
    default:
      return dtype::unknown;
  }
}

int onnx_of_dtype(dtype t) {
  switch (t) {
    case dtype::f32:
      return onnx::TensorProto::FLOAT;
    case dtype::f16:
      return onnx::TensorProto::FLOAT16;
    case dtype::f64:
      return onnx::TensorProto::DOUBLE;
    case dtype::i64:
      return onnx::TensorProto::INT64;
    case dtype::i32:
      return onnx::TensorProto::INT32;
    case dtype::i8:
      return onnx::TensorProto::INT8;
    case dtype::u8:
      return onnx::TensorProto::UINT8;
    case dtype::boolean:
      return onnx::TensorProto::BOOL;
    case dtype::unknown:
      return onnx::TensorProto::UNDEFINED;
  }
  return onnx::TensorProto::UNDEFINED;
}

void fill_tensor_proto(const tensor& t, const std::string& name, onnx::TensorProto* tp) {
  tp->set_name(name);
  tp->set_data_type(onnx_of_dtype(t.type));
  for (int64_t d : t.shape) tp->add_dims(d);
  tp->set_raw_data(std::string(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size()));
}

}  // namespace

base::result<tensor> read_tensor_pb(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(errc::not_found, "cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  onnx::TensorProto tp;
  if (!tp.ParseFromString(bytes)) return make_error(errc::corrupt, "'" + path + "' is not a TensorProto");
  tensor t;
  t.type = dtype_of_onnx(tp.data_type());
  if (t.type == dtype::unknown)
    return make_error(errc::unsupported,
                      "'" + path + "': element type " + onnx_type_name(tp.data_type()) + " has no infer::dtype");
  for (int64_t d : tp.dims()) {
    if (d < 0) return make_error(errc::corrupt, "'" + path + "': negative dim");
    t.shape.push_back(d);
  }
  const int64_t n = numel(t.shape);
  const size_t want = static_cast<size_t>(n) * dtype_size(t.type);
  t.bytes.resize(want);
  auto count_error = [&](int have) {
    return make_error(errc::corrupt,
                      "'" + path + "': " + std::to_string(have) + " values for shape " + shape_str(t.shape));
  };
  if (tp.has_raw_data()) {
    if (tp.raw_data().size() != want) return count_error(static_cast<int>(tp.raw_data().size()));
    if (want) std::memcpy(t.bytes.data(), tp.raw_data().data(), want);
    return t;
  }
  switch (t.type) {
    case dtype::f32:
      if (tp.float_data_size() != n) return count_error(tp.float_data_size());
      if (want) std::memcpy(t.bytes.data(), tp.float_data().data(), want);
      break;
    case dtype::f64:
      if (tp.double_data_size() != n) return count_error(tp.double_data_size());
      if (want) std::memcpy(t.bytes.data(), tp.double_data().data(), want);
      break;
    case dtype::i64:
      if (tp.int64_data_size() != n) return count_error(tp.int64_data_size());
      if (want) std::memcpy(t.bytes.data(), tp.int64_data().data(), want);
      break;
    default:  // f16, i32, i8, u8, bool: one value per int32_data entry
      if (tp.int32_data_size() != n) return count_error(tp.int32_data_size());
      for (int64_t i = 0; i < n; ++i) {
        const int32_t v = tp.int32_data(static_cast<int>(i));
        switch (t.type) {
          case dtype::f16:
            t.data<uint16_t>()[i] = static_cast<uint16_t>(v);
            break;
          case dtype::i32:
            t.data<int32_t>()[i] = v;
            break;
          case dtype::i8:
            t.data<int8_t>()[i] = static_cast<int8_t>(v);
            break;
          default:
            t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
            break;
        }
      }
      break;
  }
  return t;
}

std::string serialise_model(const model& m) {
  onnx::ModelProto mp;
  mp.set_ir_version(8);
  mp.set_producer_name("idphoto-tests");
  auto* os = mp.add_opset_import();
  os->set_domain("");
  os->set_version(m.opset);
  auto* g = mp.mutable_graph();
  g->set_name("test_graph");
  for (const auto& n : m.nodes) {
    auto* np = g->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& [name, a] : n.attrs) {
      auto* ap = np->add_attribute();
      ap->set_name(name);
      switch (a.k) {
        case attribute::kind::i:
          ap->set_type(onnx::AttributeProto::INT);
          ap->set_i(a.i);
          break;
        case attribute::kind::f:
          ap->set_type(onnx::AttributeProto::FLOAT);
          ap->set_f(a.f);
          break;
        case attribute::kind::s:
          ap->set_type(onnx::AttributeProto::STRING);
          ap->set_s(a.s);
          break;
        case attribute::kind::ints:
          ap->set_type(onnx::AttributeProto::INTS);
          for (auto v : a.ints) ap->add_ints(v);
          break;
        case attribute::kind::floats:
          ap->set_type(onnx::AttributeProto::FLOATS);
          for (auto v : a.floats) ap->add_floats(v);
          break;
        case attribute::kind::strings:
          ap->set_type(onnx::AttributeProto::STRINGS);
          for (const auto& v : a.strings) ap->add_strings(v);
          break;
        case attribute::kind::t:
          ap->set_type(onnx::AttributeProto::TENSOR);
          fill_tensor_proto(a.t, name, ap->mutable_t());
          break;
        case attribute::kind::unsupported:
          ap->set_type(onnx::AttributeProto::GRAPH);
          break;
      }
    }
  }
  for (const auto& [name, t] : m.initializers) fill_tensor_proto(t, name, g->add_initializer());
  auto add_value_info = [](onnx::ValueInfoProto* vi, const value_info& v, bool with_shape) {
    vi->set_name(v.name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx_of_dtype(v.type));
    if (!with_shape) return;
    auto* sh = tt->mutable_shape();
    for (size_t i = 0; i < v.dims.size(); ++i) {
      auto* d = sh->add_dim();
      if (v.dims[i] >= 0) d->set_dim_value(v.dims[i]);
      else d->set_dim_param(std::string(1, 'd').append(std::to_string(i)));
    }
  };
  for (const auto& v : m.inputs) add_value_info(g->add_input(), v, true);
  for (const auto& v : m.outputs) add_value_info(g->add_output(), v, !v.dims.empty());
  return mp.SerializeAsString();
}

// ---------------------------------------------------------------- comparisons

namespace {

std::string header_mismatch(const tensor& expected, const tensor& got, bool allow_dtype_change) {
  if (expected.shape != got.shape)
    return "shape: expected " + shape_str(expected.shape) + ", got " + shape_str(got.shape);
  if (!allow_dtype_change && expected.type != got.type)
    return std::string("dtype: expected ") + dtype_name(expected.type) + ", got " + dtype_name(got.type);
  if (got.bytes.size() != static_cast<size_t>(got.size()) * dtype_size(got.type))
    return "got " + std::to_string(got.bytes.size()) + " bytes for shape " + shape_str(got.shape) + " of " +
           dtype_name(got.type);
  return "";
}

std::string index_str(const shape_t& s, int64_t flat) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = s[d] ? flat % s[d] : 0;
    flat = s[d] ? flat / s[d] : 0;
  }
  return shape_str(idx);
}

template <class Bad>
std::string compare_with(const tensor& expected, const tensor& got, bool allow_dtype_change, Bad bound) {
  std::string h = header_mismatch(expected, got, allow_dtype_change);
  if (!h.empty()) return h;
  const auto e = values_f64(expected);
  const auto g = values_f64(got);
  int64_t n_bad = 0, first = -1;
  double worst_excess = -1;
  int64_t worst = -1;
  for (size_t i = 0; i < e.size(); ++i) {
    const bool both_nan = std::isnan(e[i]) && std::isnan(g[i]);
    if (both_nan) continue;
    const double b = bound(i, e[i]);
    const double diff = std::fabs(e[i] - g[i]);
    if (e[i] == g[i]) continue;  // also equal infinities
    if (!(diff <= b)) {
      if (first < 0) first = static_cast<int64_t>(i);
      const double excess = std::isnan(diff) ? 1e300 : diff - b;
      if (excess > worst_excess) {
        worst_excess = excess;
        worst = static_cast<int64_t>(i);
      }
      ++n_bad;
    }
  }
  if (n_bad == 0) return "";
  std::ostringstream o;
  o.precision(9);
  auto describe = [&](int64_t i) {
    o << "at " << index_str(expected.shape, i) << " expected " << e[static_cast<size_t>(i)] << " got "
      << g[static_cast<size_t>(i)] << " (|diff| " << std::fabs(e[static_cast<size_t>(i)] - g[static_cast<size_t>(i)])
      << " > bound " << bound(static_cast<size_t>(i), e[static_cast<size_t>(i)]) << ")";
  };
  o << n_bad << " of " << e.size() << " elements differ (shape " << shape_str(expected.shape) << "); first ";
  describe(first);
  if (worst != first) {
    o << "; worst ";
    describe(worst);
  }
  return o.str();
}

}  // namespace

std::string compare_exact(const tensor& expected, const tensor& got) {
  return compare_with(expected, got, false, [](size_t, double) { return 0.0; });
}

std::string compare_allclose(const tensor& expected, const tensor& got, double rtol, double atol,
                             bool allow_dtype_change) {
  return compare_with(expected, got, allow_dtype_change, [&](size_t, double e) { return atol + rtol * std::fabs(e); });
}

std::string compare_bounded(const tensor& expected, const tensor& got, const std::vector<double>& bound) {
  if (bound.size() != static_cast<size_t>(expected.size())) return "internal: bound size mismatch";
  return compare_with(expected, got, false, [&](size_t i, double) { return bound[i]; });
}

// ---------------------------------------------------------------- running

session_options options_for(backend_kind b, weights_mode w) {
  session_options o;
  o.backend = b;
  o.weights = w;
  return o;
}

const char* backend_label(backend_kind b) { return b == backend_kind::onednn ? "onednn" : "reference"; }

base::result<std::vector<named_tensor>> run_once(std::shared_ptr<const model> m, const session_options& o,
                                                 const std::vector<named_tensor>& inputs) {
  auto s = session::create(std::move(m), o);
  if (!s.ok()) return s.err();
  return (*s)->run(inputs);
}

const tensor* find_output(const std::vector<named_tensor>& outs, const std::string& name) {
  for (const auto& o : outs)
    if (o.name == name) return &o.t;
  return nullptr;
}

}  // namespace idphoto::infer::test

// Loads an ONNX protobuf (libonnx-dev) into the plain structs of model.hpp.
// Initialisers are moved out of the protobuf one at a time so the peak stays
// near one copy of the weights; nodes are sorted topologically (Kahn, stable).
#include "infer/model.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <limits>
#include <optional>
#include <queue>
#include <set>
#include <unordered_set>

namespace idphoto::infer {

using base::errc;
using base::make_error;
using base::result;

int64_t node::get_int(const std::string& a, int64_t def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.i;
}
float node::get_float(const std::string& a, float def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.f;
}
std::string node::get_string(const std::string& a, const std::string& def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.s;
}
std::vector<int64_t> node::get_ints(const std::string& a, std::vector<int64_t> def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.ints;
}
std::string node::label() const { return op_type + " '" + name + "'"; }

namespace {

constexpr int64_t max_elements = int64_t{1} << 40;

// The dtype and shape of a TensorProto, checked (no data).
result<tensor> tensor_header(const onnx::TensorProto& tp, const std::string& what, int64_t& n) {
  tensor t;
  t.type = dtype_from_onnx(tp.data_type());
  if (t.type == dtype::unknown)
    return make_error(errc::unsupported,
                      what + ": tensor data type " + std::to_string(tp.data_type()) + " is not supported");
  if (tp.data_location() == onnx::TensorProto::EXTERNAL || tp.external_data_size() > 0)
    return make_error(errc::unsupported, what + ": external tensor data is not supported");
  n = 1;
  for (int64_t d : tp.dims()) {
    if (d < 0) return make_error(errc::corrupt, what + ": negative dimension");
    if (d != 0 && n > max_elements / d) return make_error(errc::too_large, what + ": too many elements");
    n *= d;
    t.shape.push_back(d);
  }
  return t;
}

// Converts a TensorProto, moving raw_data out of it (the proto is left empty).
result<tensor> convert_tensor(onnx::TensorProto& tp, const std::string& what) {
  int64_t n = 0;
  auto header = tensor_header(tp, what, n);
  IDPHOTO_TRY(header);
  tensor t = std::move(*header);
  const size_t esize = dtype_size(t.type);
  const size_t want = static_cast<size_t>(n) * esize;
  if (tp.has_raw_data()) {
    std::string* raw = tp.mutable_raw_data();
    if (raw->size() != want)
      return make_error(errc::corrupt, what + ": raw_data holds " + std::to_string(raw->size()) + " bytes, shape " +
                                           shape_str(t.shape) + " needs " + std::to_string(want));
    t.bytes.resize(want);
    if (want) std::memcpy(t.bytes.data(), raw->data(), want);
    std::string().swap(*raw);
    return t;
  }
  auto check = [&](int have) -> result<void> {
    if (static_cast<int64_t>(have) != n)
      return make_error(errc::corrupt, what + ": holds " + std::to_string(have) + " values, shape " +
                                           shape_str(t.shape) + " needs " + std::to_string(n));
    return {};
  };
  // Count the stored values before allocating: a tiny file may declare huge dims.
  switch (t.type) {
    case dtype::f32:
      IDPHOTO_TRY(check(tp.float_data_size()));
      break;
    case dtype::f64:
      IDPHOTO_TRY(check(tp.double_data_size()));
      break;
    case dtype::i64:
      IDPHOTO_TRY(check(tp.int64_data_size()));
      break;
    default:
      IDPHOTO_TRY(check(tp.int32_data_size()));
      break;
  }
  t.bytes.resize(want);
  if (want == 0) return t;
  switch (t.type) {
    case dtype::f32: {
      std::memcpy(t.bytes.data(), tp.float_data().data(), want);
      break;
    }
    case dtype::f64: {
      std::memcpy(t.bytes.data(), tp.double_data().data(), want);
      break;
    }
    case dtype::i64: {
      std::memcpy(t.bytes.data(), tp.int64_data().data(), want);
      break;
    }
    case dtype::f16:
    case dtype::i32:
    case dtype::i8:
    case dtype::u8:
    case dtype::boolean: {
      // These are stored one per int32 entry.
      for (int64_t i = 0; i < n; ++i) {
        int32_t v = tp.int32_data(static_cast<int>(i));
        if (t.type == dtype::f16) t.data<uint16_t>()[i] = static_cast<uint16_t>(v);
        else if (t.type == dtype::i32) t.data<int32_t>()[i] = v;
        else if (t.type == dtype::i8) t.data<int8_t>()[i] = static_cast<int8_t>(v);
        else t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
      }
      break;
    }
    default:
      break;
  }
  return t;
}

result<attribute> convert_attribute(onnx::AttributeProto& ap, const std::string& where) {
  attribute a;
  switch (ap.type()) {
    case onnx::AttributeProto::INT:
      a.k = attribute::kind::i;
      a.i = ap.i();
      break;
    case onnx::AttributeProto::FLOAT:
      a.k = attribute::kind::f;
      a.f = ap.f();
      break;
    case onnx::AttributeProto::STRING:
      a.k = attribute::kind::s;
      a.s = ap.s();
      break;
    case onnx::AttributeProto::INTS:
      a.k = attribute::kind::ints;
      a.ints.assign(ap.ints().begin(), ap.ints().end());
      break;
    case onnx::AttributeProto::FLOATS:
      a.k = attribute::kind::floats;
      a.floats.assign(ap.floats().begin(), ap.floats().end());
      break;
    case onnx::AttributeProto::STRINGS:
      a.k = attribute::kind::strings;
      a.strings.assign(ap.strings().begin(), ap.strings().end());
      break;
    case onnx::AttributeProto::TENSOR: {
      a.k = attribute::kind::t;
      auto t = convert_tensor(*ap.mutable_t(), where + " attribute " + ap.name());
      IDPHOTO_TRY(t);
      a.t = std::move(*t);
      break;
    }
    default:
      a.k = attribute::kind::unsupported;
      break;  // graphs, sparse tensors: the op will be refused
  }
  return a;
}

value_info convert_value_info(const onnx::ValueInfoProto& vi) {
  value_info v;
  v.name = vi.name();
  if (vi.type().has_tensor_type()) {
    const auto& tt = vi.type().tensor_type();
    v.type = dtype_from_onnx(tt.elem_type());
    if (tt.has_shape())
      for (const auto& d : tt.shape().dim()) v.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  }
  return v;
}

// Kahn's algorithm; ties keep file order. Fails on a cycle or an input nobody makes.
result<std::vector<node>> topo_sort(std::vector<node> nodes, const std::unordered_set<std::string>& available) {
  std::unordered_map<std::string, int> producer;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const auto& o : nodes[i].outputs) {
      if (o.empty()) continue;
      if (available.count(o) || !producer.emplace(o, static_cast<int>(i)).second)
        return make_error(errc::invalid_argument, nodes[i].label() + ": output '" + o + "' is defined twice");
    }
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<int>> users(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::set<int> deps;
    for (const auto& in : nodes[i].inputs) {
      if (in.empty() || available.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        return make_error(errc::invalid_argument, nodes[i].label() + ": input '" + in +
                                                      "' is not defined by any node, initialiser or graph input");
      deps.insert(it->second);
    }
    pending[i] = static_cast<int>(deps.size());
    for (int d : deps) users[d].push_back(static_cast<int>(i));
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (pending[i] == 0) ready.push(static_cast<int>(i));
  std::vector<node> out;
  out.reserve(nodes.size());
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    for (int u : users[i])
      if (--pending[u] == 0) ready.push(u);
    out.push_back(std::move(nodes[i]));
  }
  if (out.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i)
      if (pending[i] > 0) return make_error(errc::invalid_argument, nodes[i].label() + " is part of a cycle");
  }
  return out;
}

// Large weights never pass through the heap. Parsing the whole file with protobuf
// would copy every raw_data into a std::string (88 MB for ISNet fp16) just to throw it
// away after conversion, and that copy set the process's peak RSS. Instead a direct walk
// of the wire format (ModelProto.graph = 7, GraphProto.initializer = 5,
// TensorProto.raw_data = 9) writes a stripped copy of the protobuf without the large
// raw_data fields and notes, per initialiser in file order, where its bytes lie in the
// mapped file. Protobuf then parses only the stripped copy (nodes, attributes, small
// tensors: about 1 MB) and stays the judge of validity; the walk copies every other field
// byte for byte. A file the walk cannot follow is parsed whole, with heap copies.
struct raw_span {
  size_t offset = 0, size = 0;
};

class wire_reader {
 public:
  wire_reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  bool done() const { return p_ >= end_; }
  const uint8_t* pos() const { return p_; }
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      const uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  // Reads one field header and, for length-delimited fields, the payload span.
  bool field(uint32_t& number, uint32_t& wire, const uint8_t*& payload, size_t& len) {
    uint64_t key;
    if (!varint(key)) return false;
    number = static_cast<uint32_t>(key >> 3);
    wire = static_cast<uint32_t>(key & 7);
    payload = nullptr;
    len = 0;
    uint64_t v;
    switch (wire) {
      case 0:
        return varint(v);
      case 1:
        return skip(8);
      case 5:
        return skip(4);
      case 2:
        if (!varint(v) || v > static_cast<uint64_t>(end_ - p_)) return false;
        payload = p_;
        len = static_cast<size_t>(v);
        p_ += len;
        return true;
      default:
        return false;  // groups are not used by ONNX
    }
  }

 private:
  bool skip(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_message(std::string& out, uint32_t number, const std::string& body) {
  put_varint(out, (uint64_t{number} << 3) | 2);
  put_varint(out, body.size());
  out += body;
}

// Initialisers at least this large stay in the mapped file.
constexpr size_t map_min_bytes = 64 * 1024;

struct stripped_model {
  std::string proto;                           // the protobuf without large raw_data
  std::vector<std::optional<raw_span>> spans;  // per initialiser, in file order
};

// False when the walk cannot follow the file (protobuf will judge it whole).
bool strip_large_raw_data(const uint8_t* file, size_t size, stripped_model& out) {
  uint32_t num, wire;
  const uint8_t* pl;
  size_t len;
  wire_reader model_r(file, size);
  while (!model_r.done()) {
    const uint8_t* start = model_r.pos();
    if (!model_r.field(num, wire, pl, len)) return false;
    if (num != 7 || wire != 2) {
      out.proto.append(reinterpret_cast<const char*>(start), static_cast<size_t>(model_r.pos() - start));
      continue;
    }
    std::string graph;
    wire_reader graph_r(pl, len);
    while (!graph_r.done()) {
      const uint8_t* gstart = graph_r.pos();
      const uint8_t* gpl;
      size_t glen;
      if (!graph_r.field(num, wire, gpl, glen)) return false;
      if (num != 5 || wire != 2) {
        graph.append(reinterpret_cast<const char*>(gstart), static_cast<size_t>(graph_r.pos() - gstart));
        continue;
      }
      std::string tensor_bytes;
      std::optional<raw_span> span;  // protobuf keeps the last raw_data of a tensor
      wire_reader tensor_r(gpl, glen);
      while (!tensor_r.done()) {
        const uint8_t* tstart = tensor_r.pos();
        const uint8_t* tpl;
        size_t tlen;
        if (!tensor_r.field(num, wire, tpl, tlen)) return false;
        if (num == 9 && wire == 2 && tlen >= map_min_bytes) {
          span = raw_span{static_cast<size_t>(tpl - file), tlen};
          continue;
        }
        if (num == 9 && wire == 2) span.reset();
        tensor_bytes.append(reinterpret_cast<const char*>(tstart), static_cast<size_t>(tensor_r.pos() - tstart));
      }
      put_message(graph, 5, tensor_bytes);
      out.spans.push_back(span);
    }
    put_message(out.proto, 7, graph);
  }
  return true;
}

// A read-only private mapping of the model file; unmapped when the last tensor using it goes.
struct file_mapping {
  void* addr = MAP_FAILED;
  size_t size = 0;
  ~file_mapping() {
    if (addr != MAP_FAILED) munmap(addr, size);
  }
};

// mapping + spans: the large initialisers stripped from mp (see strip_large_raw_data).
result<std::shared_ptr<model>> convert_model(onnx::ModelProto& mp,
                                             const std::shared_ptr<file_mapping>& mapping = nullptr,
                                             const std::vector<std::optional<raw_span>>* spans = nullptr) {
  auto m = std::make_shared<model>();
  for (const auto& os : mp.opset_import())
    if (os.domain().empty() || os.domain() == "ai.onnx") m->opset = os.version();
  if (!mp.has_graph()) return make_error(errc::corrupt, "the file has no graph");
  auto& g = *mp.mutable_graph();
  if (g.sparse_initializer_size() > 0) return make_error(errc::unsupported, "sparse initialisers are not supported");

  std::unordered_set<std::string> available;
  if (spans && static_cast<size_t>(g.initializer_size()) != spans->size())
    return make_error(errc::internal, "model walk and protobuf disagree on the number of initialisers");
  int index = -1;
  for (auto& init : *g.mutable_initializer()) {
    ++index;
    // A large raw initialiser left in the mapped file.
    if (spans && (*spans)[static_cast<size_t>(index)]) {
      const raw_span sp = *(*spans)[static_cast<size_t>(index)];
      int64_t n = 0;
      auto header = tensor_header(init, "initialiser '" + init.name() + "'", n);
      IDPHOTO_TRY(header);
      if (static_cast<size_t>(n) * dtype_size(header->type) != sp.size)
        return make_error(errc::corrupt, "initialiser '" + init.name() + "': raw_data holds " +
                                             std::to_string(sp.size) + " bytes, shape " + shape_str(header->shape) +
                                             " needs " +
                                             std::to_string(static_cast<size_t>(n) * dtype_size(header->type)));
      tensor t = std::move(*header);
      t.ext = static_cast<const std::byte*>(mapping->addr) + sp.offset;
      t.ext_size = sp.size;
      t.ext_owner = mapping;
      m->initializer_bytes += static_cast<int64_t>(t.ext_size);
      available.insert(init.name());
      m->initializers[init.name()] = std::move(t);
      continue;
    }
    auto t = convert_tensor(init, "initialiser '" + init.name() + "'");
    IDPHOTO_TRY(t);
    m->initializer_bytes += static_cast<int64_t>(t->bytes.size());
    available.insert(init.name());
    m->initializers[init.name()] = std::move(*t);
  }
  g.clear_initializer();
  for (const auto& in : g.input()) {
    if (m->initializers.count(in.name())) continue;
    m->inputs.push_back(convert_value_info(in));
    available.insert(in.name());
  }
  for (const auto& out : g.output()) m->outputs.push_back(convert_value_info(out));

  std::vector<node> nodes;
  nodes.reserve(static_cast<size_t>(g.node_size()));
  index = 0;
  for (auto& np : *g.mutable_node()) {
    node n;
    n.op_type = np.op_type();
    n.domain = np.domain();
    n.name = np.name().empty() ? n.op_type + "#" + std::to_string(index) : np.name();
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    for (auto& ap : *np.mutable_attribute()) {
      auto a = convert_attribute(ap, n.label());
      IDPHOTO_TRY(a);
      n.attrs[ap.name()] = std::move(*a);
    }
    nodes.push_back(std::move(n));
    ++index;
  }
  auto sorted = topo_sort(std::move(nodes), available);
  IDPHOTO_TRY(sorted);
  m->nodes = std::move(*sorted);

  std::unordered_set<std::string> produced = available;
  for (const auto& n : m->nodes)
    for (const auto& o : n.outputs) produced.insert(o);
  for (const auto& o : m->outputs)
    if (!produced.count(o.name))
      return make_error(errc::invalid_argument, "graph output '" + o.name + "' is never produced");
  if (m->outputs.empty()) return make_error(errc::invalid_argument, "the graph has no outputs");
  return m;
}

}  // namespace

result<std::shared_ptr<model>> load_model(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(errc::not_found, "cannot open model '" + path + "': " + std::strerror(errno));
  auto mapping = std::make_shared<file_mapping>();
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    mapping->size = static_cast<size_t>(st.st_size);
    mapping->addr = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  if (mapping->addr == MAP_FAILED) mapping.reset();  // fall back to heap copies
  stripped_model stripped;
  if (mapping && mapping->size <= static_cast<size_t>(std::numeric_limits<int>::max()) &&
      strip_large_raw_data(static_cast<const uint8_t*>(mapping->addr), mapping->size, stripped)) {
    ::close(fd);
    // The walk read only field headers; give back the pages it touched.
    release_pages(mapping->addr, mapping->size);
    onnx::ModelProto mp;
    if (!mp.ParseFromString(stripped.proto))
      return make_error(errc::corrupt,
                        "'" + path + "' is not a valid ONNX model (protobuf parse failed: truncated or not ONNX)");
    std::string().swap(stripped.proto);
    auto m = convert_model(mp, mapping, &stripped.spans);
    if (!m.ok()) return make_error(m.err().code, "'" + path + "': " + m.err().detail);
    return m;
  }
  onnx::ModelProto mp;
  bool parsed;
  {
    google::protobuf::io::FileInputStream in(fd);
    in.SetCloseOnDelete(true);
    parsed = mp.ParseFromZeroCopyStream(&in);
    if (in.GetErrno() != 0)
      return make_error(errc::io, "cannot read model '" + path + "': " + std::strerror(in.GetErrno()));
  }
  if (!parsed)
    return make_error(errc::corrupt,
                      "'" + path + "' is not a valid ONNX model (protobuf parse failed: truncated or not ONNX)");
  auto m = convert_model(mp);
  if (!m.ok()) return make_error(m.err().code, "'" + path + "': " + m.err().detail);
  return m;
}

result<std::shared_ptr<model>> load_model_from_bytes(const void* data, size_t size) {
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    return make_error(errc::too_large, "model bytes over 2 GiB");
  onnx::ModelProto mp;
  if (size == 0 || !mp.ParseFromArray(data, static_cast<int>(size)))
    return make_error(errc::corrupt, "not a valid ONNX model (protobuf parse failed: truncated or not ONNX)");
  return convert_model(mp);
}

}  // namespace idphoto::infer

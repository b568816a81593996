// Turns a model into a plan for one set of input shapes.
//
// Approach. Nodes are visited in topological order with every value's shape known:
//  - a node whose inputs are all constants is evaluated now (shape ops by fold.cpp,
//    compute ops by the reference kernels) and becomes a constant;
//  - Shape of a runtime value is a constant too, because shapes are fixed per plan;
//  - Identity / Cast between float types / Reshape / Squeeze / Unsqueeze / Flatten of a
//    runtime value become aliases (no step, no copy);
//  - every other node becomes a step with decoded parameters and an output shape.
// Then Conv followed by its only consumer Relu is fused, live ranges are computed,
// and buffers are assigned by the executor (assign_buffers, buffers.cpp).
//
// Resize retargeting. Exporters often bake the size of an upsampling Resize as
// Concat(Slice(Shape(x), 0, 2), Constant[h, w]) — correct only at the export size.
// When the sizes input comes from a Concat with a constant part, the planner makes
// the Resize produce the spatial size (H, W) of its partner instead:
//   - the other input of the Concat or Add its output reaches (through Cast/Identity);
//   - or, when the output reaches a graph output (through Cast/Identity/Sigmoid/Relu),
//     the first graph input's H, W.
// The partner becomes an ordering dependency of the Resize so its shape is known first.
// At the export size this changes nothing; at other sizes it is what the network's
// author meant (U-Net decoders upsample to the skip connection's size).
#include "infer/plan.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "infer/fold.hpp"
#include "infer/ref_kernels.hpp"

namespace idphoto::infer {

using base::errc;
using base::make_error;
using base::result;

const char* op_kind_name(op_kind k) {
  switch (k) {
    case op_kind::conv: return "conv";
    case op_kind::relu: return "relu";
    case op_kind::sigmoid: return "sigmoid";
    case op_kind::clip: return "clip";
    case op_kind::max_pool: return "max_pool";
    case op_kind::avg_pool: return "avg_pool";
    case op_kind::global_avg_pool: return "global_avg_pool";
    case op_kind::batch_norm: return "batch_norm";
    case op_kind::resize: return "resize";
    case op_kind::concat: return "concat";
    case op_kind::add: return "add";
    case op_kind::mul: return "mul";
    case op_kind::sub: return "sub";
    case op_kind::div: return "div";
  }
  return "?";
}

int plan::root(int v) const {
  while (v >= 0 && values[v].alias_of >= 0) v = values[v].alias_of;
  return v;
}

namespace {

constexpr int64_t max_dim = int64_t{1} << 24;
constexpr int64_t max_elements = int64_t{1} << 34;

const std::set<std::string> compute_ops = {"Conv", "Relu", "Sigmoid", "Clip", "MaxPool", "AveragePool",
                                           "GlobalAveragePool", "BatchNormalization", "Resize", "Upsample",
                                           "Concat", "Add", "Mul", "Sub", "Div"};
const std::set<std::string> alias_ops = {"Identity", "Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten"};

bool is_float_cast_target(int64_t to) { return to == 1 || to == 10 || to == 11; }

struct spatial_attrs {
  int64_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

// Pads from pads/auto_pad for one spatial op. out_fn gives the output size for a dim.
result<void> resolve_pads(const node& n, int64_t h, int64_t w, bool ceil_mode, spatial_attrs& a, int64_t& ho, int64_t& wo) {
  const std::string auto_pad = n.get_string("auto_pad", "NOTSET");
  auto pads = n.get_ints("pads", {0, 0, 0, 0});
  if (pads.size() != 4) return make_error(errc::unsupported, n.label() + ": only 2-D pads are supported");
  for (int64_t v : pads)
    if (v < 0) return make_error(errc::invalid_argument, n.label() + ": negative pad");
  const int64_t eh = (a.kh - 1) * a.dh + 1, ew = (a.kw - 1) * a.dw + 1;
  if (a.sh <= 0 || a.sw <= 0 || a.dh <= 0 || a.dw <= 0 || a.kh <= 0 || a.kw <= 0)
    return make_error(errc::invalid_argument, n.label() + ": kernel, strides and dilations must be positive");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    ho = (h + a.sh - 1) / a.sh;
    wo = (w + a.sw - 1) / a.sw;
    int64_t th = std::max<int64_t>(0, (ho - 1) * a.sh + eh - h), tw = std::max<int64_t>(0, (wo - 1) * a.sw + ew - w);
    bool upper = auto_pad == "SAME_UPPER";
    a.pt = upper ? th / 2 : th - th / 2;
    a.pb = th - a.pt;
    a.pl = upper ? tw / 2 : tw - tw / 2;
    a.pr = tw - a.pl;
    return {};
  }
  if (auto_pad == "VALID") {
    a.pt = a.pl = a.pb = a.pr = 0;
  } else if (auto_pad == "NOTSET") {
    a.pt = pads[0]; a.pl = pads[1]; a.pb = pads[2]; a.pr = pads[3];
  } else {
    return make_error(errc::unsupported, n.label() + ": auto_pad '" + auto_pad + "'");
  }
  auto out = [&](int64_t in, int64_t eff, int64_t s, int64_t pb, int64_t pe) -> int64_t {
    const int64_t num = in + pb + pe - eff;
    if (num < 0) return -1;
    int64_t o = ceil_mode ? (num + s - 1) / s + 1 : num / s + 1;
    if (ceil_mode && (o - 1) * s >= in + pb) --o;  // the last window must start inside the input or left pad
    return o;
  };
  ho = out(h, eh, a.sh, a.pt, a.pb);
  wo = out(w, ew, a.sw, a.pl, a.pr);
  if (ho <= 0 || wo <= 0) return make_error(errc::invalid_argument, n.label() + ": the kernel is larger than the padded input");
  return {};
}

class planner {
 public:
  planner(const model& m, const plan_request& req, plan& p) : m_(m), req_(req), p_(p) {}

  result<void> build();

 private:
  int add_value(value v) {
    ids_[v.name] = static_cast<int>(p_.values.size());
    p_.values.push_back(std::move(v));
    return static_cast<int>(p_.values.size()) - 1;
  }
  int add_constant(const std::string& name, tensor t) {
    p_.folded.push_back(std::make_unique<tensor>(std::move(t)));
    value v;
    v.name = name;
    v.kind = value_kind::constant;
    v.type = p_.folded.back()->type;
    v.shape = p_.folded.back()->shape;
    v.constant = p_.folded.back().get();
    return add_value(std::move(v));
  }
  bool is_const(int id) const { return id >= 0 && p_.values[id].kind == value_kind::constant; }
  const tensor* const_of(int id) const { return is_const(id) ? p_.values[id].constant : nullptr; }
  const shape_t& shape_of(int id) const { return p_.values[id].shape; }

  result<std::vector<int>> order_nodes();
  void find_resize_partners();
  result<void> visit(const node& n, int node_index);
  result<step> decode(const node& n, const std::vector<int>& in);
  result<void> decode_resize(const node& n, const std::vector<int>& in, int node_index, step& s, shape_t& out);
  result<void> check_runtime_input(const node& n, int id);
  result<tensor> evaluate_const(const step& s, const shape_t& out_shape);
  void fuse_relu();
  void compute_liveness();

  const model& m_;
  const plan_request& req_;
  plan& p_;
  std::unordered_map<std::string, int> ids_;
  std::unordered_map<std::string, int> producer_;  // value name -> node index
  std::unordered_map<int, std::string> resize_partner_;  // node index -> partner value ("" = graph input)
  std::vector<bool> needed_;
};

result<void> planner::build() {
  for (size_t i = 0; i < m_.nodes.size(); ++i)
    for (const auto& o : m_.nodes[i].outputs) producer_[o] = static_cast<int>(i);

  // Graph inputs, with the requested shapes.
  if (m_.inputs.empty()) {
    // A model with no runtime inputs folds to constants; allowed.
  }
  for (const auto& vi : m_.inputs) {
    auto it = std::find_if(req_.input_shapes.begin(), req_.input_shapes.end(), [&](auto& kv) { return kv.first == vi.name; });
    if (it == req_.input_shapes.end()) return make_error(errc::invalid_argument, "input '" + vi.name + "' is not given");
    if (vi.type != dtype::f32 && vi.type != dtype::unknown)
      return make_error(errc::unsupported, "input '" + vi.name + "' is " + dtype_name(vi.type) + "; only float32 inputs are supported");
    const shape_t& s = it->second;
    if (!vi.dims.empty() && vi.dims.size() != s.size())
      return make_error(errc::invalid_argument, "input '" + vi.name + "' must have rank " + std::to_string(vi.dims.size()) +
                                                    ", got " + shape_str(s));
    for (size_t d = 0; d < s.size(); ++d) {
      if (s[d] <= 0 || s[d] > max_dim) return make_error(errc::invalid_argument, "input '" + vi.name + "' has a bad dimension: " + shape_str(s));
      // Spatial dimensions (index >= 2) may differ from the file's; the others must match.
      if (d < 2 && d < vi.dims.size() && vi.dims[d] > 0 && vi.dims[d] != s[d])
        return make_error(errc::invalid_argument, "input '" + vi.name + "' dimension " + std::to_string(d) + " must be " +
                                                      std::to_string(vi.dims[d]) + ", got " + shape_str(s));
    }
    if (numel(s) > max_elements) return make_error(errc::too_large, "input '" + vi.name + "' is too large: " + shape_str(s));
    value v;
    v.name = vi.name;
    v.kind = value_kind::graph_input;
    v.shape = s;
    p_.inputs.push_back(add_value(std::move(v)));
  }
  for (const auto& kv : req_.input_shapes)
    if (!std::any_of(m_.inputs.begin(), m_.inputs.end(), [&](auto& vi) { return vi.name == kv.first; }))
      return make_error(errc::invalid_argument, "the model has no input named '" + kv.first + "'");

  for (const auto& [name, t] : m_.initializers) {
    value v;
    v.name = name;
    v.kind = value_kind::constant;
    v.type = t.type;
    v.shape = t.shape;
    v.constant = &t;
    add_value(std::move(v));
  }

  // Which nodes the requested outputs need.
  std::vector<std::string> outs = req_.outputs;
  if (outs.empty())
    for (const auto& o : m_.outputs) outs.push_back(o.name);
  needed_.assign(m_.nodes.size(), false);
  std::vector<std::string> stack;
  for (const auto& o : outs) {
    if (!std::any_of(m_.outputs.begin(), m_.outputs.end(), [&](auto& vi) { return vi.name == o; }))
      return make_error(errc::invalid_argument, "the model has no output named '" + o + "'");
    stack.push_back(o);
  }
  while (!stack.empty()) {
    std::string v = stack.back();
    stack.pop_back();
    auto it = producer_.find(v);
    if (it == producer_.end() || needed_[it->second]) continue;
    needed_[it->second] = true;
    for (const auto& in : m_.nodes[it->second].inputs)
      if (!in.empty()) stack.push_back(in);
  }

  if (req_.retarget_resize) find_resize_partners();
  auto order = order_nodes();
  IDPHOTO_TRY(order);
  for (int i : *order) IDPHOTO_TRY(visit(m_.nodes[i], i));

  for (const auto& o : outs) {
    auto found = ids_.find(o);
    if (found == ids_.end()) return make_error(errc::invalid_argument, "graph output '" + o + "' is never produced");
    const int id = found->second;
    p_.values[id].graph_output = true;
    p_.outputs.push_back(id);
  }
  if (req_.fuse_relu) fuse_relu();
  compute_liveness();
  return {};
}

void planner::find_resize_partners() {
  std::unordered_map<std::string, std::vector<int>> consumers;
  for (size_t i = 0; i < m_.nodes.size(); ++i)
    for (const auto& in : m_.nodes[i].inputs) consumers[in].push_back(static_cast<int>(i));
  std::unordered_set<std::string> graph_outputs;
  for (const auto& o : m_.outputs) graph_outputs.insert(o.name);
  auto is_baked = [&](const std::string& v) {
    return m_.initializers.count(v) || (producer_.count(v) && m_.nodes[producer_.at(v)].op_type == "Constant");
  };
  for (size_t i = 0; i < m_.nodes.size(); ++i) {
    const node& n = m_.nodes[i];
    if (!needed_[i] || n.op_type != "Resize" || n.inputs.size() < 4 || n.inputs[3].empty()) continue;
    auto pit = producer_.find(n.inputs[3]);
    if (pit == producer_.end()) continue;
    const node& sizes = m_.nodes[pit->second];
    if (sizes.op_type != "Concat" || !std::any_of(sizes.inputs.begin(), sizes.inputs.end(), is_baked)) continue;
    // Walk forward from the Resize output through value-preserving ops.
    std::string found;
    bool to_output = false;
    std::function<bool(const std::string&, bool)> walk = [&](const std::string& v, bool through_unary) -> bool {
      if (graph_outputs.count(v)) to_output = true;
      for (int c : consumers[v]) {
        const node& cn = m_.nodes[c];
        if (cn.op_type == "Cast" || cn.op_type == "Identity") {
          if (walk(cn.outputs[0], through_unary)) return true;
        } else if (!through_unary && (cn.op_type == "Concat" || cn.op_type == "Add")) {
          for (const auto& other : cn.inputs)
            if (!other.empty() && other != v) {
              found = other;
              return true;
            }
        } else if (cn.op_type == "Sigmoid" || cn.op_type == "Relu") {
          if (walk(cn.outputs[0], true)) return true;
        }
      }
      return false;
    };
    if (walk(n.outputs[0], false)) resize_partner_[static_cast<int>(i)] = found;
    else if (to_output && !m_.inputs.empty()) resize_partner_[static_cast<int>(i)] = "";
  }
}

// Kahn over the needed nodes, with the Resize partners as extra dependencies.
result<std::vector<int>> planner::order_nodes() {
  const int n = static_cast<int>(m_.nodes.size());
  std::vector<std::set<int>> deps(n);
  std::vector<std::vector<int>> users(n);
  for (int i = 0; i < n; ++i) {
    if (!needed_[i]) continue;
    std::vector<std::string> ins = m_.nodes[i].inputs;
    auto rp = resize_partner_.find(i);
    if (rp != resize_partner_.end() && !rp->second.empty()) ins.push_back(rp->second);
    for (const auto& in : ins) {
      auto it = producer_.find(in);
      if (in.empty() || it == producer_.end() || it->second == i) continue;
      deps[i].insert(it->second);
    }
    for (int d : deps[i]) users[d].push_back(i);
  }
  std::vector<int> pending(n, 0);
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    pending[i] = static_cast<int>(deps[i].size());
    if (needed_[i] && pending[i] == 0) ready.push(i);
  }
  std::vector<int> order;
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int u : users[i])
      if (--pending[u] == 0) ready.push(u);
  }
  int want = static_cast<int>(std::count(needed_.begin(), needed_.end(), true));
  if (static_cast<int>(order.size()) != want) {
    // A partner that depends on the Resize itself: drop retargeting for those and retry.
    if (!resize_partner_.empty()) {
      resize_partner_.clear();
      return order_nodes();
    }
    return make_error(errc::invalid_argument, "the graph has a cycle");
  }
  return order;
}

result<void> planner::check_runtime_input(const node& n, int id) {
  const value& v = p_.values[id];
  if (v.kind == value_kind::constant) return {};
  if (v.type != dtype::f32)
    return make_error(errc::unsupported, n.label() + ": runtime input '" + v.name + "' is " + dtype_name(v.type) +
                                             "; only float tensors are computed at run time");
  return {};
}

result<void> planner::visit(const node& n, int node_index) {
  if (!n.domain.empty() && n.domain != "ai.onnx")
    return make_error(errc::unsupported, n.label() + ": domain '" + n.domain + "' is not supported");
  std::vector<int> in;
  bool all_const = true;
  for (const auto& name : n.inputs) {
    if (name.empty()) {
      in.push_back(-1);
      continue;
    }
    auto it = ids_.find(name);
    if (it == ids_.end()) return make_error(errc::invalid_argument, n.label() + ": input '" + name + "' is not defined");
    in.push_back(it->second);
    if (!is_const(it->second)) all_const = false;
  }
  if (n.outputs.empty()) return make_error(errc::invalid_argument, n.label() + ": no outputs");
  auto const_inputs = [&] {
    std::vector<const tensor*> ts;
    for (int id : in) ts.push_back(const_of(id));
    return ts;
  };

  const bool shape_op = detail::is_shape_op(n.op_type);
  // Constants in, constant out.
  if (all_const && (shape_op || n.op_type == "Constant")) {
    auto outs = detail::fold_node(n, const_inputs(), m_.opset);
    IDPHOTO_TRY(outs);
    for (size_t k = 0; k < outs->size() && k < n.outputs.size(); ++k) add_constant(n.outputs[k], std::move((*outs)[k]));
    ++p_.n_folded_nodes;
    return {};
  }
  if (n.op_type == "Shape") {
    tensor shape_only;
    shape_only.shape = shape_of(in[0]);
    std::vector<const tensor*> ts = {&shape_only};
    auto outs = detail::fold_node(n, ts, m_.opset);
    IDPHOTO_TRY(outs);
    add_constant(n.outputs[0], std::move((*outs)[0]));
    ++p_.n_folded_nodes;
    return {};
  }
  if (alias_ops.count(n.op_type)) {
    if (in.empty() || in[0] < 0) return make_error(errc::invalid_argument, n.label() + ": missing input");
    IDPHOTO_TRY(check_runtime_input(n, in[0]));
    for (size_t k = 1; k < in.size(); ++k)
      if (in[k] >= 0 && !is_const(in[k]))
        return make_error(errc::unsupported, n.label() + ": input '" + n.inputs[k] + "' must be known at plan time");
    if (n.op_type == "Cast" && !is_float_cast_target(n.get_int("to", 0)))
      return make_error(errc::unsupported, n.label() + ": cast of a runtime tensor to a non-float type");
    auto s = detail::reshape_like_shape(n, shape_of(in[0]), const_inputs(), m_.opset);
    IDPHOTO_TRY(s);
    value v;
    v.name = n.outputs[0];
    v.shape = std::move(*s);
    v.alias_of = in[0];
    add_value(std::move(v));
    return {};
  }
  if (!compute_ops.count(n.op_type))
    return make_error(errc::unsupported, n.label() + ": operator '" + n.op_type + "' is not supported");
  if (n.outputs.size() > 1)
    for (size_t k = 1; k < n.outputs.size(); ++k)
      if (!n.outputs[k].empty())
        return make_error(errc::unsupported, n.label() + ": optional output '" + n.outputs[k] + "' is not supported");
  for (int id : in)
    if (id >= 0) IDPHOTO_TRY(check_runtime_input(n, id));

  auto st = decode(n, in);
  IDPHOTO_TRY(st);
  shape_t out_shape;
  if (st->kind == op_kind::resize) IDPHOTO_TRY(decode_resize(n, in, node_index, *st, out_shape));
  else out_shape = p_.values[st->output].shape;  // decode stored it in a scratch value
  if (numel(out_shape) > max_elements) return make_error(errc::too_large, n.label() + ": output " + shape_str(out_shape) + " is too large");

  if (all_const) {
    auto t = evaluate_const(*st, out_shape);
    IDPHOTO_TRY(t);
    // decode made a placeholder output value; turn it into the constant.
    value& ph = p_.values[st->output];
    p_.folded.push_back(std::make_unique<tensor>(std::move(*t)));
    ph.kind = value_kind::constant;
    ph.constant = p_.folded.back().get();
    ph.type = dtype::f32;
    ++p_.n_folded_nodes;
    return {};
  }
  p_.values[st->output].shape = out_shape;
  p_.values[st->output].producer = static_cast<int>(p_.steps.size());
  p_.steps.push_back(std::move(*st));
  return {};
}

// Decodes attributes and shapes; creates the output value (shape filled, except Resize).
result<step> planner::decode(const node& n, const std::vector<int>& in) {
  step s;
  s.node = n.label();
  const std::string& op = n.op_type;
  auto need_runtime_or_const = [&](size_t k) -> result<void> {
    if (in.size() < k) return make_error(errc::invalid_argument, n.label() + ": needs " + std::to_string(k) + " inputs");
    for (size_t i = 0; i < k; ++i)
      if (in[i] < 0) return make_error(errc::invalid_argument, n.label() + ": input " + std::to_string(i) + " is missing");
    return {};
  };
  shape_t out;
  if (op == "Relu" || op == "Sigmoid" || op == "Clip") {
    IDPHOTO_TRY(need_runtime_or_const(1));
    s.kind = op == "Relu" ? op_kind::relu : op == "Sigmoid" ? op_kind::sigmoid : op_kind::clip;
    s.inputs = {in[0]};
    out = shape_of(in[0]);
    if (op == "Clip") {
      clip_params cp;
      if (m_.opset < 11) {
        cp.lo = n.get_float("min", cp.lo);
        cp.hi = n.get_float("max", cp.hi);
      } else {
        for (size_t k = 1; k < 3 && k < in.size(); ++k) {
          if (in[k] < 0) continue;
          if (!is_const(in[k])) return make_error(errc::unsupported, n.label() + ": min/max must be known at plan time");
          auto v = to_f64_values(*const_of(in[k]));
          if (v.size() != 1) return make_error(errc::invalid_argument, n.label() + ": min/max must be scalars");
          (k == 1 ? cp.lo : cp.hi) = static_cast<float>(v[0]);
        }
      }
      s.params = cp;
    }
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    IDPHOTO_TRY(need_runtime_or_const(2));
    s.kind = op == "Add" ? op_kind::add : op == "Sub" ? op_kind::sub : op == "Mul" ? op_kind::mul : op_kind::div;
    s.inputs = {in[0], in[1]};
    const shape_t &a = shape_of(in[0]), &b = shape_of(in[1]);
    const size_t r = std::max(a.size(), b.size());
    out.assign(r, 1);
    for (size_t i = 0; i < r; ++i) {
      int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
      int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
      if (da != db && da != 1 && db != 1)
        return make_error(errc::invalid_argument, n.label() + ": shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
      out[i] = da == 1 ? db : da;
    }
    for (int id : s.inputs)
      if (is_const(id) && const_of(id)->type != dtype::f32 && const_of(id)->type != dtype::f16 && const_of(id)->type != dtype::f64)
        return make_error(errc::unsupported, n.label() + ": integer operand with a runtime tensor");
  } else if (op == "Concat") {
    concat_params cp;
    std::vector<int> xs;
    for (int id : in)
      if (id >= 0) xs.push_back(id);
    if (xs.empty()) return make_error(errc::invalid_argument, n.label() + ": no inputs");
    const int64_t rank = static_cast<int64_t>(shape_of(xs[0]).size());
    int64_t axis = n.get_int("axis", 1);
    if (axis < -rank || axis >= rank) return make_error(errc::invalid_argument, n.label() + ": axis out of range");
    cp.axis = axis < 0 ? axis + rank : axis;
    out = shape_of(xs[0]);
    out[cp.axis] = 0;
    for (int id : xs) {
      const shape_t& sh = shape_of(id);
      if (static_cast<int64_t>(sh.size()) != rank) return make_error(errc::invalid_argument, n.label() + ": inputs differ in rank");
      for (int64_t d = 0; d < rank; ++d)
        if (d != cp.axis && sh[d] != shape_of(xs[0])[d])
          return make_error(errc::invalid_argument, n.label() + ": input shapes " + shape_str(sh) + " and " + shape_str(shape_of(xs[0])) + " do not match");
      out[cp.axis] += sh[cp.axis];
      if (is_const(id) && const_of(id)->type != dtype::f32 && const_of(id)->type != dtype::f16)
        return make_error(errc::unsupported, n.label() + ": non-float constant input");
    }
    s.kind = op_kind::concat;
    s.inputs = xs;
    s.params = cp;
  } else {
    // 4-D ops.
    IDPHOTO_TRY(need_runtime_or_const(1));
    const shape_t& x = shape_of(in[0]);
    if (x.size() != 4)
      return make_error(errc::unsupported, n.label() + ": only 4-D (NCHW) input is supported, got " + shape_str(x));
    if (op == "Conv") {
      IDPHOTO_TRY(need_runtime_or_const(2));
      const tensor* w = const_of(in[1]);
      if (!w) return make_error(errc::unsupported, n.label() + ": weights '" + n.inputs[1] + "' must be an initialiser or constant (runtime weights are not supported)");
      if (w->shape.size() != 4) return make_error(errc::invalid_argument, n.label() + ": weights must be 4-D, got " + shape_str(w->shape));
      if (w->type != dtype::f32 && w->type != dtype::f16)
        return make_error(errc::unsupported, n.label() + ": weights of type " + dtype_name(w->type));
      conv_params c;
      c.n = x[0]; c.c_in = x[1]; c.h_in = x[2]; c.w_in = x[3];
      c.group = n.get_int("group", 1);
      c.c_out = w->shape[0];
      if (c.group <= 0 || c.c_in % c.group || c.c_out % c.group || w->shape[1] * c.group != c.c_in)
        return make_error(errc::invalid_argument, n.label() + ": channels " + std::to_string(c.c_in) + " do not fit weights " +
                                                      shape_str(w->shape) + " with group " + std::to_string(c.group));
      auto ks = n.get_ints("kernel_shape", {w->shape[2], w->shape[3]});
      if (ks.size() != 2 || ks[0] != w->shape[2] || ks[1] != w->shape[3])
        return make_error(errc::invalid_argument, n.label() + ": kernel_shape does not match the weights");
      auto st = n.get_ints("strides", {1, 1}), dl = n.get_ints("dilations", {1, 1});
      if (st.size() != 2 || dl.size() != 2) return make_error(errc::unsupported, n.label() + ": only 2-D convolution is supported");
      spatial_attrs a{ks[0], ks[1], st[0], st[1], dl[0], dl[1], 0, 0, 0, 0};
      IDPHOTO_TRY(resolve_pads(n, c.h_in, c.w_in, false, a, c.h_out, c.w_out));
      c.kh = a.kh; c.kw = a.kw; c.stride_h = a.sh; c.stride_w = a.sw; c.dil_h = a.dh; c.dil_w = a.dw;
      c.pad_t = a.pt; c.pad_l = a.pl; c.pad_b = a.pb; c.pad_r = a.pr;
      s.inputs = {in[0], in[1]};
      if (in.size() > 2 && in[2] >= 0) {
        const tensor* b = const_of(in[2]);
        if (!b) return make_error(errc::unsupported, n.label() + ": bias must be an initialiser or constant");
        if (b->size() != c.c_out || (b->type != dtype::f32 && b->type != dtype::f16))
          return make_error(errc::invalid_argument, n.label() + ": bias must be float with " + std::to_string(c.c_out) + " values");
        c.has_bias = true;
        s.inputs.push_back(in[2]);
      }
      s.kind = op_kind::conv;
      s.params = c;
      out = {c.n, c.c_out, c.h_out, c.w_out};
    } else if (op == "MaxPool" || op == "AveragePool") {
      pool_params pp;
      pp.n = x[0]; pp.c = x[1]; pp.h_in = x[2]; pp.w_in = x[3];
      auto ks = n.get_ints("kernel_shape");
      if (ks.size() != 2) return make_error(errc::unsupported, n.label() + ": only 2-D pooling is supported");
      auto st = n.get_ints("strides", {1, 1}), dl = n.get_ints("dilations", {1, 1});
      if (st.size() != 2 || dl.size() != 2) return make_error(errc::invalid_argument, n.label() + ": strides/dilations must have 2 values");
      if (n.get_int("storage_order", 0) != 0) return make_error(errc::unsupported, n.label() + ": storage_order 1");
      pp.ceil_mode = n.get_int("ceil_mode", 0) != 0;
      pp.count_include_pad = n.get_int("count_include_pad", 0) != 0;
      if (op == "AveragePool" && (dl[0] != 1 || dl[1] != 1))
        return make_error(errc::unsupported, n.label() + ": dilated average pooling");
      spatial_attrs a{ks[0], ks[1], st[0], st[1], dl[0], dl[1], 0, 0, 0, 0};
      IDPHOTO_TRY(resolve_pads(n, pp.h_in, pp.w_in, pp.ceil_mode, a, pp.h_out, pp.w_out));
      pp.kh = a.kh; pp.kw = a.kw; pp.stride_h = a.sh; pp.stride_w = a.sw; pp.dil_h = a.dh; pp.dil_w = a.dw;
      pp.pad_t = a.pt; pp.pad_l = a.pl; pp.pad_b = a.pb; pp.pad_r = a.pr;
      s.kind = op == "MaxPool" ? op_kind::max_pool : op_kind::avg_pool;
      s.inputs = {in[0]};
      s.params = pp;
      out = {pp.n, pp.c, pp.h_out, pp.w_out};
    } else if (op == "GlobalAveragePool") {
      s.kind = op_kind::global_avg_pool;
      s.inputs = {in[0]};
      out = {x[0], x[1], 1, 1};
    } else if (op == "BatchNormalization") {
      if (n.get_int("training_mode", 0) != 0) return make_error(errc::unsupported, n.label() + ": training_mode");
      if (m_.opset < 7 && n.get_int("is_test", 0) == 0 && n.has("is_test"))
        return make_error(errc::unsupported, n.label() + ": training mode");
      IDPHOTO_TRY(need_runtime_or_const(5));
      batch_norm_params bp;
      std::vector<std::vector<double>> prm;
      for (int k = 1; k <= 4; ++k) {
        if (!is_const(in[k])) return make_error(errc::unsupported, n.label() + ": scale, bias, mean and var must be constants");
        prm.push_back(to_f64_values(*const_of(in[k])));
        if (static_cast<int64_t>(prm.back().size()) != x[1])
          return make_error(errc::invalid_argument, n.label() + ": parameter " + std::to_string(k) + " must have " + std::to_string(x[1]) + " values");
      }
      const double eps = n.get_float("epsilon", 1e-5f);
      for (int64_t c = 0; c < x[1]; ++c) {
        const double sc = prm[0][c] / std::sqrt(prm[3][c] + eps);
        bp.scale.push_back(static_cast<float>(sc));
        bp.shift.push_back(static_cast<float>(prm[1][c] - prm[2][c] * sc));
      }
      s.kind = op_kind::batch_norm;
      s.inputs = {in[0]};
      s.params = std::move(bp);
      out = x;
    } else if (op == "Resize" || op == "Upsample") {
      s.kind = op_kind::resize;
      s.inputs = {in[0]};
    } else {
      return make_error(errc::unsupported, n.label() + ": operator '" + op + "' is not supported");
    }
  }
  value v;
  v.name = n.outputs[0];
  v.shape = out;
  s.output = add_value(std::move(v));
  return s;
}

result<void> planner::decode_resize(const node& n, const std::vector<int>& in, int node_index, step& s, shape_t& out) {
  const shape_t& x = shape_of(in[0]);
  resize_params rp;
  rp.n = x[0]; rp.c = x[1]; rp.h_in = x[2]; rp.w_in = x[3];
  const bool upsample = n.op_type == "Upsample";
  std::string mode = n.get_string("mode", "nearest");
  if (mode == "nearest") rp.mode = resize_mode::nearest;
  else if (mode == "linear" || mode == "bilinear") rp.mode = resize_mode::linear;
  else return make_error(errc::unsupported, n.label() + ": mode '" + mode + "'");
  const bool legacy = upsample || m_.opset < 11;
  std::string coord = legacy ? "asymmetric" : n.get_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") rp.coord = resize_coord::half_pixel;
  else if (coord == "pytorch_half_pixel") rp.coord = resize_coord::pytorch_half_pixel;
  else if (coord == "align_corners") rp.coord = resize_coord::align_corners;
  else if (coord == "asymmetric") rp.coord = resize_coord::asymmetric;
  else if (coord == "tf_half_pixel_for_nn") rp.coord = resize_coord::tf_half_pixel_for_nn;
  else return make_error(errc::unsupported, n.label() + ": coordinate_transformation_mode '" + coord + "'");
  std::string nm = legacy ? "floor" : n.get_string("nearest_mode", "round_prefer_floor");
  if (nm == "round_prefer_floor") rp.nearest = resize_nearest::round_prefer_floor;
  else if (nm == "round_prefer_ceil") rp.nearest = resize_nearest::round_prefer_ceil;
  else if (nm == "floor") rp.nearest = resize_nearest::floor;
  else if (nm == "ceil") rp.nearest = resize_nearest::ceil;
  else return make_error(errc::unsupported, n.label() + ": nearest_mode '" + nm + "'");
  if (n.get_int("antialias", 0) != 0) return make_error(errc::unsupported, n.label() + ": antialias");
  if (n.has("axes")) return make_error(errc::unsupported, n.label() + ": axes attribute");

  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (upsample && m_.opset < 9) {
    for (float f : n.attrs.count("scales") ? n.attrs.at("scales").floats : std::vector<float>{}) scales.push_back(f);
  } else {
    const size_t si = (upsample || m_.opset < 11) ? 1 : 2;
    if (in.size() > si && in[si] >= 0) {
      if (!is_const(in[si])) return make_error(errc::unsupported, n.label() + ": scales must be known at plan time");
      scales = to_f64_values(*const_of(in[si]));
    }
    if (!upsample && m_.opset >= 11 && in.size() > 3 && in[3] >= 0) {
      if (!is_const(in[3])) return make_error(errc::unsupported, n.label() + ": sizes must be known at plan time");
      sizes = to_i64_values(*const_of(in[3]));
    }
  }
  if (!sizes.empty()) {
    if (sizes.size() != 4) return make_error(errc::invalid_argument, n.label() + ": sizes must have 4 values");
    auto rp_it = resize_partner_.find(node_index);
    if (rp_it != resize_partner_.end()) {
      const shape_t& ps = rp_it->second.empty() ? p_.values[p_.inputs[0]].shape : shape_of(ids_.at(rp_it->second));
      if (ps.size() == 4 && (sizes[2] != ps[2] || sizes[3] != ps[3])) {
        sizes[2] = ps[2];
        sizes[3] = ps[3];
        ++p_.n_resize_retargeted;
      }
    }
    if (sizes[0] != x[0] || sizes[1] != x[1]) return make_error(errc::unsupported, n.label() + ": resizing N or C");
    if (sizes[2] <= 0 || sizes[3] <= 0 || sizes[2] > max_dim || sizes[3] > max_dim)
      return make_error(errc::invalid_argument, n.label() + ": bad output size");
    rp.h_out = sizes[2];
    rp.w_out = sizes[3];
    rp.scale_h = static_cast<float>(static_cast<double>(rp.h_out) / static_cast<double>(rp.h_in));
    rp.scale_w = static_cast<float>(static_cast<double>(rp.w_out) / static_cast<double>(rp.w_in));
  } else {
    if (scales.size() != 4) return make_error(errc::invalid_argument, n.label() + ": needs 4 scales or sizes");
    if (scales[0] != 1 || scales[1] != 1) return make_error(errc::unsupported, n.label() + ": scaling N or C");
    if (!(scales[2] > 0) || !(scales[3] > 0) || scales[2] * rp.h_in > max_dim || scales[3] * rp.w_in > max_dim)
      return make_error(errc::invalid_argument, n.label() + ": bad scales");
    rp.scale_h = static_cast<float>(scales[2]);
    rp.scale_w = static_cast<float>(scales[3]);
    rp.h_out = static_cast<int64_t>(std::floor(rp.h_in * static_cast<double>(rp.scale_h)));
    rp.w_out = static_cast<int64_t>(std::floor(rp.w_in * static_cast<double>(rp.scale_w)));
    if (rp.h_out <= 0 || rp.w_out <= 0) return make_error(errc::invalid_argument, n.label() + ": output would be empty");
  }
  s.params = rp;
  out = {rp.n, rp.c, rp.h_out, rp.w_out};
  return {};
}

result<tensor> planner::evaluate_const(const step& s, const shape_t& out_shape) {
  std::vector<tensor> f32;
  std::vector<const float*> ptrs;
  for (int id : s.inputs) {
    f32.push_back(to_f32(*const_of(id)));
  }
  for (auto& t : f32) ptrs.push_back(t.data<float>());
  tensor out = tensor::zeros(dtype::f32, out_shape);
  std::vector<shape_t> shapes;
  for (int id : s.inputs) shapes.push_back(shape_of(id));
  IDPHOTO_TRY(ref::run_step(s, ptrs, shapes, out.data<float>(), out_shape));
  return out;
}

// Conv whose output feeds exactly one Relu (and nothing else) takes the Relu in.
void planner::fuse_relu() {
  std::vector<int> uses(p_.values.size(), 0);
  for (const auto& st : p_.steps)
    for (int id : st.inputs) ++uses[id];
  for (const auto& v : p_.values)
    if (v.alias_of >= 0) ++uses[v.alias_of];
  for (const auto& v : p_.values)
    if (v.graph_output) ++uses[&v - p_.values.data()];
  std::vector<step> kept;
  std::vector<int> new_index(p_.steps.size(), -1);
  for (size_t i = 0; i < p_.steps.size(); ++i) {
    step& st = p_.steps[i];
    if (st.kind == op_kind::relu && !kept.empty()) {
      int src = st.inputs[0];
      int prod = p_.values[src].producer;
      if (prod >= 0 && new_index[prod] >= 0) {
        step& c = kept[new_index[prod]];
        if (c.kind == op_kind::conv && c.output == src && uses[src] == 1 && !std::get<conv_params>(c.params).fuse_relu) {
          std::get<conv_params>(c.params).fuse_relu = true;
          c.output = st.output;
          new_index[i] = new_index[prod];
          p_.values[src].producer = -1;  // no longer materialised
          ++p_.n_fused_relu;
          continue;
        }
      }
    }
    new_index[i] = static_cast<int>(kept.size());
    kept.push_back(std::move(st));
  }
  p_.steps = std::move(kept);
  for (size_t i = 0; i < p_.steps.size(); ++i) p_.values[p_.steps[i].output].producer = static_cast<int>(i);
}

void planner::compute_liveness() {
  for (auto& v : p_.values) v.last_use = -1;
  const int end = static_cast<int>(p_.steps.size());
  for (int i = 0; i < end; ++i)
    for (int id : p_.steps[i].inputs) {
      int r = p_.root(id);
      p_.values[r].last_use = std::max(p_.values[r].last_use, i);
    }
  for (int id : p_.outputs) p_.values[p_.root(id)].last_use = end;
  for (int id : p_.inputs) p_.values[id].last_use = std::max(p_.values[id].last_use, 0);
}

}  // namespace

result<std::unique_ptr<plan>> make_plan(const model& m, const plan_request& req) {
  auto p = std::make_unique<plan>();
  planner pl(m, req, *p);
  IDPHOTO_TRY(pl.build());
  return p;
}

}  // namespace idphoto::infer

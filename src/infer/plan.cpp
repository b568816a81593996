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
#include "infer/planner.hpp"
#include "infer/ref_kernels.hpp"

namespace idphoto::infer {

using base::errc;
using base::make_error;
using base::result;

const char* op_kind_name(op_kind k) {
  switch (k) {
    case op_kind::conv:
      return "conv";
    case op_kind::relu:
      return "relu";
    case op_kind::sigmoid:
      return "sigmoid";
    case op_kind::clip:
      return "clip";
    case op_kind::max_pool:
      return "max_pool";
    case op_kind::avg_pool:
      return "avg_pool";
    case op_kind::global_avg_pool:
      return "global_avg_pool";
    case op_kind::batch_norm:
      return "batch_norm";
    case op_kind::resize:
      return "resize";
    case op_kind::concat:
      return "concat";
    case op_kind::add:
      return "add";
    case op_kind::mul:
      return "mul";
    case op_kind::sub:
      return "sub";
    case op_kind::div:
      return "div";
    case op_kind::prelu:
      return "prelu";
    case op_kind::transpose:
      return "transpose";
    case op_kind::pad:
      return "pad";
  }
  return "?";
}

int plan::root(int v) const {
  while (v >= 0 && values[v].alias_of >= 0) v = values[v].alias_of;
  return v;
}

namespace detail {
namespace {

const std::set<std::string> compute_ops = {"Conv",
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
const std::set<std::string> alias_ops = {"Identity", "Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten"};

bool is_float_cast_target(int64_t to) { return to == 1 || to == 10 || to == 11; }

}  // namespace

result<void> planner::build() {
  for (size_t i = 0; i < m_.nodes.size(); ++i)
    for (const auto& o : m_.nodes[i].outputs) producer_[o] = static_cast<int>(i);

  // Graph inputs, with the requested shapes.
  if (m_.inputs.empty()) {
    // A model with no runtime inputs folds to constants; allowed.
  }
  for (const auto& vi : m_.inputs) {
    auto it =
        std::find_if(req_.input_shapes.begin(), req_.input_shapes.end(), [&](auto& kv) { return kv.first == vi.name; });
    if (it == req_.input_shapes.end())
      return make_error(errc::invalid_argument, "input '" + vi.name + "' is not given");
    if (vi.type != dtype::f32 && vi.type != dtype::unknown)
      return make_error(errc::unsupported,
                        "input '" + vi.name + "' is " + dtype_name(vi.type) + "; only float32 inputs are supported");
    const shape_t& s = it->second;
    if (!vi.dims.empty() && vi.dims.size() != s.size())
      return make_error(errc::invalid_argument, "input '" + vi.name + "' must have rank " +
                                                    std::to_string(vi.dims.size()) + ", got " + shape_str(s));
    for (size_t d = 0; d < s.size(); ++d) {
      if (s[d] <= 0 || s[d] > max_dim)
        return make_error(errc::invalid_argument, "input '" + vi.name + "' has a bad dimension: " + shape_str(s));
      // Spatial dimensions (index >= 2) may differ from the file's; the others must match.
      if (d < 2 && d < vi.dims.size() && vi.dims[d] > 0 && vi.dims[d] != s[d])
        return make_error(errc::invalid_argument, "input '" + vi.name + "' dimension " + std::to_string(d) +
                                                      " must be " + std::to_string(vi.dims[d]) + ", got " +
                                                      shape_str(s));
    }
    if (numel(s) > max_elements)
      return make_error(errc::too_large, "input '" + vi.name + "' is too large: " + shape_str(s));
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
    if (it == ids_.end())
      return make_error(errc::invalid_argument, n.label() + ": input '" + name + "' is not defined");
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
  if (numel(out_shape) > max_elements)
    return make_error(errc::too_large, n.label() + ": output " + shape_str(out_shape) + " is too large");

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
        if (c.kind == op_kind::conv && c.output == src && uses[src] == 1 &&
            !std::get<conv_params>(c.params).fuse_relu) {
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

}  // namespace detail

result<std::unique_ptr<plan>> make_plan(const model& m, const plan_request& req) {
  auto p = std::make_unique<plan>();
  detail::planner pl(m, req, *p);
  IDPHOTO_TRY(pl.build());
  return p;
}

}  // namespace idphoto::infer

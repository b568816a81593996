// Internal to src/infer: the planner's class, shared by plan.cpp (graph walk, folding,
// fusion, liveness) and plan_decode.cpp (each op's attributes and output shape).
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "infer/plan.hpp"

namespace idphoto::infer::detail {

using base::result;

constexpr int64_t max_dim = int64_t{1} << 24;
constexpr int64_t max_elements = int64_t{1} << 34;

struct spatial_attrs {
  int64_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

// Pads from pads/auto_pad for one spatial op, and the output size (ho, wo). Fails with
// unsupported (not 2-D, unknown auto_pad) or invalid_argument (negative pads, kernel
// larger than the padded input).
result<void> resolve_pads(const node& n, int64_t h, int64_t w, bool ceil_mode, spatial_attrs& a, int64_t& ho,
                          int64_t& wo);

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
  result<void> decode_transpose(const node& n, const std::vector<int>& in, step& s, shape_t& out);
  result<void> decode_pad(const node& n, const std::vector<int>& in, step& s, shape_t& out);
  result<void> check_runtime_input(const node& n, int id);
  result<tensor> evaluate_const(const step& s, const shape_t& out_shape);
  void fuse_relu();
  void compute_liveness();

  const model& m_;
  const plan_request& req_;
  plan& p_;
  std::unordered_map<std::string, int> ids_;
  std::unordered_map<std::string, int> producer_;        // value name -> node index
  std::unordered_map<int, std::string> resize_partner_;  // node index -> partner value ("" = graph input)
  std::vector<bool> needed_;
};

}  // namespace idphoto::infer::detail

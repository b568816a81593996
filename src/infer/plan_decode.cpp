// The planner's op decoding: each compute op's attributes checked and turned into its
// parameter struct, and its output shape (pads, strides, ceil mode, Resize scales or sizes).
#include <algorithm>
#include <cmath>

#include "infer/fold.hpp"
#include "infer/planner.hpp"

namespace idphoto::infer::detail {

using base::errc;
using base::make_error;

result<void> resolve_pads(const node& n, int64_t h, int64_t w, bool ceil_mode, spatial_attrs& a, int64_t& ho,
                          int64_t& wo) {
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
    a.pt = pads[0];
    a.pl = pads[1];
    a.pb = pads[2];
    a.pr = pads[3];
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
  if (ho <= 0 || wo <= 0)
    return make_error(errc::invalid_argument, n.label() + ": the kernel is larger than the padded input");
  return {};
}

// Decodes attributes and shapes; creates the output value (shape filled, except Resize).
result<step> planner::decode(const node& n, const std::vector<int>& in) {
  step s;
  s.node = n.label();
  const std::string& op = n.op_type;
  auto need_runtime_or_const = [&](size_t k) -> result<void> {
    if (in.size() < k)
      return make_error(errc::invalid_argument, n.label() + ": needs " + std::to_string(k) + " inputs");
    for (size_t i = 0; i < k; ++i)
      if (in[i] < 0)
        return make_error(errc::invalid_argument, n.label() + ": input " + std::to_string(i) + " is missing");
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
          if (!is_const(in[k]))
            return make_error(errc::unsupported, n.label() + ": min/max must be known at plan time");
          auto v = to_f64_values(*const_of(in[k]));
          if (v.size() != 1) return make_error(errc::invalid_argument, n.label() + ": min/max must be scalars");
          (k == 1 ? cp.lo : cp.hi) = static_cast<float>(v[0]);
        }
      }
      s.params = cp;
    }
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "PRelu") {
    IDPHOTO_TRY(need_runtime_or_const(2));
    s.kind = op == "Add"   ? op_kind::add
             : op == "Sub" ? op_kind::sub
             : op == "Mul" ? op_kind::mul
             : op == "Div" ? op_kind::div
                           : op_kind::prelu;
    s.inputs = {in[0], in[1]};
    const shape_t &a = shape_of(in[0]), &b = shape_of(in[1]);
    const size_t r = std::max(a.size(), b.size());
    out.assign(r, 1);
    for (size_t i = 0; i < r; ++i) {
      int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
      int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
      if (da != db && da != 1 && db != 1)
        return make_error(errc::invalid_argument,
                          n.label() + ": shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
      out[i] = da == 1 ? db : da;
    }
    for (int id : s.inputs)
      if (is_const(id) && const_of(id)->type != dtype::f32 && const_of(id)->type != dtype::f16 &&
          const_of(id)->type != dtype::f64)
        return make_error(errc::unsupported, n.label() + ": integer operand with a runtime tensor");
    // PRelu broadcasts the slope to X only (unidirectionally): the output is X's shape.
    if (s.kind == op_kind::prelu && out != a)
      return make_error(errc::invalid_argument,
                        n.label() + ": slope " + shape_str(b) + " does not broadcast to " + shape_str(a));
  } else if (op == "Transpose") {
    IDPHOTO_TRY(need_runtime_or_const(1));
    IDPHOTO_TRY(decode_transpose(n, in, s, out));
  } else if (op == "Pad") {
    IDPHOTO_TRY(need_runtime_or_const(1));
    IDPHOTO_TRY(decode_pad(n, in, s, out));
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
      if (static_cast<int64_t>(sh.size()) != rank)
        return make_error(errc::invalid_argument, n.label() + ": inputs differ in rank");
      for (int64_t d = 0; d < rank; ++d)
        if (d != cp.axis && sh[d] != shape_of(xs[0])[d])
          return make_error(errc::invalid_argument, n.label() + ": input shapes " + shape_str(sh) + " and " +
                                                        shape_str(shape_of(xs[0])) + " do not match");
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
      if (!w)
        return make_error(errc::unsupported,
                          n.label() + ": weights '" + n.inputs[1] +
                              "' must be an initialiser or constant (runtime weights are not supported)");
      if (w->shape.size() != 4)
        return make_error(errc::invalid_argument, n.label() + ": weights must be 4-D, got " + shape_str(w->shape));
      if (w->type != dtype::f32 && w->type != dtype::f16)
        return make_error(errc::unsupported, n.label() + ": weights of type " + dtype_name(w->type));
      conv_params c;
      c.n = x[0];
      c.c_in = x[1];
      c.h_in = x[2];
      c.w_in = x[3];
      c.group = n.get_int("group", 1);
      c.c_out = w->shape[0];
      if (c.group <= 0 || c.c_in % c.group || c.c_out % c.group || w->shape[1] * c.group != c.c_in)
        return make_error(errc::invalid_argument, n.label() + ": channels " + std::to_string(c.c_in) +
                                                      " do not fit weights " + shape_str(w->shape) + " with group " +
                                                      std::to_string(c.group));
      auto ks = n.get_ints("kernel_shape", {w->shape[2], w->shape[3]});
      if (ks.size() != 2 || ks[0] != w->shape[2] || ks[1] != w->shape[3])
        return make_error(errc::invalid_argument, n.label() + ": kernel_shape does not match the weights");
      auto st = n.get_ints("strides", {1, 1}), dl = n.get_ints("dilations", {1, 1});
      if (st.size() != 2 || dl.size() != 2)
        return make_error(errc::unsupported, n.label() + ": only 2-D convolution is supported");
      spatial_attrs a{ks[0], ks[1], st[0], st[1], dl[0], dl[1], 0, 0, 0, 0};
      IDPHOTO_TRY(resolve_pads(n, c.h_in, c.w_in, false, a, c.h_out, c.w_out));
      c.kh = a.kh;
      c.kw = a.kw;
      c.stride_h = a.sh;
      c.stride_w = a.sw;
      c.dil_h = a.dh;
      c.dil_w = a.dw;
      c.pad_t = a.pt;
      c.pad_l = a.pl;
      c.pad_b = a.pb;
      c.pad_r = a.pr;
      s.inputs = {in[0], in[1]};
      if (in.size() > 2 && in[2] >= 0) {
        const tensor* b = const_of(in[2]);
        if (!b) return make_error(errc::unsupported, n.label() + ": bias must be an initialiser or constant");
        if (b->size() != c.c_out || (b->type != dtype::f32 && b->type != dtype::f16))
          return make_error(errc::invalid_argument,
                            n.label() + ": bias must be float with " + std::to_string(c.c_out) + " values");
        c.has_bias = true;
        s.inputs.push_back(in[2]);
      }
      s.kind = op_kind::conv;
      s.params = c;
      out = {c.n, c.c_out, c.h_out, c.w_out};
    } else if (op == "MaxPool" || op == "AveragePool") {
      pool_params pp;
      pp.n = x[0];
      pp.c = x[1];
      pp.h_in = x[2];
      pp.w_in = x[3];
      auto ks = n.get_ints("kernel_shape");
      if (ks.size() != 2) return make_error(errc::unsupported, n.label() + ": only 2-D pooling is supported");
      auto st = n.get_ints("strides", {1, 1}), dl = n.get_ints("dilations", {1, 1});
      if (st.size() != 2 || dl.size() != 2)
        return make_error(errc::invalid_argument, n.label() + ": strides/dilations must have 2 values");
      if (n.get_int("storage_order", 0) != 0) return make_error(errc::unsupported, n.label() + ": storage_order 1");
      pp.ceil_mode = n.get_int("ceil_mode", 0) != 0;
      pp.count_include_pad = n.get_int("count_include_pad", 0) != 0;
      if (op == "AveragePool" && (dl[0] != 1 || dl[1] != 1))
        return make_error(errc::unsupported, n.label() + ": dilated average pooling");
      spatial_attrs a{ks[0], ks[1], st[0], st[1], dl[0], dl[1], 0, 0, 0, 0};
      IDPHOTO_TRY(resolve_pads(n, pp.h_in, pp.w_in, pp.ceil_mode, a, pp.h_out, pp.w_out));
      pp.kh = a.kh;
      pp.kw = a.kw;
      pp.stride_h = a.sh;
      pp.stride_w = a.sw;
      pp.dil_h = a.dh;
      pp.dil_w = a.dw;
      pp.pad_t = a.pt;
      pp.pad_l = a.pl;
      pp.pad_b = a.pb;
      pp.pad_r = a.pr;
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
        if (!is_const(in[k]))
          return make_error(errc::unsupported, n.label() + ": scale, bias, mean and var must be constants");
        prm.push_back(to_f64_values(*const_of(in[k])));
        if (static_cast<int64_t>(prm.back().size()) != x[1])
          return make_error(errc::invalid_argument, n.label() + ": parameter " + std::to_string(k) + " must have " +
                                                        std::to_string(x[1]) + " values");
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
  rp.n = x[0];
  rp.c = x[1];
  rp.h_in = x[2];
  rp.w_in = x[3];
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
    if (!(scales[2] > 0) || !(scales[3] > 0) || scales[2] * static_cast<double>(rp.h_in) > max_dim ||
        scales[3] * static_cast<double>(rp.w_in) > max_dim)
      return make_error(errc::invalid_argument, n.label() + ": bad scales");
    rp.scale_h = static_cast<float>(scales[2]);
    rp.scale_w = static_cast<float>(scales[3]);
    rp.h_out = static_cast<int64_t>(std::floor(static_cast<double>(rp.h_in) * static_cast<double>(rp.scale_h)));
    rp.w_out = static_cast<int64_t>(std::floor(static_cast<double>(rp.w_in) * static_cast<double>(rp.scale_w)));
    if (rp.h_out <= 0 || rp.w_out <= 0)
      return make_error(errc::invalid_argument, n.label() + ": output would be empty");
  }
  s.params = rp;
  out = {rp.n, rp.c, rp.h_out, rp.w_out};
  return {};
}

// perm defaults to reversing the dims; it must be a permutation of 0..rank-1.
result<void> planner::decode_transpose(const node& n, const std::vector<int>& in, step& s, shape_t& out) {
  const shape_t& x = shape_of(in[0]);
  const int64_t rank = static_cast<int64_t>(x.size());
  transpose_params tp;
  if (n.has("perm")) {
    tp.perm = n.get_ints("perm");
  } else {
    for (int64_t d = rank; d-- > 0;) tp.perm.push_back(d);
  }
  if (static_cast<int64_t>(tp.perm.size()) != rank)
    return make_error(errc::invalid_argument, n.label() + ": perm has " + std::to_string(tp.perm.size()) +
                                                  " values for rank " + std::to_string(rank));
  std::vector<char> seen(static_cast<size_t>(rank), 0);
  out.clear();
  for (int64_t p : tp.perm) {
    if (p < 0 || p >= rank || seen[p])
      return make_error(errc::invalid_argument, n.label() + ": perm is not a permutation");
    seen[p] = 1;
    out.push_back(x[p]);
  }
  s.kind = op_kind::transpose;
  s.inputs = {in[0]};
  s.params = std::move(tp);
  return {};
}

// Pad: pads and constant_value from attributes (opset < 11) or from constant inputs. Modes
// constant, reflect and edge; negative pads crop. Every output dimension must stay positive.
result<void> planner::decode_pad(const node& n, const std::vector<int>& in, step& s, shape_t& out) {
  const shape_t& x = shape_of(in[0]);
  const size_t rank = x.size();
  pad_params pp;
  const std::string mode = n.get_string("mode", "constant");
  if (mode == "constant") pp.mode = pad_mode::constant;
  else if (mode == "reflect") pp.mode = pad_mode::reflect;
  else if (mode == "edge") pp.mode = pad_mode::edge;
  else return make_error(errc::unsupported, n.label() + ": mode '" + mode + "'");
  std::vector<int64_t> pads;
  if (m_.opset < 11) {
    pads = n.get_ints("pads");
    pp.value = n.get_float("value", 0.f);
  } else {
    if (in.size() < 2 || in[1] < 0) return make_error(errc::invalid_argument, n.label() + ": needs pads");
    if (!is_const(in[1])) return make_error(errc::unsupported, n.label() + ": pads must be known at plan time");
    pads = to_i64_values(*const_of(in[1]));
    if (in.size() > 2 && in[2] >= 0) {
      if (!is_const(in[2]))
        return make_error(errc::unsupported, n.label() + ": constant_value must be known at plan time");
      auto v = to_f64_values(*const_of(in[2]));
      if (v.size() != 1) return make_error(errc::invalid_argument, n.label() + ": constant_value must be a scalar");
      pp.value = static_cast<float>(v[0]);
    }
    if (in.size() > 3 && in[3] >= 0) return make_error(errc::unsupported, n.label() + ": axes input");
  }
  if (pads.size() != 2 * rank)
    return make_error(errc::invalid_argument, n.label() + ": pads has " + std::to_string(pads.size()) +
                                                  " values for rank " + std::to_string(rank));
  pp.begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(rank));
  pp.end.assign(pads.begin() + static_cast<std::ptrdiff_t>(rank), pads.end());
  out.assign(rank, 0);
  for (size_t d = 0; d < rank; ++d) {
    out[d] = x[d] + pp.begin[d] + pp.end[d];
    if (out[d] <= 0 || out[d] > max_dim)
      return make_error(errc::invalid_argument,
                        n.label() + ": padded dimension " + std::to_string(d) + " would be " + std::to_string(out[d]));
    if (pp.mode != pad_mode::constant && (pp.begin[d] < 0 || pp.end[d] < 0))
      return make_error(errc::unsupported, n.label() + ": negative pads in " + mode + " mode");
  }
  s.kind = op_kind::pad;
  s.inputs = {in[0]};
  s.params = std::move(pp);
  return {};
}

}  // namespace idphoto::infer::detail

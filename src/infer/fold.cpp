// Plan-time evaluation of shape ops. Values are moved as raw elements of any dtype;
// arithmetic (only in Add/Sub/Mul/Div of constants) is done in double or int64.
#include "infer/fold.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

namespace idphoto::infer::detail {

using base::errc;
using base::make_error;
using base::result;

namespace {

result<int64_t> norm_axis(int64_t axis, int64_t rank, const node& n) {
  if (axis < -rank || axis >= rank)
    return make_error(errc::invalid_argument,
                      n.label() + ": axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> strides_of(const shape_t& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

tensor cast_tensor(const tensor& t, dtype to) {
  tensor r = tensor::zeros(to, t.shape);
  const size_t n = static_cast<size_t>(t.size());
  const bool from_float = t.type == dtype::f32 || t.type == dtype::f16 || t.type == dtype::f64;
  std::vector<double> d;
  std::vector<int64_t> iv;
  if (from_float) d = to_f64_values(t);
  else iv = to_i64_values(t);
  for (size_t i = 0; i < n; ++i) {
    double x = from_float ? d[i] : static_cast<double>(iv[i]);
    int64_t xi = from_float ? static_cast<int64_t>(std::trunc(x)) : iv[i];
    switch (to) {
      case dtype::f32:
        r.data<float>()[i] = static_cast<float>(x);
        break;
      case dtype::f16:
        r.data<uint16_t>()[i] = float_to_half(static_cast<float>(x));
        break;
      case dtype::f64:
        r.data<double>()[i] = x;
        break;
      case dtype::i64:
        r.data<int64_t>()[i] = xi;
        break;
      case dtype::i32:
        r.data<int32_t>()[i] = static_cast<int32_t>(xi);
        break;
      case dtype::i8:
        r.data<int8_t>()[i] = static_cast<int8_t>(xi);
        break;
      case dtype::u8:
        r.data<uint8_t>()[i] = static_cast<uint8_t>(xi);
        break;
      case dtype::boolean:
        r.data<uint8_t>()[i] = from_float ? (x != 0) : (xi != 0);
        break;
      case dtype::unknown:
        break;
    }
  }
  return r;
}

result<tensor> fold_slice(const node& n, const std::vector<const tensor*>& in, int64_t opset) {
  const tensor& x = *in[0];
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset < 10) {
    starts = n.get_ints("starts");
    ends = n.get_ints("ends");
    axes = n.get_ints("axes");
  } else {
    if (in.size() < 3 || !in[1] || !in[2])
      return make_error(errc::invalid_argument, n.label() + ": starts and ends are required");
    starts = to_i64_values(*in[1]);
    ends = to_i64_values(*in[2]);
    if (in.size() > 3 && in[3]) axes = to_i64_values(*in[3]);
    if (in.size() > 4 && in[4]) steps = to_i64_values(*in[4]);
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return make_error(errc::invalid_argument, n.label() + ": starts, ends, axes and steps differ in length");
  std::vector<int64_t> b(rank, 0), st(rank, 1), out = x.shape;
  for (int64_t a = 0; a < rank; ++a) out[a] = x.shape[a];
  for (size_t i = 0; i < starts.size(); ++i) {
    auto ax = norm_axis(axes[i], rank, n);
    IDPHOTO_TRY(ax);
    const int64_t dim = x.shape[*ax], step = steps[i];
    if (step == 0) return make_error(errc::invalid_argument, n.label() + ": slice step 0");
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      out[*ax] = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      out[*ax] = s > e ? (s - e + (-step) - 1) / (-step) : 0;
    }
    b[*ax] = s;
    st[*ax] = step;
  }
  tensor r = tensor::zeros(x.type, out);
  const size_t es = dtype_size(x.type);
  const auto xs = strides_of(x.shape), os = strides_of(out);
  const int64_t total = numel(out);
  for (int64_t o = 0; o < total; ++o) {
    int64_t src = 0, rem = o;
    for (int64_t a = 0; a < rank; ++a) {
      int64_t idx = rem / os[a];
      rem %= os[a];
      src += (b[a] + idx * st[a]) * xs[a];
    }
    std::memcpy(r.bytes.data() + o * es, x.raw() + src * es, es);
  }
  return r;
}

result<tensor> fold_gather(const node& n, const tensor& x, const tensor& idx_t) {
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (rank == 0) return make_error(errc::invalid_argument, n.label() + ": Gather on a scalar");
  auto ax = norm_axis(n.get_int("axis", 0), rank, n);
  IDPHOTO_TRY(ax);
  auto idx = to_i64_values(idx_t);
  const int64_t dim = x.shape[*ax];
  for (auto& i : idx) {
    if (i < -dim || i >= dim)
      return make_error(errc::invalid_argument, n.label() + ": index " + std::to_string(i) + " out of range");
    if (i < 0) i += dim;
  }
  shape_t out(x.shape.begin(), x.shape.begin() + *ax);
  out.insert(out.end(), idx_t.shape.begin(), idx_t.shape.end());
  out.insert(out.end(), x.shape.begin() + *ax + 1, x.shape.end());
  int64_t outer = 1, inner = 1;
  for (int64_t a = 0; a < *ax; ++a) outer *= x.shape[a];
  for (int64_t a = *ax + 1; a < rank; ++a) inner *= x.shape[a];
  tensor r = tensor::zeros(x.type, out);
  const size_t es = dtype_size(x.type);
  size_t o = 0;
  for (int64_t p = 0; p < outer; ++p)
    for (int64_t i : idx) {
      std::memcpy(r.bytes.data() + o, x.raw() + ((p * dim + i) * inner) * es, inner * es);
      o += inner * es;
    }
  return r;
}

result<tensor> fold_concat(const node& n, const std::vector<const tensor*>& in) {
  std::vector<const tensor*> xs;
  for (auto* t : in)
    if (t) xs.push_back(t);
  if (xs.empty()) return make_error(errc::invalid_argument, n.label() + ": no inputs");
  const int64_t rank = static_cast<int64_t>(xs[0]->shape.size());
  auto ax = norm_axis(n.get_int("axis", 0), rank, n);
  IDPHOTO_TRY(ax);
  shape_t out = xs[0]->shape;
  out[*ax] = 0;
  for (auto* t : xs) {
    if (static_cast<int64_t>(t->shape.size()) != rank || t->type != xs[0]->type)
      return make_error(errc::invalid_argument, n.label() + ": inputs differ in rank or type");
    for (int64_t a = 0; a < rank; ++a)
      if (a != *ax && t->shape[a] != xs[0]->shape[a])
        return make_error(errc::invalid_argument, n.label() + ": shapes do not match");
    out[*ax] += t->shape[*ax];
  }
  tensor r = tensor::zeros(xs[0]->type, out);
  const size_t es = dtype_size(r.type);
  int64_t outer = 1;
  for (int64_t a = 0; a < *ax; ++a) outer *= out[a];
  size_t o = 0;
  for (int64_t p = 0; p < outer; ++p)
    for (auto* t : xs) {
      const size_t chunk = static_cast<size_t>(t->size() / std::max<int64_t>(outer, 1)) * es;
      if (chunk) std::memcpy(r.bytes.data() + o, t->raw() + p * chunk, chunk);
      o += chunk;
    }
  return r;
}

result<tensor> fold_binary(const node& n, const tensor& a, const tensor& b) {
  if (a.type != b.type) return make_error(errc::invalid_argument, n.label() + ": operand types differ");
  const size_t ra = a.shape.size(), rb = b.shape.size(), r = std::max(ra, rb);
  shape_t out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - ra ? 1 : a.shape[i - (r - ra)];
    int64_t db = i < r - rb ? 1 : b.shape[i - (r - rb)];
    if (da != db && da != 1 && db != 1)
      return make_error(errc::invalid_argument, n.label() + ": shapes do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  const bool is_float = a.type == dtype::f32 || a.type == dtype::f16 || a.type == dtype::f64;
  auto ad = to_f64_values(a), bd = to_f64_values(b);
  auto ai = to_i64_values(a), bi = to_i64_values(b);
  const int64_t total = numel(out);
  tensor res = tensor::zeros(dtype::f64, out);
  tensor resi = tensor::zeros(dtype::i64, out);
  const auto os = strides_of(out);
  for (int64_t o = 0; o < total; ++o) {
    int64_t ia = 0, ib = 0, sa = 1, sb = 1;
    for (int64_t d = static_cast<int64_t>(r) - 1; d >= 0; --d) {
      int64_t idx = (o / os[d]) % out[d];
      int64_t ka = d - static_cast<int64_t>(r - ra), kb = d - static_cast<int64_t>(r - rb);
      if (ka >= 0) {
        if (a.shape[ka] != 1) ia += idx * sa;
        sa *= a.shape[ka];
      }
      if (kb >= 0) {
        if (b.shape[kb] != 1) ib += idx * sb;
        sb *= b.shape[kb];
      }
    }
    const std::string& op = n.op_type;
    if (is_float) {
      double x = ad[ia], y = bd[ib];
      res.data<double>()[o] = op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y;
    } else {
      int64_t x = ai[ia], y = bi[ib];
      if (op == "Div" && y == 0) return make_error(errc::invalid_argument, n.label() + ": integer division by zero");
      resi.data<int64_t>()[o] = op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y;
    }
  }
  return cast_tensor(is_float ? res : resi, a.type);
}

}  // namespace

bool is_shape_op(const std::string& op) {
  static const std::set<std::string> ops = {
      "Constant", "ConstantOfShape", "Shape",    "Slice",   "Gather", "Unsqueeze", "Squeeze", "Concat",
      "Cast",     "Reshape",         "Identity", "Flatten", "Add",    "Sub",       "Mul",     "Div"};
  return ops.count(op) != 0;
}

result<shape_t> reshape_like_shape(const node& n, const shape_t& in, const std::vector<const tensor*>& inputs,
                                   int64_t opset) {
  const int64_t rank = static_cast<int64_t>(in.size());
  if (n.op_type == "Identity" || n.op_type == "Cast") return in;
  if (n.op_type == "Flatten") {
    int64_t axis = n.get_int("axis", 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis > rank) return make_error(errc::invalid_argument, n.label() + ": axis out of range");
    int64_t a = 1, b = 1;
    for (int64_t i = 0; i < rank; ++i) (i < axis ? a : b) *= in[i];
    return shape_t{a, b};
  }
  if (n.op_type == "Reshape") {
    if (inputs.size() < 2 || !inputs[1])
      return make_error(errc::unsupported, n.label() + ": the target shape must be known at plan time");
    auto want = to_i64_values(*inputs[1]);
    const bool allow_zero = n.get_int("allowzero", 0) != 0;
    shape_t out(want.size());
    int64_t known = 1, infer_at = -1;
    for (size_t i = 0; i < want.size(); ++i) {
      if (want[i] == -1) {
        if (infer_at >= 0) return make_error(errc::invalid_argument, n.label() + ": more than one -1 in the shape");
        infer_at = static_cast<int64_t>(i);
        continue;
      }
      if (want[i] == 0 && !allow_zero) {
        if (static_cast<int64_t>(i) >= rank)
          return make_error(errc::invalid_argument, n.label() + ": 0 copies a missing dimension");
        out[i] = in[i];
      } else if (want[i] < 0) {
        return make_error(errc::invalid_argument, n.label() + ": negative dimension in the shape");
      } else {
        out[i] = want[i];
      }
      if (__builtin_mul_overflow(known, out[i], &known))
        return make_error(errc::invalid_argument, n.label() + ": the target shape overflows");
    }
    const int64_t total = numel(in);
    if (infer_at >= 0) {
      if (known == 0 || total % known) return make_error(errc::invalid_argument, n.label() + ": cannot infer -1");
      out[infer_at] = total / known;
    }
    if (numel(out) != total)
      return make_error(errc::invalid_argument,
                        n.label() + ": cannot reshape " + shape_str(in) + " to " + shape_str(out));
    return out;
  }
  // Squeeze / Unsqueeze: axes from the attribute (opset < 13) or the second input.
  std::vector<int64_t> axes;
  if (opset < 13) axes = n.get_ints("axes");
  else if (inputs.size() > 1 && inputs[1]) axes = to_i64_values(*inputs[1]);
  if (n.op_type == "Squeeze") {
    std::set<int64_t> drop;
    for (int64_t a : axes) {
      auto ax = norm_axis(a, rank, n);
      IDPHOTO_TRY(ax);
      if (in[*ax] != 1)
        return make_error(errc::invalid_argument,
                          n.label() + ": cannot squeeze a dimension of size " + std::to_string(in[*ax]));
      drop.insert(*ax);
    }
    shape_t out;
    for (int64_t i = 0; i < rank; ++i)
      if (axes.empty() ? in[i] != 1 : !drop.count(i)) out.push_back(in[i]);
    return out;
  }
  if (n.op_type == "Unsqueeze") {
    const int64_t out_rank = rank + static_cast<int64_t>(axes.size());
    std::set<int64_t> add;
    for (int64_t a : axes) {
      auto ax = norm_axis(a, out_rank, n);
      IDPHOTO_TRY(ax);
      if (!add.insert(*ax).second) return make_error(errc::invalid_argument, n.label() + ": repeated axis");
    }
    shape_t out;
    size_t j = 0;
    for (int64_t i = 0; i < out_rank; ++i) out.push_back(add.count(i) ? 1 : in[j++]);
    return out;
  }
  return make_error(errc::internal, n.label() + ": not a reshape-like op");
}

result<std::vector<tensor>> fold_node(const node& n, const std::vector<const tensor*>& in, int64_t opset) {
  auto need = [&](size_t k) -> result<void> {
    if (in.size() < k)
      return make_error(errc::invalid_argument, n.label() + ": needs " + std::to_string(k) + " inputs");
    for (size_t i = 0; i < k; ++i)
      if (!in[i]) return make_error(errc::invalid_argument, n.label() + ": input " + std::to_string(i) + " is missing");
    return {};
  };
  const std::string& op = n.op_type;
  if (op == "Constant") {
    auto it = n.attrs.begin();
    if (n.attrs.size() != 1)
      return make_error(errc::invalid_argument, n.label() + ": needs exactly one value attribute");
    const attribute& a = it->second;
    if (it->first == "value" && a.k == attribute::kind::t) return std::vector<tensor>{a.t};
    if (it->first == "value_float") return std::vector<tensor>{tensor::from_f32({}, {a.f})};
    if (it->first == "value_floats")
      return std::vector<tensor>{tensor::from_f32({static_cast<int64_t>(a.floats.size())}, a.floats)};
    if (it->first == "value_int") return std::vector<tensor>{tensor::from_i64({}, {a.i})};
    if (it->first == "value_ints")
      return std::vector<tensor>{tensor::from_i64({static_cast<int64_t>(a.ints.size())}, a.ints)};
    return make_error(errc::unsupported, n.label() + ": attribute '" + it->first + "' is not supported");
  }
  if (op == "ConstantOfShape") {
    // A tensor of the given shape filled with the one-element `value` (default float 0).
    IDPHOTO_TRY(need(1));
    tensor fill = tensor::from_f32({1}, {0.f});
    if (n.has("value")) {
      const attribute& a = n.attrs.at("value");
      if (a.k != attribute::kind::t || a.t.size() != 1 || dtype_size(a.t.type) == 0)
        return make_error(errc::invalid_argument, n.label() + ": value must be a one-element tensor");
      fill = a.t;
    }
    shape_t dims = to_i64_values(*in[0]);
    if (in[0]->shape.size() != 1)
      return make_error(errc::invalid_argument, n.label() + ": the shape input must be 1-D");
    constexpr int64_t max_bytes = int64_t{1} << 28;
    int64_t count = 1;
    for (int64_t d : dims) {
      if (d < 0) return make_error(errc::invalid_argument, n.label() + ": negative dimension");
      if (__builtin_mul_overflow(count, d, &count) || count * static_cast<int64_t>(dtype_size(fill.type)) > max_bytes)
        return make_error(errc::too_large, n.label() + ": the constant " + shape_str(dims) + " is too large to fold");
    }
    tensor r = tensor::zeros(fill.type, dims);
    const size_t elem = dtype_size(fill.type);
    for (int64_t i = 0; i < count; ++i) std::memcpy(r.bytes.data() + static_cast<size_t>(i) * elem, fill.raw(), elem);
    return std::vector<tensor>{std::move(r)};
  }
  if (op == "Shape") {
    IDPHOTO_TRY(need(1));
    const int64_t rank = static_cast<int64_t>(in[0]->shape.size());
    int64_t s = n.get_int("start", 0), e = n.get_int("end", rank);
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    s = std::clamp<int64_t>(s, 0, rank);
    e = std::clamp<int64_t>(e, 0, rank);
    std::vector<int64_t> v;
    for (int64_t i = s; i < e; ++i) v.push_back(in[0]->shape[i]);
    return std::vector<tensor>{tensor::from_i64({static_cast<int64_t>(v.size())}, v)};
  }
  if (op == "Slice") {
    IDPHOTO_TRY(need(1));
    auto r = fold_slice(n, in, opset);
    IDPHOTO_TRY(r);
    return std::vector<tensor>{std::move(*r)};
  }
  if (op == "Gather") {
    IDPHOTO_TRY(need(2));
    auto r = fold_gather(n, *in[0], *in[1]);
    IDPHOTO_TRY(r);
    return std::vector<tensor>{std::move(*r)};
  }
  if (op == "Concat") {
    auto r = fold_concat(n, in);
    IDPHOTO_TRY(r);
    return std::vector<tensor>{std::move(*r)};
  }
  if (op == "Cast") {
    IDPHOTO_TRY(need(1));
    dtype to = dtype_from_onnx(n.get_int("to", 0));
    if (to == dtype::unknown)
      return make_error(errc::unsupported,
                        n.label() + ": cast to type " + std::to_string(n.get_int("to", 0)) + " is not supported");
    return std::vector<tensor>{cast_tensor(*in[0], to)};
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    IDPHOTO_TRY(need(2));
    auto r = fold_binary(n, *in[0], *in[1]);
    IDPHOTO_TRY(r);
    return std::vector<tensor>{std::move(*r)};
  }
  if (op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" || op == "Flatten" || op == "Identity") {
    IDPHOTO_TRY(need(1));
    auto s = reshape_like_shape(n, in[0]->shape, in, opset);
    IDPHOTO_TRY(s);
    tensor r = *in[0];
    r.shape = std::move(*s);
    return std::vector<tensor>{std::move(r)};
  }
  return make_error(errc::unsupported, n.label() + ": cannot be evaluated at plan time");
}

}  // namespace idphoto::infer::detail

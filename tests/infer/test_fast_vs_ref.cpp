// The onednn executor against the reference executor, op by op, on tiny models built
// here in C++ and random inputs (std::mt19937 seeded 42, so every run sees the same data).
//
// Tolerances (stated per comparison kind; see `tol` below):
//  * exact — ops that select or copy values and do no arithmetic (Relu, MaxPool, Clip,
//    Concat, nearest Resize/Upsample, Transpose, Pad) or one multiply (PRelu, correctly
//    rounded in both). Any difference is a wrong index or a wrong copy.
//  * accumulated(n) — ops that sum n terms in fp32 (Conv: c_in/group*kh*kw products + bias;
//    AveragePool/GlobalAveragePool: window sum and a divide; linear Resize: 4 weighted taps;
//    BatchNormalization: x*scale + shift). Both executors sum in fp32 but in different
//    orders (oneDNN blocks channels and vectorises), and an fp32 sum of n terms in any
//    order is within n*u*sum|terms| of the exact sum (u = 2^-24, Higham), so the two
//    differ by at most 2n*u*M where M = sum of |terms| at that output. The bound is
//    max(1e-4, 2(n+2)u) * M (+2 for bias and final rounding). M is computed by running the
//    reference executor on the same model with |weights| and |inputs| (for these ops the
//    weights of the taps are non-negative or made so). A wrong tap, padding or weight
//    changes an output by O(M), far above 1e-4*M.
//    Linear Resize adds an absolute term: the source coordinate is an fp32 number up to
//    the input side L, computed by the two executors with different formula orders, so it
//    may differ by a few ulps of L; that moves the output by up to that distance times the
//    local slope, at most the input's value range R per pixel. The term is 8*u*L*R
//    (≈ 5e-5 for L = 57, R = 2); a wrong tap or weight errs by O(R/L) or more.
//  * ulps(k) — single IEEE operations (Add, Sub, Mul, Div): correctly rounded in both, but
//    the fast path may legitimately rewrite x/c as x*(1/c) (≤ 1.5 ulp); k = 4 ulp relative.
//  * absolute(a) — Sigmoid: oneDNN evaluates exp with a vectorised polynomial; outputs
//    lie in (0, 1) where 1 ulp ≤ 6e-8, so 1e-6 allows ~16 ulp of the output.
//  * scaled(r) — multi-layer graphs, where per-layer error bounds compound through
//    non-linear ops: |diff| ≤ r * max|ref| of that output, r = 1e-3. Graph bugs this is
//    meant to catch (buffer reuse, in-place concat, aliasing, fusion) give O(1) errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include <dnnl.hpp>

#include "infer/onednn_weights.hpp"
#include "infer/session.hpp"
#include "infer/test_util.hpp"

using namespace idphoto::infer;
using namespace idphoto::infer::test;

namespace {

constexpr double k_unit_roundoff = 5.9604644775390625e-08;  // 2^-24

struct tol {
  enum class kind { exact, accumulated, ulps, absolute, scaled } k = kind::exact;
  double v = 0;
  double floor = 0;  // accumulated only: an absolute term added to the bound
  static tol exact() { return {kind::exact, 0}; }
  static tol accumulated(double n_terms, double abs_floor = 0) { return {kind::accumulated, n_terms, abs_floor}; }
  static tol ulps(double k) { return {kind::ulps, k}; }
  static tol absolute(double a) { return {kind::absolute, a}; }
  static tol scaled(double r) { return {kind::scaled, r}; }
};

// The coordinate term of linear Resize (see the top comment): 8 * u * L * R.
double interpolation_floor(const tensor& x) {
  const auto v = values_f64(x);
  const double range = v.empty() ? 0 : *std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end());
  const double side = static_cast<double>(std::max(x.shape[2], x.shape[3]));
  return 8 * 5.9604644775390625e-08 * side * range;
}

session_options opts(backend_kind b, weights_mode w = weights_mode::streamed, bool fuse = true) {
  session_options o = options_for(b, w);
  o.fuse_relu = fuse;
  o.retarget_resize = false;  // ONNX semantics for the sizes input
  return o;
}

// The same model with every float initialiser replaced by its absolute value.
std::shared_ptr<model> abs_model(const model& m) {
  auto a = std::make_shared<model>(m);
  for (auto& [name, t] : a->initializers) {
    if (t.type == dtype::f32) t = abs_tensor(t);
    else if (t.type == dtype::f16)
      for (int64_t i = 0; i < t.size(); ++i) t.data<uint16_t>()[i] &= 0x7fff;
  }
  return a;
}

std::string describe_inputs(const std::vector<named_tensor>& in) {
  std::string s;
  for (const auto& t : in) s += (s.empty() ? "" : ", ") + t.name + shape_str(t.t.shape);
  return s;
}

// Runs m on the reference executor (ref_variants[0] is the baseline; further reference
// variants must match it exactly: same kernels, same widened weights) and on every fast
// variant, and compares each fast output with the baseline under t.
void expect_same(const std::string& what, const std::shared_ptr<model>& m, const std::vector<named_tensor>& inputs,
                 tol t, std::vector<session_options> fast_variants = {opts(backend_kind::onednn)},
                 std::vector<session_options> ref_variants = {opts(backend_kind::reference)},
                 std::vector<double>* explicit_magnitude = nullptr) {
  SCOPED_TRACE(what + " inputs " + describe_inputs(inputs));
  auto ref = run_once(m, ref_variants[0], inputs);
  ASSERT_TRUE(ref.ok()) << "reference: " << ref.err().to_string();
  ASSERT_EQ(ref->size(), m->outputs.size());

  for (size_t v = 1; v < ref_variants.size(); ++v) {
    auto other = run_once(m, ref_variants[v], inputs);
    ASSERT_TRUE(other.ok()) << "reference variant " << v << ": " << other.err().to_string();
    for (size_t k = 0; k < ref->size(); ++k) {
      const tensor* o = find_output(*other, (*ref)[k].name);
      ASSERT_NE(o, nullptr) << (*ref)[k].name;
      std::string d = compare_exact((*ref)[k].t, *o);
      EXPECT_TRUE(d.empty()) << "reference variant " << v << " output " << (*ref)[k].name << ": " << d;
    }
  }

  // Magnitudes for the accumulated tolerance: reference on |weights| and |inputs|.
  std::vector<std::vector<double>> magnitude(ref->size());
  if (t.k == tol::kind::accumulated) {
    if (explicit_magnitude) {
      magnitude[0] = *explicit_magnitude;
    } else {
      std::vector<named_tensor> abs_in;
      for (const auto& in : inputs) abs_in.push_back({in.name, abs_tensor(in.t)});
      auto mag = run_once(abs_model(*m), ref_variants[0], abs_in);
      ASSERT_TRUE(mag.ok()) << "reference on |weights|: " << mag.err().to_string();
      for (size_t k = 0; k < ref->size(); ++k) magnitude[k] = values_f64((*mag)[k].t);
    }
  }

  for (const auto& fo : fast_variants) {
    SCOPED_TRACE(std::string("fast variant: ") + backend_label(fo.backend) +
                 (fo.weights == weights_mode::resident ? " resident" : " streamed") +
                 (fo.fuse_relu ? " fuse_relu" : " no_fuse"));
    auto fast = run_once(m, fo, inputs);
    ASSERT_TRUE(fast.ok()) << backend_label(fo.backend) << ": " << fast.err().to_string();
    ASSERT_EQ(fast->size(), ref->size());
    for (size_t k = 0; k < ref->size(); ++k) {
      const tensor& want = (*ref)[k].t;
      const tensor* got = find_output(*fast, (*ref)[k].name);
      ASSERT_NE(got, nullptr) << "missing output " << (*ref)[k].name;
      const auto wv = values_f64(want);
      std::vector<double> bound(wv.size());
      double max_abs = 0;
      for (double x : wv) max_abs = std::max(max_abs, std::fabs(x));
      for (size_t i = 0; i < wv.size(); ++i) {
        switch (t.k) {
          case tol::kind::exact:
            bound[i] = 0;
            break;
          case tol::kind::accumulated:
            bound[i] = std::max(1e-4, 2 * (t.v + 2) * k_unit_roundoff) * magnitude[k][i] + t.floor + 1e-30;
            break;
          case tol::kind::ulps:
            bound[i] = t.v * 2 * k_unit_roundoff * std::fabs(wv[i]) + 1e-37;
            break;
          case tol::kind::absolute:
            bound[i] = t.v;
            break;
          case tol::kind::scaled:
            bound[i] = t.v * max_abs;
            break;
        }
      }
      std::string d = compare_bounded(want, *got, bound);
      EXPECT_TRUE(d.empty()) << "output " << (*ref)[k].name << ": " << d;
    }
  }
}

std::vector<session_options> all_fast_variants() {
  return {opts(backend_kind::onednn, weights_mode::streamed), opts(backend_kind::onednn, weights_mode::resident)};
}
std::vector<session_options> all_ref_variants() {
  return {opts(backend_kind::reference, weights_mode::streamed), opts(backend_kind::reference, weights_mode::resident)};
}

// One generator, re-seeded with 42 at the start of every test (see rng_reseeder), so a
// test sees the same data whether it runs alone, filtered, or after the others.
std::mt19937& rng() {
  static std::mt19937 r(42);
  return r;
}

class rng_reseeder : public testing::EmptyTestEventListener {
  void OnTestStart(const testing::TestInfo&) override { rng().seed(42); }
};
[[maybe_unused]] const bool k_reseeder_installed = [] {
  testing::UnitTest::GetInstance()->listeners().Append(new rng_reseeder);
  return true;
}();

// ---------------------------------------------------------------- Conv

struct conv_cfg {
  int64_t n = 1, c_in = 3, h = 9, w = 7, c_out = 4, kh = 3, kw = 3;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t group = 1;
  bool bias = true;
  std::string auto_pad = "NOTSET";

  std::string str() const {
    std::ostringstream o;
    o << "conv n" << n << " c_in" << c_in << " " << h << "x" << w << " c_out" << c_out << " k" << kh << "x" << kw
      << " s" << sh << "," << sw << " d" << dh << "," << dw << " pads[t" << pt << " l" << pl << " b" << pb << " r" << pr
      << "] group" << group << (bias ? " bias" : "") << " auto_pad " << auto_pad;
    return o.str();
  }
  bool valid() const {
    if (c_in % group || c_out % group) return false;
    if (auto_pad != "NOTSET") return true;
    return h + pt + pb >= dh * (kh - 1) + 1 && w + pl + pr >= dw * (kw - 1) + 1;
  }
};

// Builds x -> Conv [-> Relu] -> y with random weights (stored f16 when f16_weights).
std::shared_ptr<model> conv_model(const conv_cfg& c, bool relu, bool f16_weights, tensor* w_out = nullptr) {
  model_builder b;
  b.input("x", {c.n, c.c_in, c.h, c.w});
  tensor w = random_tensor(rng(), {c.c_out, c.c_in / c.group, c.kh, c.kw}, -0.5f, 0.5f);
  tensor bias = random_tensor(rng(), {c.c_out}, -0.5f, 0.5f);
  if (f16_weights) {
    w = to_f16_tensor(w);
    bias = to_f16_tensor(bias);
  }
  if (w_out) *w_out = w;
  b.initializer("W", w);
  std::vector<std::string> ins = {"x", "W"};
  if (c.bias) {
    b.initializer("B", bias);
    ins.push_back("B");
  }
  std::map<std::string, attribute> a = {{"kernel_shape", attr_ints({c.kh, c.kw})},
                                        {"strides", attr_ints({c.sh, c.sw})},
                                        {"dilations", attr_ints({c.dh, c.dw})},
                                        {"group", attr_int(c.group)}};
  if (c.auto_pad == "NOTSET") a["pads"] = attr_ints({c.pt, c.pl, c.pb, c.pr});
  else a["auto_pad"] = attr_string(c.auto_pad);
  b.add_node("Conv", ins, {relu ? "c" : "y"}, a, "conv0");
  if (relu) b.add_node("Relu", {"c"}, {"y"}, {}, "relu0");
  b.output("y");
  return b.build();
}

void check_conv(const conv_cfg& c, bool relu = false, bool f16 = false) {
  ASSERT_TRUE(c.valid()) << c.str();
  auto m = conv_model(c, relu, f16);
  std::vector<named_tensor> in = {{"x", random_tensor(rng(), {c.n, c.c_in, c.h, c.w})}};
  const double n_terms = static_cast<double>(c.c_in / c.group * c.kh * c.kw);
  std::vector<session_options> fast = {opts(backend_kind::onednn)};
  std::vector<session_options> ref = {opts(backend_kind::reference)};
  if (f16) {
    fast = all_fast_variants();
    ref = all_ref_variants();
  }
  if (relu) {
    fast.push_back(opts(backend_kind::onednn, weights_mode::streamed, false));
    ref.push_back(opts(backend_kind::reference, weights_mode::streamed, false));
  }
  expect_same(c.str() + (relu ? " +relu" : "") + (f16 ? " f16 weights" : ""), m, in, tol::accumulated(n_terms + 1),
              fast, ref);
}

TEST(fast_vs_ref_conv, named_shapes) {
  conv_cfg c;
  // 1x1 spatial, 1x1 kernel, channels a multiple of 16.
  c = {};
  c.h = c.w = 1;
  c.kh = c.kw = 1;
  c.c_in = 16;
  c.c_out = 32;
  check_conv(c);
  // 1x1 spatial with 3x3 kernel and pad 1 (only the centre tap sees data).
  c = {};
  c.h = c.w = 1;
  c.c_in = 5;
  c.c_out = 7;
  c.pt = c.pl = c.pb = c.pr = 1;
  check_conv(c);
  // Odd sizes, channels not a multiple of 16.
  c = {};
  c.c_in = 17;
  c.c_out = 19;
  c.h = 13;
  c.w = 11;
  c.pt = c.pl = c.pb = c.pr = 1;
  check_conv(c);
  // Large: 64 channels x 57x43.
  c = {};
  c.c_in = 64;
  c.c_out = 64;
  c.h = 57;
  c.w = 43;
  c.pt = c.pl = c.pb = c.pr = 1;
  check_conv(c);
  // Stride 2 with asymmetric pads.
  c = {};
  c.c_in = 8;
  c.c_out = 16;
  c.h = 15;
  c.w = 12;
  c.sh = c.sw = 2;
  c.pt = 0;
  c.pl = 1;
  c.pb = 2;
  c.pr = 1;
  check_conv(c);
  // Stride 2 horizontally only, rectangular kernel.
  c = {};
  c.c_in = 6;
  c.c_out = 10;
  c.h = 10;
  c.w = 21;
  c.kh = 1;
  c.kw = 5;
  c.sw = 2;
  c.pl = 2;
  c.pr = 2;
  check_conv(c);
  // Dilation 2 (and 3 x 1).
  c = {};
  c.c_in = 16;
  c.c_out = 16;
  c.h = 19;
  c.w = 17;
  c.dh = c.dw = 2;
  c.pt = c.pl = c.pb = c.pr = 2;
  check_conv(c);
  c = {};
  c.c_in = 4;
  c.c_out = 4;
  c.h = 20;
  c.w = 9;
  c.dh = 3;
  c.dw = 1;
  c.pt = 3;
  c.pb = 3;
  c.pl = 1;
  c.pr = 1;
  check_conv(c);
  // Groups.
  c = {};
  c.c_in = 32;
  c.c_out = 64;
  c.group = 2;
  c.h = 11;
  c.w = 13;
  c.pt = c.pl = c.pb = c.pr = 1;
  check_conv(c);
  c = {};
  c.c_in = 12;
  c.c_out = 6;
  c.group = 3;
  c.h = 7;
  c.w = 9;
  check_conv(c);
  // Depthwise: channels a multiple of 16, and not; with multiplier 2; stride 2.
  c = {};
  c.c_in = c.c_out = c.group = 32;
  c.h = 15;
  c.w = 15;
  c.pt = c.pl = c.pb = c.pr = 1;
  check_conv(c);
  c = {};
  c.c_in = c.c_out = c.group = 17;
  c.h = 9;
  c.w = 14;
  c.pt = c.pl = c.pb = c.pr = 1;
  c.sh = c.sw = 2;
  check_conv(c);
  c = {};
  c.c_in = 8;
  c.c_out = 16;
  c.group = 8;
  c.h = 10;
  c.w = 10;
  c.kh = c.kw = 5;
  c.pt = c.pl = c.pb = c.pr = 2;
  check_conv(c);
  // No bias, batch 2.
  c = {};
  c.n = 2;
  c.bias = false;
  c.c_in = 3;
  c.c_out = 8;
  c.h = 16;
  c.w = 9;
  check_conv(c);
  // auto_pad variants.
  for (const char* ap : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    c = {};
    c.auto_pad = ap;
    c.c_in = 5;
    c.c_out = 6;
    c.h = 10;
    c.w = 7;
    c.sh = c.sw = 2;
    check_conv(c);
    c.kh = c.kw = 4;
    c.sh = c.sw = 1;  // even kernel: SAME_UPPER and SAME_LOWER differ
    check_conv(c);
  }
  // Kernel larger than the unpadded input (padding makes it fit).
  c = {};
  c.c_in = 2;
  c.c_out = 3;
  c.h = 2;
  c.w = 3;
  c.kh = c.kw = 5;
  c.pt = c.pl = c.pb = c.pr = 2;
  check_conv(c);
}

TEST(fast_vs_ref_conv, random_shapes) {
  std::mt19937& r = rng();
  auto pick = [&](std::vector<int64_t> v) { return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(r)]; };
  int n_checked = 0;
  for (int attempt = 0; attempt < 400 && n_checked < 40; ++attempt) {
    conv_cfg c;
    c.n = pick({1, 1, 1, 2});
    const int64_t g_kind = pick({0, 0, 0, 1, 2});  // 0 dense, 1 grouped, 2 depthwise
    c.c_in = pick({1, 3, 4, 5, 8, 16, 17, 24, 32, 33});
    c.c_out = pick({1, 2, 7, 8, 16, 19, 32, 48});
    if (g_kind == 1) {
      c.group = pick({2, 3, 4});
      c.c_in *= c.group;
      c.c_out *= c.group;
    } else if (g_kind == 2) {
      c.group = c.c_in;
      c.c_out = c.c_in * pick({1, 1, 2});
    }
    c.h = pick({1, 2, 3, 5, 8, 13, 16, 21});
    c.w = pick({1, 2, 4, 7, 9, 16, 23});
    c.kh = pick({1, 2, 3, 3, 5});
    c.kw = pick({1, 3, 3, 5});
    c.sh = pick({1, 1, 2, 3});
    c.sw = pick({1, 1, 2});
    c.dh = pick({1, 1, 2});
    c.dw = pick({1, 1, 2});
    c.pt = pick({0, 1, 2});
    c.pl = pick({0, 1, 2});
    c.pb = pick({0, 1, 3});
    c.pr = pick({0, 1, 2});
    c.bias = pick({0, 1, 1}) != 0;
    c.auto_pad =
        std::vector<std::string>{"NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}[static_cast<size_t>(
            pick({0, 1, 2, 3, 4, 5}))];
    if (c.auto_pad == "VALID" && (c.h < c.dh * (c.kh - 1) + 1 || c.w < c.dw * (c.kw - 1) + 1)) continue;
    if (c.auto_pad != "NOTSET") c.dh = c.dw = 1;  // ONNX leaves SAME with dilation to the implementation
    if (!c.valid()) continue;
    const bool relu = pick({0, 1}) != 0;
    check_conv(c, relu);
    if (HasFatalFailure()) return;
    ++n_checked;
  }
  EXPECT_EQ(n_checked, 40);
}

TEST(fast_vs_ref_conv, relu_fusion) {
  conv_cfg c;
  c.c_in = 16;
  c.c_out = 24;
  c.h = 12;
  c.w = 11;
  c.pt = c.pl = c.pb = c.pr = 1;
  check_conv(c, /*relu=*/true);
  c.c_in = 3;
  c.c_out = 5;
  c.group = 1;
  c.sh = c.sw = 2;
  check_conv(c, true);
}

// Conv whose output has two consumers (Relu and a graph output): the Relu must not be
// fused into the conv, or the pre-activation output would come out rectified.
TEST(fast_vs_ref_conv, relu_not_fused_when_conv_output_is_also_used) {
  model_builder b;
  b.input("x", {1, 8, 9, 9});
  b.initializer("W", random_tensor(rng(), {8, 8, 3, 3}, -0.5f, 0.5f));
  b.initializer("B", random_tensor(rng(), {8}, -0.5f, 0.5f));
  b.add_node("Conv", {"x", "W", "B"}, {"pre"}, {{"pads", attr_ints({1, 1, 1, 1})}}, "conv");
  b.add_node("Relu", {"pre"}, {"post"}, {}, "relu");
  b.add_node("Add", {"pre", "post"}, {"sum"}, {}, "add");
  b.output("pre").output("post").output("sum");
  auto m = b.build();
  std::vector<named_tensor> in = {{"x", random_tensor(rng(), {1, 8, 9, 9})}};
  expect_same("conv with two consumers", m, in, tol::accumulated(8 * 9 + 2),
              {opts(backend_kind::onednn), opts(backend_kind::onednn, weights_mode::streamed, false)});
  // The pre-activation output must have negative values (else the check above is vacuous).
  auto ref = run_once(m, opts(backend_kind::reference), in);
  ASSERT_TRUE(ref.ok()) << ref.err().to_string();
  const auto pre = values_f64(*find_output(*ref, "pre"));
  EXPECT_LT(*std::min_element(pre.begin(), pre.end()), 0.0);
  auto fast = run_once(m, opts(backend_kind::onednn), in);
  ASSERT_TRUE(fast.ok()) << fast.err().to_string();
  const auto fast_pre = values_f64(*find_output(*fast, "pre"));
  EXPECT_LT(*std::min_element(fast_pre.begin(), fast_pre.end()), 0.0)
      << "Relu was fused into a conv with two consumers";
}

// fp16 initialisers, in both weight modes: every variant must equal the f32 model whose
// weights are the same fp16 values widened (the widening is exact).
TEST(fast_vs_ref_conv, fp16_weights_streamed_and_resident) {
  std::vector<conv_cfg> cfgs;
  conv_cfg c;
  c.c_in = 16;
  c.c_out = 32;
  c.h = 13;
  c.w = 11;
  c.pt = c.pl = c.pb = c.pr = 1;
  cfgs.push_back(c);
  c = {};
  c.c_in = c.c_out = c.group = 24;
  c.h = 9;
  c.w = 10;
  c.pt = c.pl = c.pb = c.pr = 1;
  c.sh = c.sw = 2;
  cfgs.push_back(c);
  c = {};
  c.c_in = 3;
  c.c_out = 5;
  c.kh = c.kw = 1;
  c.h = 1;
  c.w = 1;
  cfgs.push_back(c);
  c = {};
  c.c_in = 64;
  c.c_out = 64;
  c.h = 57;
  c.w = 43;
  c.pt = c.pl = c.pb = c.pr = 1;
  cfgs.push_back(c);
  for (const auto& cfg : cfgs) {
    check_conv(cfg, false, true);
    check_conv(cfg, true, true);
    if (HasFatalFailure()) return;
  }

  // f16 model vs the f32 model with the widened values, on both executors.
  c = cfgs[0];
  auto m16 = conv_model(c, false, true);
  auto m32 = std::make_shared<model>(*m16);
  for (auto& [name, t] : m32->initializers) t = f16_to_f32_tensor(t);
  std::vector<named_tensor> in = {{"x", random_tensor(rng(), {c.n, c.c_in, c.h, c.w})}};
  for (backend_kind bk : {backend_kind::reference, backend_kind::onednn})
    for (weights_mode wm : {weights_mode::streamed, weights_mode::resident}) {
      auto a = run_once(m16, opts(bk, wm), in);
      auto b = run_once(m32, opts(bk, wm), in);
      ASSERT_TRUE(a.ok()) << a.err().to_string();
      ASSERT_TRUE(b.ok()) << b.err().to_string();
      // Same kernel, same values: exact.
      std::string d = compare_exact((*b)[0].t, (*a)[0].t);
      EXPECT_TRUE(d.empty()) << backend_label(bk) << (wm == weights_mode::resident ? " resident" : " streamed")
                             << ": f16 weights vs widened f32 weights: " << d;
    }
}

// Resident f32 weights: reordered once per plan.
TEST(fast_vs_ref_conv, f32_weights_resident) {
  conv_cfg c;
  c.c_in = 17;
  c.c_out = 16;
  c.h = 14;
  c.w = 15;
  c.pt = c.pl = c.pb = c.pr = 1;
  auto m = conv_model(c, true, false);
  std::vector<named_tensor> in = {{"x", random_tensor(rng(), {1, 17, 14, 15})}};
  expect_same(c.str() + " resident", m, in, tol::accumulated(17 * 9 + 1), all_fast_variants(), all_ref_variants());
}

// ---------------------------------------------------------------- pooling

struct pool_cfg {
  std::string op = "MaxPool";
  int64_t n = 1, c = 3, h = 9, w = 7, kh = 2, kw = 2, sh = 2, sw = 2, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  bool ceil = false, include_pad = false;
  std::string auto_pad = "NOTSET";
  std::string str() const {
    std::ostringstream o;
    o << op << " n" << n << " c" << c << " " << h << "x" << w << " k" << kh << "x" << kw << " s" << sh << "," << sw
      << " d" << dh << "," << dw << " pads[t" << pt << " l" << pl << " b" << pb << " r" << pr << "]"
      << (ceil ? " ceil_mode" : "") << (include_pad ? " count_include_pad" : "") << " auto_pad " << auto_pad;
    return o.str();
  }
};

void check_pool(const pool_cfg& p) {
  model_builder b(12);
  b.input("x", {p.n, p.c, p.h, p.w});
  std::map<std::string, attribute> a = {
      {"kernel_shape", attr_ints({p.kh, p.kw})}, {"strides", attr_ints({p.sh, p.sw})}, {"ceil_mode", attr_int(p.ceil)}};
  if (p.op == "MaxPool") a["dilations"] = attr_ints({p.dh, p.dw});
  else a["count_include_pad"] = attr_int(p.include_pad);
  if (p.auto_pad == "NOTSET") a["pads"] = attr_ints({p.pt, p.pl, p.pb, p.pr});
  else a["auto_pad"] = attr_string(p.auto_pad);
  b.add_node(p.op, {"x"}, {"y"}, a, "pool0");
  b.output("y");
  std::vector<named_tensor> in = {{"x", random_tensor(rng(), {p.n, p.c, p.h, p.w})}};
  expect_same(p.str(), b.build(), in, p.op == "MaxPool" ? tol::exact() : tol::accumulated(double(p.kh * p.kw) + 1));
}

TEST(fast_vs_ref_pool, named_shapes) {
  for (const char* op : {"MaxPool", "AveragePool"}) {
    pool_cfg p;
    p.op = op;
    check_pool(p);  // 2x2 stride 2, odd input (last row/col dropped)
    p.ceil = true;
    check_pool(p);  // ceil_mode: partial last window
    p = {};
    p.op = op;
    p.kh = p.kw = 3;
    p.sh = p.sw = 2;
    p.pt = p.pl = p.pb = p.pr = 1;
    p.c = 16;
    p.h = 57;
    p.w = 43;
    check_pool(p);
    p.ceil = true;
    check_pool(p);
    p.include_pad = true;
    check_pool(p);
    p = {};
    p.op = op;
    p.kh = 3;
    p.kw = 2;
    p.sh = 1;
    p.sw = 2;
    p.pt = 0;
    p.pl = 1;
    p.pb = 2;
    p.pr = 0;
    p.c = 17;
    p.h = 11;
    p.w = 10;
    check_pool(p);  // asymmetric pads
    p.include_pad = true;
    check_pool(p);
    p.ceil = true;
    check_pool(p);
    p = {};
    p.op = op;
    p.h = p.w = 1;
    p.kh = p.kw = 1;
    p.sh = p.sw = 1;
    p.c = 32;
    check_pool(p);  // 1x1
    p = {};
    p.op = op;
    p.h = 5;
    p.w = 5;
    p.kh = p.kw = 5;
    p.sh = p.sw = 1;
    p.c = 64;
    check_pool(p);  // window = whole input
    p = {};
    p.op = op;
    p.kh = p.kw = 3;
    p.sh = p.sw = 3;
    p.h = 10;
    p.w = 8;
    p.ceil = true;
    p.c = 5;
    check_pool(p);  // ceil_mode where the last window would start past the input
    for (const char* ap : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
      p = {};
      p.op = op;
      p.auto_pad = ap;
      p.kh = p.kw = 3;
      p.sh = p.sw = 2;
      p.h = 12;
      p.w = 9;
      p.c = 6;
      check_pool(p);
    }
  }
  // MaxPool with dilation 2.
  pool_cfg p;
  p.kh = p.kw = 3;
  p.sh = p.sw = 1;
  p.dh = p.dw = 2;
  p.h = 13;
  p.w = 12;
  p.c = 8;
  p.pt = p.pl = p.pb = p.pr = 2;
  check_pool(p);
  p.ceil = true;
  p.sh = p.sw = 2;
  check_pool(p);
}

TEST(fast_vs_ref_pool, random_shapes) {
  std::mt19937& r = rng();
  auto pick = [&](std::vector<int64_t> v) { return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(r)]; };
  int n_checked = 0;
  for (int attempt = 0; attempt < 400 && n_checked < 40; ++attempt) {
    pool_cfg p;
    p.op = pick({0, 1}) ? "MaxPool" : "AveragePool";
    p.n = pick({1, 2});
    p.c = pick({1, 3, 16, 17, 32});
    p.h = pick({1, 2, 5, 8, 13, 20});
    p.w = pick({1, 3, 4, 9, 16, 21});
    p.kh = pick({1, 2, 3, 5});
    p.kw = pick({1, 2, 3});
    p.sh = pick({1, 2, 3});
    p.sw = pick({1, 2});
    if (p.op == "MaxPool") {
      p.dh = pick({1, 1, 2});
      p.dw = pick({1, 1, 2});
    }
    // ONNX requires pads smaller than the kernel (a window of only padding is undefined).
    p.pt = std::min<int64_t>(pick({0, 1, 2}), p.kh - 1);
    p.pb = std::min<int64_t>(pick({0, 1, 2}), p.kh - 1);
    p.pl = std::min<int64_t>(pick({0, 1, 2}), p.kw - 1);
    p.pr = std::min<int64_t>(pick({0, 1, 2}), p.kw - 1);
    p.ceil = pick({0, 1}) != 0;
    p.include_pad = pick({0, 1}) != 0;
    if (p.h + p.pt + p.pb < p.dh * (p.kh - 1) + 1 || p.w + p.pl + p.pr < p.dw * (p.kw - 1) + 1) continue;
    check_pool(p);
    if (HasFatalFailure()) return;
    ++n_checked;
  }
  EXPECT_EQ(n_checked, 40);
}

TEST(fast_vs_ref_pool, global_average) {
  for (shape_t s : {shape_t{1, 64, 57, 43}, shape_t{2, 3, 1, 1}, shape_t{1, 17, 5, 7}, shape_t{2, 16, 8, 8}}) {
    model_builder b;
    b.input("x", s);
    b.add_node("GlobalAveragePool", {"x"}, {"y"});
    b.output("y");
    std::vector<named_tensor> in = {{"x", random_tensor(rng(), s)}};
    expect_same("GlobalAveragePool " + shape_str(s), b.build(), in, tol::accumulated(double(s[2] * s[3]) + 1));
  }
}

// ---------------------------------------------------------------- elementwise

TEST(fast_vs_ref_unary, relu_sigmoid_clip) {
  for (shape_t s : {shape_t{1, 64, 57, 43}, shape_t{2, 17, 5, 3}, shape_t{1, 1, 1, 1}, shape_t{3, 7}}) {
    std::vector<named_tensor> in = {{"x", random_tensor(rng(), s, -10.0f, 10.0f)}};
    {
      model_builder b;
      b.input("x", s).add_node("Relu", {"x"}, {"y"}).output("y");
      expect_same("Relu " + shape_str(s), b.build(), in, tol::exact());
    }
    {
      model_builder b;
      b.input("x", s).add_node("Sigmoid", {"x"}, {"y"}).output("y");
      expect_same("Sigmoid " + shape_str(s), b.build(), in, tol::absolute(1e-6));
    }
    // Clip (opset 13): min and max as constant inputs; either may be omitted.
    struct clip_case {
      const char* what;
      bool has_min, has_max;
      float lo, hi;
    };
    for (const clip_case& cc :
         {clip_case{"min and max", true, true, -2.5f, 6.0f}, clip_case{"min only", true, false, 0.0f, 0},
          clip_case{"max only", false, true, 0, 1.0f}, clip_case{"neither", false, false, 0, 0}}) {
      model_builder b;
      b.input("x", s);
      std::vector<std::string> ins = {"x", "", ""};
      if (cc.has_min) {
        b.initializer("lo", tensor::from_f32({}, {cc.lo}));
        ins[1] = "lo";
      }
      if (cc.has_max) {
        b.initializer("hi", tensor::from_f32({}, {cc.hi}));
        ins[2] = "hi";
      }
      while (!ins.empty() && ins.back().empty()) ins.pop_back();
      b.add_node("Clip", ins, {"y"}).output("y");
      expect_same(std::string("Clip ") + cc.what + " " + shape_str(s), b.build(), in, tol::exact());
    }
  }
}

TEST(fast_vs_ref_unary, batch_norm) {
  for (shape_t s : {shape_t{2, 17, 9, 11}, shape_t{1, 64, 57, 43}, shape_t{1, 3, 1, 1}}) {
    const int64_t c = s[1];
    tensor gamma = random_tensor(rng(), {c}, -2.0f, 2.0f);
    tensor beta = random_tensor(rng(), {c}, -1.0f, 1.0f);
    tensor mean = random_tensor(rng(), {c}, -1.0f, 1.0f);
    tensor var = random_tensor(rng(), {c}, 0.1f, 3.0f);
    const float eps = 1e-3f;
    model_builder b(15);
    b.input("x", s);
    b.initializer("gamma", gamma).initializer("beta", beta).initializer("mean", mean).initializer("var", var);
    b.add_node("BatchNormalization", {"x", "gamma", "beta", "mean", "var"}, {"y"}, {{"epsilon", attr_float(eps)}});
    b.output("y");
    tensor x = random_tensor(rng(), s);
    // M = |x * scale| + |shift| with the folded scale and shift (computed here in double).
    std::vector<double> mag(static_cast<size_t>(x.size()));
    const int64_t hw = s[2] * s[3];
    for (int64_t i = 0; i < x.size(); ++i) {
      const int64_t ch = (i / hw) % c;
      const double sc = gamma.data<float>()[ch] / std::sqrt(double(var.data<float>()[ch]) + eps);
      const double sh = beta.data<float>()[ch] - mean.data<float>()[ch] * sc;
      mag[static_cast<size_t>(i)] = std::fabs(x.data<float>()[i] * sc) + std::fabs(sh);
    }
    expect_same("BatchNormalization " + shape_str(s), b.build(), {{"x", x}}, tol::accumulated(2),
                {opts(backend_kind::onednn)}, {opts(backend_kind::reference)}, &mag);
  }
}

// Broadcasting binary ops: both operand orders, runtime and constant operands.
TEST(fast_vs_ref_binary, broadcasting) {
  struct pair_case {
    shape_t a, b;
  };
  const std::vector<pair_case> shapes = {
      {{2, 16, 7, 5}, {2, 16, 7, 5}},  // same shape
      {{1, 16, 7, 5}, {1, 16, 1, 1}},  // per channel
      {{1, 17, 9, 9}, {17, 1, 1}},     // per channel, lower rank
      {{1, 16, 7, 5}, {1, 1, 7, 5}},   // per pixel
      {{1, 16, 7, 5}, {5}},            // last axis
      {{1, 16, 7, 5}, {}},             // scalar
      {{1, 16, 7, 5}, {1, 1, 1, 1}},   // 1x1x1x1
      {{1, 3, 1, 5}, {2, 1, 4, 1}},    // both broadcast
      {{2, 1, 6}, {3, 1}},             // rank 3 with rank 2
      {{1, 64, 57, 43}, {1, 64, 57, 43}},
      {{1, 64, 57, 43}, {1, 64, 1, 1}},
  };
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    const bool div = std::string(op) == "Div";
    // Operands in ±[0.5, 2) keep Div away from zero denominators (and test signs).
    auto operand = [&](const shape_t& s) {
      tensor t = random_tensor(rng(), s, 0.5f, 2.0f);
      std::bernoulli_distribution neg(0.5);
      for (int64_t i = 0; i < t.size(); ++i)
        if (neg(rng())) t.data<float>()[i] = -t.data<float>()[i];
      return t;
    };
    for (const auto& pc : shapes) {
      for (int order = 0; order < 2; ++order) {
        const shape_t& sa = order ? pc.b : pc.a;
        const shape_t& sb = order ? pc.a : pc.b;
        tensor a = div ? operand(sa) : random_tensor(rng(), sa, -4.0f, 4.0f);
        tensor bt = div ? operand(sb) : random_tensor(rng(), sb, -4.0f, 4.0f);
        const std::string what = std::string(op) + " " + shape_str(sa) + " with " + shape_str(sb);
        // Both operands at run time.
        {
          model_builder b;
          b.input("a", sa).input("b", sb).add_node(op, {"a", "b"}, {"y"}).output("y");
          expect_same(what + " (runtime, runtime)", b.build(), {{"a", a}, {"b", bt}}, tol::ulps(4));
        }
        // The smaller operand a constant initialiser (the usual form in models).
        const bool b_smaller = numel(sb) <= numel(sa);
        {
          model_builder b;
          if (b_smaller) {
            b.input("a", sa).initializer("b", bt).add_node(op, {"a", "b"}, {"y"}).output("y");
            expect_same(what + " (runtime, constant)", b.build(), {{"a", a}}, tol::ulps(4));
          } else {
            b.initializer("a", a).input("b", sb).add_node(op, {"a", "b"}, {"y"}).output("y");
            expect_same(what + " (constant, runtime)", b.build(), {{"b", bt}}, tol::ulps(4));
          }
        }
      }
    }
    // The same tensor on both sides.
    model_builder b;
    b.input("a", {1, 16, 7, 5}).add_node(op, {"a", "a"}, {"y"}).output("y");
    expect_same(std::string(op) + " x with itself", b.build(), {{"a", operand({1, 16, 7, 5})}}, tol::ulps(4));
  }
}

// ---------------------------------------------------------------- Resize / Upsample

struct resize_cfg {
  std::string mode = "nearest";
  std::string coord = "half_pixel";
  std::string nearest = "round_prefer_floor";
  shape_t x = {1, 3, 7, 5};
  std::vector<float> scales;   // 4 values, or empty
  std::vector<int64_t> sizes;  // 4 values, or empty
  std::string str() const {
    std::ostringstream o;
    o << "Resize " << mode << " " << coord << (mode == "nearest" ? " " + nearest : "") << " x" << shape_str(x);
    if (!scales.empty()) o << " scales[" << scales[2] << "," << scales[3] << "]";
    if (!sizes.empty()) o << " sizes" << shape_str(sizes);
    return o.str();
  }
};

void check_resize(const resize_cfg& r, int64_t opset = 13) {
  model_builder b(opset);
  b.input("x", r.x);
  std::vector<std::string> ins = {"x", "", ""};
  if (!r.scales.empty()) {
    b.initializer("scales", tensor::from_f32({4}, r.scales));
    ins[2] = "scales";
  } else {
    b.initializer("sizes", tensor::from_i64({4}, r.sizes));
    ins.push_back("sizes");
  }
  std::map<std::string, attribute> a = {{"mode", attr_string(r.mode)},
                                        {"coordinate_transformation_mode", attr_string(r.coord)}};
  if (r.mode == "nearest") a["nearest_mode"] = attr_string(r.nearest);
  b.add_node("Resize", ins, {"y"}, a, "resize0").output("y");
  std::vector<named_tensor> in = {{"x", random_tensor(rng(), r.x)}};
  expect_same(r.str(), b.build(), in,
              r.mode == "nearest" ? tol::exact() : tol::accumulated(4, interpolation_floor(in[0].t)));
}

TEST(fast_vs_ref_resize, every_mode_and_coordinate_transform) {
  // Sizes chosen so that no nearest source coordinate is a tie (k + 0.5) computed
  // inexactly, where two correct implementations (float vs double arithmetic) could
  // round differently: half_pixel 7 -> 11 would need (2i+1)*7 = 22(k+1) (odd = even),
  // align_corners 7 -> 11 would need 6i = 10k + 5 (even = odd), asymmetric 5 -> 3 would
  // need 10i = 3(2k+1); the ties that do occur (x2, x0.5, 8 -> 5) come from scales that
  // are exact binary fractions, so every implementation computes them exactly.
  struct target {
    std::vector<float> scales;
    std::vector<int64_t> sizes;
  };
  const std::vector<std::pair<shape_t, std::vector<target>>> cases = {
      {{1, 3, 7, 5},
       {{{1, 1, 2, 2}, {}},        // up x2
        {{1, 1, 2, 3}, {}},        // up, different per axis
        {{1, 1, 0.5f, 0.5f}, {}},  // down x2 (7 -> 3, 5 -> 2)
        {{}, {1, 3, 11, 13}},      // up to odd sizes
        {{}, {1, 3, 3, 3}},        // down to odd sizes
        {{}, {1, 3, 1, 1}}}},      // down to 1x1
      {{2, 16, 8, 8}, {{{1, 1, 2, 2}, {}}, {{}, {2, 16, 5, 3}}}},
      {{1, 1, 1, 1}, {{{1, 1, 4, 4}, {}}}},  // 1x1 up
  };
  const std::vector<std::string> coords = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"};
  for (const auto& [xs, targets] : cases)
    for (const auto& t : targets) {
      for (const auto& coord : coords) {
        resize_cfg r;
        r.x = xs;
        r.scales = t.scales;
        r.sizes = t.sizes;
        r.coord = coord;
        r.mode = "linear";
        check_resize(r);
        r.mode = "nearest";
        for (const char* nm : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
          r.nearest = nm;
          check_resize(r);
        }
      }
      if (HasFatalFailure()) return;
    }
}

// tf_half_pixel_for_nn (nearest only; Resize-11, dropped from Resize-13), spelt as ONNX does.
TEST(fast_vs_ref_resize, tf_half_pixel_for_nn_opset11) {
  const std::vector<std::pair<std::vector<float>, std::vector<int64_t>>> targets = {
      {{1, 1, 2, 2}, {}}, {{1, 1, 0.5f, 0.5f}, {}}, {{}, {1, 3, 11, 13}}, {{}, {1, 3, 3, 3}}};
  for (const auto& [scales, sizes] : targets) {
    resize_cfg r;
    r.x = {1, 3, 7, 5};
    r.scales = scales;
    r.sizes = sizes;
    r.coord = "tf_half_pixel_for_nn";
    for (const char* nm : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
      r.nearest = nm;
      check_resize(r, 11);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(fast_vs_ref_resize, large_bilinear_up_and_down) {
  for (const auto& sizes : {std::vector<int64_t>{1, 64, 113, 87}, std::vector<int64_t>{1, 64, 29, 21}}) {
    resize_cfg r;
    r.x = {1, 64, 57, 43};
    r.sizes = sizes;
    r.mode = "linear";
    check_resize(r);
    r.coord = "align_corners";
    check_resize(r);
  }
}

TEST(fast_vs_ref_resize, upsample_opset9) {
  for (const char* mode : {"nearest", "linear"})
    for (const auto& sc : {std::vector<float>{1, 1, 2, 2}, std::vector<float>{1, 1, 2, 3}}) {
      model_builder b(9);
      b.input("x", {1, 5, 7, 6});
      b.initializer("scales", tensor::from_f32({4}, sc));
      b.add_node("Upsample", {"x", "scales"}, {"y"}, {{"mode", attr_string(mode)}}, "up0").output("y");
      std::vector<named_tensor> in = {{"x", random_tensor(rng(), {1, 5, 7, 6})}};
      expect_same(std::string("Upsample ") + mode + " scales " + std::to_string(sc[2]) + "," + std::to_string(sc[3]),
                  b.build(), in,
                  std::string(mode) == "nearest" ? tol::exact() : tol::accumulated(4, interpolation_floor(in[0].t)));
    }
}

// ---------------------------------------------------------------- Concat

TEST(fast_vs_ref_concat, axis1_mixed_channel_counts) {
  for (int64_t axis : {1, -3}) {
    model_builder b;
    b.input("a", {1, 3, 9, 7}).input("b", {1, 16, 9, 7}).input("c", {1, 5, 9, 7});
    b.initializer("k", random_tensor(rng(), {1, 2, 9, 7}));
    b.add_node("Concat", {"a", "b", "k", "c"}, {"y"}, {{"axis", attr_int(axis)}}).output("y");
    std::vector<named_tensor> in = {{"a", random_tensor(rng(), {1, 3, 9, 7})},
                                    {"b", random_tensor(rng(), {1, 16, 9, 7})},
                                    {"c", random_tensor(rng(), {1, 5, 9, 7})}};
    expect_same("Concat axis " + std::to_string(axis), b.build(), in, tol::exact());
  }
  // Batch 2 (in-place concat along channels is strided per image).
  model_builder b;
  b.input("a", {2, 17, 4, 5}).input("b", {2, 32, 4, 5});
  b.add_node("Concat", {"a", "b"}, {"y"}, {{"axis", attr_int(1)}}).output("y");
  expect_same("Concat batch 2", b.build(),
              {{"a", random_tensor(rng(), {2, 17, 4, 5})}, {"b", random_tensor(rng(), {2, 32, 4, 5})}}, tol::exact());
}

// Producers writing straight into the concat output (in-place concat), with one
// concat input also read by a later op, and the same value concatenated twice.
TEST(fast_vs_ref_concat, in_place_with_other_readers) {
  model_builder b;
  b.input("x", {1, 8, 11, 9});
  b.initializer("W1", random_tensor(rng(), {16, 8, 3, 3}, -0.5f, 0.5f));
  b.initializer("W2", random_tensor(rng(), {5, 8, 1, 1}, -0.5f, 0.5f));
  b.initializer("W3", random_tensor(rng(), {4, 8 + 16 + 5 + 5, 3, 3}, -0.5f, 0.5f));
  b.add_node("Conv", {"x", "W1"}, {"c1"}, {{"pads", attr_ints({1, 1, 1, 1})}}, "conv1");
  b.add_node("Relu", {"c1"}, {"r1"}, {}, "relu1");
  b.add_node("Conv", {"x", "W2"}, {"c2"}, {}, "conv2");
  b.add_node("Concat", {"x", "r1", "c2", "c2"}, {"cat"}, {{"axis", attr_int(1)}}, "cat");
  b.add_node("Conv", {"cat", "W3"}, {"c3"}, {{"pads", attr_ints({1, 1, 1, 1})}}, "conv3");
  b.add_node("Sigmoid", {"c2"}, {"s2"}, {}, "sig2");  // reads a concat input after the concat
  b.add_node("Mul", {"r1", "r1"}, {"sq"}, {}, "square");
  b.output("c3").output("s2").output("sq").output("cat");
  std::vector<named_tensor> in = {{"x", random_tensor(rng(), {1, 8, 11, 9})}};
  expect_same("conv/concat graph", b.build(), in, tol::scaled(1e-3));
}

// ---------------------------------------------------------------- graphs and sessions

// A small U-Net-like block: conv-bn-relu, maxpool, conv, upsample, concat skip, conv,
// sigmoid. Exercises liveness-based buffer reuse and aliases (Reshape, Identity).
std::shared_ptr<model> unet_block(int64_t c) {
  model_builder b(13);
  b.input("x", {1, 3, -1, -1});
  auto w = [&](const std::string& name, shape_t s) { b.initializer(name, random_tensor(rng(), s, -0.4f, 0.4f)); };
  w("W1", {c, 3, 3, 3});
  w("B1", {c});
  b.initializer("g", random_tensor(rng(), {c}, 0.5f, 1.5f));
  b.initializer("be", random_tensor(rng(), {c}, -0.2f, 0.2f));
  b.initializer("mu", random_tensor(rng(), {c}, -0.2f, 0.2f));
  b.initializer("va", random_tensor(rng(), {c}, 0.5f, 1.5f));
  w("W2", {2 * c, c, 3, 3});
  w("W3", {c, 3 * c, 3, 3});
  w("W4", {1, c, 1, 1});
  b.initializer("scales", tensor::from_f32({4}, {1, 1, 2, 2}));
  b.add_node("Conv", {"x", "W1", "B1"}, {"c1"}, {{"pads", attr_ints({1, 1, 1, 1})}}, "enc_conv");
  b.add_node("BatchNormalization", {"c1", "g", "be", "mu", "va"}, {"bn1"}, {}, "enc_bn");
  b.add_node("Relu", {"bn1"}, {"e1"}, {}, "enc_relu");
  b.add_node("MaxPool", {"e1"}, {"p1"}, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}, "pool");
  b.add_node("Conv", {"p1", "W2"}, {"c2"}, {{"pads", attr_ints({1, 1, 1, 1})}}, "mid_conv");
  b.add_node("Relu", {"c2"}, {"m2"}, {}, "mid_relu");
  b.add_node("Identity", {"m2"}, {"m2i"}, {}, "ident");
  b.add_node("Resize", {"m2i", "", "scales"}, {"u2"}, {{"mode", attr_string("linear")}}, "up");
  b.add_node("Concat", {"u2", "e1"}, {"cat"}, {{"axis", attr_int(1)}}, "skip_cat");
  b.add_node("Conv", {"cat", "W3"}, {"c3"}, {{"pads", attr_ints({1, 1, 1, 1})}}, "dec_conv");
  b.add_node("Relu", {"c3"}, {"d3"}, {}, "dec_relu");
  b.add_node("Conv", {"d3", "W4"}, {"c4"}, {}, "head");
  b.add_node("Sigmoid", {"c4"}, {"mask"}, {}, "sig");
  b.output("mask");
  return b.build();
}

TEST(fast_vs_ref_graph, unet_block) {
  auto m = unet_block(16);
  for (shape_t s : {shape_t{1, 3, 32, 24}, shape_t{1, 3, 18, 30}}) {
    std::vector<named_tensor> in = {{"x", random_tensor(rng(), s)}};
    expect_same("unet block " + shape_str(s), m, in, tol::scaled(1e-3), all_fast_variants());
  }
}

// One session, several input sizes: plans are cached per shape and must not mix.
TEST(fast_vs_ref_graph, one_session_many_shapes) {
  auto m = unet_block(8);
  auto fast = session::create(m, opts(backend_kind::onednn));
  ASSERT_TRUE(fast.ok()) << fast.err().to_string();
  const std::vector<shape_t> shapes = {{1, 3, 16, 16}, {1, 3, 24, 10}, {1, 3, 16, 16}, {1, 3, 2, 2}, {1, 3, 24, 10}};
  for (const auto& s : shapes) {
    SCOPED_TRACE("input " + shape_str(s));
    tensor x = random_tensor(rng(), s);
    auto got = (*fast)->run({{"x", x}});
    ASSERT_TRUE(got.ok()) << got.err().to_string();
    auto want = run_once(m, opts(backend_kind::reference), {{"x", x}});
    ASSERT_TRUE(want.ok()) << want.err().to_string();
    ASSERT_EQ((*got)[0].t.shape, (shape_t{1, 1, s[2], s[3]}));
    const auto wv = values_f64((*want)[0].t);
    // Sigmoid output in (0, 1): scaled(1e-3) of max|ref| (see the top comment).
    std::vector<double> bound(wv.size(), 1e-3);
    std::string d = compare_bounded((*want)[0].t, (*got)[0].t, bound);
    EXPECT_TRUE(d.empty()) << d;
  }
}

// Running the same session twice on the same input gives the same bytes (no state
// leaks between runs: scratch, arena and widened weights are reused correctly).
TEST(fast_vs_ref_graph, repeat_runs_are_identical) {
  auto m = unet_block(8);
  for (weights_mode wm : {weights_mode::streamed, weights_mode::resident})
    for (backend_kind bk : {backend_kind::onednn, backend_kind::reference}) {
      auto s = session::create(m, opts(bk, wm));
      ASSERT_TRUE(s.ok()) << s.err().to_string();
      tensor x = random_tensor(rng(), {1, 3, 20, 12});
      auto a = (*s)->run({{"x", x}});
      auto b = (*s)->run({{"x", x}});
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_EQ((*a)[0].t.bytes, (*b)[0].t.bytes) << backend_label(bk);
    }
}

// ---------------------------------------------------------------- PRelu, Transpose, Pad

// PRelu is one multiply where x < 0 (a copy elsewhere), correctly rounded in both
// executors: exact. Slopes per channel (the FaceMesh case, on nChw16c when C % 16 == 0),
// scalar, per element, along the last axis; constant and runtime slopes.
TEST(fast_vs_ref_prelu, slopes) {
  struct prelu_case {
    shape_t x, slope;
  };
  for (const prelu_case& pc : std::vector<prelu_case>{{{1, 16, 9, 7}, {16, 1, 1}},
                                                      {{1, 32, 24, 24}, {32, 1, 1}},
                                                      {{1, 17, 5, 6}, {17, 1, 1}},
                                                      {{2, 3, 4, 5}, {1}},
                                                      {{1, 16, 4, 5}, {1, 16, 4, 5}},
                                                      {{1, 16, 4, 5}, {5}},
                                                      {{3, 7}, {7}},
                                                      {{1, 1, 1, 1}, {1, 1, 1}}}) {
    for (bool runtime_slope : {false, true}) {
      model_builder b;
      b.input("x", pc.x);
      tensor slope = random_tensor(rng(), pc.slope, -0.5f, 1.5f);
      std::vector<named_tensor> in = {{"x", random_tensor(rng(), pc.x, -3.0f, 3.0f)}};
      if (runtime_slope) {
        b.input("s", pc.slope);
        in.push_back({"s", slope});
      } else {
        b.initializer("s", slope);
      }
      b.add_node("PRelu", {"x", "s"}, {"y"}).output("y");
      expect_same("PRelu x" + shape_str(pc.x) + " slope" + shape_str(pc.slope) + (runtime_slope ? " runtime" : ""),
                  b.build(), in, tol::exact());
    }
  }
}

// A slope that broadcasts only the other way (it would grow X) is refused at plan time.
TEST(fast_vs_ref_prelu, slope_larger_than_x_is_refused) {
  model_builder b;
  b.input("x", {1, 1, 4, 4}).initializer("s", random_tensor(rng(), {1, 3, 4, 4}));
  b.add_node("PRelu", {"x", "s"}, {"y"}).output("y");
  for (backend_kind bk : {backend_kind::onednn, backend_kind::reference}) {
    auto r = run_once(b.build(), opts(bk), {{"x", random_tensor(rng(), {1, 1, 4, 4})}});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, idphoto::base::errc::invalid_argument) << r.err().to_string();
  }
}

// Every permutation of a 4-D tensor (dense input), a blocked (nChw16c) input, and ranks
// 2, 3 and 5. A transpose only moves values: exact.
TEST(fast_vs_ref_transpose, permutations_and_ranks) {
  std::vector<int64_t> perm = {0, 1, 2, 3};
  do {
    model_builder b;
    b.input("x", {2, 3, 4, 5}).add_node("Transpose", {"x"}, {"y"}, {{"perm", attr_ints(perm)}}).output("y");
    expect_same("Transpose [2,3,4,5] perm " + shape_str(perm), b.build(), {{"x", random_tensor(rng(), {2, 3, 4, 5})}},
                tol::exact());
  } while (std::next_permutation(perm.begin(), perm.end()));
  struct tr_case {
    shape_t x;
    std::vector<int64_t> perm;  // empty: the default (reverse)
  };
  for (const tr_case& tc : std::vector<tr_case>{{{1, 16, 9, 7}, {0, 2, 3, 1}},
                                                {{1, 32, 8, 8}, {0, 3, 1, 2}},
                                                {{1, 128, 128, 3}, {0, 3, 1, 2}},
                                                {{5, 7}, {}},
                                                {{3, 1, 4}, {2, 0, 1}},
                                                {{2, 3, 1, 4, 5}, {4, 2, 0, 3, 1}},
                                                {{1, 1, 1, 1}, {3, 2, 1, 0}}}) {
    model_builder b;
    std::map<std::string, attribute> a;
    if (!tc.perm.empty()) a["perm"] = attr_ints(tc.perm);
    b.input("x", tc.x).add_node("Transpose", {"x"}, {"y"}, a).output("y");
    expect_same("Transpose " + shape_str(tc.x) + " perm " + shape_str(tc.perm), b.build(),
                {{"x", random_tensor(rng(), tc.x)}}, tol::exact());
  }
  // Transpose after a conv (its input is an internal blocked value), then Reshape, as
  // BlazeFace's heads do.
  model_builder b;
  b.input("x", {1, 16, 8, 8});
  b.initializer("W", random_tensor(rng(), {32, 16, 1, 1}, -0.5f, 0.5f));
  b.initializer("shape", tensor::from_i64({3}, {1, 1024, 2}));
  b.add_node("Conv", {"x", "W"}, {"c"}, {{"kernel_shape", attr_ints({1, 1})}});
  b.add_node("Transpose", {"c"}, {"t"}, {{"perm", attr_ints({0, 2, 3, 1})}});
  b.add_node("Reshape", {"t", "shape"}, {"y"}).output("y");
  expect_same("Conv -> Transpose -> Reshape", b.build(), {{"x", random_tensor(rng(), {1, 16, 8, 8})}},
              tol::accumulated(16 + 1));
}

// Pad: constant (zero and non-zero value, channel and spatial, on dense and blocked
// values, a channel begin that is and is not a multiple of 16), edge, reflect, crops,
// ranks 2, 3 and 4. Pad only moves and fills values: exact.
TEST(fast_vs_ref_pad, modes_and_layouts) {
  struct pad_case {
    shape_t x;
    std::vector<int64_t> pads;
    const char* mode;
    float value;
  };
  const std::vector<pad_case> cases = {
      {{1, 32, 6, 6}, {0, 0, 0, 0, 0, 32, 0, 0}, "constant", 0.f},  // FaceMesh: channels 32 -> 64
      {{1, 16, 6, 5}, {0, 16, 0, 0, 0, 0, 0, 0}, "constant", 0.f},  // channel begin on a block
      {{1, 16, 6, 5}, {0, 3, 0, 0, 0, 13, 0, 0}, "constant", 0.f},  // channel begin off a block
      {{1, 24, 6, 6}, {0, 0, 0, 0, 0, 8, 0, 0}, "constant", 0.f},   // dense in, blocked out
      {{1, 3, 7, 5}, {0, 0, 1, 2, 0, 0, 3, 0}, "constant", 1.5f},   // spatial, non-zero value
      {{2, 16, 4, 4}, {0, 0, 2, 2, 0, 0, 2, 2}, "constant", -2.f},  // batch 2, blocked
      {{1, 3, 7, 5}, {0, 0, 2, 1, 0, 0, 1, 3}, "edge", 0.f},
      {{1, 3, 7, 5}, {0, 0, 2, 1, 0, 0, 1, 3}, "reflect", 0.f},
      {{1, 2, 1, 4}, {0, 0, 2, 0, 0, 0, 3, 0}, "edge", 0.f},         // edge of a length-1 dim
      {{1, 16, 6, 6}, {0, 0, -1, 0, 0, 0, 0, -2}, "constant", 0.f},  // crop
      {{1, 16, 6, 6}, {0, 0, -1, 2, 0, 0, 1, -2}, "constant", 3.f},  // crop and pad
      {{3, 2}, {0, 2, 0, 0}, "reflect", 0.f},                        // the ONNX reflect example's shape
      {{2, 3, 4}, {1, 0, 2, 0, 1, 1}, "constant", 0.5f},
  };
  for (const pad_case& pc : cases) {
    model_builder b(13);
    b.input("x", pc.x);
    b.initializer("pads", tensor::from_i64({static_cast<int64_t>(pc.pads.size())}, pc.pads));
    std::vector<std::string> ins = {"x", "pads"};
    if (pc.value != 0.f) {
      b.initializer("value", tensor::from_f32({}, {pc.value}));
      ins.push_back("value");
    }
    b.add_node("Pad", ins, {"y"}, {{"mode", attr_string(pc.mode)}}).output("y");
    expect_same(std::string("Pad ") + pc.mode + " x" + shape_str(pc.x) + " pads " + shape_str(pc.pads), b.build(),
                {{"x", random_tensor(rng(), pc.x)}}, tol::exact());
  }
  // Opset 2 (pads and value as attributes).
  model_builder b(2);
  b.input("x", {1, 3, 4, 4});
  b.add_node(
      "Pad", {"x"}, {"y"},
      {{"pads", attr_ints({0, 0, 1, 1, 0, 0, 1, 1})}, {"value", attr_float(0.25f)}, {"mode", attr_string("constant")}});
  b.output("y");
  expect_same("Pad opset 2", b.build(), {{"x", random_tensor(rng(), {1, 3, 4, 4})}}, tol::exact());
}

// The reference kernel on the ONNX operator documentation's examples (hand-checked).
TEST(reference_pad, onnx_operator_examples) {
  const tensor x = tensor::from_f32({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});
  struct ex {
    const char* mode;
    std::vector<float> want;  // [3, 4]
  };
  for (const ex& e : {ex{"constant", {0, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f}},
                      ex{"reflect", {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f}},
                      ex{"edge", {1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f}}}) {
    model_builder b(13);
    b.input("x", {3, 2}).initializer("pads", tensor::from_i64({4}, {0, 2, 0, 0}));
    b.add_node("Pad", {"x", "pads"}, {"y"}, {{"mode", attr_string(e.mode)}}).output("y");
    for (backend_kind bk : {backend_kind::reference, backend_kind::onednn}) {
      auto r = run_once(b.build(), opts(bk), {{"x", x}});
      ASSERT_TRUE(r.ok()) << r.err().to_string();
      EXPECT_EQ(compare_exact(tensor::from_f32({3, 4}, e.want), (*r)[0].t), "") << e.mode << " " << backend_label(bk);
    }
  }
}

// BlazeFace pads channels with Concat(x, ConstantOfShape(shape)): the constant is folded at
// plan time and concatenated with a runtime value.
TEST(fast_vs_ref_concat, with_constant_of_shape) {
  model_builder b(12);
  b.input("x", {1, 24, 8, 8});
  b.initializer("shape", tensor::from_i64({4}, {1, 4, 8, 8}));
  b.add_node("ConstantOfShape", {"shape"}, {"zeros"}, {{"value", attr_tensor(tensor::from_f32({1}, {0.f}))}});
  b.add_node("Concat", {"x", "zeros"}, {"y"}, {{"axis", attr_int(1)}}).output("y");
  expect_same("Concat(x, ConstantOfShape)", b.build(), {{"x", random_tensor(rng(), {1, 24, 8, 8})}}, tol::exact());
}

}  // namespace

// Streamed fp16 weights over max_layer_weight_bytes: the conv runs in output-channel parts
// written straight into its nChw16c output (lower_conv.cpp, lower_conv_chunked). Two
// convs so the first one's output is an internal (blocked) value. The parts must give the
// reference's answer, and the packing buffer must shrink (the parts really ran).
// Whether oneDNN, on this machine, packs the weights of the test's first conv (32 -> 80
// channels, 3x3, 11x9) OIhw16i16o, the layout streaming in parts needs.
bool first_conv_packs_16i16o() {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  const dnnl::memory::desc x({1, 32, 11, 9}, dt::f32, tag::any), w({80, 32, 3, 3}, dt::f32, tag::any),
      b({80}, dt::f32, tag::x), y({1, 80, 11, 9}, dt::f32, tag::any);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, x, w, b, y,
                                    {1, 1}, {0, 0}, {1, 1}, {1, 1});
  dnnl::convolution_forward::primitive_desc pd(d, eng);
  return onednn::is_oihw16i16o(pd.weights_desc());
}

TEST(fast_vs_ref_conv, streamed_weights_in_output_channel_parts) {
  model_builder b;
  b.input("x", {1, 32, 11, 9});
  b.initializer("W1", to_f16_tensor(random_tensor(rng(), {80, 32, 3, 3}, -0.5f, 0.5f)));
  b.initializer("B1", to_f16_tensor(random_tensor(rng(), {80}, -0.5f, 0.5f)));
  b.initializer("W2", to_f16_tensor(random_tensor(rng(), {16, 80, 3, 3}, -0.5f, 0.5f)));
  b.initializer("B2", to_f16_tensor(random_tensor(rng(), {16}, -0.5f, 0.5f)));
  std::map<std::string, attribute> a = {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}};
  b.add_node("Conv", {"x", "W1", "B1"}, {"c1"}, a, "conv1");
  b.add_node("Relu", {"c1"}, {"r1"}, {}, "relu1");
  b.add_node("Conv", {"r1", "W2", "B2"}, {"y"}, a, "conv2");
  b.output("y");
  auto m = b.build();
  std::vector<named_tensor> in = {{"x", random_tensor(rng(), {1, 32, 11, 9})}};

  std::vector<session_options> fast;
  for (int64_t cap : {int64_t{1} << 30, int64_t{16 * 32 * 9 * 4}, int64_t{32 * 32 * 9 * 4}, int64_t{1}}) {
    session_options o = opts(backend_kind::onednn);
    o.max_layer_weight_bytes = cap;
    fast.push_back(o);
  }
  expect_same("two f16 convs, weights in parts", m, in, tol::accumulated(80 * 9 + 1), fast,
              {opts(backend_kind::reference)});

  auto scratch_with = [&](int64_t cap) -> int64_t {
    session_options o = opts(backend_kind::onednn);
    o.max_layer_weight_bytes = cap;
    auto s = session::create(m, o);
    EXPECT_TRUE(s.ok());
    if (!s.ok()) return -1;
    auto r = (*s)->run(in);
    EXPECT_TRUE(r.ok());
    return (*s)->last_stats().scratch_bytes;
  };
  const int64_t whole = scratch_with(int64_t{1} << 30), parts = scratch_with(16 * 32 * 9 * 4);
  EXPECT_GE(whole, 80 * 32 * 9 * 4) << "one packing buffer for the whole first layer";
  // Weights go in parts only where oneDNN packs this conv's weights OIhw16i16o (AVX-512); on an
  // AVX2 machine it picks 8i8o blocks, the layer is packed whole and both runs need one buffer.
  if (first_conv_packs_16i16o()) EXPECT_LT(parts, whole) << "parts of 16 output channels need a smaller packing buffer";
  else EXPECT_EQ(parts, whole) << "no parts on this ISA: the same buffer";
}

// Conv steps on oneDNN: the primitive choice (never the naive "ref" kernel when another
// exists), weights widened and packed per layer or once, wide layers run in channel parts.
#include <algorithm>

#include "infer/executor_onednn.hpp"
#include "infer/onednn_weights.hpp"

namespace idphoto::infer::onednn {

using base::errc;

/*
 * Convolution. The activations keep the layouts chosen above; the weights are
 * declared format_tag::any so the primitive picks its own blocked weights
 * layout, and we pack to it. oneDNN 2.6 has no JIT kernel for some shapes in
 * nChw16c (a dilation so large that the taps reach past a small feature map
 * falls to the naive "ref" kernel, ~1000x slower), so we try in order:
 * (our src, our dst), (our src, any dst), (any, any), (nchw, nchw, i.e. gemm),
 * and take the first that is not "ref", adding reorders where its choice
 * differs from ours. Bias and a following ReLU are fused (post-op).
 *
 * Weights: resident mode widens and packs every layer once here. Streamed
 * mode keeps the fp16 initialiser and packs it just before the layer runs
 * into one scratch buffer sized for the largest layer, so weights cost 2 bytes
 * per parameter plus one layer. The common packed layout (OIhw16i16o) is
 * written straight from fp16 in one pass (onednn_weights.cpp); any other is
 * widened into a second, plain scratch buffer and packed by a oneDNN reorder.
 *
 * The planner checked the rest: weights and bias are float constants of the
 * right element counts, the channels divide by the group, the params match the
 * value shapes.
 */
base::result<void> onednn_executor::lower_conv(int i) {
  const step& st = p_->steps[i];
  const auto& cp = std::get<conv_params>(st.params);
  const int x = st.inputs[0], w = st.inputs[1];
  const int b = st.inputs.size() > 2 ? st.inputs[2] : -1;
  const int y = st.output;
  const tensor& wt = *val(w).constant;
  const int64_t g = cp.group;
  const shape_t xs{cp.n, cp.c_in, cp.h_in, cp.w_in}, ys{cp.n, cp.c_out, cp.h_out, cp.w_out};
  const int64_t w_count = cp.c_out * (cp.c_in / g) * cp.kh * cp.kw;

  const memory::dims w_dims =
      g == 1 ? memory::dims{cp.c_out, cp.c_in, cp.kh, cp.kw} : memory::dims{g, cp.c_out / g, cp.c_in / g, cp.kh, cp.kw};
  const memory::desc w_plain(w_dims, dt::f32, g == 1 ? tag::oihw : tag::goihw);
  const memory::desc w_any(w_dims, dt::f32, tag::any);
  const memory::desc b_md({cp.c_out}, dt::f32, tag::x);
  const memory::dims strides{cp.stride_h, cp.stride_w}, dil{cp.dil_h - 1, cp.dil_w - 1};
  const memory::dims pad_l{cp.pad_t, cp.pad_l}, pad_r{cp.pad_b, cp.pad_r};
  dnnl::primitive_attr attr = base_attr();
  if (cp.fuse_relu) {
    dnnl::post_ops po;
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(po);
  }

  const memory::desc any_x(dims_of(xs), dt::f32, tag::any), any_y(dims_of(ys), dt::f32, tag::any);
  const std::pair<memory::desc, memory::desc> candidates[] = {
      {vdesc(x), vdesc(y)}, {vdesc(x), any_y}, {any_x, any_y}, {plain_desc(xs), plain_desc(ys)}};
  dnnl::convolution_forward::primitive_desc pd, fallback;
  std::string last_err;
  for (const auto& [sx, sy] : candidates) {
    try {
      auto d =
          b >= 0
              ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                                sx, w_any, b_md, sy, strides, dil, pad_l, pad_r)
              : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                                sx, w_any, sy, strides, dil, pad_l, pad_r);
      dnnl::convolution_forward::primitive_desc c(d, attr, eng_);
      if (!is_ref_impl(c)) {
        pd = c;
        break;
      }
      if (!fallback) fallback = c;
    } catch (const dnnl::error& e) {
      last_err = dnnl_what(e);
    }
  }
  if (!pd) pd = fallback;
  if (!pd) return step_error(st, errc::unsupported, "oneDNN has no convolution for it: " + last_err);

  auto src = input_as(x, xs, pd.src_desc(), i);
  if (!src.ok()) return src.err();
  memory dst = vmem_[y];
  const bool dst_temp = !(pd.dst_desc() == vdesc(y));
  if (dst_temp) dst = temp_mem(pd.dst_desc(), i);

  // Weights and bias.
  const memory::desc w_packed = pd.weights_desc();
  const bool w_needs_pack = !(w_packed == w_plain);
  const uint16_t* w16 = wt.type == dtype::f16 ? wt.data<uint16_t>() : nullptr;
  if (opts_.weights == weights_mode::streamed && w16 && g == 1 && cp.n == 1 && !dst_temp &&
      static_cast<int64_t>(w_packed.get_size()) > opts_.max_layer_weight_bytes && is_oihw16i16o(w_packed) &&
      cp.c_out % 16 == 0 && vdesc(y) == memory::desc(dims_of(ys), dt::f32, tag::nChw16c)) {
    auto chunked = lower_conv_chunked(i, *src, pd, attr);
    if (!chunked.ok()) return chunked.err();
    if (*chunked) return {};
  }
  memory w_mem, b_mem;
  std::function<void()> prelude;
  const bool fused_pack = w16 && is_oihw16i16o(w_packed);
  if (fused_pack && opts_.weights == weights_mode::resident) {
    w_mem = memory(w_packed, eng_);
    pack_f16_oihw16i16o(w16, w_packed, static_cast<float*>(w_mem.get_data_handle()));
    owned_.push_back(w_mem);
    resident_bytes_ += static_cast<int64_t>(w_packed.get_size());
  } else if (fused_pack) {
    place packed_at;
    packed_at.where = weights_packed;
    weights_packed_bytes_ = std::max(weights_packed_bytes_, static_cast<int64_t>(w_packed.get_size()));
    w_mem = make_mem(w_packed, packed_at);
    prelude = [w16, w_packed, w_mem] {
      pack_f16_oihw16i16o(w16, w_packed, static_cast<float*>(w_mem.get_data_handle()));
    };
  } else if (opts_.weights == weights_mode::resident || !(w16 || w_needs_pack)) {
    w_mem = constant_mem(w, shape_t(w_dims.begin(), w_dims.end()), w_packed);
  } else {
    place plain_at;
    if (w16) {
      plain_at.where = weights_plain;
      weights_plain_bytes_ = std::max(weights_plain_bytes_, w_count * 4);
    } else {
      plain_at.where = fixed;
      plain_at.ptr = const_cast<std::byte*>(wt.raw());
    }
    memory plain = make_mem(w_plain, plain_at);
    w_mem = plain;
    dnnl::reorder pack;
    memory packed;
    if (w_needs_pack) {
      place packed_at;
      packed_at.where = weights_packed;
      weights_packed_bytes_ = std::max(weights_packed_bytes_, static_cast<int64_t>(w_packed.get_size()));
      packed = make_mem(w_packed, packed_at);
      w_mem = packed;
      pack = dnnl::reorder(plain, packed);
    }
    prelude = [this, w16, w_count, plain, packed, pack]() mutable {
      if (w16) {
        float* dstp = static_cast<float*>(plain.get_data_handle());
        constexpr int64_t chunk = 1 << 16;
        const int64_t n_chunks = (w_count + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < n_chunks; ++c) {
          const int64_t lo = c * chunk, n = std::min(chunk, w_count - lo);
          half_to_float_n(w16 + lo, dstp + lo, static_cast<size_t>(n));
        }
      }
      if (pack) pack.execute(stream_, plain, packed);
    };
  }
  if (b >= 0) {
    const tensor& bt = *val(b).constant;
    if (opts_.weights == weights_mode::resident || bt.type == dtype::f32) {
      b_mem = constant_mem(b, {cp.c_out}, b_md);
    } else {
      place at;
      at.where = bias_plain;
      bias_plain_bytes_ = std::max(bias_plain_bytes_, cp.c_out * 4);
      b_mem = make_mem(b_md, at);
      const uint16_t* b16 = bt.data<uint16_t>();
      const int64_t n = cp.c_out;
      auto before = std::move(prelude);
      prelude = [before, b16, n, b_mem] {
        if (before) before();
        half_to_float_n(b16, static_cast<float*>(b_mem.get_data_handle()), static_cast<size_t>(n));
      };
    }
  }

  args_map args{{DNNL_ARG_SRC, *src}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, dst}};
  if (b >= 0) args[DNNL_ARG_BIAS] = b_mem;
  op& conv = add_primitive(i, dnnl::convolution_forward(pd), pd, std::move(args));
  // Weights left in the mapped model file are paged in by the packing (or read in
  // place by the conv); drop those pages after the step so resident memory holds
  // about one layer's weights, not the model's.
  if (prelude) {
    const tensor* w_src = &wt;
    const tensor* b_src = b >= 0 ? val(b).constant : nullptr;
    conv.fn = [prelude, run = std::move(conv.fn), w_src, b_src] {
      prelude();
      run();
      release_pages(*w_src);
      if (b_src) release_pages(*b_src);
    };
    conv.impl += " +weights";
  }
  if (dst_temp) add_reorder(i, dst, vmem_[y]);
  return {};
}

/*
 * A streamed conv whose packed weights would exceed max_layer_weight_bytes runs
 * as several convs over slices of its output channels. In nChw16c with N = 1 a
 * slice of whole 16-channel blocks is one contiguous run of the output, so each
 * part writes straight into the layer's output; the input is read once per part.
 * The packing buffer then holds one part's weights, not the layer's: ISNet's
 * largest layer (512 x 1024 x 3 x 3, 18.9 MB packed) costs 4 MB instead. Each
 * part is one op (pack its weights, run it); the first also widens the bias, the
 * last drops the weights' pages. Returns false (and lowers nothing) when oneDNN
 * would not give every part the same source layout and the OIhw16i16o weights
 * the direct fp16 packing needs.
 */
base::result<bool> onednn_executor::lower_conv_chunked(int i, const memory& src,
                                                       const dnnl::convolution_forward::primitive_desc& pd,
                                                       const dnnl::primitive_attr& attr) {
  const step& st = p_->steps[i];
  const auto& cp = std::get<conv_params>(st.params);
  const int w = st.inputs[1], y = st.output;
  const int b = st.inputs.size() > 2 ? st.inputs[2] : -1;
  const int64_t per_oc = static_cast<int64_t>(pd.weights_desc().get_size()) / cp.c_out;
  const int64_t chunk_c = std::max<int64_t>(16, opts_.max_layer_weight_bytes / per_oc / 16 * 16);
  const memory::dims strides{cp.stride_h, cp.stride_w}, dil{cp.dil_h - 1, cp.dil_w - 1};
  const memory::dims pad_l{cp.pad_t, cp.pad_l}, pad_r{cp.pad_b, cp.pad_r};
  struct part {
    dnnl::convolution_forward::primitive_desc pd;
    int64_t c0 = 0, cc = 0;
  };
  std::vector<part> parts;
  for (int64_t c0 = 0; c0 < cp.c_out; c0 += chunk_c) {
    const int64_t cc = std::min(chunk_c, cp.c_out - c0);
    const memory::desc yd({cp.n, cc, cp.h_out, cp.w_out}, dt::f32, tag::nChw16c);
    const memory::desc wd({cc, cp.c_in, cp.kh, cp.kw}, dt::f32, tag::any);
    const memory::desc bd({cc}, dt::f32, tag::x);
    try {
      auto d =
          b >= 0
              ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                                pd.src_desc(), wd, bd, yd, strides, dil, pad_l, pad_r)
              : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                                pd.src_desc(), wd, yd, strides, dil, pad_l, pad_r);
      dnnl::convolution_forward::primitive_desc c(d, attr, eng_);
      if (is_ref_impl(c) || !(c.src_desc() == pd.src_desc()) || !(c.dst_desc() == yd) ||
          !is_oihw16i16o(c.weights_desc()))
        return false;
      parts.push_back({c, c0, cc});
    } catch (const dnnl::error&) {
      return false;
    }
  }

  const tensor& wt = *val(w).constant;
  const uint16_t* w16 = wt.data<uint16_t>();
  const int64_t per_oc_src = cp.c_in * cp.kh * cp.kw;  // fp16 values per output channel in OIHW
  const tensor* b_src = b >= 0 ? val(b).constant : nullptr;
  const uint16_t* b16 = b_src && b_src->type == dtype::f16 ? b_src->data<uint16_t>() : nullptr;
  if (b16) bias_plain_bytes_ = std::max(bias_plain_bytes_, cp.c_out * 4);
  memory b_all;
  if (b16) {
    place at;
    at.where = bias_plain;
    b_all = make_mem(memory::desc({cp.c_out}, dt::f32, tag::x), at);
  }
  const int64_t n_bias = cp.c_out;
  for (size_t k = 0; k < parts.size(); ++k) {
    const part& pt = parts[k];
    const memory::desc wd = pt.pd.weights_desc();
    place w_at;
    w_at.where = weights_packed;
    weights_packed_bytes_ = std::max(weights_packed_bytes_, static_cast<int64_t>(wd.get_size()));
    memory w_mem = make_mem(wd, w_at);
    place y_at;
    y_at.buf = vbuf_[root_[y]];
    y_at.offset = pt.c0 * cp.h_out * cp.w_out * 4;
    memory dst = make_mem(pt.pd.dst_desc(), y_at);
    args_map args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, dst}};
    if (b_src) {
      place b_at;
      if (b16) {
        b_at.where = bias_plain;
        b_at.offset = pt.c0 * 4;
      } else {
        b_at.where = fixed;
        b_at.ptr = const_cast<std::byte*>(b_src->raw()) + pt.c0 * 4;
      }
      args[DNNL_ARG_BIAS] = make_mem(memory::desc({pt.cc}, dt::f32, tag::x), b_at);
    }
    op& o = add_primitive(i, dnnl::convolution_forward(pt.pd), pt.pd, std::move(args));
    const uint16_t* part_w16 = w16 + pt.c0 * per_oc_src;
    const bool first = k == 0, last = k + 1 == parts.size();
    const uint16_t* widen_b16 = first ? b16 : nullptr;
    const tensor* release_w = last ? &wt : nullptr;
    const tensor* release_b = last ? b_src : nullptr;
    o.fn = [part_w16, wd, w_mem, run = std::move(o.fn), widen_b16, b_all, n_bias, release_w, release_b] {
      if (widen_b16)
        half_to_float_n(widen_b16, static_cast<float*>(b_all.get_data_handle()), static_cast<size_t>(n_bias));
      pack_f16_oihw16i16o(part_w16, wd, static_cast<float*>(w_mem.get_data_handle()));
      run();
      if (release_w) release_pages(*release_w);
      if (release_b) release_pages(*release_b);
    };
    o.impl += " +weights " + std::to_string(k + 1) + "/" + std::to_string(parts.size());
  }
  return true;
}

}  // namespace idphoto::infer::onednn

// The fast executor: runs a plan with oneDNN primitives created once per plan.
// This file builds it (the lowering loop) and runs it; the parts are in executor_onednn.hpp.
#include "infer/executor_onednn.hpp"

#include <omp.h>

#include <chrono>
#include <cstdio>

namespace idphoto::infer {

using base::errc;
using base::make_error;

namespace onednn {

base::result<void> onednn_executor::lower_step(int i) {
  const step& st = p_->steps[i];
  switch (st.kind) {
    case op_kind::conv:
      return lower_conv(i);
    case op_kind::max_pool:
    case op_kind::avg_pool:
      return lower_pool(i);
    case op_kind::global_avg_pool:
      return lower_global_avg_pool(i);
    case op_kind::relu:
    case op_kind::sigmoid:
    case op_kind::clip:
      return lower_eltwise(i);
    case op_kind::batch_norm:
      return lower_batch_norm(i);
    case op_kind::resize:
      return lower_resize(i);
    case op_kind::concat:
      return lower_concat(i);
    case op_kind::add:
    case op_kind::sub:
    case op_kind::mul:
    case op_kind::div:
      return lower_binary(i);
    case op_kind::prelu:
      return lower_prelu(i);
    case op_kind::transpose:
      return lower_transpose(i);
    case op_kind::pad:
      return lower_pad(i);
  }
  return step_error(st, errc::unsupported, "op not implemented by the oneDNN executor");
}

base::result<void> onednn_executor::build(const plan& p, const session_options& o) {
  p_ = &p;
  opts_ = o;
  profile_ = std::getenv("IDPHOTO_ONEDNN_PROFILE") != nullptr;
  if (o.n_threads > 0) omp_set_num_threads(o.n_threads);  // oneDNN sizes its work split at creation
  find_roots();
  choose_layouts();
  make_buffers();
  place_concats();

  vmem_.assign(p.values.size(), memory());
  for (size_t v = 0; v < p.values.size(); ++v) {
    if (p.values[v].kind == value_kind::constant) continue;
    place at;
    at.buf = vbuf_[root_[v]];
    vmem_[v] = make_mem(vdesc_[v], at);
  }
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const step& st = p.steps[i];
    try {
      IDPHOTO_TRY(lower_step(static_cast<int>(i)));
    } catch (const dnnl::error& e) {
      return step_error(st, errc::unsupported, "oneDNN: " + dnnl_what(e));
    } catch (const std::bad_variant_access&) {
      return step_error(st, errc::internal, "step params do not match its kind");
    }
  }
  for (int v : p.inputs) {
    const memory::desc ud = plain_desc(p.values[v].shape);
    in_user_desc_.push_back(ud);
    in_reorder_.push_back(dnnl::reorder(dnnl::reorder::primitive_desc(eng_, ud, eng_, vdesc_[v])));
  }
  for (int v : p.outputs) {
    if (p.values[v].kind == value_kind::constant) {
      out_user_desc_.emplace_back();
      out_reorder_.emplace_back();
      continue;
    }
    const memory::desc ud = plain_desc(p.values[v].shape);
    out_user_desc_.push_back(ud);
    out_reorder_.push_back(dnnl::reorder(dnnl::reorder::primitive_desc(eng_, vdesc_[v], eng_, ud)));
  }
  return finalize();
}

base::result<std::vector<tensor>> onednn_executor::run(const std::vector<const tensor*>& inputs) {
  const plan& p = *p_;
  if (inputs.size() != p.inputs.size())
    return make_error(errc::invalid_argument,
                      "expected " + std::to_string(p.inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  for (size_t k = 0; k < inputs.size(); ++k) {
    const value& v = p.values[p.inputs[k]];
    if (!inputs[k] || inputs[k]->type != dtype::f32 || inputs[k]->shape != v.shape ||
        inputs[k]->bytes.size() != static_cast<size_t>(numel(v.shape)) * 4)
      return make_error(errc::invalid_argument, "input '" + v.name + "' must be float32 " + shape_str(v.shape));
  }
  if (opts_.n_threads > 0) omp_set_num_threads(opts_.n_threads);
  std::vector<tensor> outs;
  try {
    for (size_t k = 0; k < inputs.size(); ++k) {
      memory user(in_user_desc_[k], eng_, const_cast<std::byte*>(inputs[k]->bytes.data()));
      in_reorder_[k].execute(stream_, user, vmem_[p.inputs[k]]);
    }
    if (!profile_) {
      for (const op& o : ops_) o.fn();
    } else {
      double total = 0;
      for (const op& o : ops_) {
        const auto t0 = std::chrono::steady_clock::now();
        o.fn();
        stream_.wait();
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        total += ms;
        const step& st = p.steps[o.step];
        std::fprintf(stderr, "onednn %4d %-10s %8.3f ms  %-28s %s %s\n", o.step, op_kind_name(st.kind), ms,
                     o.impl.c_str(), st.node.c_str(), shape_str(p.values[st.output].shape).c_str());
      }
      std::fprintf(stderr, "onednn total %.3f ms\n", total);
    }
    for (size_t k = 0; k < p.outputs.size(); ++k) {
      const value& v = p.values[p.outputs[k]];
      if (v.kind == value_kind::constant) {
        tensor t = to_f32(*v.constant);
        t.shape = v.shape;
        outs.push_back(std::move(t));
        continue;
      }
      tensor t = tensor::zeros(dtype::f32, v.shape);
      memory user(out_user_desc_[k], eng_, t.bytes.data());
      out_reorder_[k].execute(stream_, vmem_[p.outputs[k]], user);
      outs.push_back(std::move(t));
    }
    stream_.wait();
  } catch (const dnnl::error& e) {
    return make_error(errc::internal, "oneDNN execution failed: " + dnnl_what(e));
  } catch (const std::bad_alloc&) {
    return make_error(errc::too_large, "out of memory for the outputs");
  }
  return outs;
}

}  // namespace onednn

base::result<std::unique_ptr<executor>> make_onednn_executor(const plan& p, const session_options& o) {
  auto ex = std::make_unique<onednn::onednn_executor>();
  try {
    IDPHOTO_TRY(ex->build(p, o));
    // Resident packing read every mapped weight once; those pages are not needed again.
    for (const value& v : p.values)
      if (v.kind == value_kind::constant) release_pages(*v.constant);
  } catch (const dnnl::error& e) {
    return make_error(errc::internal, "oneDNN: " + onednn::dnnl_what(e));
  } catch (const std::bad_alloc&) {
    return make_error(errc::too_large, "out of memory while preparing the oneDNN executor");
  }
  return std::unique_ptr<executor>(std::move(ex));
}

}  // namespace idphoto::infer

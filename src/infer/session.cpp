// A session plans the model per distinct set of input shapes (cached) and runs
// the chosen executor. Threads apply to the oneDNN (OpenMP) path.
#include "infer/session.hpp"

#include <omp.h>

#include <chrono>

namespace idphoto::infer {

using base::errc;
using base::make_error;
using base::result;

result<std::unique_ptr<session>> session::create(std::shared_ptr<const model> m, session_options o) {
  if (!m) return make_error(errc::invalid_argument, "no model");
  if (o.n_threads < 0) return make_error(errc::invalid_argument, "n_threads must be >= 0");
  std::unique_ptr<session> s(new session());
  s->model_ = std::move(m);
  s->opts_ = std::move(o);
  if (s->opts_.n_threads > 0) omp_set_num_threads(s->opts_.n_threads);
  return s;
}

result<std::vector<named_tensor>> session::run(const std::vector<named_tensor>& inputs) {
  using clock = std::chrono::steady_clock;
  // Order inputs as the model declares them.
  std::vector<const tensor*> ordered;
  std::vector<shape_t> key;
  plan_request req;
  req.outputs = opts_.outputs;
  req.fuse_relu = opts_.fuse_relu;
  req.retarget_resize = opts_.retarget_resize;
  for (const auto& vi : model_->inputs) {
    const named_tensor* found = nullptr;
    for (const auto& nt : inputs)
      if (nt.name == vi.name) found = &nt;
    if (!found) return make_error(errc::invalid_argument, "input '" + vi.name + "' is missing");
    if (vi.type != dtype::f32 && vi.type != dtype::unknown)
      return make_error(errc::unsupported, "input '" + vi.name + "' is declared " + dtype_name(vi.type) +
                                               "; only float32 inputs are supported");
    if (found->t.type != dtype::f32)
      return make_error(errc::invalid_argument,
                        "input '" + vi.name + "' must be float32, got " + dtype_name(found->t.type));
    if (found->t.bytes.size() != static_cast<size_t>(numel(found->t.shape)) * 4)
      return make_error(errc::invalid_argument,
                        "input '" + vi.name + "' holds the wrong number of bytes for " + shape_str(found->t.shape));
    ordered.push_back(&found->t);
    key.push_back(found->t.shape);
    req.input_shapes.emplace_back(vi.name, found->t.shape);
  }
  for (const auto& nt : inputs)
    if (std::none_of(model_->inputs.begin(), model_->inputs.end(), [&](auto& vi) { return vi.name == nt.name; }))
      return make_error(errc::invalid_argument, "the model has no input named '" + nt.name + "'");

  stats_.plan_ms = 0;
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    const auto t0 = clock::now();
    auto p = make_plan(*model_, req);
    IDPHOTO_TRY(p);
    auto ex =
        opts_.backend == backend_kind::onednn ? make_onednn_executor(**p, opts_) : make_reference_executor(**p, opts_);
    IDPHOTO_TRY(ex);
    cached_plan cp;
    cp.p = std::move(*p);
    cp.ex = std::move(*ex);
    it = cache_.emplace(key, std::move(cp)).first;
    stats_.plan_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  }
  if (opts_.n_threads > 0) omp_set_num_threads(opts_.n_threads);
  const auto t0 = clock::now();
  auto outs = it->second.ex->run(ordered);
  IDPHOTO_TRY(outs);
  if (opts_.trim_after_run) it->second.ex->trim();
  stats_.run_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  const plan& p = *it->second.p;
  stats_.arena_bytes = it->second.ex->arena_bytes();
  stats_.n_steps = static_cast<int>(p.steps.size());
  stats_.resident_weight_bytes = it->second.ex->resident_weight_bytes();
  stats_.scratch_bytes = it->second.ex->scratch_bytes();
  std::vector<named_tensor> result_list;
  for (size_t i = 0; i < p.outputs.size(); ++i) {
    const value& v = p.values[p.outputs[i]];
    // An output folded at plan time keeps its own dtype (int64 for Shape, ...).
    if (v.kind == value_kind::constant) {
      tensor c = *v.constant;
      c.shape = v.shape;
      result_list.push_back({v.name, std::move(c)});
    } else {
      result_list.push_back({v.name, std::move((*outs)[i])});
    }
  }
  return result_list;
}

}  // namespace idphoto::infer

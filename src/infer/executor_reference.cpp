// The reference executor: runs a plan step by step with the plain kernels of
// ref_kernels.cpp on dense NCHW buffers in one arena. Weights are widened to
// float32 per step (streamed) or once up front (resident).
#include <cstring>
#include <unordered_map>

#include "infer/ref_kernels.hpp"
#include "infer/session.hpp"

namespace idphoto::infer {

using base::errc;
using base::make_error;
using base::result;

namespace {

class reference_executor final : public executor {
 public:
  reference_executor(const plan& p, const session_options& o) : p_(p), opts_(o) {}

  result<void> prepare() {
    // The plan is const; buffer offsets are kept here.
    plan_values_ = p_.values;
    plan tmp;
    tmp.values = std::move(plan_values_);
    tmp.steps = p_.steps;  // liveness already in values
    assign_buffers(tmp, [](const value& v) { return numel(v.shape) * 4; });
    plan_values_ = std::move(tmp.values);
    arena_bytes_ = tmp.arena_bytes;
    arena_.assign(static_cast<size_t>(arena_bytes_ / 4 + 16), 0.f);
    if (opts_.weights == weights_mode::resident) {
      for (const auto& s : p_.steps)
        for (int id : s.inputs) {
          const value& v = p_.values[id];
          if (v.kind == value_kind::constant && v.constant->type != dtype::f32 && !widened_.count(id)) {
            widened_[id] = to_f32(*v.constant);
            resident_bytes_ += static_cast<int64_t>(widened_[id].bytes.size());
          }
        }
    }
    return {};
  }

  result<std::vector<tensor>> run(const std::vector<const tensor*>& inputs) override {
    if (inputs.size() != p_.inputs.size()) return make_error(errc::invalid_argument, "wrong number of inputs");
    for (size_t i = 0; i < inputs.size(); ++i) {
      const value& v = plan_values_[p_.inputs[i]];
      if (inputs[i]->type != dtype::f32 || inputs[i]->shape != v.shape)
        return make_error(errc::invalid_argument, "input '" + v.name + "' must be float32 " + shape_str(v.shape));
      std::memcpy(ptr(p_.inputs[i]), inputs[i]->bytes.data(), inputs[i]->bytes.size());
    }
    std::vector<tensor> scratch;
    for (const step& s : p_.steps) {
      std::vector<const float*> in;
      std::vector<shape_t> shapes;
      scratch.clear();
      scratch.reserve(s.inputs.size());
      for (int id : s.inputs) {
        const value& v = plan_values_[id];
        shapes.push_back(v.shape);
        if (v.kind == value_kind::constant) {
          auto w = widened_.find(id);
          if (w != widened_.end()) in.push_back(w->second.data<float>());
          else if (v.constant->type == dtype::f32) in.push_back(v.constant->data<float>());
          else {
            scratch.push_back(to_f32(*v.constant));
            in.push_back(scratch.back().data<float>());
          }
        } else {
          in.push_back(ptr(id));
        }
      }
      IDPHOTO_TRY(ref::run_step(s, in, shapes, ptr(s.output), plan_values_[s.output].shape));
      for (int id : s.inputs)  // weights left in the mapped model file: drop their pages
        if (plan_values_[id].kind == value_kind::constant) release_pages(*plan_values_[id].constant);
    }
    std::vector<tensor> outs;
    for (int id : p_.outputs) {
      const value& v = plan_values_[id];
      if (v.kind == value_kind::constant) {
        outs.push_back(to_f32(*v.constant));
        outs.back().shape = v.shape;
        continue;
      }
      tensor t = tensor::zeros(dtype::f32, v.shape);
      std::memcpy(t.bytes.data(), ptr(id), t.bytes.size());
      outs.push_back(std::move(t));
    }
    return outs;
  }

  int64_t resident_weight_bytes() const override { return resident_bytes_; }
  int64_t scratch_bytes() const override { return 0; }
  int64_t arena_bytes() const override { return arena_bytes_; }
  void trim() override { release_pages(arena_.data(), arena_.size() * sizeof(float)); }

 private:
  float* ptr(int id) { return arena_.data() + plan_values_[p_.root(id)].offset / 4; }

  const plan& p_;
  session_options opts_;
  std::vector<value> plan_values_;
  std::vector<float> arena_;
  int64_t arena_bytes_ = 0;
  std::unordered_map<int, tensor> widened_;
  int64_t resident_bytes_ = 0;
};

}  // namespace

result<std::unique_ptr<executor>> make_reference_executor(const plan& p, const session_options& o) {
  auto ex = std::make_unique<reference_executor>(p, o);
  IDPHOTO_TRY(ex->prepare());
  return std::unique_ptr<executor>(std::move(ex));
}

}  // namespace idphoto::infer

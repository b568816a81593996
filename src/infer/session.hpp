// A model ready to run: plans per input shape (cached), an executor per plan.
// Two executors: onednn (fast) and reference (plain C++), with the same results.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "infer/model.hpp"
#include "infer/plan.hpp"
#include "infer/tensor.hpp"

namespace idphoto::infer {

enum class backend_kind { onednn, reference };
enum class weights_mode {
  streamed,  // fp16 weights stay fp16; each layer is widened just before it runs
  resident,  // every weight widened (and reordered) once per plan; fastest, most memory
};

struct session_options {
  backend_kind backend = backend_kind::onednn;
  weights_mode weights = weights_mode::streamed;
  int n_threads = 0;                 // 0 = all cores
  std::vector<std::string> outputs;  // empty = every graph output
  bool fuse_relu = true;
  bool retarget_resize = true;
  // After each run, give the activation arena's pages back to the kernel (they are
  // zero-filled again on the next run: ~10-20% slower runs, and between runs the
  // process holds no activation memory). For long-lived processes on small hosts.
  bool trim_after_run = false;
  // Streamed weights: a conv whose packed weights exceed this runs in output-channel
  // parts, so the packing buffer holds at most about this much (bytes).
  int64_t max_layer_weight_bytes = int64_t{4} << 20;
};

struct named_tensor {
  std::string name;
  tensor t;
};

struct run_stats {
  int64_t arena_bytes = 0;            // planned activation memory of the plan used
  int64_t resident_weight_bytes = 0;  // weights held by the executor in its own buffers
  int64_t scratch_bytes = 0;          // executor scratch (widening buffers, oneDNN scratchpad)
  int n_steps = 0;
  double plan_ms = 0;  // 0 when the plan came from the cache
  double run_ms = 0;
};

// Runs one plan. Implementations: executor_reference.cpp, executor_onednn.cpp.
class executor {
 public:
  virtual ~executor() = default;
  // inputs in plan.inputs order (NCHW float32); returns outputs in plan.outputs order.
  virtual base::result<std::vector<tensor>> run(const std::vector<const tensor*>& inputs) = 0;
  virtual int64_t resident_weight_bytes() const = 0;
  virtual int64_t scratch_bytes() const = 0;
  // Bytes of the activation arena the executor allocated (its own buffer assignment).
  virtual int64_t arena_bytes() const { return 0; }
  // Gives the pages of the arena and scratch buffers back to the kernel; the next run
  // touches them afresh. Contents are not kept (every run rewrites them). Never fails.
  virtual void trim() {}
};

base::result<std::unique_ptr<executor>> make_reference_executor(const plan& p, const session_options& o);
base::result<std::unique_ptr<executor>> make_onednn_executor(const plan& p, const session_options& o);

class session {
 public:
  // Fails with invalid_argument for bad options (threads < 0).
  static base::result<std::unique_ptr<session>> create(std::shared_ptr<const model> m, session_options o);

  // Fails with invalid_argument when an input is missing, has the wrong rank or dtype;
  // unsupported when the model cannot be planned for these shapes.
  base::result<std::vector<named_tensor>> run(const std::vector<named_tensor>& inputs);

  const run_stats& last_stats() const { return stats_; }
  const model& get_model() const { return *model_; }

 private:
  session() = default;
  struct cached_plan {
    std::unique_ptr<plan> p;
    std::unique_ptr<executor> ex;
  };
  std::shared_ptr<const model> model_;
  session_options opts_;
  std::map<std::vector<shape_t>, cached_plan> cache_;
  run_stats stats_;
};

}  // namespace idphoto::infer

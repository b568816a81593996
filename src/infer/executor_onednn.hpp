// Internal to src/infer: the oneDNN executor's class, shared by the files that build it
// (memory and layouts, one lowering file per op family, arena binding, run).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.hpp"
#include "infer/onednn_arena.hpp"
#include "infer/plan.hpp"
#include "infer/session.hpp"

/*
 * How the executor is built (once per plan) and run (many times).
 *
 * 1. Layouts: every runtime value gets one memory layout for its whole life,
 *    nChw16c or plain (choose_layouts). Aliases share their owner's bytes.
 * 2. Buffers: one per owning value, live from its producing step to its last
 *    reader (make_buffers); concat inputs may be placed inside the concat
 *    output (place_concats). All in onednn_memory.cpp.
 * 3. Lowering: each plan step becomes one or more ops, closures that execute a
 *    oneDNN primitive created here (add_primitive) or one of our kernels. Where
 *    a primitive wants another layout than a value has, a reorder into a
 *    temporary buffer that lives for that step only is added before (or after)
 *    it. One file per op family: lower_conv.cpp, lower_pool.cpp,
 *    lower_eltwise.cpp, lower_binary.cpp, lower_resize.cpp, lower_concat.cpp,
 *    lower_transpose_pad.cpp, lower_reference.cpp (our reference kernel on
 *    dense copies).
 * 4. Finalize (onednn_bind.cpp): all buffers, temporaries included, are packed
 *    into one arena by liveness (onednn_arena.cpp), the arena and the scratch
 *    areas are allocated once, and every dnnl::memory created without a handle
 *    in steps 2-3 is pointed at its final address.
 * A run (executor_onednn.cpp) then copies the inputs in, calls the ops in order
 * and copies the outputs out; nothing is allocated but the output tensors. An
 * executor runs one call at a time (the arena is shared state); sessions are
 * not shared between threads. Set IDPHOTO_ONEDNN_PROFILE=1 to print per-op
 * times and the arena layout to stderr.
 *
 * The plan is trusted: shapes, parameter structs, constant weights and dtypes
 * were checked by the planner (plan.cpp), so the lowerings do not check them
 * again. What is refused here is only what oneDNN itself cannot do.
 */

namespace idphoto::infer::onednn {

using memory = dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

constexpr int64_t k_align = 64;  // arena offsets; oneDNN wants 64-byte aligned data
constexpr int64_t k_block = 16;  // channel block of nChw16c (one AVX-512 register of f32)

struct free_deleter {
  void operator()(void* p) const { std::free(p); }
};
using aligned_ptr = std::unique_ptr<std::byte, free_deleter>;

// n bytes, 4 KiB aligned (2 MiB and huge pages from 4 MiB on); null for n <= 0 or no memory.
aligned_ptr aligned_bytes(int64_t n);
memory::dims dims_of(const shape_t& s);
// Dense row-major float32 of any rank (what ONNX and the reference kernels use).
memory::desc plain_desc(const shape_t& s);
memory::desc blocked_desc(const shape_t& s);
bool is_blocked(const memory::desc& d);
// The same layout family as `like` (blocked or plain) for another shape of the same rank.
memory::desc desc_like(const memory::desc& like, const shape_t& s);
bool is_ref_impl(const dnnl::primitive_desc_base& pd);
shape_t pad_rank(const shape_t& s, size_t rank);
// Whether each input of a concat along `axis` is one contiguous byte range of the output.
bool slices_contiguous(const shape_t& ys, int64_t axis, bool blocked);
// memcpy split over the OpenMP threads in 1 MiB chunks.
void parallel_copy(std::byte* dst, const std::byte* src, int64_t bytes);
std::string dnnl_what(const dnnl::error& e);

// Where a memory's bytes live. Arena buffers are placed after every step is
// lowered, so memories over them are created without a handle and bound later.
enum area : int { in_arena = 0, weights_plain = 1, weights_packed = 2, bias_plain = 3, scratchpad = 4, fixed = 5 };

struct place {
  area where = in_arena;
  int buf = -1;         // in_arena: buffer id
  int64_t offset = 0;   // bytes from the start of the buffer / area
  void* ptr = nullptr;  // fixed: the data itself
};

struct buffer_info {
  int64_t bytes = 0;
  int first = std::numeric_limits<int>::max();  // step that writes it first (-1 = graph input)
  int last = std::numeric_limits<int>::min();   // last step that reads it
  int parent = -1;                              // in-place concat: lives inside this buffer
  int64_t offset_in_parent = 0;
  int64_t offset = -1;  // absolute, after packing
};

using args_map = std::unordered_map<int, memory>;

class onednn_executor final : public executor {
 public:
  base::result<std::vector<tensor>> run(const std::vector<const tensor*>& inputs) override;
  int64_t resident_weight_bytes() const override { return resident_bytes_; }
  int64_t scratch_bytes() const override { return scratch_total_; }
  int64_t arena_bytes() const override { return arena_bytes_; }
  void trim() override;

  base::result<void> build(const plan& p, const session_options& o);

 private:
  // One unit of work at run time; step = index of the plan step it belongs to (profiling).
  struct op {
    int step;
    std::function<void()> fn;
    std::string impl = {};  // implementation name, for the profile
  };

  // ---- values, layouts, buffers, memories (onednn_memory.cpp)
  void find_roots();
  void choose_layouts();
  void make_buffers();
  void place_concats();
  memory make_mem(const memory::desc& d, const place& at);
  int new_temp(int64_t bytes, int step);
  memory temp_mem(const memory::desc& d, int step, place* at_out = nullptr);
  memory constant_mem(int v, const shape_t& shape, const memory::desc& d);
  // Values (dense, of `shape`) as an owned float32 memory in layout d, reordered once.
  memory owned_mem(std::vector<float> values, const shape_t& shape, const memory::desc& d);
  base::result<memory> input_as(int v, const shape_t& shape, const memory::desc& d, int step);
  dnnl::primitive_attr base_attr() const;
  // Appends an op running `prim` with `args` (the scratchpad argument is added here) and
  // returns it, so a caller may wrap its fn with work before or after (weights packing).
  // The reference is valid until the next op is added.
  op& add_primitive(int step, const dnnl::primitive& prim, const dnnl::primitive_desc_base& pd, args_map args);
  void add_reorder(int step, const memory& from, const memory& to);
  void add_kernel(int step, std::function<void()> fn, std::string impl);
  base::error step_error(const step& st, base::errc c, const std::string& what) const;

  // ---- lowerings, one file per family
  base::result<void> lower_step(int i);
  base::result<void> lower_conv(int i);  // lower_conv.cpp
  base::result<bool> lower_conv_chunked(int i, const memory& src, const dnnl::convolution_forward::primitive_desc& pd,
                                        const dnnl::primitive_attr& attr);
  base::result<void> lower_pool(int i);  // lower_pool.cpp
  base::result<void> lower_global_avg_pool(int i);
  base::result<void> add_pooling(int i, dnnl::algorithm alg, const shape_t& xs, const memory::dims& stride,
                                 const memory::dims& kernel, const memory::dims& dil, const memory::dims& pad_lo,
                                 const memory::dims& pad_hi);
  base::result<void> lower_eltwise(int i);  // lower_eltwise.cpp
  // y = alg(x) elementwise, x read in y's layout.
  base::result<void> add_eltwise(int i, dnnl::algorithm alg, float alpha, float beta, int x);
  base::result<void> lower_prelu(int i);
  base::result<void> lower_binary(int i);  // lower_binary.cpp
  base::result<void> lower_batch_norm(int i);
  base::result<void> lower_resize(int i);     // lower_resize.cpp
  base::result<void> lower_concat(int i);     // lower_concat.cpp
  base::result<void> lower_transpose(int i);  // lower_transpose_pad.cpp
  base::result<void> lower_pad(int i);
  using ref_fn = std::function<void(const std::vector<const float*>&, float*)>;
  base::result<void> lower_ref(int i, const std::vector<int>& ins, ref_fn fn);  // lower_reference.cpp

  // ---- arena and binding (onednn_bind.cpp)
  base::result<void> finalize();
  void print_arena(const std::vector<arena_request>& reqs, const std::vector<int>& req_buf) const;

  const memory::desc& vdesc(int v) const { return vdesc_[v]; }
  const value& val(int v) const { return p_->values[v]; }

  const plan* p_ = nullptr;
  session_options opts_;
  dnnl::engine eng_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_{eng_};

  std::vector<int> root_;            // value -> owning value
  std::vector<char> blocked_;        // root value -> uses nChw16c
  std::vector<memory::desc> vdesc_;  // value -> its layout (runtime values)
  std::vector<int> vbuf_;            // root value -> buffer id
  std::vector<memory> vmem_;         // value -> memory over its buffer
  std::vector<buffer_info> bufs_;
  std::vector<std::vector<char>> concat_placed_;  // step -> which inputs are already in place

  std::vector<std::pair<memory, place>> bindings_;
  std::vector<op> ops_;
  std::vector<memory> owned_;  // memories that own their data (weights, constants)
  std::vector<std::vector<float>> owned_f32_;

  int64_t weights_plain_bytes_ = 0, weights_packed_bytes_ = 0, bias_plain_bytes_ = 0, scratchpad_bytes_ = 0;
  aligned_ptr arena_, weights_plain_, weights_packed_, bias_plain_, scratchpad_;
  int64_t arena_bytes_ = 0, resident_bytes_ = 0, scratch_total_ = 0;

  std::vector<memory::desc> in_user_desc_;
  std::vector<dnnl::reorder> in_reorder_;
  std::vector<memory::desc> out_user_desc_;
  std::vector<dnnl::reorder> out_reorder_;

  bool profile_ = false;
};

}  // namespace idphoto::infer::onednn

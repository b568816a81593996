// The fast executor: runs a plan with oneDNN primitives created once per plan.
// Activations live in one planned arena; fp16 weights are widened per layer or once.
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "infer/onednn_arena.hpp"
#include "infer/onednn_resize.hpp"
#include "infer/onednn_weights.hpp"
#include "infer/plan.hpp"
#include "infer/ref_kernels.hpp"
#include "infer/session.hpp"

/*
 * How the executor is built (once per plan) and run (many times).
 *
 * 1. Layouts: every runtime value gets one memory layout for its whole life,
 *    nChw16c or plain (choose_layouts). Aliases share their owner's bytes.
 * 2. Buffers: one per owning value, live from its producing step to its last
 *    reader (make_buffers); concat inputs may be placed inside the concat
 *    output (place_concats).
 * 3. Lowering: each plan step becomes one or more ops, closures that execute a
 *    oneDNN primitive created here (or one of our kernels). Where a primitive
 *    wants another layout than a value has, a reorder into a temporary buffer
 *    that lives for that step only is added before (or after) it.
 * 4. Finalize: all buffers, temporaries included, are packed into one arena by
 *    liveness (onednn_arena.cpp), the arena and the scratch areas are
 *    allocated once, and every dnnl::memory created without a handle in steps
 *    2-3 is pointed at its final address.
 * A run then copies the inputs in, calls the ops in order and copies the
 * outputs out; nothing is allocated but the output tensors. An executor runs
 * one call at a time (the arena is shared state); sessions are not shared
 * between threads. Set IDPHOTO_ONEDNN_PROFILE=1 to print per-op times and the
 * arena layout to stderr.
 */

namespace idphoto::infer {
namespace {

using base::errc;
using base::error;
using base::make_error;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

constexpr int64_t k_align = 64;  // arena offsets; oneDNN wants 64-byte aligned data
constexpr int64_t k_block = 16;  // channel block of nChw16c (one AVX-512 register of f32)

struct free_deleter {
  void operator()(void* p) const { std::free(p); }
};
using aligned_ptr = std::unique_ptr<std::byte, free_deleter>;

// Large buffers are 2 MiB aligned and asked to use transparent huge pages:
// the arena is touched all over by every run, and 4 KiB pages cost a page fault
// per 4 KiB on the first run and TLB misses on every run.
aligned_ptr aligned_bytes(int64_t n) {
  if (n <= 0) return nullptr;
  constexpr int64_t huge = int64_t{2} << 20;
  const int64_t align = n >= 2 * huge ? huge : 4096;
  const size_t size = static_cast<size_t>((n + align - 1) & ~(align - 1));
  void* p = std::aligned_alloc(static_cast<size_t>(align), size);
  if (p && align == huge) madvise(p, size, MADV_HUGEPAGE);  // advice only; failure is harmless
  return aligned_ptr(static_cast<std::byte*>(p));
}

memory::dims dims_of(const shape_t& s) {
  if (s.empty()) return {1};  // oneDNN has no rank-0 tensors; a scalar is [1]
  return memory::dims(s.begin(), s.end());
}

// Dense row-major float32 of any rank (what ONNX and the reference kernels use).
memory::desc plain_desc(const shape_t& s) {
  const memory::dims d = dims_of(s);
  memory::dims strides(d.size());
  int64_t st = 1;
  for (size_t i = d.size(); i-- > 0;) {
    strides[i] = st;
    st *= std::max<int64_t>(d[i], 1);
  }
  return memory::desc(d, dt::f32, strides);
}

memory::desc blocked_desc(const shape_t& s) { return memory::desc(dims_of(s), dt::f32, tag::nChw16c); }

bool is_blocked(const memory::desc& d) {
  return d.data.format_kind == dnnl_blocked && d.data.format_desc.blocking.inner_nblks > 0;
}

// The same layout family as `like` (blocked or plain) for another shape of the same rank.
memory::desc desc_like(const memory::desc& like, const shape_t& s) {
  return is_blocked(like) && s.size() == 4 ? blocked_desc(s) : plain_desc(s);
}

bool is_ref_impl(const dnnl::primitive_desc_base& pd) {
  const std::string name = pd.impl_info_str();
  return name.rfind("ref", 0) == 0;
}

shape_t pad_rank(const shape_t& s, size_t rank) {
  shape_t out(rank - std::min(rank, s.size()), 1);
  out.insert(out.end(), s.begin(), s.end());
  return out;
}

// Whether each input of a concat along `axis` is one contiguous byte range of
// the output: the dims before the axis are all 1 (N = 1 for channels), and in
// nChw16c the axis is N or C (the layout rule keeps channel offsets 16-aligned).
bool slices_contiguous(const shape_t& ys, int64_t axis, bool blocked) {
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= ys[d];
  return outer == 1 && (!blocked || axis <= 1);
}

// memcpy split over the OpenMP threads in 1 MiB chunks.
void parallel_copy(std::byte* dst, const std::byte* src, int64_t bytes) {
  constexpr int64_t chunk = int64_t{1} << 20;
  const int64_t n = (bytes + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < n; ++c) {
    const int64_t lo = c * chunk;
    std::memcpy(dst + lo, src + lo, static_cast<size_t>(std::min(chunk, bytes - lo)));
  }
}

std::string dnnl_what(const dnnl::error& e) {
  return std::string(e.what()) + " (status " + std::to_string(int(e.status)) + ")";
}

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

class onednn_executor final : public executor {
 public:
  base::result<std::vector<tensor>> run(const std::vector<const tensor*>& inputs) override;
  int64_t resident_weight_bytes() const override { return resident_bytes_; }
  int64_t scratch_bytes() const override { return scratch_total_; }
  int64_t arena_bytes() const override { return arena_bytes_; }
  void trim() override {
    release_pages(arena_.get(), static_cast<size_t>(arena_bytes_));
    release_pages(weights_plain_.get(), static_cast<size_t>(weights_plain_bytes_));
    release_pages(weights_packed_.get(), static_cast<size_t>(weights_packed_bytes_));
    release_pages(scratchpad_.get(), static_cast<size_t>(scratchpad_bytes_));
  }

  base::result<void> build(const plan& p, const session_options& o);

 private:
  // One unit of work at run time; step = index of the plan step it belongs to (profiling).
  struct op {
    int step;
    std::function<void()> fn;
    std::string impl = {};  // oneDNN implementation name, for the profile
  };

  // ---- build helpers
  base::result<void> check_values();
  void choose_layouts();
  void make_buffers();
  void place_concats();
  memory make_mem(const memory::desc& d, const place& at);
  int new_temp(int64_t bytes, int step);
  memory temp_mem(const memory::desc& d, int step, place* at_out = nullptr);
  memory constant_mem(int v, const shape_t& shape, const memory::desc& d);
  base::result<memory> input_as(int v, const shape_t& shape, const memory::desc& d, int step);
  base::result<bool> lower_conv_chunked(int i, const memory& src, const dnnl::convolution_forward::primitive_desc& pd,
                                        const dnnl::primitive_attr& attr);
  void add_reorder(int step, const memory& from, const memory& to);
  dnnl::primitive_attr base_attr() const;
  void note_scratchpad(const dnnl::primitive_desc_base& pd);
  std::function<void()> exec_fn(const dnnl::primitive& prim, std::unordered_map<int, memory> args,
                                const dnnl::primitive_desc_base& pd);
  error step_error(const step& st, errc c, const std::string& what) const;

  base::result<void> lower_step(int i);
  base::result<void> lower_conv(int i);
  base::result<void> lower_pool(int i);
  base::result<void> lower_global_avg_pool(int i);
  base::result<void> lower_eltwise(int i);
  base::result<void> lower_batch_norm(int i);
  base::result<void> lower_resize(int i);
  base::result<void> lower_concat(int i);
  base::result<void> lower_binary(int i);
  using ref_fn = std::function<void(const std::vector<const float*>&, float*)>;
  base::result<void> lower_ref(int i, const std::vector<int>& ins, ref_fn fn);
  base::result<void> finalize();
  void print_arena(const std::vector<onednn::arena_request>& reqs, const std::vector<int>& req_buf) const;

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
  std::string last_impl_;  // set by exec_fn
};

error onednn_executor::step_error(const step& st, errc c, const std::string& what) const {
  return make_error(c, std::string(op_kind_name(st.kind)) + " " + st.node + ": " + what);
}

// ---------------------------------------------------------------------------
// Values, layouts and buffers

base::result<void> onednn_executor::check_values() {
  const auto& vals = p_->values;
  root_.resize(vals.size());
  for (size_t v = 0; v < vals.size(); ++v) {
    int r = static_cast<int>(v), guard = 0;
    while (vals[r].alias_of >= 0 && guard++ < 100000) r = vals[r].alias_of;
    root_[v] = r;
    if (vals[v].kind == value_kind::constant) {
      if (!vals[v].constant) return make_error(errc::internal, "constant '" + vals[v].name + "' has no data");
      continue;
    }
    if (vals[v].type != dtype::f32 && vals[v].type != dtype::f16)
      return make_error(errc::unsupported, "value '" + vals[v].name + "' has dtype " + dtype_name(vals[v].type) +
                                               "; the oneDNN executor computes float tensors only");
    for (int64_t d : vals[v].shape)
      if (d <= 0)
        return make_error(errc::unsupported,
                          "value '" + vals[v].name + "' has an empty shape " + shape_str(vals[v].shape));
    if (vals[r].kind == value_kind::constant)
      return make_error(errc::unsupported, "runtime value '" + vals[v].name + "' aliases a constant");
    if (numel(vals[v].shape) != numel(vals[r].shape))
      return make_error(errc::internal, "alias '" + vals[v].name + "' has another element count than its owner");
  }
  return {};
}

/*
 * Layout choice. oneDNN's fastest AVX-512 kernels work on nChw16c: channels in
 * blocks of 16 innermost, so one vector holds 16 channels of one pixel. A value
 * gets that layout when it is a 4-D tensor whose channel count is a multiple of
 * 16 (no padding, so its byte size equals the dense size) and every alias that
 * shares its buffer has the same shape (a Reshape needs the dense row-major
 * bytes). Everything else is plain NCHW / row-major. A Concat along channels
 * whose inputs are not all multiples of 16 stays plain, so each input's slice
 * starts on a block boundary. A consumer that needs another layout gets a
 * reorder into a temporary that lives only during its step.
 */
void onednn_executor::choose_layouts() {
  const auto& vals = p_->values;
  blocked_.assign(vals.size(), 0);
  for (size_t v = 0; v < vals.size(); ++v) {
    if (root_[v] != static_cast<int>(v) || vals[v].kind == value_kind::constant) continue;
    const shape_t& s = vals[v].shape;
    blocked_[v] = s.size() == 4 && s[1] % k_block == 0;
  }
  for (size_t v = 0; v < vals.size(); ++v) {
    const int r = root_[v];
    if (r != static_cast<int>(v) && vals[v].shape != vals[r].shape) blocked_[r] = 0;
  }
  for (const step& st : p_->steps) {
    if (st.kind != op_kind::concat) continue;
    const int64_t axis = std::get<concat_params>(st.params).axis;
    if (axis != 1) continue;
    for (int in : st.inputs)
      if (vals[in].shape.size() != 4 || vals[in].shape[1] % k_block != 0) blocked_[root_[st.output]] = 0;
  }
  vdesc_.assign(vals.size(), memory::desc());
  for (size_t v = 0; v < vals.size(); ++v) {
    if (vals[v].kind == value_kind::constant) continue;
    vdesc_[v] = blocked_[root_[v]] ? blocked_desc(vals[v].shape) : plain_desc(vals[v].shape);
  }
}

void onednn_executor::make_buffers() {
  const auto& vals = p_->values;
  const int n_steps = static_cast<int>(p_->steps.size());
  vbuf_.assign(vals.size(), -1);
  for (size_t v = 0; v < vals.size(); ++v) {
    if (root_[v] != static_cast<int>(v) || vals[v].kind == value_kind::constant) continue;
    buffer_info b;
    b.bytes = static_cast<int64_t>(vdesc_[v].get_size());
    if (vals[v].kind == value_kind::graph_input) b.first = -1;
    vbuf_[v] = static_cast<int>(bufs_.size());
    bufs_.push_back(b);
  }
  for (int i = 0; i < n_steps; ++i) {
    const step& st = p_->steps[i];
    for (int in : st.inputs) {
      const int b = vbuf_[root_[in]];
      if (b >= 0) bufs_[b].last = std::max(bufs_[b].last, i);
    }
    const int b = vbuf_[root_[st.output]];
    if (b >= 0) bufs_[b].first = std::min(bufs_[b].first, i);
  }
  for (const int v : p_->outputs) {
    const int b = vbuf_[root_[v]];
    if (b >= 0) bufs_[b].last = n_steps;
  }
  for (buffer_info& b : bufs_) {
    if (b.first == std::numeric_limits<int>::max()) {
      // Never written: a value the planner left behind (e.g. a conv output whose
      // ReLU was fused). It needs no bytes unless something reads it.
      if (b.last == std::numeric_limits<int>::min()) b.bytes = 0;
      b.first = -1;
    }
    if (b.last < b.first) b.last = b.first;
  }
}

/*
 * In-place concat. When the dims before the concat axis are all 1 (N = 1 for a
 * channel concat), each input is a contiguous byte range of the output, in
 * plain NCHW and in nChw16c alike (a 16-aligned channel offset starts a new
 * block). Such an input is then not copied: its buffer is placed inside the
 * output's buffer, and its producer writes straight into the concat result.
 * The merged buffer lives from the first write of any part to the last read of
 * any part, so placing a long-lived input (a U-Net skip connection made many
 * steps earlier) would hold the whole output's bytes for that long: we place
 * only the input produced last (typically the upsampled decoder feature made
 * just before the concat) and copy the others, trading one cheap copy for
 * not doubling the skip memory. An input qualifies when it is a runtime value
 * produced last among the inputs and not read after the output dies, whose buffer is not
 * already placed somewhere (one value feeding two concats is placed in the
 * first and copied into the second) and whose layout family matches the
 * output's. The other inputs are copied by a reorder into a sub-memory.
 */
void onednn_executor::place_concats() {
  const auto& vals = p_->values;
  concat_placed_.assign(p_->steps.size(), {});
  for (size_t i = 0; i < p_->steps.size(); ++i) {
    const step& st = p_->steps[i];
    if (st.kind != op_kind::concat) continue;
    concat_placed_[i].assign(st.inputs.size(), 0);
    const int64_t axis = std::get<concat_params>(st.params).axis;
    const shape_t& ys = vals[st.output].shape;
    const int yb = vbuf_[root_[st.output]];
    if (yb < 0 || axis < 0 || axis >= static_cast<int64_t>(ys.size())) continue;
    int64_t inner = 1;
    for (size_t d = axis + 1; d < ys.size(); ++d) inner *= ys[d];
    const bool y_blocked = blocked_[root_[st.output]];
    if (!slices_contiguous(ys, axis, y_blocked)) continue;
    int latest = -1;
    for (int x : st.inputs) {
      const int xb = vbuf_[root_[x]];
      if (xb >= 0) latest = std::max(latest, bufs_[xb].first);
    }
    int64_t at = 0;
    for (size_t k = 0; k < st.inputs.size(); ++k) {
      const int x = st.inputs[k];
      const int64_t extent = vals[x].shape.size() == ys.size() ? vals[x].shape[axis] : 0;
      const int64_t offset_bytes = at * inner * 4;
      at += extent;
      if (vals[x].kind == value_kind::constant) continue;
      const int xb = vbuf_[root_[x]];
      if (xb < 0 || xb == yb || bufs_[xb].parent >= 0) continue;
      if (bufs_[xb].first < latest || bufs_[xb].last > bufs_[yb].last) continue;
      if (static_cast<bool>(blocked_[root_[x]]) != y_blocked) continue;
      if (bufs_[xb].bytes != numel(vals[x].shape) * 4) continue;
      bool cycle = false;  // never place the output's own ancestor inside it
      for (int b = yb; b >= 0; b = bufs_[b].parent)
        if (b == xb) cycle = true;
      if (cycle) continue;
      bufs_[xb].parent = yb;
      bufs_[xb].offset_in_parent = offset_bytes;
      concat_placed_[i][k] = 1;
    }
  }
}

memory onednn_executor::make_mem(const memory::desc& d, const place& at) {
  if (at.where == fixed) return memory(d, eng_, at.ptr);
  memory m(d, eng_, DNNL_MEMORY_NONE);
  bindings_.emplace_back(m, at);
  return m;
}

int onednn_executor::new_temp(int64_t bytes, int step) {
  buffer_info b;
  b.bytes = bytes;
  b.first = step;
  b.last = step;
  bufs_.push_back(b);
  return static_cast<int>(bufs_.size()) - 1;
}

memory onednn_executor::temp_mem(const memory::desc& d, int step, place* at_out) {
  place at;
  at.buf = new_temp(static_cast<int64_t>(d.get_size()), step);
  if (at_out) *at_out = at;
  return make_mem(d, at);
}

// A constant as float32 in layout d: the initialiser itself when it already is
// dense f32, otherwise an owned copy (widened and reordered once).
memory onednn_executor::constant_mem(int v, const shape_t& shape, const memory::desc& d) {
  const tensor& t = *val(v).constant;
  const memory::desc pd = plain_desc(shape);
  if (t.type == dtype::f32 && d == pd) {
    place at;
    at.where = fixed;
    at.ptr = const_cast<std::byte*>(t.raw());  // only ever read
    return make_mem(pd, at);
  }
  tensor f = to_f32(t);
  owned_f32_.emplace_back(f.data<float>(), f.data<float>() + f.size());
  memory src(pd, eng_, owned_f32_.back().data());
  if (d == pd) {
    resident_bytes_ += static_cast<int64_t>(owned_f32_.back().size() * sizeof(float));
    return src;
  }
  memory dst(d, eng_);
  dnnl::reorder(src, dst).execute(stream_, src, dst);
  stream_.wait();
  owned_f32_.pop_back();
  owned_.push_back(dst);
  resident_bytes_ += static_cast<int64_t>(d.get_size());
  return dst;
}

dnnl::primitive_attr onednn_executor::base_attr() const {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

void onednn_executor::note_scratchpad(const dnnl::primitive_desc_base& pd) {
  scratchpad_bytes_ = std::max(scratchpad_bytes_, static_cast<int64_t>(pd.scratchpad_desc().get_size()));
}

std::function<void()> onednn_executor::exec_fn(const dnnl::primitive& prim, std::unordered_map<int, memory> args,
                                               const dnnl::primitive_desc_base& pd) {
  note_scratchpad(pd);
  last_impl_ = pd.impl_info_str();
  const memory::desc sd = pd.scratchpad_desc();
  if (sd.get_size() > 0) {
    place at;
    at.where = scratchpad;
    args[DNNL_ARG_SCRATCHPAD] = make_mem(sd, at);
  }
  return [this, prim, args = std::move(args)] { prim.execute(stream_, args); };
}

void onednn_executor::add_reorder(int step, const memory& from, const memory& to) {
  dnnl::reorder::primitive_desc pd(eng_, from.get_desc(), eng_, to.get_desc(), base_attr());
  ops_.push_back({step, exec_fn(dnnl::reorder(pd), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}, pd), last_impl_});
}

// Value v (viewed with `shape`, which may only add leading 1s) in layout d.
// Its own memory when it already is in d; otherwise a step-local temporary
// filled by a reorder appended to the program now.
base::result<memory> onednn_executor::input_as(int v, const shape_t& shape, const memory::desc& d, int step) {
  if (val(v).kind == value_kind::constant) return constant_mem(v, shape, d);
  const memory& own = vmem_[v];
  if (shape == val(v).shape) {
    if (own.get_desc() == d) return own;
    memory t = temp_mem(d, step);
    add_reorder(step, own, t);
    return t;
  }
  if (numel(shape) != numel(val(v).shape)) return make_error(errc::internal, "bad view of '" + val(v).name + "'");
  // A rank change: view the dense bytes with the new dims.
  place dense_at;
  dense_at.buf = vbuf_[root_[v]];
  if (is_blocked(own.get_desc())) {
    memory dense = temp_mem(plain_desc(val(v).shape), step, &dense_at);
    add_reorder(step, own, dense);
  }
  memory view = make_mem(plain_desc(shape), dense_at);
  if (view.get_desc() == d) return view;
  memory t = temp_mem(d, step);
  add_reorder(step, view, t);
  return t;
}

// ---------------------------------------------------------------------------
// Steps

base::result<void> onednn_executor::lower_step(int i) {
  const step& st = p_->steps[i];
  switch (st.kind) {
    case op_kind::conv: return lower_conv(i);
    case op_kind::max_pool:
    case op_kind::avg_pool: return lower_pool(i);
    case op_kind::global_avg_pool: return lower_global_avg_pool(i);
    case op_kind::relu:
    case op_kind::sigmoid:
    case op_kind::clip: return lower_eltwise(i);
    case op_kind::batch_norm: return lower_batch_norm(i);
    case op_kind::resize: return lower_resize(i);
    case op_kind::concat: return lower_concat(i);
    case op_kind::add:
    case op_kind::sub:
    case op_kind::mul:
    case op_kind::div: return lower_binary(i);
  }
  return step_error(st, errc::unsupported, "op not implemented by the oneDNN executor");
}

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
 */
base::result<void> onednn_executor::lower_conv(int i) {
  const step& st = p_->steps[i];
  const auto& cp = std::get<conv_params>(st.params);
  if (st.inputs.size() < 2) return step_error(st, errc::invalid_argument, "needs x and w");
  const int x = st.inputs[0], w = st.inputs[1];
  const int b = st.inputs.size() > 2 ? st.inputs[2] : -1;
  const int y = st.output;
  if (val(w).kind != value_kind::constant) return step_error(st, errc::unsupported, "weights must be a constant");
  if (b >= 0 && val(b).kind != value_kind::constant)
    return step_error(st, errc::unsupported, "bias must be a constant");
  const tensor& wt = *val(w).constant;
  if (wt.type != dtype::f16 && wt.type != dtype::f32)
    return step_error(st, errc::unsupported, std::string("weights of dtype ") + dtype_name(wt.type));
  if (b >= 0 && val(b).constant->type != dtype::f16 && val(b).constant->type != dtype::f32)
    return step_error(st, errc::unsupported, std::string("bias of dtype ") + dtype_name(val(b).constant->type));
  const int64_t g = cp.group;
  if (g < 1 || cp.c_in % g || cp.c_out % g)
    return step_error(st, errc::invalid_argument, "channels not divisible by group");
  const shape_t xs{cp.n, cp.c_in, cp.h_in, cp.w_in}, ys{cp.n, cp.c_out, cp.h_out, cp.w_out};
  if (val(x).shape != xs || val(y).shape != ys)
    return step_error(st, errc::internal, "conv params disagree with value shapes");
  const int64_t w_count = cp.c_out * (cp.c_in / g) * cp.kh * cp.kw;
  if (wt.size() != w_count)
    return step_error(st, errc::invalid_argument, "weights have " + std::to_string(wt.size()) + " elements");
  if (b >= 0 && val(b).constant->size() != cp.c_out) return step_error(st, errc::invalid_argument, "bias size");

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
      static_cast<int64_t>(w_packed.get_size()) > opts_.max_layer_weight_bytes && onednn::is_oihw16i16o(w_packed) &&
      cp.c_out % 16 == 0 && vdesc(y) == memory::desc(dims_of(ys), dt::f32, tag::nChw16c)) {
    auto chunked = lower_conv_chunked(i, *src, pd, attr);
    if (!chunked.ok()) return chunked.err();
    if (*chunked) return {};
  }
  memory w_mem, b_mem;
  std::function<void()> prelude;
  const bool fused_pack = w16 && onednn::is_oihw16i16o(w_packed);
  if (fused_pack && opts_.weights == weights_mode::resident) {
    w_mem = memory(w_packed, eng_);
    onednn::pack_f16_oihw16i16o(w16, w_packed, static_cast<float*>(w_mem.get_data_handle()));
    owned_.push_back(w_mem);
    resident_bytes_ += static_cast<int64_t>(w_packed.get_size());
  } else if (fused_pack) {
    place packed_at;
    packed_at.where = weights_packed;
    weights_packed_bytes_ = std::max(weights_packed_bytes_, static_cast<int64_t>(w_packed.get_size()));
    w_mem = make_mem(w_packed, packed_at);
    prelude = [w16, w_packed, w_mem] {
      onednn::pack_f16_oihw16i16o(w16, w_packed, static_cast<float*>(w_mem.get_data_handle()));
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

  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, *src}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, dst}};
  if (b >= 0) args[DNNL_ARG_BIAS] = b_mem;
  auto run = exec_fn(dnnl::convolution_forward(pd), std::move(args), pd);
  // Weights left in the mapped model file are paged in by the packing (or read in
  // place by the conv); drop those pages after the step so resident memory holds
  // about one layer's weights, not the model's.
  const tensor* w_src = &wt;
  const tensor* b_src = b >= 0 ? val(b).constant : nullptr;
  if (prelude)
    ops_.push_back({i,
                    [prelude, run, w_src, b_src] {
                      prelude();
                      run();
                      release_pages(*w_src);
                      if (b_src) release_pages(*b_src);
                    },
                    last_impl_ + " +weights"});
  else
    ops_.push_back({i, run, last_impl_});
  if (dst_temp) add_reorder(i, dst, vmem_[y]);
  return {};
}

/*
 * A streamed conv whose packed weights would exceed max_layer_weight_bytes runs
 * as several convs over slices of its output channels. In nChw16c with N = 1 a
 * slice of whole 16-channel blocks is one contiguous run of the output, so each
 * part writes straight into the layer's output; the input is read once per part.
 * The packing buffer then holds one part's weights, not the layer's: ISNet's
 * largest layer (512 x 1024 x 3 x 3, 18.9 MB packed) costs 4 MB instead. Returns
 * false (and lowers nothing) when oneDNN would not give every part the same
 * source layout and the OIhw16i16o weights the direct fp16 packing needs.
 */
base::result<bool> onednn_executor::lower_conv_chunked(int i, const memory& src, const dnnl::convolution_forward::primitive_desc& pd,
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
      auto d = b >= 0 ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                        dnnl::algorithm::convolution_direct, pd.src_desc(), wd, bd, yd,
                                                        strides, dil, pad_l, pad_r)
                      : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                        dnnl::algorithm::convolution_direct, pd.src_desc(), wd, yd,
                                                        strides, dil, pad_l, pad_r);
      dnnl::convolution_forward::primitive_desc c(d, attr, eng_);
      if (is_ref_impl(c) || !(c.src_desc() == pd.src_desc()) || !(c.dst_desc() == yd) ||
          !onednn::is_oihw16i16o(c.weights_desc()))
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
  std::vector<std::function<void()>> runs;
  std::string impl;
  for (const part& pt : parts) {
    const memory::desc wd = pt.pd.weights_desc();
    place w_at;
    w_at.where = weights_packed;
    weights_packed_bytes_ = std::max(weights_packed_bytes_, static_cast<int64_t>(wd.get_size()));
    memory w_mem = make_mem(wd, w_at);
    place y_at;
    y_at.buf = vbuf_[root_[y]];
    y_at.offset = pt.c0 * cp.h_out * cp.w_out * 4;
    memory dst = make_mem(pt.pd.dst_desc(), y_at);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, dst}};
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
    auto run = exec_fn(dnnl::convolution_forward(pt.pd), std::move(args), pt.pd);
    impl = last_impl_;
    const uint16_t* part_w16 = w16 + pt.c0 * per_oc_src;
    runs.push_back([part_w16, wd, w_mem, run] {
      onednn::pack_f16_oihw16i16o(part_w16, wd, static_cast<float*>(w_mem.get_data_handle()));
      run();
    });
  }
  memory b_all;
  if (b16) {
    place at;
    at.where = bias_plain;
    b_all = make_mem(memory::desc({cp.c_out}, dt::f32, tag::x), at);
  }
  const int64_t n_bias = cp.c_out;
  ops_.push_back({i,
                  [runs, b16, b_all, n_bias, w_src = &wt, b_src] {
                    if (b16) half_to_float_n(b16, static_cast<float*>(b_all.get_data_handle()), static_cast<size_t>(n_bias));
                    for (const auto& r : runs) r();
                    release_pages(*w_src);
                    if (b_src) release_pages(*b_src);
                  },
                  impl + " +weights x" + std::to_string(parts.size())});
  return true;
}

/*
 * Pooling. ONNX ceil_mode lets the last window run past the bottom/right pad;
 * oneDNN instead requires out = (in + pad_l + pad_r - extent) / stride + 1 in
 * integer (floor) division, so we grow the bottom/right padding to exactly
 * (out - 1) * stride + extent - in - pad_l. Max pooling and average pooling
 * that excludes padding ignore padded cells, so the result is unchanged. With
 * count_include_pad, ONNX divides by the cells inside the file's padding only,
 * while oneDNN divides by the whole kernel; those agree unless a window
 * crosses the grown part, and then the reference kernel runs instead.
 */
base::result<void> onednn_executor::lower_pool(int i) {
  const step& st = p_->steps[i];
  const auto& pp = std::get<pool_params>(st.params);
  const int x = st.inputs.at(0), y = st.output;
  const shape_t xs{pp.n, pp.c, pp.h_in, pp.w_in}, ys{pp.n, pp.c, pp.h_out, pp.w_out};
  if (val(x).shape != xs || val(y).shape != ys)
    return step_error(st, errc::internal, "pool params disagree with value shapes");
  const bool is_max = st.kind == op_kind::max_pool;

  auto eff_pad = [](int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pad_lo, int64_t pad_hi) {
    const int64_t extent = (k - 1) * d + 1;
    if ((in + pad_lo + pad_hi - extent) >= 0 && (in + pad_lo + pad_hi - extent) / s + 1 == out) return pad_hi;
    return (out - 1) * s + extent - in - pad_lo;
  };
  const int64_t pad_b = eff_pad(pp.h_in, pp.h_out, pp.kh, pp.stride_h, pp.dil_h, pp.pad_t, pp.pad_b);
  const int64_t pad_r = eff_pad(pp.w_in, pp.w_out, pp.kw, pp.stride_w, pp.dil_w, pp.pad_l, pp.pad_r);
  const bool grown = pad_b > pp.pad_b || pad_r > pp.pad_r;
  if (pad_b < 0 || pad_r < 0 || (!is_max && pp.count_include_pad && grown)) {
    return lower_ref(i, {x}, [pp, is_max](const std::vector<const float*>& in, float* out) {
      if (is_max)
        ref::max_pool(pp, in[0], out);
      else
        ref::avg_pool(pp, in[0], out);
    });
  }
  const auto alg = is_max ? dnnl::algorithm::pooling_max
                          : (pp.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                  : dnnl::algorithm::pooling_avg_exclude_padding);
  const memory::desc yd = vdesc(y), xd = desc_like(yd, xs);
  dnnl::pooling_v2_forward::primitive_desc pd;
  try {
    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, xd, yd, {pp.stride_h, pp.stride_w},
                                     {pp.kh, pp.kw}, {pp.dil_h - 1, pp.dil_w - 1}, {pp.pad_t, pp.pad_l},
                                     {pad_b, pad_r});
    pd = dnnl::pooling_v2_forward::primitive_desc(d, base_attr(), eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN pooling: " + dnnl_what(e));
  }
  auto src = input_as(x, xs, xd, i);
  if (!src.ok()) return src.err();
  ops_.push_back(
      {i, exec_fn(dnnl::pooling_v2_forward(pd), {{DNNL_ARG_SRC, *src}, {DNNL_ARG_DST, vmem_[y]}}, pd), last_impl_});
  return {};
}

base::result<void> onednn_executor::lower_global_avg_pool(int i) {
  const step& st = p_->steps[i];
  const int x = st.inputs.at(0), y = st.output;
  const shape_t& xs = val(x).shape;
  if (xs.size() != 4 || val(y).shape != shape_t{xs[0], xs[1], 1, 1})
    return step_error(st, errc::unsupported, "GlobalAveragePool of shape " + shape_str(xs));
  const memory::desc yd = vdesc(y), xd = desc_like(yd, xs);
  dnnl::pooling_v2_forward::primitive_desc pd;
  try {
    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_avg_exclude_padding,
                                     xd, yd, {1, 1}, {xs[2], xs[3]}, {0, 0}, {0, 0}, {0, 0});
    pd = dnnl::pooling_v2_forward::primitive_desc(d, base_attr(), eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN pooling: " + dnnl_what(e));
  }
  auto src = input_as(x, xs, xd, i);
  if (!src.ok()) return src.err();
  ops_.push_back(
      {i, exec_fn(dnnl::pooling_v2_forward(pd), {{DNNL_ARG_SRC, *src}, {DNNL_ARG_DST, vmem_[y]}}, pd), last_impl_});
  return {};
}

base::result<void> onednn_executor::lower_eltwise(int i) {
  const step& st = p_->steps[i];
  const int x = st.inputs.at(0), y = st.output;
  if (val(x).shape != val(y).shape) return step_error(st, errc::internal, "input and output shapes differ");
  dnnl::algorithm alg = dnnl::algorithm::eltwise_relu;
  float alpha = 0.f, beta = 0.f;
  if (st.kind == op_kind::sigmoid) alg = dnnl::algorithm::eltwise_logistic;
  if (st.kind == op_kind::clip) {
    const auto& c = std::get<clip_params>(st.params);
    alg = dnnl::algorithm::eltwise_clip;
    alpha = c.lo;
    beta = c.hi;
  }
  const memory::desc yd = vdesc(y);
  dnnl::eltwise_forward::primitive_desc pd;
  try {
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, alg, yd, alpha, beta);
    pd = dnnl::eltwise_forward::primitive_desc(d, base_attr(), eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN eltwise: " + dnnl_what(e));
  }
  auto src = input_as(x, val(x).shape, yd, i);
  if (!src.ok()) return src.err();
  ops_.push_back(
      {i, exec_fn(dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, *src}, {DNNL_ARG_DST, vmem_[y]}}, pd), last_impl_});
  return {};
}

// y = x * scale[c] + shift[c]: a binary multiply by the per-channel scale with
// the shift added by a binary post-op, one pass over the data. The [1,C,1,1]
// operands are kept in the activation's layout family so the JIT kernel runs.
base::result<void> onednn_executor::lower_batch_norm(int i) {
  const step& st = p_->steps[i];
  const auto& bp = std::get<batch_norm_params>(st.params);
  const int x = st.inputs.at(0), y = st.output;
  const shape_t& xs = val(x).shape;
  if (xs.size() < 2 || val(y).shape != xs)
    return step_error(st, errc::unsupported, "BatchNormalization of shape " + shape_str(xs));
  const int64_t c = xs[1];
  if (static_cast<int64_t>(bp.scale.size()) != c || static_cast<int64_t>(bp.shift.size()) != c)
    return step_error(st, errc::internal, "scale/shift size differs from the channel count");
  shape_t cs(xs.size(), 1);
  cs[1] = c;
  const memory::desc yd = vdesc(y), cd = desc_like(yd, cs);
  auto channel_mem = [&](const std::vector<float>& v) {
    owned_f32_.push_back(v);
    memory src(plain_desc(cs), eng_, owned_f32_.back().data());
    if (cd == plain_desc(cs)) {
      resident_bytes_ += c * 4;
      return src;
    }
    memory dst(cd, eng_);
    dnnl::reorder(src, dst).execute(stream_, src, dst);
    stream_.wait();
    owned_f32_.pop_back();
    owned_.push_back(dst);
    resident_bytes_ += static_cast<int64_t>(cd.get_size());
    return dst;
  };
  dnnl::binary::primitive_desc pd;
  try {
    dnnl::primitive_attr attr = base_attr();
    dnnl::post_ops po;
    po.append_binary(dnnl::algorithm::binary_add, cd);
    attr.set_post_ops(po);
    dnnl::binary::desc d(dnnl::algorithm::binary_mul, yd, cd, yd);
    pd = dnnl::binary::primitive_desc(d, attr, eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN binary: " + dnnl_what(e));
  }
  memory scale = channel_mem(bp.scale), shift = channel_mem(bp.shift);
  auto src = input_as(x, xs, yd, i);
  if (!src.ok()) return src.err();
  ops_.push_back({i,
                  exec_fn(dnnl::binary(pd),
                          {{DNNL_ARG_SRC_0, *src},
                           {DNNL_ARG_SRC_1, scale},
                           {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, shift},
                           {DNNL_ARG_DST, vmem_[y]}},
                          pd),
                  last_impl_});
  return {};
}

/*
 * Resize. Linear modes run our own threaded kernel (onednn_resize.cpp) for
 * every coordinate transform: oneDNN's resampling computes coordinates in
 * float, and near a large neighbour that error shows. Nearest runs oneDNN's
 * resampling where its index equals ONNX's: it picks
 * round((x_out + 0.5) * in / out - 0.5), which for an integer upscaling factor
 * k is floor(x_out / k), i.e. ONNX asymmetric+floor, tf_half_pixel_for_nn
 * +floor, and half_pixel+round_prefer_* (no ties occur). Any other nearest
 * case, or a scale that is not out / in, runs the reference kernel.
 */
base::result<void> onednn_executor::lower_resize(int i) {
  const step& st = p_->steps[i];
  const auto& rp = std::get<resize_params>(st.params);
  const int x = st.inputs.at(0), y = st.output;
  const shape_t xs{rp.n, rp.c, rp.h_in, rp.w_in}, ys{rp.n, rp.c, rp.h_out, rp.w_out};
  if (val(x).shape != xs || val(y).shape != ys)
    return step_error(st, errc::internal, "resize params disagree with value shapes");
  const memory::desc yd = vdesc(y), xd = desc_like(yd, xs);
  if (rp.mode == resize_mode::linear) {
    auto src = input_as(x, xs, xd, i);
    if (!src.ok()) return src.err();
    const memory s = *src, d = vmem_[y];
    const int block = is_blocked(yd) ? static_cast<int>(k_block) : 1;
    ops_.push_back({i,
                    [rp, block, s, d] {
                      onednn::resize_linear(rp, block, static_cast<const float*>(s.get_data_handle()),
                                            static_cast<float*>(d.get_data_handle()));
                    },
                    "idphoto:resize_linear"});
    return {};
  }
  auto same_scale = [](float sc, int64_t in, int64_t out) {
    const double r = static_cast<double>(out) / static_cast<double>(in);
    return std::abs(static_cast<double>(sc) - r) <= 1e-6 * r;
  };
  const bool dims_scale = same_scale(rp.scale_h, rp.h_in, rp.h_out) && same_scale(rp.scale_w, rp.w_in, rp.w_out);
  const bool half_pixel = rp.coord == resize_coord::half_pixel ||
                          (rp.coord == resize_coord::pytorch_half_pixel && rp.h_out > 1 && rp.w_out > 1);
  const bool round_mode =
      rp.nearest == resize_nearest::round_prefer_floor || rp.nearest == resize_nearest::round_prefer_ceil;
  const bool use_dnnl = dims_scale && rp.h_out % rp.h_in == 0 && rp.w_out % rp.w_in == 0 &&
                        ((rp.coord == resize_coord::asymmetric && rp.nearest == resize_nearest::floor) ||
                         (rp.coord == resize_coord::tf_half_pixel_for_nn && rp.nearest == resize_nearest::floor) ||
                         (half_pixel && round_mode));
  if (!use_dnnl) {
    return lower_ref(i, {x}, [rp](const std::vector<const float*>& in, float* out) { ref::resize(rp, in[0], out); });
  }
  dnnl::resampling_forward::primitive_desc pd;
  try {
    dnnl::resampling_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::resampling_nearest, xd, yd);
    pd = dnnl::resampling_forward::primitive_desc(d, base_attr(), eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN resampling: " + dnnl_what(e));
  }
  auto src = input_as(x, xs, xd, i);
  if (!src.ok()) return src.err();
  ops_.push_back(
      {i, exec_fn(dnnl::resampling_forward(pd), {{DNNL_ARG_SRC, *src}, {DNNL_ARG_DST, vmem_[y]}}, pd), last_impl_});
  return {};
}

// Inputs already placed inside the output (see place_concats) cost nothing;
// the others are copied by a reorder into their sub-memory of the output.
base::result<void> onednn_executor::lower_concat(int i) {
  const step& st = p_->steps[i];
  const int64_t axis = std::get<concat_params>(st.params).axis;
  const int y = st.output;
  const shape_t& ys = val(y).shape;
  if (axis < 0 || axis >= static_cast<int64_t>(ys.size()))
    return step_error(st, errc::invalid_argument, "axis out of range");
  const bool y_blocked = is_blocked(vdesc(y));
  int64_t inner = 1;
  for (size_t d = axis + 1; d < ys.size(); ++d) inner *= ys[d];
  int64_t at = 0;
  for (size_t k = 0; k < st.inputs.size(); ++k) {
    const int x = st.inputs[k];
    const shape_t& xs = val(x).shape;
    if (xs.size() != ys.size()) return step_error(st, errc::invalid_argument, "inputs of different rank");
    memory::dims offsets(ys.size(), 0);
    offsets[axis] = at;
    const int64_t offset_bytes = at * inner * 4;
    at += xs[axis];
    if (concat_placed_[i][k]) continue;
    if (val(x).kind != value_kind::constant && is_blocked(vdesc(x)) == y_blocked &&
        slices_contiguous(ys, axis, y_blocked)) {
      // The slice is a contiguous byte range: a plain copy beats a reorder.
      place at_y;
      at_y.buf = vbuf_[root_[y]];
      at_y.offset = offset_bytes;
      const memory dst = make_mem(vdesc(x), at_y), src = vmem_[x];
      const int64_t bytes = numel(xs) * 4;
      ops_.push_back({i,
                      [dst, src, bytes] {
                        parallel_copy(static_cast<std::byte*>(dst.get_data_handle()),
                                      static_cast<const std::byte*>(src.get_data_handle()), bytes);
                      },
                      "idphoto:copy"});
      continue;
    }
    try {
      const memory::desc sub = vdesc(y).submemory_desc(dims_of(xs), offsets);
      place y_at;
      y_at.buf = vbuf_[root_[y]];
      memory dst = make_mem(sub, y_at);
      memory src;
      if (val(x).kind == value_kind::constant)
        src = constant_mem(x, xs, plain_desc(xs));
      else
        src = vmem_[x];
      add_reorder(i, src, dst);
    } catch (const dnnl::error& e) {
      return step_error(st, errc::unsupported, "oneDNN reorder into the concat: " + dnnl_what(e));
    }
  }
  if (at != ys[axis]) return step_error(st, errc::internal, "input extents do not add up to the output");
  return {};
}

/*
 * Add, Sub, Mul, Div with numpy broadcasting. oneDNN's binary primitive needs
 * src0 to have the output's shape and lets src1 broadcast (each dim equal or
 * 1), with src1 in the same layout family as src0 for its JIT kernel. Shapes
 * are right-aligned to a common rank first; Add and Mul swap their operands
 * when only the first one broadcasts; Sub of a scalar constant from a tensor's
 * complement (c - x) becomes the linear eltwise -x + c. The rest (both sides
 * broadcasting, or Div with a broadcast numerator) run the reference kernel.
 */
base::result<void> onednn_executor::lower_binary(int i) {
  const step& st = p_->steps[i];
  if (st.inputs.size() != 2) return step_error(st, errc::invalid_argument, "needs two inputs");
  int a = st.inputs[0], b = st.inputs[1];
  const int y = st.output;
  const shape_t& ys = val(y).shape;
  const size_t rank = std::max<size_t>(ys.size(), 1);
  auto fits = [&](const shape_t& s) {  // broadcastable to ys without being ys
    const shape_t p = pad_rank(s, rank), py = pad_rank(ys, rank);
    for (size_t d = 0; d < rank; ++d)
      if (p[d] != py[d] && p[d] != 1) return false;
    return true;
  };
  auto full = [&](const shape_t& s) { return pad_rank(s, rank) == pad_rank(ys, rank); };
  const bool commutative = st.kind == op_kind::add || st.kind == op_kind::mul;
  if (!full(val(a).shape) && full(val(b).shape) && commutative) std::swap(a, b);

  if (st.kind == op_kind::sub && !full(val(a).shape) && full(val(b).shape) && val(a).kind == value_kind::constant &&
      numel(val(a).shape) == 1) {
    const float c = to_f32(*val(a).constant).data<float>()[0];
    const memory::desc yd = vdesc(y);
    dnnl::eltwise_forward::primitive_desc pd;
    try {
      dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_linear, yd, -1.f, c);
      pd = dnnl::eltwise_forward::primitive_desc(d, base_attr(), eng_);
    } catch (const dnnl::error& e) {
      return step_error(st, errc::unsupported, "oneDNN eltwise: " + dnnl_what(e));
    }
    auto src = input_as(b, val(b).shape, yd, i);
    if (!src.ok()) return src.err();
    ops_.push_back(
        {i, exec_fn(dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, *src}, {DNNL_ARG_DST, vmem_[y]}}, pd), last_impl_});
    return {};
  }

  if (!full(val(a).shape) || !fits(val(b).shape)) {
    const op_kind k = st.kind;
    const shape_t sa = val(st.inputs[0]).shape, sb = val(st.inputs[1]).shape;
    return lower_ref(i, {st.inputs[0], st.inputs[1]}, [k, sa, sb, ys](const std::vector<const float*>& in, float* out) {
      ref::binary(k, in[0], sa, in[1], sb, out, ys);
    });
  }

  dnnl::algorithm alg = dnnl::algorithm::binary_add;
  if (st.kind == op_kind::sub) alg = dnnl::algorithm::binary_sub;
  if (st.kind == op_kind::mul) alg = dnnl::algorithm::binary_mul;
  if (st.kind == op_kind::div) alg = dnnl::algorithm::binary_div;
  const shape_t pa = pad_rank(val(a).shape, rank), pb = pad_rank(val(b).shape, rank);
  // A rank change means a plain view; keep the output's layout otherwise.
  const memory::desc yd = vdesc(y);
  const bool y_view = pad_rank(ys, rank) != ys;
  const memory::desc yv = y_view ? plain_desc(pad_rank(ys, rank)) : yd;
  const memory::desc ad = desc_like(yv, pa), bd = desc_like(yv, pb);
  dnnl::binary::primitive_desc pd;
  try {
    dnnl::binary::desc d(alg, ad, bd, yv);
    pd = dnnl::binary::primitive_desc(d, base_attr(), eng_);
  } catch (const dnnl::error& e) {
    return step_error(st, errc::unsupported, "oneDNN binary: " + dnnl_what(e));
  }
  auto src0 = input_as(a, pa, ad, i);
  if (!src0.ok()) return src0.err();
  auto src1 = input_as(b, pb, bd, i);
  if (!src1.ok()) return src1.err();
  memory dst = vmem_[y];
  if (y_view) {
    if (is_blocked(yd)) return step_error(st, errc::internal, "blocked output of a rank-changing binary");
    place at;
    at.buf = vbuf_[root_[y]];
    dst = make_mem(yv, at);
  }
  ops_.push_back(
      {i, exec_fn(dnnl::binary(pd), {{DNNL_ARG_SRC_0, *src0}, {DNNL_ARG_SRC_1, *src1}, {DNNL_ARG_DST, dst}}, pd),
       last_impl_});
  return {};
}

// Reference kernel on dense NCHW copies: inputs are reordered to plain when
// they are not, and a blocked output is produced plain and reordered back.
base::result<void> onednn_executor::lower_ref(int i, const std::vector<int>& ins, ref_fn fn) {
  const step& st = p_->steps[i];
  std::vector<memory> srcs;
  for (int v : ins) {
    auto m = input_as(v, val(v).shape, plain_desc(val(v).shape), i);
    if (!m.ok()) return m.err();
    srcs.push_back(*m);
  }
  const int y = st.output;
  const memory::desc yp = plain_desc(val(y).shape);
  const bool temp = !(vdesc(y) == yp);
  memory dst = temp ? temp_mem(yp, i) : vmem_[y];
  ops_.push_back({i,
                  [srcs, dst, fn] {
                    std::vector<const float*> ptrs;
                    for (const memory& m : srcs) ptrs.push_back(static_cast<const float*>(m.get_data_handle()));
                    fn(ptrs, static_cast<float*>(dst.get_data_handle()));
                  },
                  "idphoto:reference"});
  if (temp) add_reorder(i, dst, vmem_[y]);
  return {};
}

// ---------------------------------------------------------------------------
// Arena, scratch and binding

// Profile aid: the packed arena against its lower bound (the most bytes live
// at one step) and what is live at that step.
void onednn_executor::print_arena(const std::vector<onednn::arena_request>& reqs,
                                  const std::vector<int>& req_buf) const {
  int64_t bound = 0;
  int peak_step = -1;
  for (int t = -1; t <= static_cast<int>(p_->steps.size()); ++t) {
    int64_t live = 0;
    for (const auto& r : reqs)
      if (r.first <= t && t <= r.last) live += r.bytes;
    if (live > bound) peak_step = t;
    bound = std::max(bound, live);
  }
  std::fprintf(stderr, "onednn peak at step %d\n", peak_step);
  for (size_t k = 0; k < reqs.size(); ++k)
    if (reqs[k].first <= peak_step && peak_step <= reqs[k].last)
      std::fprintf(stderr, "  live buf %d bytes %lld [%d, %d]\n", req_buf[k], static_cast<long long>(reqs[k].bytes),
                   reqs[k].first, reqs[k].last);
  std::fprintf(stderr, "onednn arena %lld bytes, lower bound %lld, %zu buffers\n", static_cast<long long>(arena_bytes_),
               static_cast<long long>(bound), reqs.size());
}

base::result<void> onednn_executor::finalize() {
  // Merge each placed buffer's live range into its top-level ancestor.
  auto top = [this](int b) {
    while (bufs_[b].parent >= 0) b = bufs_[b].parent;
    return b;
  };
  for (size_t b = 0; b < bufs_.size(); ++b) {
    const int t = top(static_cast<int>(b));
    bufs_[t].first = std::min(bufs_[t].first, bufs_[b].first);
    bufs_[t].last = std::max(bufs_[t].last, bufs_[b].last);
  }
  std::vector<onednn::arena_request> reqs;
  std::vector<int> req_buf;
  for (size_t b = 0; b < bufs_.size(); ++b) {
    if (bufs_[b].parent >= 0) continue;
    reqs.push_back({bufs_[b].bytes, bufs_[b].first, bufs_[b].last});
    req_buf.push_back(static_cast<int>(b));
  }
  const onednn::arena_layout lay = onednn::pack_arena(reqs, k_align);
  for (size_t k = 0; k < req_buf.size(); ++k) bufs_[req_buf[k]].offset = lay.offsets[k];
  std::function<int64_t(int)> abs_offset = [&](int b) -> int64_t {
    if (bufs_[b].parent < 0) return bufs_[b].offset;
    return abs_offset(bufs_[b].parent) + bufs_[b].offset_in_parent;
  };
  arena_bytes_ = lay.arena_bytes;
  if (profile_) print_arena(reqs, req_buf);
  arena_ = aligned_bytes(arena_bytes_);
  weights_plain_ = aligned_bytes(weights_plain_bytes_);
  weights_packed_ = aligned_bytes(weights_packed_bytes_);
  bias_plain_ = aligned_bytes(bias_plain_bytes_);
  scratchpad_ = aligned_bytes(scratchpad_bytes_);
  if ((arena_bytes_ > 0 && !arena_) || (weights_plain_bytes_ > 0 && !weights_plain_) ||
      (weights_packed_bytes_ > 0 && !weights_packed_) || (scratchpad_bytes_ > 0 && !scratchpad_))
    return make_error(errc::too_large, "cannot allocate " + std::to_string(arena_bytes_) + " bytes of activations");
  scratch_total_ = weights_plain_bytes_ + weights_packed_bytes_ + bias_plain_bytes_ + scratchpad_bytes_;
  for (auto& [m, at] : bindings_) {
    std::byte* base = nullptr;
    switch (at.where) {
      case in_arena: base = arena_.get() + abs_offset(at.buf); break;
      case weights_plain: base = weights_plain_.get(); break;
      case weights_packed: base = weights_packed_.get(); break;
      case bias_plain: base = bias_plain_.get(); break;
      case scratchpad: base = scratchpad_.get(); break;
      case fixed: base = static_cast<std::byte*>(at.ptr); break;
    }
    m.set_data_handle(base + at.offset);
  }
  bindings_.clear();
  return {};
}

base::result<void> onednn_executor::build(const plan& p, const session_options& o) {
  p_ = &p;
  opts_ = o;
  profile_ = std::getenv("IDPHOTO_ONEDNN_PROFILE") != nullptr;
  if (o.n_threads > 0) omp_set_num_threads(o.n_threads);  // oneDNN sizes its work split at creation
  IDPHOTO_TRY(check_values());
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
    if (st.output < 0 || st.output >= static_cast<int>(p.values.size()) ||
        p.values[st.output].kind == value_kind::constant)
      return step_error(st, errc::internal, "step without a runtime output");
    for (int in : st.inputs)
      if (in < 0 || in >= static_cast<int>(p.values.size())) return step_error(st, errc::internal, "bad input id");
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

// ---------------------------------------------------------------------------
// Run

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

}  // namespace

base::result<std::unique_ptr<executor>> make_onednn_executor(const plan& p, const session_options& o) {
  auto ex = std::make_unique<onednn_executor>();
  try {
    IDPHOTO_TRY(ex->build(p, o));
    // Resident packing read every mapped weight once; those pages are not needed again.
    for (const value& v : p.values)
      if (v.kind == value_kind::constant) release_pages(*v.constant);
  } catch (const dnnl::error& e) {
    return make_error(errc::internal, "oneDNN: " + dnnl_what(e));
  } catch (const std::bad_alloc&) {
    return make_error(errc::too_large, "out of memory while preparing the oneDNN executor");
  }
  return std::unique_ptr<executor>(std::move(ex));
}

}  // namespace idphoto::infer

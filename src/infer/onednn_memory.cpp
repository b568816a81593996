// The oneDNN executor's values, layouts, buffers and memories: which layout each value
// has, which buffer holds it (concat inputs placed in their output), and views of them.
#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "infer/executor_onednn.hpp"

namespace idphoto::infer::onednn {

using base::errc;
using base::make_error;

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

// The dims before the axis are all 1 (N = 1 for channels), and in nChw16c the
// axis is N or C (the layout rule keeps channel offsets 16-aligned).
bool slices_contiguous(const shape_t& ys, int64_t axis, bool blocked) {
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= ys[d];
  return outer == 1 && (!blocked || axis <= 1);
}

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

base::error onednn_executor::step_error(const step& st, errc c, const std::string& what) const {
  return make_error(c, std::string(op_kind_name(st.kind)) + " " + st.node + ": " + what);
}

// ---------------------------------------------------------------------------
// Values, layouts and buffers

// The planner guarantees what used to be checked here: constants carry data, runtime
// values are float32 with positive dims, aliases point at runtime values of the same
// element count.
void onednn_executor::find_roots() {
  const auto& vals = p_->values;
  root_.resize(vals.size());
  for (size_t v = 0; v < vals.size(); ++v) {
    int r = static_cast<int>(v), guard = 0;
    while (vals[r].alias_of >= 0 && guard++ < 100000) r = vals[r].alias_of;
    root_[v] = r;
  }
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
    if (yb < 0) continue;
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
      const int64_t offset_bytes = at * inner * 4;
      at += vals[x].shape[axis];
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

// ---------------------------------------------------------------------------
// Memories

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
  return owned_mem(std::vector<float>(f.data<float>(), f.data<float>() + f.size()), shape, d);
}

memory onednn_executor::owned_mem(std::vector<float> values, const shape_t& shape, const memory::desc& d) {
  const memory::desc pd = plain_desc(shape);
  owned_f32_.push_back(std::move(values));
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

onednn_executor::op& onednn_executor::add_primitive(int step, const dnnl::primitive& prim,
                                                    const dnnl::primitive_desc_base& pd, args_map args) {
  const memory::desc sd = pd.scratchpad_desc();
  scratchpad_bytes_ = std::max(scratchpad_bytes_, static_cast<int64_t>(sd.get_size()));
  if (sd.get_size() > 0) {
    place at;
    at.where = scratchpad;
    args[DNNL_ARG_SCRATCHPAD] = make_mem(sd, at);
  }
  ops_.push_back({step, [this, prim, args = std::move(args)] { prim.execute(stream_, args); }, pd.impl_info_str()});
  return ops_.back();
}

void onednn_executor::add_reorder(int step, const memory& from, const memory& to) {
  dnnl::reorder::primitive_desc pd(eng_, from.get_desc(), eng_, to.get_desc(), base_attr());
  add_primitive(step, dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
}

void onednn_executor::add_kernel(int step, std::function<void()> fn, std::string impl) {
  ops_.push_back({step, std::move(fn), std::move(impl)});
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

}  // namespace idphoto::infer::onednn

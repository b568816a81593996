// The oneDNN executor's arena binding: packs every buffer into one arena by liveness,
// allocates the arena and scratch areas once, and points each memory at its address.
#include <algorithm>
#include <cstdio>

#include "infer/executor_onednn.hpp"

namespace idphoto::infer::onednn {

using base::errc;
using base::make_error;

void onednn_executor::trim() {
  release_pages(arena_.get(), static_cast<size_t>(arena_bytes_));
  release_pages(weights_plain_.get(), static_cast<size_t>(weights_plain_bytes_));
  release_pages(weights_packed_.get(), static_cast<size_t>(weights_packed_bytes_));
  release_pages(scratchpad_.get(), static_cast<size_t>(scratchpad_bytes_));
}

// Profile aid: the packed arena against its lower bound (the most bytes live
// at one step) and what is live at that step.
void onednn_executor::print_arena(const std::vector<arena_request>& reqs, const std::vector<int>& req_buf) const {
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
  std::vector<arena_request> reqs;
  std::vector<int> req_buf;
  for (size_t b = 0; b < bufs_.size(); ++b) {
    if (bufs_[b].parent >= 0) continue;
    reqs.push_back({bufs_[b].bytes, bufs_[b].first, bufs_[b].last});
    req_buf.push_back(static_cast<int>(b));
  }
  const arena_layout lay = pack_arena(reqs, k_align);
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
      case in_arena:
        base = arena_.get() + abs_offset(at.buf);
        break;
      case weights_plain:
        base = weights_plain_.get();
        break;
      case weights_packed:
        base = weights_packed_.get();
        break;
      case bias_plain:
        base = bias_plain_.get();
        break;
      case scratchpad:
        base = scratchpad_.get();
        break;
      case fixed:
        base = static_cast<std::byte*>(at.ptr);
        break;
    }
    m.set_data_handle(base + at.offset);
  }
  bindings_.clear();
  return {};
}

}  // namespace idphoto::infer::onednn

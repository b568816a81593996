// Assigns arena offsets to activation buffers by liveness.
//
// Greedy by size (as in TFLite's arena planner): buffers are placed largest first;
// each goes at the lowest 64-byte-aligned offset where it overlaps no already placed
// buffer whose live range [first step, last step] intersects its own. Not optimal
// (the problem is NP-hard) but within a few percent of the lower bound — the largest
// sum of sizes live at one step — on U-Net graphs, and it runs in O(n^2).
#include <algorithm>

#include "infer/plan.hpp"

namespace idphoto::infer {

void assign_buffers(plan& p, const std::function<int64_t(const value&)>& size_of) {
  struct item {
    int id;
    int64_t bytes, first, last;
  };
  std::vector<item> items;
  for (size_t i = 0; i < p.values.size(); ++i) {
    value& v = p.values[i];
    v.offset = -1;
    v.bytes = 0;
    if (v.alias_of >= 0) continue;
    const bool owns = v.kind == value_kind::graph_input || (v.kind == value_kind::runtime && v.producer >= 0);
    if (!owns) continue;
    v.bytes = (size_of(v) + 63) / 64 * 64;
    const int64_t first = v.kind == value_kind::graph_input ? -1 : v.producer;
    const int64_t last = std::max<int64_t>(v.last_use, first);
    items.push_back({static_cast<int>(i), v.bytes, first, last});
  }
  std::stable_sort(items.begin(), items.end(), [](const item& a, const item& b) { return a.bytes > b.bytes; });
  std::vector<const item*> placed;
  int64_t arena = 0;
  for (const item& it : items) {
    std::vector<std::pair<int64_t, int64_t>> busy;  // [offset, end) of overlapping-in-time buffers
    for (const item* q : placed)
      if (q->first <= it.last && it.first <= q->last) {
        const value& qv = p.values[q->id];
        busy.emplace_back(qv.offset, qv.offset + qv.bytes);
      }
    std::sort(busy.begin(), busy.end());
    int64_t off = 0;
    for (auto [b, e] : busy) {
      if (off + it.bytes <= b) break;
      off = std::max(off, e);
    }
    p.values[it.id].offset = off;
    arena = std::max(arena, off + it.bytes);
    placed.push_back(&it);
  }
  for (auto& v : p.values)
    if (v.alias_of >= 0) {
      const value& r = p.values[p.root(static_cast<int>(&v - p.values.data()))];
      v.offset = r.offset;
      v.bytes = r.bytes;
    }
  p.arena_bytes = arena;
}

}  // namespace idphoto::infer

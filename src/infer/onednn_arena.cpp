// Offset assignment for the oneDNN executor's activation arena.
// Greedy by size with best fit, the approach of TFLite's arena planner.
#include "infer/onednn_arena.hpp"

#include <algorithm>
#include <functional>
#include <numeric>
#include <random>

namespace idphoto::infer::onednn {

/*
 * Packing buffers with fixed live ranges into the least memory is the
 * interval-colouring "dynamic storage allocation" problem (NP-hard), so we use
 * the heuristic that works well on CNNs: place buffers one by one; for each,
 * collect the already placed buffers whose live ranges overlap its own, and put
 * it into the smallest address gap between them that fits (best fit), or above
 * the highest one. The order matters, and no single order wins on every graph,
 * so we pack with a few (largest first, as in TFLite's arena planner; longest
 * lived first; largest size x lifetime first; first written first) and keep the
 * smallest arena. With a few hundred buffers each pass costs well under a
 * millisecond, negligible next to creating the primitives.
 */
namespace {

arena_layout pack_in_order(const std::vector<arena_request>& reqs, const std::vector<size_t>& order, int64_t align) {
  arena_layout out;
  out.offsets.assign(reqs.size(), 0);
  auto round_up = [align](int64_t v) { return (v + align - 1) & ~(align - 1); };
  struct placed {
    int64_t begin, end;
    int first, last;
  };
  std::vector<placed> done, live;
  for (size_t idx : order) {
    const arena_request& r = reqs[idx];
    if (r.bytes <= 0) continue;
    const int64_t size = round_up(r.bytes);
    live.clear();
    for (const placed& p : done)
      if (p.first <= r.last && r.first <= p.last) live.push_back(p);
    std::sort(live.begin(), live.end(), [](const placed& a, const placed& b) { return a.begin < b.begin; });

    int64_t best = -1, best_gap = INT64_MAX, cursor = 0;
    for (const placed& p : live) {
      if (p.begin > cursor) {
        const int64_t gap = p.begin - cursor;
        if (gap >= size && gap < best_gap) {
          best = cursor;
          best_gap = gap;
        }
      }
      cursor = std::max(cursor, p.end);
    }
    if (best < 0) best = cursor;
    out.offsets[idx] = best;
    done.push_back({best, best + size, r.first, r.last});
    out.arena_bytes = std::max(out.arena_bytes, best + size);
  }
  return out;
}

}  // namespace

arena_layout pack_arena(const std::vector<arena_request>& reqs, int64_t align) {
  const size_t n = reqs.size();
  auto length = [&](size_t i) { return static_cast<int64_t>(reqs[i].last) - reqs[i].first + 1; };
  using less_fn = std::function<bool(size_t, size_t)>;
  const less_fn orders[] = {
      [&](size_t a, size_t b) {
        return reqs[a].bytes != reqs[b].bytes ? reqs[a].bytes > reqs[b].bytes : reqs[a].first < reqs[b].first;
      },
      [&](size_t a, size_t b) {
        return length(a) != length(b) ? length(a) > length(b) : reqs[a].bytes > reqs[b].bytes;
      },
      [&](size_t a, size_t b) { return reqs[a].bytes * length(a) > reqs[b].bytes * length(b); },
      [&](size_t a, size_t b) {
        return reqs[a].first != reqs[b].first ? reqs[a].first < reqs[b].first : reqs[a].bytes > reqs[b].bytes;
      },
  };
  arena_layout best;
  bool have = false;
  for (const less_fn& less : orders) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), less);
    arena_layout lay = pack_in_order(reqs, order, align);
    if (!have || lay.arena_bytes < best.arena_bytes) best = std::move(lay);
    have = true;
  }
  // Then perturbed versions of largest-first: sizes jittered by up to +-50%,
  // with a fixed seed so a plan always gets the same layout.
  std::mt19937 rng(12345);
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  std::vector<double> key(n);
  for (int trial = 0; trial < 48; ++trial) {
    for (size_t i = 0; i < n; ++i) key[i] = static_cast<double>(reqs[i].bytes) * jitter(rng);
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] > key[b]; });
    arena_layout lay = pack_in_order(reqs, order, align);
    if (!have || lay.arena_bytes < best.arena_bytes) best = std::move(lay);
    have = true;
  }
  if (!have) best.offsets.assign(n, 0);
  return best;
}

}  // namespace idphoto::infer::onednn

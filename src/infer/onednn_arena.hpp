// Packs buffers with known live ranges into one arena for the oneDNN executor:
// two buffers whose live ranges overlap never share a byte.
#pragma once
#include <cstdint>
#include <vector>

namespace idphoto::infer::onednn {

struct arena_request {
  int64_t bytes = 0;
  int first = 0;  // first step that writes it (-1 = before the first step)
  int last = 0;   // last step that reads it (inclusive)
};

struct arena_layout {
  std::vector<int64_t> offsets;  // one per request, a multiple of the alignment
  int64_t arena_bytes = 0;       // peak: the end of the highest buffer
};

// Never fails; requests of 0 bytes get offset 0. align must be a power of two.
arena_layout pack_arena(const std::vector<arena_request>& reqs, int64_t align);

}  // namespace idphoto::infer::onednn

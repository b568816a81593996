// Reading a whole regular file into memory under a size limit (photos, rosters).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace idphoto::base {

// The file's bytes. not_found (no such file), io (not a regular file, unreadable),
// too_large (over max_bytes; detail names both sizes). The size is checked before reading.
result<std::vector<uint8_t>> read_file(const std::string& path, int64_t max_bytes);

}  // namespace idphoto::base

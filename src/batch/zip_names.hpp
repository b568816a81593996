// The entry names of a ZIP file exactly as its central directory stores them (bytes,
// NULs included). libzip replaces a NUL in a name with a space, so the refusal of NUL names
// needs the raw bytes; everything else about the archive is libzip's job.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace idphoto::batch {

// The raw names, in directory order. corrupt when the end-of-central-directory record (or
// its ZIP64 form) is not found or the directory does not parse where it says it is;
// too_large when it declares more than max_entries entries; io when the file cannot be read.
base::result<std::vector<std::string>> zip_raw_names(const std::string& path, int64_t max_entries);

}  // namespace idphoto::batch

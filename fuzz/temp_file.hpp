// A per-process scratch file for targets whose entry point reads a path (the model loader's
// mapped path, the ZIP reader): each input is written over it; removed at exit.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_target.hpp"

namespace idphoto::fuzz {

class temp_file {
 public:
  explicit temp_file(const char* suffix) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/idphoto-fuzz-" + std::to_string(getpid()) + suffix;
  }
  ~temp_file() { std::remove(path_.c_str()); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  // The path, now holding exactly these bytes.
  const std::string& write(const uint8_t* data, size_t size) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    FUZZ_CHECK(f != nullptr);
    FUZZ_CHECK(size == 0 || std::fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(std::fclose(f) == 0);
    return path_;
  }

 private:
  std::string path_;
};

}  // namespace idphoto::fuzz

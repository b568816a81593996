// Helpers shared by the store tests: temp directories, random bytes, key shape checks.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <random>
#include <regex>
#include <string>

namespace idphoto::store::test {

// A fresh directory under the system temp dir, removed when the object goes away.
class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "idphoto-store-XXXXXX").string();
    if (char* p = ::mkdtemp(tmpl.data())) path_ = p;
  }
  ~temp_dir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

inline bool key_has_store_shape(const std::string& key) {
  static const std::regex re("^(raw|clean|card)/[0-9a-f]{32}\\.(png|jpg|webp|heic|tiff|pdf)$");
  return std::regex_match(key, re);
}

}  // namespace idphoto::store::test

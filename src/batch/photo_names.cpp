// The name helpers of photo_names.hpp and is_photo_name of photo_source.hpp.
#include "batch/photo_names.hpp"

#include "batch/photo_source.hpp"

namespace idphoto::batch {

std::string base_name(const std::string& name) {
  const size_t slash = name.find_last_of("/\\");
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

std::string stem_of(const std::string& name) {
  std::string b = base_name(name);
  const size_t dot = b.rfind('.');
  return dot == std::string::npos || dot == 0 ? b : b.substr(0, dot);
}

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

bool is_left_out(const std::string& name) {
  if (name.empty() || name.back() == '/' || name.back() == '\\') return true;
  if (name.rfind("__MACOSX/", 0) == 0 || name.find("/__MACOSX/") != std::string::npos) return true;
  return base_name(name)[0] == '.';
}

bool is_photo_name(const std::string& name) {
  const std::string b = base_name(name);
  const size_t dot = b.rfind('.');
  if (dot == std::string::npos || dot == 0) return false;
  const std::string ext = ascii_lower(b.substr(dot + 1));
  for (const char* e : {"jpg", "jpeg", "png", "webp", "heic", "heif", "tif", "tiff"})
    if (ext == e) return true;
  return false;
}

}  // namespace idphoto::batch

// Names of photo files: which ones are photos, which are left out, and the parts matching
// uses (base name, stem, lowercase).
#pragma once
#include <string>

namespace idphoto::batch {

// The part after the last '/' or '\'.
std::string base_name(const std::string& name);
// The base name without its last extension ("photos/R12.jpg" -> "R12").
std::string stem_of(const std::string& name);
// ASCII lowercase (other bytes unchanged: idNumbers match case-insensitively in ASCII only).
std::string ascii_lower(std::string s);
// true for folders ("x/"), hidden files (".x"), macOS resource forks ("__MACOSX/…", "._x").
bool is_left_out(const std::string& name);

}  // namespace idphoto::batch

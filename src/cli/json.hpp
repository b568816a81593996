// Minimal JSON writing for CLI output: string escaping only (no parsing here).
#pragma once
#include <string>

namespace idphoto::cli {

// The string as a JSON string literal, quotes included (UTF-8 passed through,
// control characters escaped).
std::string json_str(const std::string& s);

}  // namespace idphoto::cli

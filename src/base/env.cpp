// The environment lookup and the integer reader of env.hpp.
#include "base/env.hpp"

#include <charconv>
#include <cstdlib>

namespace idphoto::base {

std::optional<std::string> process_env(const std::string& key) {
  const char* v = std::getenv(key.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

void read_env_int(const env_lookup& env, const std::string& key, int64_t lo, int64_t hi,
                  int64_t* out, std::vector<std::string>* errors) {
  const auto raw = env(key);
  if (!raw || raw->empty()) return;
  const std::string& s = *raw;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    errors->push_back(key + ": expected an integer, got '" + s.substr(0, 40) + "'");
    return;
  }
  if (v < lo || v > hi) {
    errors->push_back(key + ": must be in " + std::to_string(lo) + ".." + std::to_string(hi) +
                      ", got " + s);
    return;
  }
  *out = v;
}

}  // namespace idphoto::base

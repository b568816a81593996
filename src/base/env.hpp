// Reading settings from the environment: a lookup that tests can replace, and an integer
// reader that collects every error (startup prints them all at once).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace idphoto::base {

using env_lookup = std::function<std::optional<std::string>(const std::string& key)>;
// The process environment (getenv); nullopt when unset.
std::optional<std::string> process_env(const std::string& key);

// Sets *out to the decimal integer under key when it is set, non-empty and in [lo, hi];
// leaves *out alone when unset or empty; otherwise appends "KEY: …" to *errors.
void read_env_int(const env_lookup& env, const std::string& key, int64_t lo, int64_t hi,
                  int64_t* out, std::vector<std::string>* errors);

}  // namespace idphoto::base

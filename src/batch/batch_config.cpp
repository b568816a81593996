// batch_config from the environment, and its checks.
#include "batch/batch_config.hpp"

#include <string>
#include <vector>

namespace idphoto::batch {

namespace {

struct field {
  const char* key;
  int64_t batch_config::*member;
  int64_t lo, hi;
};

const field fields[] = {
    {"IDPHOTO_MAX_BATCH_BYTES", &batch_config::max_batch_bytes, 1, 1LL << 40},
    {"IDPHOTO_MAX_ROSTER_BYTES", &batch_config::max_roster_bytes, 1, 1LL << 30},
    {"IDPHOTO_MAX_BATCH_ROWS", &batch_config::max_rows, 1, 100000},
    {"IDPHOTO_MAX_ZIP_ENTRIES", &batch_config::max_zip_entries, 1, 1000000},
    {"IDPHOTO_MAX_ZIP_UNCOMPRESSED_BYTES", &batch_config::max_unzipped_bytes, 1, 1LL << 42},
    {"IDPHOTO_MAX_ZIP_RATIO", &batch_config::max_zip_ratio, 1, 100000},
};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "; ") + s;
  return out;
}

}  // namespace

base::result<batch_config> batch_config::from_env(const base::env_lookup& env) {
  batch_config c;
  std::vector<std::string> errors;
  for (const auto& f : fields) base::read_env_int(env, f.key, f.lo, f.hi, &(c.*f.member), &errors);
  if (!errors.empty()) return base::make_error(base::errc::invalid_argument, join(errors));
  return c;
}

base::result<void> batch_config::validate() const {
  std::vector<std::string> errors;
  for (const auto& f : fields) {
    const int64_t v = this->*f.member;
    if (v < f.lo || v > f.hi)
      errors.push_back(std::string(f.key) + ": must be in " + std::to_string(f.lo) + ".." +
                       std::to_string(f.hi) + ", got " + std::to_string(v));
  }
  if (!errors.empty()) return base::make_error(base::errc::invalid_argument, join(errors));
  return {};
}

}  // namespace idphoto::batch

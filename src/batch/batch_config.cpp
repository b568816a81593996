// batch_config from the environment, and its checks: one table of keys and ranges for both.
#include "batch/batch_config.hpp"

#include <string>
#include <vector>

namespace idphoto::batch {

namespace {

using base::env_kind;

struct field {
  base::env_key key;
  int64_t batch_config::*member;
};

const field fields[] = {
    {{"IDPHOTO_MAX_BATCH_BYTES", env_kind::bytes, 1, int64_t{1} << 40, "the photo ZIP"},
     &batch_config::max_batch_bytes},
    {{"IDPHOTO_MAX_ROSTER_BYTES", env_kind::bytes, 1, int64_t{1} << 30, "the roster CSV"},
     &batch_config::max_roster_bytes},
    {{"IDPHOTO_MAX_BATCH_ROWS", env_kind::integer, 1, 100000, "data rows of the roster"}, &batch_config::max_rows},
    {{"IDPHOTO_MAX_ZIP_ENTRIES", env_kind::integer, 1, 1000000, "entries of a ZIP, files of a folder"},
     &batch_config::max_zip_entries},
    {{"IDPHOTO_MAX_ZIP_UNCOMPRESSED_BYTES", env_kind::bytes, 1, int64_t{1} << 42, "all ZIP entries"},
     &batch_config::max_unzipped_bytes},
    {{"IDPHOTO_MAX_ZIP_RATIO", env_kind::integer, 1, 100000, "uncompressed / compressed, per entry"},
     &batch_config::max_zip_ratio},
};

}  // namespace

const std::vector<base::env_key>& env_keys() {
  static const std::vector<base::env_key> keys = [] {
    std::vector<base::env_key> k;
    for (const auto& f : fields) k.push_back(f.key);
    return k;
  }();
  return keys;
}

void load_env(const base::env_lookup& env, batch_config* c, std::vector<std::string>* errors) {
  for (const auto& f : fields) base::read_env_key(env, f.key, &(c->*f.member), errors);
}

base::result<batch_config> batch_config::from_env(const base::env_lookup& env) {
  batch_config c;
  std::vector<std::string> errors;
  load_env(env, &c, &errors);
  if (!errors.empty()) return base::make_error(base::errc::invalid_argument, base::join_errors(errors, "; "));
  return c;
}

base::result<void> batch_config::validate() const {
  std::vector<std::string> errors;
  for (const auto& f : fields) {
    const int64_t v = this->*f.member;
    if (v < f.key.lo || v > f.key.hi)
      errors.push_back(std::string(f.key.name) + ": must be in " + std::to_string(f.key.lo) + ".." +
                       std::to_string(f.key.hi) + ", got " + std::to_string(v));
  }
  if (!errors.empty()) return base::make_error(base::errc::invalid_argument, base::join_errors(errors, "; "));
  return {};
}

}  // namespace idphoto::batch

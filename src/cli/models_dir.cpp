// Resolves the models directory for the CLI.
#include "cli/models_dir.hpp"

#include <unistd.h>

#include <filesystem>
#include <vector>

#include "base/env.hpp"

namespace idphoto::cli {

std::string find_models_dir(const std::string& flag_value) {
  namespace fs = std::filesystem;
  if (!flag_value.empty()) return flag_value;
  std::string from_env;
  base::read_env_string(base::process_env, "IDPHOTO_MODELS_DIR", &from_env);
  if (!from_env.empty()) return from_env;
  std::vector<fs::path> candidates = {"models"};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path().parent_path().parent_path() / "models");
    candidates.push_back(exe.parent_path().parent_path() / "share" / "idphoto" / "models");
  }
  for (const auto& c : candidates)
    if (fs::is_directory(c, ec)) return c.string();
  return candidates.size() > 1 ? candidates[1].string() : "models";
}

}  // namespace idphoto::cli

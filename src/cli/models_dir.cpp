// Resolves the models directory for the CLI.
#include "cli/models_dir.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace idphoto::cli {

std::string find_models_dir(const std::string& flag_value) {
  namespace fs = std::filesystem;
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv("IDPHOTO_MODELS_DIR"); env && *env) return env;
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

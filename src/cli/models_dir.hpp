// Where the models live: --models-dir, $IDPHOTO_MODELS_DIR, ./models, or the
// checkout's models/ next to the binary (build/<preset>/idphoto -> ../../models).
#pragma once
#include <string>

namespace idphoto::cli {

// The first existing candidate; the last candidate when none exists (so the error names it).
std::string find_models_dir(const std::string& flag_value);

}  // namespace idphoto::cli

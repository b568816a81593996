// Inside idphoto_app: what service.cpp and service_jobs.cpp share. Not for other modules.
#pragma once
#include <string_view>

#include "base/result.hpp"
#include "image/limits.hpp"
#include "image/probe.hpp"

namespace idphoto::app {

// The header of a photo checked against the limits before anything is stored or run:
// invalid_argument (empty), too_large, and probe's errors (unsupported, corrupt).
base::result<image::image_info> check_photo(std::string_view bytes, const image::image_limits& limits);

}  // namespace idphoto::app

// Inside idphoto_app: what service.cpp and service_jobs.cpp share. Not for other modules.
#pragma once
#include <string_view>

#include <string>

#include "app/config.hpp"
#include "base/result.hpp"
#include "image/limits.hpp"
#include "image/probe.hpp"

namespace idphoto::app {

// The header of a photo checked against the limits before anything is stored or run:
// invalid_argument (empty), too_large, and probe's errors (unsupported, corrupt).
base::result<image::image_info> check_photo(std::string_view bytes, const image::image_limits& limits);

// A request's callbackUrl: "" (none) is fine; otherwise invalid_argument when the server has no
// IDPHOTO_WEBHOOK_SECRET or the URL is not one the webhook delivery would take.
base::result<void> check_callback_url(const std::string& url, const app_config& cfg);

}  // namespace idphoto::app

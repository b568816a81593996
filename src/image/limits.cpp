// Step 2: refuse images over the byte, pixel or side limits from their header alone,
// before any pixel is decoded; the limits are configuration (IDPHOTO_MAX_IMAGE_*).
#include "image/limits.hpp"

#include <charconv>
#include <cstdlib>
#include <string>
#include <vector>

namespace idphoto::image {

using base::errc;

namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

// Reads a positive decimal integer from the environment; leaves `out` alone when unset.
void read_env(const char* key, int64_t* out, std::vector<std::string>* errors) {
  const char* raw = std::getenv(key);
  if (!raw) return;
  std::string s(raw);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v <= 0) {
    errors->push_back(std::string(key) + ": expected a positive integer, got '" + s + "'");
    return;
  }
  *out = v;
}

}  // namespace

base::result<image_limits> image_limits::from_env() {
  image_limits l;
  std::vector<std::string> errors;
  int64_t side = l.max_side_px;
  read_env("IDPHOTO_MAX_IMAGE_BYTES", &l.max_bytes, &errors);
  read_env("IDPHOTO_MAX_IMAGE_PIXELS", &l.max_pixels, &errors);
  read_env("IDPHOTO_MAX_IMAGE_SIDE_PX", &side, &errors);
  if (side > 10'000'000) {
    errors.push_back("IDPHOTO_MAX_IMAGE_SIDE_PX: at most 10000000 (libvips' limit), got " +
                     std::to_string(side));
  } else {
    l.max_side_px = static_cast<int>(side);
  }
  if (!errors.empty()) return base::make_error(errc::invalid_argument, join(errors));
  return l;
}

base::result<void> image_limits::validate() const {
  std::vector<std::string> errors;
  if (max_bytes <= 0) errors.push_back("max_bytes must be > 0, got " + std::to_string(max_bytes));
  if (max_pixels <= 0) errors.push_back("max_pixels must be > 0, got " + std::to_string(max_pixels));
  if (max_side_px <= 0 || max_side_px > 10'000'000) {
    errors.push_back("max_side_px must be in 1..10000000, got " + std::to_string(max_side_px));
  }
  if (!errors.empty()) return base::make_error(errc::invalid_argument, "image limits: " + join(errors));
  return {};
}

base::result<void> check_limits(const image_info& info, const image_limits& limits) {
  auto refuse = [](const std::string& what, int64_t got, int64_t max) {
    return base::make_error(errc::too_large, what + " " + std::to_string(got) + " over the limit of " +
                                                 std::to_string(max));
  };
  if (info.byte_size > limits.max_bytes) return refuse("file size (bytes)", info.byte_size, limits.max_bytes);
  const int64_t side = std::max(info.width, info.height);
  if (side > limits.max_side_px) {
    return base::make_error(errc::too_large,
                            "image " + std::to_string(info.width) + "x" + std::to_string(info.height) +
                                ": side over the limit of " + std::to_string(limits.max_side_px) + " px");
  }
  const int64_t pixels = int64_t{info.width} * int64_t{info.height};
  if (pixels > limits.max_pixels) {
    return base::make_error(errc::too_large,
                            "image " + std::to_string(info.width) + "x" + std::to_string(info.height) +
                                ": " + std::to_string(pixels) + " pixels over the limit of " +
                                std::to_string(limits.max_pixels));
  }
  if (info.width < 1 || info.height < 1) {
    return base::make_error(errc::corrupt, "image header claims " + std::to_string(info.width) + "x" +
                                               std::to_string(info.height));
  }
  return {};
}

}  // namespace idphoto::image

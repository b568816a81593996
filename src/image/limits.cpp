// Step 2: refuse images over the byte, pixel or side limits from their header alone,
// before any pixel is decoded; the limits are configuration (IDPHOTO_MAX_IMAGE_*).
#include "image/limits.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace idphoto::image {

using base::errc;

namespace {

const base::env_key k_max_bytes{"IDPHOTO_MAX_IMAGE_BYTES", base::env_kind::bytes, 1, int64_t{1} << 40,
                                "bytes of the encoded photo"};
const base::env_key k_max_pixels{"IDPHOTO_MAX_IMAGE_PIXELS", base::env_kind::integer, 1, int64_t{1} << 40,
                                 "pixels of the first frame"};
const base::env_key k_max_side{"IDPHOTO_MAX_IMAGE_SIDE_PX", base::env_kind::integer, 1, 10'000'000,
                               "longest side, px (10000000 is libvips' limit)"};

}  // namespace

const std::vector<base::env_key>& env_keys() {
  static const std::vector<base::env_key> keys = {k_max_bytes, k_max_pixels, k_max_side};
  return keys;
}

void load_env(const base::env_lookup& env, image_limits* l, std::vector<std::string>* errors) {
  base::read_env_key(env, k_max_bytes, &l->max_bytes, errors);
  base::read_env_key(env, k_max_pixels, &l->max_pixels, errors);
  base::read_env_key_as(env, k_max_side, &l->max_side_px, errors);
}

base::result<image_limits> image_limits::from_env(const base::env_lookup& env) {
  image_limits l;
  std::vector<std::string> errors;
  for (const auto& k : env_keys())
    if (auto v = env(k.name); v && v->find_first_not_of(" \t") == std::string::npos)
      errors.push_back(std::string(k.name) + ": expected a positive integer, got '" + *v + "'");
  load_env(env, &l, &errors);
  if (!errors.empty()) return base::make_error(errc::invalid_argument, base::join_errors(errors, "; "));
  return l;
}

base::result<void> image_limits::validate() const {
  std::vector<std::string> errors;
  if (max_bytes <= 0) errors.push_back("max_bytes must be > 0, got " + std::to_string(max_bytes));
  if (max_pixels <= 0) errors.push_back("max_pixels must be > 0, got " + std::to_string(max_pixels));
  if (max_side_px <= 0 || max_side_px > 10'000'000) {
    errors.push_back("max_side_px must be in 1..10000000, got " + std::to_string(max_side_px));
  }
  if (!errors.empty())
    return base::make_error(errc::invalid_argument, "image limits: " + base::join_errors(errors, "; "));
  return {};
}

base::result<void> check_limits(const image_info& info, const image_limits& limits) {
  auto refuse = [](const std::string& what, int64_t got, int64_t max) {
    return base::make_error(errc::too_large,
                            what + " " + std::to_string(got) + " over the limit of " + std::to_string(max));
  };
  if (info.byte_size > limits.max_bytes) return refuse("file size (bytes)", info.byte_size, limits.max_bytes);
  const int64_t side = std::max(info.width, info.height);
  if (side > limits.max_side_px) {
    return base::make_error(errc::too_large, "image " + std::to_string(info.width) + "x" + std::to_string(info.height) +
                                                 ": side over the limit of " + std::to_string(limits.max_side_px) +
                                                 " px");
  }
  const int64_t pixels = int64_t{info.width} * int64_t{info.height};
  if (pixels > limits.max_pixels) {
    return base::make_error(errc::too_large, "image " + std::to_string(info.width) + "x" + std::to_string(info.height) +
                                                 ": " + std::to_string(pixels) + " pixels over the limit of " +
                                                 std::to_string(limits.max_pixels));
  }
  if (info.width < 1 || info.height < 1) {
    return base::make_error(errc::corrupt,
                            "image header claims " + std::to_string(info.width) + "x" + std::to_string(info.height));
  }
  return {};
}

}  // namespace idphoto::image

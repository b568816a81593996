// Internal to idphoto_fetch: the image type of a fetched body, from its magic bytes only.
#pragma once
#include <string>
#include <string_view>

namespace idphoto::fetch {

// "image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/avif",
// "image/tiff"; empty string when the bytes are none of these (or too short to tell).
std::string sniff_image_type(std::string_view bytes);

}  // namespace idphoto::fetch

// The image handle and the bridges between libvips images and plain 8-bit buffers
// (the pipeline feeds those to the network and gets a float mask back).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "image/vips_util.hpp"

namespace idphoto::image {

using base::errc;

std::optional<rgb8> parse_hex_rgb(std::string_view s) {
  if (s.size() != 7 || s[0] != '#') return std::nullopt;
  unsigned v = 0;
  for (size_t i = 1; i < 7; ++i) {
    const char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
    else return std::nullopt;
  }
  return rgb8{static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}

const char* format_name(format f) {
  switch (f) {
    case format::jpeg:
      return "jpeg";
    case format::png:
      return "png";
    case format::webp:
      return "webp";
    case format::heif:
      return "heif";
    case format::avif:
      return "avif";
    case format::tiff:
      return "tiff";
  }
  return "unknown";
}

void vips_image_deleter::operator()(VipsImage* p) const noexcept {
  if (p) g_object_unref(p);
}

int image::width() const { return v ? vips_image_get_width(v.get()) : 0; }
int image::height() const { return v ? vips_image_get_height(v.get()) : 0; }
int image::bands() const { return v ? vips_image_get_bands(v.get()) : 0; }

image image::share() const {
  if (v) g_object_ref(v.get());
  return image{vips_image_ptr(v.get())};
}

namespace {

base::result<void> check_8bit(const image& im, const char* what) {
  IDPHOTO_TRY(detail::require_vips());
  if (im.empty()) return base::make_error(errc::invalid_argument, std::string(what) + ": empty image");
  if (vips_image_get_format(im.v.get()) != VIPS_FORMAT_UCHAR) {
    return base::make_error(errc::invalid_argument, std::string(what) + ": image is not 8-bit (run to_srgb first)");
  }
  return {};
}

base::result<pixel_buffer> write_out(VipsImage* in, const char* what) {
  size_t size = 0;
  void* mem = vips_image_write_to_memory(in, &size);
  if (!mem) return detail::vips_fail(errc::corrupt, what);
  pixel_buffer out;
  out.width = vips_image_get_width(in);
  out.height = vips_image_get_height(in);
  out.bands = vips_image_get_bands(in);
  const auto* bytes = static_cast<const uint8_t*>(mem);
  out.data.assign(bytes, bytes + size);
  g_free(mem);
  return out;
}

}  // namespace

base::result<pixel_buffer> to_pixels(const image& im) {
  IDPHOTO_TRY(check_8bit(im, "to_pixels"));
  return write_out(im.v.get(), "to_pixels");
}

base::result<pixel_buffer> to_rgb8(const image& im) {
  IDPHOTO_TRY(check_8bit(im, "to_rgb8"));
  VipsImage* in = im.v.get();
  int bands = vips_image_get_bands(in);
  if (bands == 3) return write_out(in, "to_rgb8");

  VipsImage* out = nullptr;
  int rc = 0;
  if (bands == 4) {
    rc = vips_extract_band(in, &out, 0, "n", 3, nullptr);
  } else if (bands == 1 || bands == 2) {
    VipsImage* grey = nullptr;
    rc = vips_extract_band(in, &grey, 0, nullptr);
    image g = detail::adopt(grey);
    if (rc == 0) {
      VipsImage* three[3] = {grey, grey, grey};
      rc = vips_bandjoin(three, &out, 3, nullptr);
    }
  } else {
    return base::make_error(errc::invalid_argument, "to_rgb8: unsupported band count " + std::to_string(bands));
  }
  image rgb = detail::adopt(out);
  if (rc != 0) return detail::vips_fail(errc::internal, "to_rgb8");
  return write_out(rgb.v.get(), "to_rgb8");
}

base::result<image> from_pixels(std::span<const uint8_t> data, int width, int height, int bands) {
  IDPHOTO_TRY(detail::require_vips());
  if (width < 1 || height < 1 || bands < 1 || bands > 4) {
    return base::make_error(errc::invalid_argument, "from_pixels: bad geometry " + std::to_string(width) + "x" +
                                                        std::to_string(height) + "x" + std::to_string(bands));
  }
  const uint64_t need = uint64_t(width) * uint64_t(height) * uint64_t(bands);
  if (data.size() != need) {
    return base::make_error(errc::invalid_argument,
                            "from_pixels: got " + std::to_string(data.size()) + " bytes, need " + std::to_string(need));
  }
  VipsImage* raw = vips_image_new_from_memory_copy(data.data(), data.size(), width, height, bands, VIPS_FORMAT_UCHAR);
  image im = detail::adopt(raw);
  if (!raw) return detail::vips_fail(errc::internal, "from_pixels");
  im.v->Type = bands >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
  return im;
}

base::result<image> mask_from_float(std::span<const float> data, int width, int height) {
  if (width < 1 || height < 1 || data.size() != uint64_t(width) * uint64_t(height)) {
    return base::make_error(errc::invalid_argument, "mask_from_float: " + std::to_string(data.size()) + " values for " +
                                                        std::to_string(width) + "x" + std::to_string(height));
  }
  std::vector<uint8_t> bytes(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    float v = data[i];
    if (!(v > 0.0f)) v = 0.0f;  // also NaN
    if (v > 1.0f) v = 1.0f;
    bytes[i] = static_cast<uint8_t>(std::lround(v * 255.0f));
  }
  return from_pixels(bytes, width, height, 1);
}

base::result<image> materialise(const image& im) {
  IDPHOTO_TRY(detail::require_vips());
  if (im.empty()) return base::make_error(errc::invalid_argument, "materialise: empty image");
  VipsImage* out = vips_image_copy_memory(im.v.get());
  if (!out) return detail::vips_fail(errc::corrupt, "materialise");
  return detail::adopt(out);
}

}  // namespace idphoto::image

// Resolution metadata and cropping (resolution.hpp). libvips keeps resolution as
// pixels per millimetre in xres/yres; its PNG and JPEG savers write it even with "strip".
#include "image/resolution.hpp"

#include <cmath>
#include <string>

#include "image/vips_util.hpp"

namespace idphoto::image {

using base::errc;

base::result<image> with_dpi(const image& in, double dpi) {
  IDPHOTO_TRY(detail::require_vips());
  if (in.empty()) return base::make_error(errc::invalid_argument, "with_dpi: empty image");
  if (!(dpi >= 1 && dpi <= 10000))
    return base::make_error(errc::invalid_argument, "with_dpi: dpi must be 1..10000, got " + std::to_string(dpi));
  const double px_per_mm = dpi / 25.4;
  VipsImage* out = nullptr;
  if (vips_copy(in.v.get(), &out, "xres", px_per_mm, "yres", px_per_mm, nullptr) != 0)
    return detail::vips_fail(errc::internal, "with_dpi");
  return detail::adopt(out);
}

base::result<std::vector<uint8_t>> with_jpeg_density(std::span<const uint8_t> jpeg, double dpi) {
  if (jpeg.size() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 || jpeg[2] != 0xFF)
    return base::make_error(errc::invalid_argument, "jpeg density: not a JPEG");
  const long d = std::lround(dpi);
  if (d < 1 || d > 65535) return base::make_error(errc::invalid_argument, "jpeg density: dpi must be 1..65535");
  const uint8_t app0[18] = {0xFF,
                            0xE0,
                            0x00,
                            0x10,
                            'J',
                            'F',
                            'I',
                            'F',
                            0x00,
                            0x01,
                            0x02,
                            0x01,
                            uint8_t(d >> 8),
                            uint8_t(d & 0xFF),
                            uint8_t(d >> 8),
                            uint8_t(d & 0xFF),
                            0x00,
                            0x00};
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  size_t rest = 2;
  if (jpeg[3] == 0xE0 && jpeg.size() >= 6) {  // an APP0 already: drop it (its length is big-endian, including itself)
    const size_t len = (size_t(jpeg[4]) << 8) | jpeg[5];
    if (len < 2 || 4 + len > jpeg.size())
      return base::make_error(errc::invalid_argument, "jpeg density: truncated APP0");
    rest = 4 + len;
  }
  out.insert(out.end(), app0, app0 + sizeof app0);
  out.insert(out.end(), jpeg.begin() + static_cast<long>(rest), jpeg.end());
  return out;
}

base::result<double> dpi_of(const image& in) {
  if (in.empty()) return base::make_error(errc::invalid_argument, "dpi_of: empty image");
  return vips_image_get_xres(in.v.get()) * 25.4;
}

base::result<image> crop(const image& in, int x, int y, int w, int h) {
  IDPHOTO_TRY(detail::require_vips());
  if (in.empty()) return base::make_error(errc::invalid_argument, "crop: empty image");
  const int iw = in.width(), ih = in.height();
  if (w < 1 || h < 1 || x < 0 || y < 0 || x > iw - w || y > ih - h)
    return base::make_error(errc::invalid_argument, "crop: rectangle " + std::to_string(w) + "x" + std::to_string(h) +
                                                        "+" + std::to_string(x) + "+" + std::to_string(y) +
                                                        " is not inside " + std::to_string(iw) + "x" +
                                                        std::to_string(ih));
  if (x == 0 && y == 0 && w == iw && h == ih) return in.share();
  VipsImage* out = nullptr;
  if (vips_extract_area(in.v.get(), &out, x, y, w, h, nullptr) != 0) return detail::vips_fail(errc::internal, "crop");
  return detail::adopt(out);
}

}  // namespace idphoto::image

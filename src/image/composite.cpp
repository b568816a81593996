// Step 7: put the foreground on the ID-photo background through the mask
// (or keep the mask as alpha for a transparent PNG).
#include "image/ops.hpp"
#include "image/vips_util.hpp"

namespace idphoto::image {

using base::errc;

namespace {

base::result<void> check_inputs(const image& rgb, const image& mask) {
  IDPHOTO_TRY(detail::require_vips());
  if (rgb.empty() || mask.empty()) return base::make_error(errc::invalid_argument, "composite: empty image");
  if (rgb.bands() != 3 || vips_image_get_format(rgb.v.get()) != VIPS_FORMAT_UCHAR) {
    return base::make_error(errc::invalid_argument,
                            "composite: rgb must be 3-band 8-bit, got " + std::to_string(rgb.bands()) + " bands");
  }
  if (mask.bands() != 1 || vips_image_get_format(mask.v.get()) != VIPS_FORMAT_UCHAR) {
    return base::make_error(errc::invalid_argument,
                            "composite: mask must be 1-band 8-bit, got " + std::to_string(mask.bands()) + " bands");
  }
  if (rgb.width() != mask.width() || rgb.height() != mask.height()) {
    return base::make_error(errc::invalid_argument,
                            "composite: rgb is " + std::to_string(rgb.width()) + "x" + std::to_string(rgb.height()) +
                                ", mask is " + std::to_string(mask.width()) + "x" + std::to_string(mask.height()));
  }
  return {};
}

}  // namespace

base::result<image> composite(const image& rgb, const image& mask, std::optional<rgb8> background) {
  IDPHOTO_TRY(check_inputs(rgb, mask));
  VipsImage* out = nullptr;
  if (!background) {
    VipsImage* both[2] = {rgb.v.get(), mask.v.get()};
    int rc = vips_bandjoin(both, &out, 2, nullptr);
    image joined = detail::adopt(out);
    if (rc) return detail::vips_fail(errc::internal, "composite: bandjoin");
    out = nullptr;
    rc = vips_copy(joined.v.get(), &out, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr);
    image rgba = detail::adopt(out);
    if (rc) return detail::vips_fail(errc::internal, "composite: copy");
    return rgba;
  }

  double colour[3] = {double(background->r), double(background->g), double(background->b)};
  VipsImage* raw_bg = vips_image_new_from_image(rgb.v.get(), colour, 3);
  image bg = detail::adopt(raw_bg);
  if (!raw_bg) return detail::vips_fail(errc::internal, "composite: background");
  // ifthenelse with blend on 8-bit data computes (m*fg + (255-m)*bg + 128) / 255
  // in integers: exact at m = 0 and m = 255, rounded in between.
  int rc = vips_ifthenelse(mask.v.get(), rgb.v.get(), bg.v.get(), &out, "blend", TRUE, nullptr);
  image blended = detail::adopt(out);
  if (rc) return detail::vips_fail(errc::internal, "composite: blend");
  return blended;
}

}  // namespace idphoto::image

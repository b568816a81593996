// Step 6: high-quality resizing — fit inside a box (never enlarging unless asked)
// for working and output sizes, and exact W x H for model input and masks.
#include <algorithm>
#include <cmath>

#include "image/ops.hpp"
#include "image/vips_util.hpp"

namespace idphoto::image {

using base::errc;

namespace {

base::result<void> check_input(const image& in, int w, int h, const char* what) {
  IDPHOTO_TRY(detail::require_vips());
  if (in.empty()) return base::make_error(errc::invalid_argument, std::string(what) + ": empty image");
  if (w < 1 || h < 1) {
    return base::make_error(errc::invalid_argument,
                            std::string(what) + ": bad size " + std::to_string(w) + "x" + std::to_string(h));
  }
  return {};
}

}  // namespace

/* Exact resize.
 *
 * vips_resize() does the work: a box pre-shrink by an integer factor when the
 * reduction is large (gap 2, so at least 2x is left for the filter) and a
 * Lanczos-3 reduce for the rest; enlargement goes through bicubic affine.
 * Alpha is premultiplied first, or transparent pixels' colour (often black or
 * garbage) would bleed into the edges. vips_resize() rounds its output size from
 * in*scale, which can be one pixel off for some ratios, so the result is cropped
 * or edge-extended to exactly width x height (at most one row/column).
 */
base::result<image> resize_exact(const image& in, int width, int height) {
  IDPHOTO_TRY(check_input(in, width, height, "resize_exact"));
  VipsImage* src = in.v.get();
  const int in_w = vips_image_get_width(src);
  const int in_h = vips_image_get_height(src);
  if (in_w == width && in_h == height) return in.share();

  const VipsBandFormat fmt = vips_image_get_format(src);
  const bool alpha = detail::has_alpha(src);
  const double max_alpha = detail::max_sample(fmt);

  image cur = in.share();
  VipsImage* out = nullptr;
  if (alpha) {
    int rc = vips_premultiply(cur.v.get(), &out, "max_alpha", max_alpha, nullptr);
    cur = detail::adopt(out);
    if (rc) return detail::vips_fail(errc::internal, "resize: premultiply");
  }

  const double hscale = double(width) / in_w;
  const double vscale = double(height) / in_h;
  out = nullptr;
  int rc = vips_resize(cur.v.get(), &out, hscale, "vscale", vscale, "kernel", VIPS_KERNEL_LANCZOS3, nullptr);
  cur = detail::adopt(out);
  if (rc) return detail::vips_fail(errc::internal, "resize");

  const int got_w = cur.width(), got_h = cur.height();
  if (got_w != width || got_h != height) {
    out = nullptr;
    rc = vips_embed(cur.v.get(), &out, 0, 0, std::max(width, got_w), std::max(height, got_h), "extend",
                    VIPS_EXTEND_COPY, nullptr);
    cur = detail::adopt(out);
    if (rc) return detail::vips_fail(errc::internal, "resize: extend");
    out = nullptr;
    rc = vips_extract_area(cur.v.get(), &out, 0, 0, width, height, nullptr);
    cur = detail::adopt(out);
    if (rc) return detail::vips_fail(errc::internal, "resize: crop");
  }

  if (alpha) {
    out = nullptr;
    rc = vips_unpremultiply(cur.v.get(), &out, "max_alpha", max_alpha, nullptr);
    cur = detail::adopt(out);
    if (rc) return detail::vips_fail(errc::internal, "resize: unpremultiply");
    if (vips_band_format_isint(fmt)) {
      out = nullptr;
      rc = vips_round(cur.v.get(), &out, VIPS_OPERATION_ROUND_RINT, nullptr);
      cur = detail::adopt(out);
      if (rc) return detail::vips_fail(errc::internal, "resize: round");
    }
    out = nullptr;
    rc = vips_cast(cur.v.get(), &out, fmt, nullptr);  // clamps to the format's range
    cur = detail::adopt(out);
    if (rc) return detail::vips_fail(errc::internal, "resize: cast");
  }
  return cur;
}

base::result<image> resize_to_fit(const image& in, int box_w, int box_h, const resize_options& opts) {
  IDPHOTO_TRY(check_input(in, box_w, box_h, "resize_to_fit"));
  const int w = in.width(), h = in.height();
  const double scale = std::min(double(box_w) / w, double(box_h) / h);
  if (scale == 1.0 || (scale > 1.0 && !opts.allow_upscale)) return in.share();
  const int tw = std::clamp(int(std::lround(w * scale)), 1, box_w);
  const int th = std::clamp(int(std::lround(h * scale)), 1, box_h);
  return resize_exact(in, tw, th);
}

}  // namespace idphoto::image

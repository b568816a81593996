// Step 4: turn the image upright per its EXIF orientation (1–8, flips included)
// and drop the tag, so running the step twice is harmless.
#include "image/ops.hpp"
#include "image/vips_util.hpp"

namespace idphoto::image {

using base::errc;

base::result<image> orient(const image& in) {
  IDPHOTO_TRY(detail::require_vips());
  if (in.empty()) return base::make_error(errc::invalid_argument, "orient: empty image");
  // vips_autorot rotates/flips for orientation 2–8 and removes the orientation
  // tag from its output (it returns an untagged copy for 1 or no tag).
  VipsImage* out = nullptr;
  int rc = vips_autorot(in.v.get(), &out, nullptr);
  image up = detail::adopt(out);
  if (rc) return detail::vips_fail(errc::internal, "orient");
  return up;
}

}  // namespace idphoto::image

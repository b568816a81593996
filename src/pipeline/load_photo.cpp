// load_photo (load_photo.hpp): decode -> orient -> sRGB -> flatten -> materialise.
#include "pipeline/load_photo.hpp"

#include <utility>

#include "image/decode.hpp"
#include "image/ops.hpp"

namespace idphoto::pipeline {

base::result<image::image> load_photo(std::span<const uint8_t> bytes, int max_side, const image::image_limits& limits) {
  image::decode_options dopt;
  dopt.max_width = dopt.max_height = max_side;
  dopt.limits = limits;
  auto decoded = image::decode(bytes, dopt);
  IDPHOTO_TRY(decoded);
  auto upright = image::orient(*decoded);
  IDPHOTO_TRY(upright);
  auto srgb = image::to_srgb(*upright);
  IDPHOTO_TRY(srgb);
  image::image photo = std::move(srgb->rgb);
  if (srgb->alpha) {  // transparent input: flatten on white so the network sees a plain background
    auto flat = image::composite(photo, *srgb->alpha, image::rgb8{255, 255, 255});
    IDPHOTO_TRY(flat);
    photo = std::move(*flat);
  }
  return image::materialise(photo);
}

base::result<rgb8_plane> plane_of(const image::image& im) {
  auto px = image::to_rgb8(im);
  IDPHOTO_TRY(px);
  rgb8_plane p;
  p.width = px->width;
  p.height = px->height;
  p.px = std::move(px->data);
  return p;
}

}  // namespace idphoto::pipeline

// The card's photo: decoded by the image module, upright, sRGB, alpha flattened on white,
// cropped to the photo box's aspect ratio and resampled to 300..600 dpi for the box.
#include <algorithm>
#include <cmath>
#include <span>

#include "card/card.hpp"
#include "card/card_internal.hpp"
#include "image/decode.hpp"
#include "image/encode.hpp"
#include "image/image.hpp"
#include "image/ops.hpp"

namespace idphoto::card::detail {

/* Crop, then resample. The crop is the largest centred window with the box's aspect ratio
 * ("cover": the box is filled, the photo's excess width or height is cut off evenly), so
 * the photo is never distorted. The window is then resampled so that its pixels per inch
 * in the box lie in [min_photo_dpi, max_photo_dpi]: a small photo is upsampled (no detail
 * is gained, but the printer receives exactly what the card promises and the dpi check of
 * the PDF holds), a large one downsampled (the PDF stays small). Decoding shrinks on load
 * to a 2000 px box, well above the 600 dpi size of any box on a card. */
base::result<placed_photo> prepare_photo(std::string_view bytes, double box_w_mm, double box_h_mm) {
  if (bytes.empty()) return base::make_error(base::errc::invalid_argument, "photo: empty");
  image::decode_options dopts;
  dopts.max_width = 2000;
  dopts.max_height = 2000;
  auto decoded =
      image::decode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), dopts);
  if (!decoded) return base::make_error(decoded.err().code, "photo: " + decoded.err().detail);
  auto upright = image::orient(*decoded);
  if (!upright) return upright.err();
  auto srgb = image::to_srgb(*upright);
  if (!srgb) return srgb.err();
  image::image flat = srgb->rgb.share();
  if (srgb->alpha) {
    auto c = image::composite(srgb->rgb, *srgb->alpha, image::rgb8{255, 255, 255});
    if (!c) return c.err();
    flat = std::move(*c);
  }
  auto px = image::to_rgb8(flat);
  if (!px) return px.err();

  // Cover crop to the box's aspect ratio.
  const double aspect = box_w_mm / box_h_mm;  // width / height
  int cw = px->width, ch = px->height;
  if (static_cast<double>(cw) / ch > aspect) {
    cw = std::max(1, static_cast<int>(std::lround(ch * aspect)));
  } else {
    ch = std::max(1, static_cast<int>(std::lround(cw / aspect)));
  }
  const int x0 = (px->width - cw) / 2, y0 = (px->height - ch) / 2;
  std::vector<uint8_t> crop(static_cast<size_t>(cw) * ch * 3);
  for (int y = 0; y < ch; ++y) {
    const uint8_t* src = px->data.data() + (static_cast<size_t>(y0 + y) * px->width + x0) * 3;
    std::copy(src, src + static_cast<size_t>(cw) * 3, crop.data() + static_cast<size_t>(y) * cw * 3);
  }

  // Target size: within [min, max] dpi on both axes (ceil for the minimum, so rounding never
  // drops below it).
  const double w_in = box_w_mm / 25.4, h_in = box_h_mm / 25.4;
  int tw = cw;
  const int min_w = static_cast<int>(std::ceil(min_photo_dpi * w_in));
  const int max_w = static_cast<int>(std::floor(max_photo_dpi * w_in));
  tw = std::clamp(tw, min_w, max_w);
  int th = static_cast<int>(std::ceil(tw / aspect));
  th = std::max(th, static_cast<int>(std::ceil(min_photo_dpi * h_in)));

  auto crop_im = image::from_pixels(crop, cw, ch, 3);
  if (!crop_im) return crop_im.err();
  image::image sized = crop_im->share();
  if (tw != cw || th != ch) {
    auto r = image::resize_exact(*crop_im, tw, th);
    if (!r) return r.err();
    sized = std::move(*r);
  }
  auto out_px = image::to_rgb8(sized);
  if (!out_px) return out_px.err();
  auto jpeg = image::encode(sized, image::encode_options{image::format::jpeg, 92});
  if (!jpeg) return jpeg.err();

  placed_photo p;
  p.rgb = std::move(out_px->data);
  p.width = out_px->width;
  p.height = out_px->height;
  p.jpeg = std::move(*jpeg);
  return p;
}

}  // namespace idphoto::card::detail

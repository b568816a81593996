// Step 5: bring any decoded colour layout (grey, palette, 16-bit, CMYK, embedded ICC)
// to 3-band 8-bit sRGB, with alpha (if any) split off as an 8-bit mask.
#include "image/ops.hpp"
#include "image/vips_util.hpp"

namespace idphoto::image {

using base::errc;

namespace {

#define IDPHOTO_VIPS(call, what)                                    \
  do {                                                              \
    VipsImage* out_ = nullptr;                                      \
    int rc_ = (call);                                               \
    cur = detail::adopt(out_);                                      \
    if (rc_ != 0) return detail::vips_fail(errc::internal, (what)); \
  } while (0)

// Reads the colour bands as a known interpretation (loaders sometimes say
// "multiband" or leave a grey image marked sRGB).
base::result<image> normalise_interpretation(image cur) {
  VipsImage* v = cur.v.get();
  const int bands = vips_image_get_bands(v);
  const bool wide = vips_image_get_format(v) == VIPS_FORMAT_USHORT;
  const VipsInterpretation was = vips_image_get_interpretation(v);
  VipsInterpretation want = was;
  if (bands == 1) {
    if (was != VIPS_INTERPRETATION_B_W && was != VIPS_INTERPRETATION_GREY16)
      want = wide ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_B_W;
  } else if (bands == 3) {
    switch (was) {
      case VIPS_INTERPRETATION_sRGB:
      case VIPS_INTERPRETATION_RGB16:
      case VIPS_INTERPRETATION_scRGB:
      case VIPS_INTERPRETATION_LAB:
      case VIPS_INTERPRETATION_LABS:
      case VIPS_INTERPRETATION_XYZ:
      case VIPS_INTERPRETATION_LCH:
      case VIPS_INTERPRETATION_CMC:
      case VIPS_INTERPRETATION_HSV:
      case VIPS_INTERPRETATION_YXY:
        break;
      default:
        want = wide ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_sRGB;
    }
  } else if (bands == 4) {
    want = VIPS_INTERPRETATION_CMYK;  // 4 colour bands (alpha already split off)
  } else {
    return base::make_error(errc::unsupported, "to_srgb: cannot read " + std::to_string(bands) + " bands as colour");
  }
  if (want == was) return cur;
  IDPHOTO_VIPS(vips_copy(v, &out_, "interpretation", want, nullptr), "to_srgb: copy");
  return cur;
}

// To 8-bit: 16-bit by dropping the low byte, anything else by rounding and clamping.
base::result<image> to_uchar(image cur) {
  VipsImage* v = cur.v.get();
  const VipsBandFormat f = vips_image_get_format(v);
  if (f == VIPS_FORMAT_UCHAR) return cur;
  if (f == VIPS_FORMAT_USHORT) {
    IDPHOTO_VIPS(vips_cast(v, &out_, VIPS_FORMAT_UCHAR, "shift", TRUE, nullptr), "to_srgb: 16 to 8 bit");
    return cur;
  }
  IDPHOTO_VIPS(vips_round(v, &out_, VIPS_OPERATION_ROUND_RINT, nullptr), "to_srgb: round");
  IDPHOTO_VIPS(vips_cast(cur.v.get(), &out_, VIPS_FORMAT_UCHAR, nullptr), "to_srgb: cast");
  return cur;
}

// A copy with the given interpretation and no ICC profile attached.
base::result<image> retag(image cur, VipsInterpretation interp) {
  IDPHOTO_VIPS(vips_copy(cur.v.get(), &out_, "interpretation", interp, nullptr), "to_srgb: retag");
  vips_image_remove(cur.v.get(), VIPS_META_ICC_NAME);
  return cur;
}

}  // namespace

/* Colour conversion.
 *
 * Alpha is split off first so every colour path sees colour bands only (and 16-bit
 * alpha is simply shifted, never colour-managed). Colour then goes:
 * 1. with an embedded ICC profile: lcms transform from that profile to sRGB,
 *    perceptual intent (CMYK profiles carry perceptual tables; matrix RGB
 *    profiles fall back to relative colorimetric), straight to 8 bits;
 * 2. without one, or if lcms refuses the profile (broken, or made for another
 *    colour space): vips_colourspace to sRGB, which for CMYK uses libvips'
 *    built-in CMYK profile, and for grey/16-bit is plain arithmetic.
 * The result carries no profile: untagged images are read as sRGB everywhere.
 */
base::result<srgb_image> to_srgb(const image& in) {
  IDPHOTO_TRY(detail::require_vips());
  if (in.empty()) return base::make_error(errc::invalid_argument, "to_srgb: empty image");
  VipsImage* src = in.v.get();
  const int bands = vips_image_get_bands(src);
  const bool alpha = detail::has_alpha(src);

  srgb_image result;
  image cur;
  if (alpha) {
    IDPHOTO_VIPS(vips_extract_band(src, &out_, bands - 1, nullptr), "to_srgb: alpha");
    auto a8 = to_uchar(std::move(cur));
    if (!a8.ok()) return a8.err();
    auto tagged = retag(std::move(*a8), VIPS_INTERPRETATION_B_W);
    if (!tagged.ok()) return tagged.err();
    result.alpha = std::move(*tagged);
    IDPHOTO_VIPS(vips_extract_band(src, &out_, 0, "n", bands - 1, nullptr), "to_srgb: colour");
  } else {
    cur = in.share();
  }

  auto norm = normalise_interpretation(std::move(cur));
  if (!norm.ok()) return norm.err();
  cur = std::move(*norm);

  bool done = false;
  if (vips_image_get_typeof(cur.v.get(), VIPS_META_ICC_NAME)) {
    VipsImage* out = nullptr;
    int rc = vips_icc_transform(cur.v.get(), &out, "srgb", "embedded", TRUE, "intent", VIPS_INTENT_PERCEPTUAL, "depth",
                                8, nullptr);
    image converted = detail::adopt(out);
    if (rc == 0) {
      // lcms may have logged about a profile libvips then replaced: not our error.
      detail::take_vips_error();
      cur = std::move(converted);
      done = true;
    } else {
      detail::take_vips_error();  // profile refused: fall back without it
      const VipsInterpretation interp = vips_image_get_interpretation(cur.v.get());
      auto stripped = retag(std::move(cur), interp);
      if (!stripped.ok()) return stripped.err();
      cur = std::move(*stripped);
    }
  }
  if (!done) {
    // 16-bit RGB/grey: drop the low byte first (exact, where the colourspace route
    // through float could round differently).
    const VipsInterpretation interp = vips_image_get_interpretation(cur.v.get());
    if (interp == VIPS_INTERPRETATION_RGB16 || interp == VIPS_INTERPRETATION_GREY16) {
      auto narrowed = to_uchar(std::move(cur));
      if (!narrowed.ok()) return narrowed.err();
      IDPHOTO_VIPS(
          vips_copy(narrowed->v.get(), &out_, "interpretation",
                    interp == VIPS_INTERPRETATION_RGB16 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W, nullptr),
          "to_srgb: retag 8-bit");
    }
  }
  if (!done && vips_image_get_interpretation(cur.v.get()) != VIPS_INTERPRETATION_sRGB) {
    IDPHOTO_VIPS(vips_colourspace(cur.v.get(), &out_, VIPS_INTERPRETATION_sRGB, nullptr), "to_srgb: colourspace");
  }
  auto c8 = to_uchar(std::move(cur));
  if (!c8.ok()) return c8.err();
  auto tagged = retag(std::move(*c8), VIPS_INTERPRETATION_sRGB);
  if (!tagged.ok()) return tagged.err();
  if (tagged->bands() != 3) {
    return base::make_error(errc::internal, "to_srgb: got " + std::to_string(tagged->bands()) + " bands, want 3");
  }
  result.rgb = std::move(*tagged);
  return result;
}

}  // namespace idphoto::image

// Encoding the framed photo: the spec's dpi written into the file, and a file-size limit
// met by choosing the JPEG quality (frame.hpp, encode_frame).
#include "image/encode.hpp"
#include "image/resolution.hpp"
#include "pipeline/frame.hpp"

namespace idphoto::pipeline {

/* Size limit by binary search on the JPEG quality: JPEG size grows (almost) monotonically
 * with quality, so the highest quality in [1, start] whose bytes fit is found in at most
 * 7 encodes. Padding or stripping to fit would be cheating the limit; a too-small limit
 * is an error that says so. PNG is lossless: it fits or it does not. */
base::result<encoded_frame> encode_frame(const rgb8_plane& px, double dpi, image::format fmt, int quality, int max_kb) {
  if (quality < 1 || quality > 100) return base::make_error(base::errc::invalid_argument, "quality must be 1..100");
  if (max_kb < 0) return base::make_error(base::errc::invalid_argument, "max-kb must be >= 0");
  if (fmt != image::format::jpeg && fmt != image::format::png)
    return base::make_error(base::errc::invalid_argument, "an ID photo is written as JPEG or PNG");
  auto im = image::from_pixels(px.px, px.width, px.height, 3);
  IDPHOTO_TRY(im);
  auto tagged = image::with_dpi(*im, dpi);
  IDPHOTO_TRY(tagged);
  const size_t limit = static_cast<size_t>(max_kb) * 1000;
  encoded_frame out;
  out.fmt = fmt;
  if (fmt == image::format::png) {
    auto b = image::encode(*tagged, image::encode_options{image::format::png, 90});
    IDPHOTO_TRY(b);
    if (max_kb > 0 && b->size() > limit)
      return base::make_error(base::errc::too_large, "the PNG is " + std::to_string(b->size() / 1000) +
                                                         " KB, over the " + std::to_string(max_kb) +
                                                         " KB limit: use JPEG output, which can be compressed to fit");
    out.bytes = std::move(*b);
    return out;
  }
  auto at = [&](int q) -> base::result<std::vector<uint8_t>> {
    auto b = image::encode(*tagged, image::encode_options{image::format::jpeg, q});
    IDPHOTO_TRY(b);
    return image::with_jpeg_density(*b, dpi);  // the 18-byte header counts against the limit too
  };
  auto first = at(quality);
  IDPHOTO_TRY(first);
  if (max_kb == 0 || first->size() <= limit) {
    out.bytes = std::move(*first);
    out.quality = quality;
    return out;
  }
  int lo = 1, hi = quality - 1, best = 0;
  std::vector<uint8_t> best_bytes;
  while (lo <= hi) {
    const int mid = (lo + hi) / 2;
    auto b = at(mid);
    IDPHOTO_TRY(b);
    if (b->size() <= limit) {
      best = mid;
      best_bytes = std::move(*b);
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (best == 0)
    return base::make_error(base::errc::too_large, "even JPEG quality 1 is over the " + std::to_string(max_kb) +
                                                       " KB limit at " + std::to_string(px.width) + "x" +
                                                       std::to_string(px.height) + " px");
  out.bytes = std::move(best_bytes);
  out.quality = best;
  return out;
}

}  // namespace idphoto::pipeline

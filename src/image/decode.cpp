// Step 3: decode the first frame straight to a working size (shrink-on-load), so a
// large photo never exists in memory at full size; bad data is an error, not grey.
#include "image/decode.hpp"

#include <algorithm>
#include <utility>

#include "image/load.hpp"
#include "image/ops.hpp"

namespace idphoto::image {

using base::errc;

namespace {

/* Shrink-on-load.
 *
 * The header is opened first (lazy: no pixels), checked against the limits, and
 * the loader is run again with a reduction it can do while decoding:
 * - JPEG: libjpeg's DCT-domain scaling by 1/2, 1/4 or 1/8. We take the largest
 *   factor that still leaves the image at least as large as the box, so the
 *   final Lanczos step only ever reduces (a 12 MP 4000x3000 photo for a 1600 box
 *   decodes at 2000x1500 and is never at full size in memory).
 * - WebP: libwebp decodes straight to the scaled size.
 * - PNG, TIFF: no decoder-side scaling, but the loaders run sequentially, so the
 *   resize consumes rows as they are decoded: full-size pixels only ever exist a
 *   few rows at a time.
 * - HEIF/AVIF: libheif decodes the whole frame at full size (bounded by
 *   max_pixels; see limits.hpp), then it is reduced.
 * The pipeline (load -> resize) is then computed into memory once, which is also
 * where truncated or corrupt data surfaces (fail_on=error makes it an error).
 */
/* The largest of libjpeg's DCT-domain shrinks (8, 4, 2) within the scale, and never more than
 * the shorter side: libvips 8.14's jpegload divides the header's sides by the shrink, and a
 * side that comes out 0 (a 2048x6 JPEG shrunk by 8) fails a g_assert in vips_image_generate,
 * which aborts the process (found by fuzz/image_decode). resize_to_fit does the rest. */
int jpeg_shrink_for(double scale, int short_side) {
  const double f = 1.0 / scale;
  for (int shrink : {8, 4, 2})
    if (f >= shrink && short_side >= shrink) return shrink;
  return 1;
}

base::result<image> decode_source(const detail::opened_source& s, const decode_options& o) {
  if (o.max_width < 0 || o.max_height < 0) {
    return base::make_error(errc::invalid_argument, "decode: negative working box");
  }
  IDPHOTO_TRY(o.limits.validate());

  image_info info;
  {
    auto header = detail::load(s);
    if (!header.ok()) return header.err();
    info = detail::info_of(*header, s.fmt, s.byte_size);
  }  // header image released before the real load
  IDPHOTO_TRY(check_limits(info, o.limits));

  int box_w = o.max_width, box_h = o.max_height;
  if (info.swaps_axes()) std::swap(box_w, box_h);  // the box is in the upright frame
  const bool boxed = box_w > 0 && box_h > 0;
  double scale = 1.0;
  if (boxed) scale = std::min({1.0, double(box_w) / info.width, double(box_h) / info.height});

  detail::load_params p;
  if (scale < 1.0) {
    if (s.fmt == format::jpeg) p.jpeg_shrink = jpeg_shrink_for(scale, std::min(info.width, info.height));
    if (s.fmt == format::webp) p.webp_scale = scale;
  }
  auto loaded = detail::load(s, p);
  if (!loaded.ok()) return loaded.err();

  image im = std::move(*loaded);
  if (boxed) {
    auto fitted = resize_to_fit(im, box_w, box_h);
    if (!fitted.ok()) return fitted.err();
    im = std::move(*fitted);
  }

  // PNG: compute with one thread. libvips 8.14's PNG loader checks the last IDAT
  // chunk's CRC after the last row; with several threads that failure is sometimes
  // lost and a corrupt file decodes "fine" (measured: ~5% of runs with a bad CRC in
  // the last chunk, 0 of 3000 with one thread). PNG decoding is serial anyway; the
  // shrink to the working box in the same pipeline runs on that thread too.
  VipsImage* one_thread = nullptr;
  if (s.fmt == format::png) {
    if (vips_copy(im.v.get(), &one_thread, nullptr) != 0) return detail::vips_fail(errc::internal, "decode png");
    vips_image_set_int(one_thread, VIPS_META_CONCURRENCY, 1);
    im = detail::adopt(one_thread);
  }
  VipsImage* mem = vips_image_copy_memory(im.v.get());
  if (!mem) return detail::vips_fail(errc::corrupt, std::string("decode ") + format_name(s.fmt));
  vips_image_remove(mem, VIPS_META_CONCURRENCY);  // later steps on the pixels use every thread
  return detail::adopt(mem);
}

}  // namespace

base::result<image> decode(std::span<const uint8_t> bytes, const decode_options& opts) {
  auto s = detail::open_bytes(bytes);
  if (!s.ok()) return s.err();
  return decode_source(*s, opts);
}

base::result<image> decode_file(const std::filesystem::path& path, const decode_options& opts) {
  auto s = detail::open_file(path);
  if (!s.ok()) return s.err();
  return decode_source(*s, opts);
}

}  // namespace idphoto::image

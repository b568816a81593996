// Fuzz target image_decode: an uploaded photo through the service's path, probe (magic bytes,
// then the header through that format's loader only), check_limits, then load_photo (decode
// with shrink-on-load, orient, sRGB, flatten alpha, materialise) and the 8-bit plane the mask
// steps read. The limits are the service's own checks with a smaller pixel cap (4 MP) so one
// input stays fast; libvips runs on one thread.
#include <cstdint>

#include "fuzz_target.hpp"
#include "image/image.hpp"
#include "image/limits.hpp"
#include "image/probe.hpp"
#include "pipeline/load_photo.hpp"

namespace {

constexpr int k_work_side = 256;  // the box load_photo decodes into (the service uses 1600)

idphoto::image::image_limits fuzz_limits() {
  idphoto::image::image_limits l;
  l.max_pixels = int64_t{1} << 22;
  return l;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FUZZ_CHECK(idphoto::image::init_vips(1).ok());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace idphoto;
  const auto bytes = fuzz::as_bytes(data, size);
  const image::image_limits limits = fuzz_limits();

  auto info = image::probe(bytes);
  bool within_limits = false;
  if (info.ok()) {
    FUZZ_CHECK(info->width > 0 && info->height > 0);
    FUZZ_CHECK(info->orientation >= 1 && info->orientation <= 8);
    FUZZ_CHECK(info->n_pages >= 1);
    FUZZ_CHECK(info->byte_size == static_cast<int64_t>(size));
    within_limits = image::check_limits(*info, limits).ok();
  }

  // The decode checks the limits again itself (defence in depth): it runs here whatever the
  // probe said, and must agree with it.
  auto photo = pipeline::load_photo(bytes, k_work_side, limits);
  if (!photo.ok()) return 0;
  FUZZ_CHECK(info.ok());
  FUZZ_CHECK(within_limits);
  FUZZ_CHECK(photo->width() > 0 && photo->height() > 0);
  FUZZ_CHECK(photo->width() <= k_work_side && photo->height() <= k_work_side);
  auto plane = pipeline::plane_of(*photo);
  if (plane.ok()) {
    FUZZ_CHECK(plane->width == photo->width() && plane->height == photo->height());
    FUZZ_CHECK(plane->px.size() == static_cast<size_t>(plane->width) * static_cast<size_t>(plane->height) * 3);
  }
  return 0;
}

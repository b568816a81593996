// Internal glue between libvips' C API and our result type (not a public header):
// turns libvips' error buffer into error details and owns GObject references.
#pragma once
#include <vips/vips.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "image/image.hpp"

namespace idphoto::image::detail {

struct gobject_unref {
  void operator()(void* p) const noexcept {
    if (p) g_object_unref(p);
  }
};
template <class T>
using gobject_ptr = std::unique_ptr<T, gobject_unref>;
using source_ptr = gobject_ptr<VipsSource>;

// libvips' error buffer as one cleaned line (lines trimmed, de-duplicated, joined
// with "; ", control characters replaced, capped in length); clears the buffer.
// The buffer is process-wide in libvips 8.14: under concurrent failures a message
// from another thread can land in this detail (never a crash, just a mixed log line).
std::string take_vips_error();

// error{c, "<what>: <libvips text>"} (or just `what` when libvips said nothing).
base::error vips_fail(base::errc c, std::string_view what);

// errc::internal until init_vips() has succeeded: libvips must not be used
// with its default (unblocked) loaders.
base::result<void> require_vips();

// Takes ownership of a fresh reference returned by a libvips call (may be null).
inline image adopt(VipsImage* p) { return image{vips_image_ptr(p)}; }

// Whether the last band is alpha, by band count and interpretation:
// grey+alpha (2), RGB+alpha (4, not CMYK), CMYK+alpha (5).
bool has_alpha(const VipsImage* im);

// Largest value of one sample in this band format (255, 65535, 1.0 for float).
double max_sample(VipsBandFormat f);

}  // namespace idphoto::image::detail

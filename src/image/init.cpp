// Process-wide libvips setup: start it once, cap its threads, disable its cache,
// block every loader we do not trust, and keep its warnings off stderr.
#include <atomic>
#include <mutex>

#include "image/vips_util.hpp"

namespace idphoto::image {

using base::errc;

namespace {

std::mutex g_init_mu;
std::atomic<bool> g_ready{false};
std::atomic<warning_sink> g_sink{nullptr};

// GLib prints warnings to stderr by default; the library never does.
void on_glib_log(const gchar* /*domain*/, GLogLevelFlags /*level*/, const gchar* message, gpointer /*data*/) {
  if (warning_sink sink = g_sink.load()) sink(message ? message : "");
}

/* Loader policy.
 *
 * Debian's libvips 8.14 can load ~20 formats, some through large parsers we do
 * not want on untrusted uploads (ImageMagick, poppler PDF, librsvg SVG, cfitsio,
 * matio, OpenSlide, OpenEXR, raw/vips/csv/matrix readers of local files).
 * 1. vips_block_untrusted_set(TRUE) blocks every operation flagged "untrusted"
 *    (magick*, pdf*, svg*, fits*, mat*, openslide*, openexr, jxl, jp2k, vips,
 *    csv, raw, ppm, rad, analyze, ...).
 * 2. vips_operation_block_set("VipsForeignLoad", TRUE) blocks the whole loader
 *    class tree (this also catches trusted-but-unwanted loaders: gif, matrix).
 * 3. The five allowed loader families are unblocked by their base class name,
 *    which unblocks their _file/_buffer/_source variants.
 * Blocked operations fail at build time with "operation is blocked", also when
 * reached through vips_image_new_from_buffer()/vips_thumbnail()'s sniffing.
 * Savers are not blocked: we only ever call png/jpeg/webp savers by name.
 * "system" (runs a shell command) is blocked explicitly, belt and braces.
 */
constexpr const char* k_allowed_loaders[] = {
    "VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadWebp", "VipsForeignLoadHeif", "VipsForeignLoadTiff",
};

void apply_policy() {
  vips_block_untrusted_set(TRUE);
  vips_operation_block_set("VipsForeignLoad", TRUE);
  for (const char* name : k_allowed_loaders) vips_operation_block_set(name, FALSE);
  vips_operation_block_set("VipsSystem", TRUE);

  // Operation cache off: cached operations keep references to their inputs
  // (including callers' upload buffers) and hold memory outside our accounting.
  vips_cache_set_max(0);
  vips_cache_set_max_mem(0);
  vips_cache_set_max_files(0);
}

}  // namespace

base::result<void> init_vips(int n_threads, warning_sink sink) {
  if (n_threads < 1) {
    return base::make_error(errc::invalid_argument,
                            "init_vips: n_threads must be >= 1, got " + std::to_string(n_threads));
  }
  std::lock_guard<std::mutex> lock(g_init_mu);
  g_sink.store(sink);
  if (!g_ready.load()) {
    // Handlers first, so warnings printed during start-up are caught too.
    const GLogLevelFlags levels =
        static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_MESSAGE |
                                    G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG | G_LOG_FLAG_RECURSION);
    for (const char* domain : {"VIPS", "GLib-GObject", "GLib", "GModule"})
      g_log_set_handler(domain, levels, on_glib_log, nullptr);

    if (VIPS_INIT("idphoto") != 0) return detail::vips_fail(errc::internal, "vips_init failed");
    apply_policy();
    g_ready.store(true);
  }
  vips_concurrency_set(n_threads);
  return {};
}

namespace detail {
base::result<void> require_vips() {
  if (!g_ready.load()) return base::make_error(errc::internal, "image: init_vips() was not called");
  return {};
}
}  // namespace detail

}  // namespace idphoto::image

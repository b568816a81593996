// Opens bytes or files as libvips sources and runs the one loader their magic bytes
// name, so libvips' own format sniffing never chooses a loader for us.
#include "image/load.hpp"

#include <system_error>

namespace idphoto::image::detail {

using base::errc;

namespace {

constexpr size_t k_sniff_bytes = 256;  // enough for an ftyp box with its brand list

base::result<opened_source> finish_open(source_ptr src, const std::string& what) {
  unsigned char* head = nullptr;
  gint64 n = vips_source_sniff_at_most(src.get(), &head, k_sniff_bytes);
  if (n < 0) return vips_fail(errc::io, "cannot read " + what);
  auto fmt = sniff_format(std::span<const uint8_t>(head, static_cast<size_t>(n)));
  if (!fmt.ok()) return fmt.err();
  gint64 len = vips_source_length(src.get());
  if (len < 0) return vips_fail(errc::io, "cannot size " + what);
  // Loaders rewind the source themselves; sniffing consumed nothing they need.
  return opened_source{std::move(src), *fmt, static_cast<int64_t>(len)};
}

}  // namespace

base::result<opened_source> open_bytes(std::span<const uint8_t> bytes) {
  IDPHOTO_TRY(require_vips());
  // Checked before touching libvips so empty input gets our message, not libvips'.
  auto fmt = sniff_format(bytes.first(std::min(bytes.size(), k_sniff_bytes)));
  if (!fmt.ok()) return fmt.err();
  source_ptr src(vips_source_new_from_memory(bytes.data(), bytes.size()));
  if (!src) return vips_fail(errc::internal, "cannot wrap input bytes");
  return finish_open(std::move(src), "input bytes");
}

base::result<opened_source> open_file(const std::filesystem::path& path) {
  IDPHOTO_TRY(require_vips());
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    if (ec && ec != std::errc::no_such_file_or_directory)
      return base::make_error(errc::io, path.string() + ": " + ec.message());
    return base::make_error(errc::not_found, path.string() + ": no such file");
  }
  if (!std::filesystem::is_regular_file(st)) return base::make_error(errc::io, path.string() + ": not a regular file");
  source_ptr src(vips_source_new_from_file(path.c_str()));
  if (!src) return vips_fail(errc::io, "cannot open " + path.string());
  return finish_open(std::move(src), path.string());
}

base::result<image> load(const opened_source& s, const load_params& p) {
  IDPHOTO_TRY(require_vips());
  VipsSource* src = s.src.get();
  VipsImage* out = nullptr;
  int rc = -1;
  const char* loader = "";
  // One call per format so each gets exactly its own loader and options.
  switch (s.fmt) {
    case format::jpeg:
      loader = "jpegload_source";
      rc = vips_jpegload_source(src, &out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_ERROR, "shrink",
                                p.jpeg_shrink, nullptr);
      break;
    case format::png:
      loader = "pngload_source";
      rc = vips_pngload_source(src, &out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_ERROR, nullptr);
      break;
    case format::webp:
      loader = "webpload_source";
      rc = vips_webpload_source(src, &out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_ERROR, "page", 0,
                                "n", 1, "scale", p.webp_scale, nullptr);
      break;
    case format::tiff:
      loader = "tiffload_source";
      rc = vips_tiffload_source(src, &out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_ERROR, "page", 0,
                                "n", 1, nullptr);
      break;
    case format::heif:
    case format::avif:
      loader = "heifload_source";
      if (!vips_type_find("VipsOperation", "heifload_source")) {
        return base::make_error(errc::unsupported, "HEIF/AVIF loading is not available in this libvips");
      }
      rc = vips_heifload_source(src, &out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_ERROR, "page", 0,
                                "n", 1, "thumbnail", FALSE, nullptr);
      break;
  }
  image im = adopt(out);
  if (rc != 0 || im.empty())
    return vips_fail(errc::corrupt, std::string(format_name(s.fmt)) + " header (" + loader + ")");
  return im;
}

image_info info_of(const image& im, format fmt, int64_t byte_size) {
  VipsImage* v = im.v.get();
  image_info info;
  info.fmt = fmt;
  info.width = vips_image_get_width(v);
  info.height = vips_image_get_height(v);  // page height: we load n=1
  info.bands = vips_image_get_bands(v);
  info.orientation = vips_image_get_orientation(v);  // 1 when absent or out of range
  info.has_alpha = has_alpha(v);
  info.has_icc = vips_image_get_typeof(v, VIPS_META_ICC_NAME) != 0;
  const char* nick = vips_enum_nick(VIPS_TYPE_INTERPRETATION, vips_image_get_interpretation(v));
  info.interpretation = nick ? nick : "";
  int bits = 0;
  if (vips_image_get_typeof(v, "bits-per-sample") && vips_image_get_int(v, "bits-per-sample", &bits) == 0 && bits > 0) {
    info.bits_per_sample = bits;
  } else {
    info.bits_per_sample = static_cast<int>(vips_format_sizeof(vips_image_get_format(v)) * 8);
  }
  info.palette = vips_image_get_typeof(v, "palette-bit-depth") != 0;
  info.n_pages = vips_image_get_n_pages(v);
  info.animated = info.n_pages > 1 && vips_image_get_typeof(v, "delay") != 0;
  info.byte_size = byte_size;
  vips_error_clear();  // the getters above may have left "field not found" text
  return info;
}

}  // namespace idphoto::image::detail

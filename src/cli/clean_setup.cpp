// The shared cleaning options and cleaner start-up of clean_setup.hpp.
#include "cli/clean_setup.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <utility>

#include "cli/models_dir.hpp"
#include "image/image.hpp"

namespace idphoto::cli {

const std::set<std::string>& clean_value_options() {
  static const std::set<std::string> opts = {"--bg",      "--max-size",   "--format", "--quality",    "--model",
                                             "--norm",    "--model-size", "--fit",    "--retry-size", "--refine",
                                             "--threads", "--models-dir", "--spec",   "--dpi",        "--max-kb"};
  return opts;
}

const char* const clean_options_help =
    "  --bg COLOUR   blue (default, #438EDB), white, grey (#F0F0F0), red (#FF0000), #RRGGBB,\n"
    "                or none (transparent PNG/WebP)\n"
    "  --max-size N  fit the output inside N x N px, never upscaled (default 800)\n"
    "  --format F    png (default), jpg or webp\n"
    "  --quality Q   JPEG/WebP quality 1-100 (default 90)\n"
    "  --model M     model name or path to an .onnx (default isnet-general-fp16)\n"
    "  --norm N      normalisation for a model path: imgly, imagenet or half\n"
    "  --model-size N|auto  network input side, multiple of 32 from 384 to 1024; auto (default)\n"
    "                follows the subject: 384 when the face fills >= 75% of the photo's width\n"
    "                (a tight face crop) or no face is found, else 640\n"
    "  --fit squash|letterbox  how the photo becomes the square network input (default squash)\n"
    "  --retry-size N  when the mask covers < 15% of the photo (a small, far person), run the\n"
    "                network again at N px and keep that mask; 0 = never (default 640)\n"
    "  --refine on|off  person-only, edge refinement and colour decontamination (default on)\n"
    "  --threads N   inference threads (default: all cores)\n"
    "  --models-dir DIR  where the models are (default: $IDPHOTO_MODELS_DIR, ./models)\n"
    "  --spec NAME   frame to an ID-photo spec (idphoto sheet --list: icao-35x45, us-2x2, ...;\n"
    "                or custom:35x45mm,head=32-36,eyes=22.5-31.5,bg=white): exactly the spec's\n"
    "                pixels at its dpi, face-led crop, compliance report in --json. --bg must\n"
    "                be a colour (default: the spec's first); --format default: the spec's\n"
    "  --dpi N       with --spec: pixels per inch, 72-1200 (default: the spec's, usually 300)\n"
    "  --max-kb N    with --spec: the file must fit N KB (1000 bytes); chooses the JPEG quality\n"
    "                (default: the spec's limit, if any)\n";

const char* ext_of(image::format f) {
  switch (f) {
    case image::format::jpeg:
      return "jpg";
    case image::format::webp:
      return "webp";
    default:
      return "png";
  }
}

image::format output_format(const pipeline::clean_options& co) {
  if (co.mask_only) return image::format::png;
  if (!co.spec) return co.encode.fmt;
  if (co.frame.format) return *co.frame.format;
  return co.spec->file_format ? *co.spec->file_format : image::format::png;
}

base::result<clean_setup> parse_clean_options(const args& a, bool allow_mask) {
  const auto bad = [](const std::string& m) { return base::make_error(base::errc::invalid_argument, m); };
  clean_setup s;
  pipeline::clean_options& co = s.co;
  auto bg = pipeline::parse_background(a.get("--bg", "blue"));
  if (!bg.ok()) return bad(bg.err().detail);
  co.background = *bg;
  auto max_size = a.get_int("--max-size", 800, 16, 4096);
  if (!max_size.ok()) return bad(max_size.err().detail);
  co.max_size_px = static_cast<int>(*max_size);
  const std::string fmt = a.get("--format", "png");
  if (fmt == "png") co.encode.fmt = image::format::png;
  else if (fmt == "jpg" || fmt == "jpeg") co.encode.fmt = image::format::jpeg;
  else if (fmt == "webp") co.encode.fmt = image::format::webp;
  else return bad("--format must be png, jpg or webp");
  auto quality = a.get_int("--quality", 90, 1, 100);
  if (!quality.ok()) return bad(quality.err().detail);
  co.encode.quality = static_cast<int>(*quality);
  co.mask_only = allow_mask && a.has("--mask");
  const std::string refine = a.get("--refine", "on");
  if (refine != "on" && refine != "off") return bad("--refine must be on or off");
  co.refine = refine == "on";
  if (!co.background && co.encode.fmt == image::format::jpeg && !co.mask_only && !a.has("--spec"))
    return bad("--bg none needs --format png or webp (JPEG has no transparency)");
  if (a.has("--spec")) {
    auto spec = parse_spec_options(a, co);
    if (!spec.ok()) return bad(spec.err().detail);
  } else if (a.has("--dpi") || a.has("--max-kb")) {
    return bad(std::string(a.has("--dpi") ? "--dpi" : "--max-kb") + " needs --spec");
  }

  pipeline::pipeline_config& pc = s.pc;
  pc.models_dir = find_models_dir(a.get("--models-dir"));
  pc.model = a.get("--model", pc.model);
  pc.model_norm = a.get("--norm");
  if (a.get("--model-size", "auto") != "auto") {  // auto = pc.model_size_px's 0: the size rule
    auto msize = a.get_int("--model-size", pc.model_size_px, 384, 1024);
    if (!msize.ok()) return bad(msize.err().detail);
    pc.model_size_px = static_cast<int>(*msize);
  }
  auto retry = a.get_int("--retry-size", pc.retry_size_px, 0, 1024);
  if (!retry.ok()) return bad(retry.err().detail);
  pc.retry_size_px = static_cast<int>(*retry);
  const std::string fit = a.get("--fit", "squash");
  if (fit == "squash") pc.fit = pipeline::fit_mode::squash;
  else if (fit == "letterbox") pc.fit = pipeline::fit_mode::letterbox;
  else return bad("--fit must be squash or letterbox");
  auto threads = a.get_int("--threads", 0, 0, 256);
  if (!threads.ok()) return bad(threads.err().detail);
  pc.n_threads = static_cast<int>(*threads);
  auto limits = image::image_limits::from_env();
  if (!limits.ok()) return bad(limits.err().detail);
  pc.limits = *limits;
  if (auto v = pc.validate(); !v.ok()) return bad(v.err().detail);
  return s;
}

base::result<void> parse_spec_options(const args& a, pipeline::clean_options& co) {
  const auto bad = [](const std::string& m) { return base::make_error(base::errc::invalid_argument, m); };
  if (a.has("--mask")) return bad("--mask and --spec exclude each other");
  if (a.has("--max-size")) return bad("--max-size does not apply with --spec (the spec sets the pixels)");
  auto dpi = a.get_int("--dpi", 0, 72, 1200);
  if (a.has("--dpi") && !dpi.ok()) return bad(dpi.err().detail);
  auto spec = pipeline::resolve_spec(a.get("--spec"), a.has("--dpi") ? static_cast<double>(*dpi) : 0.0);
  if (!spec.ok()) return bad("--spec: " + spec.err().detail);
  const pipeline::spec_output_faults f = pipeline::set_spec_output(a.has("--bg"), a.has("--format"), &co);
  if (f.background_none)
    return bad("--spec needs a background colour (" + spec->name + " allows " + allowed_colours(*spec) + ")");
  if (f.webp) return bad("--spec writes png or jpg (WebP has no dpi field)");
  if (a.has("--max-kb")) {
    auto kb = a.get_int("--max-kb", 0, 1, 100000);
    if (!kb.ok()) return bad(kb.err().detail);
    co.frame.max_kb = static_cast<int>(*kb);
  }
  co.spec = std::move(*spec);
  return {};
}

std::string allowed_colours(const pipeline::id_spec& spec) {
  std::string out;
  for (const auto& c : spec.backgrounds) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "#%02X%02X%02X", c.rgb.r, c.rgb.g, c.rgb.b);
    out += (out.empty() ? "" : ", ") + c.name + " " + hex;
  }
  return out;
}

namespace {

// libvips reports why a PNG failed (libpng's "IDAT: CRC error", "not enough data") only
// as a warning; the error itself says "libpng read error". Photos are cleaned one at a
// time, so the warnings since the current photo started name the reason: the first
// few distinct ones are kept.
std::mutex g_warning_mu;
std::string g_warnings;
void keep_warning(const char* message) {
  std::string m(message, std::min<size_t>(std::strlen(message), 120));
  for (char& c : m)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';  // the error stays one line
  std::lock_guard<std::mutex> lock(g_warning_mu);
  if (m.empty() || g_warnings.size() > 160 || g_warnings.find(m) != std::string::npos) return;
  g_warnings += (g_warnings.empty() ? "" : "; ") + m;
}

}  // namespace

std::string take_vips_warnings() {
  std::lock_guard<std::mutex> lock(g_warning_mu);
  return std::exchange(g_warnings, std::string());
}

std::string with_decode_reason(const base::error& err) {
  std::string out = err.detail;
  if (const std::string w = take_vips_warnings();
      err.code == base::errc::corrupt && !w.empty() && out.find(w) == std::string::npos)
    out += " (" + w + ")";
  return out;
}

base::result<std::unique_ptr<pipeline::cleaner>> start_cleaner(const pipeline::pipeline_config& pc) {
  const int threads = pc.n_threads > 0 ? pc.n_threads : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  IDPHOTO_TRY(image::init_vips(threads, keep_warning));
  return pipeline::cleaner::create(pc);
}

}  // namespace idphoto::cli

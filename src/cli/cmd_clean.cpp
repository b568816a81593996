// `idphoto clean`: photos in (files, folders, stdin), ID-ready images out.
// One cleaner runs the photos one after another (the network uses every core);
// one bad photo does not stop the batch; the exit code says whether any failed.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <utility>

#include "base/memory_stats.hpp"
#include "cli/args.hpp"
#include "cli/json.hpp"
#include "cli/models_dir.hpp"
#include "image/encode.hpp"
#include "image/image.hpp"
#include "pipeline/clean.hpp"

namespace idphoto::cli {

namespace fs = std::filesystem;

namespace {

const char* help =
    "usage: idphoto clean IN... [-o OUT | --out-dir DIR] [options]\n"
    "  IN            photo files (JPEG, PNG, WebP, HEIC/HEIF, TIFF), folders, or - for stdin\n"
    "  -o OUT        output file (one input only); - for stdout\n"
    "  --out-dir DIR write DIR/<name>.<ext> for each input (default: next to each input,\n"
    "                as <name>.id.<ext>; stdin goes to stdout)\n"
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
    "  --mask        write the final alpha as an 8-bit grey PNG instead of the photo\n"
    "  --refine on|off  person-only, edge refinement and colour decontamination (default on)\n"
    "  --threads N   inference threads (default: all cores)\n"
    "  --json        one JSON line per photo on stdout\n"
    "  --models-dir DIR  where the models are (default: $IDPHOTO_MODELS_DIR, ./models)\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "idphoto: error: %s\n(see idphoto clean --help)\n", msg.c_str());
  return 2;
}

struct job {
  std::string in;   // path, or "-" for stdin
  std::string out;  // path, or "-" for stdout
};

const char* ext_of(image::format f) {
  switch (f) {
    case image::format::jpeg: return "jpg";
    case image::format::webp: return "webp";
    default: return "png";
  }
}

base::result<std::vector<uint8_t>> read_input(const std::string& path, int64_t max_bytes) {
  std::vector<uint8_t> bytes;
  if (path == "-") {
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
      bytes.insert(bytes.end(), buf, buf + n);
      if (static_cast<int64_t>(bytes.size()) > max_bytes)
        return base::make_error(base::errc::too_large, "stdin is larger than " + std::to_string(max_bytes) + " bytes");
    }
    if (std::ferror(stdin)) return base::make_error(base::errc::io, "cannot read stdin");
    return bytes;
  }
  std::error_code ec;
  if (!fs::exists(path, ec)) return base::make_error(base::errc::not_found, "no such file");
  if (!fs::is_regular_file(path, ec)) return base::make_error(base::errc::io, "not a regular file");
  const auto size = fs::file_size(path, ec);
  if (ec) return base::make_error(base::errc::io, ec.message());
  if (static_cast<int64_t>(size) > max_bytes)
    return base::make_error(base::errc::too_large, "file is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(max_bytes));
  std::ifstream f(path, std::ios::binary);
  if (!f) return base::make_error(base::errc::io, "cannot open");
  bytes.resize(size);
  f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!f) return base::make_error(base::errc::io, "cannot read");
  return bytes;
}

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
std::string take_warnings() {
  std::lock_guard<std::mutex> lock(g_warning_mu);
  return std::exchange(g_warnings, std::string());
}

// A one-line progress bar on a TTY (stderr).
class progress {
 public:
  progress(size_t total, bool on) : total_(total), on_(on && total > 1 && isatty(STDERR_FILENO)) {}
  void show(size_t done, const std::string& name, double avg_s) {
    if (!on_) return;
    const int width = 30;
    const int fill = total_ ? static_cast<int>(width * done / total_) : width;
    std::string bar(static_cast<size_t>(fill), '=');
    if (fill < width) bar += '>';
    bar.resize(width, ' ');
    std::string shown = name.size() > 30 ? "..." + name.substr(name.size() - 27) : name;
    std::fprintf(stderr, "\r[%s] %zu/%zu %.1f s/photo %-30s", bar.c_str(), done, total_, avg_s, shown.c_str());
    std::fflush(stderr);
  }
  void clear() {
    if (on_) std::fprintf(stderr, "\r%*s\r", 90, "");
  }

 private:
  size_t total_;
  bool on_;
};

}  // namespace

int cmd_clean(const std::vector<std::string>& argv) {
  auto a = parse_args(argv,
                      {"-o", "--out-dir", "--bg", "--max-size", "--format", "--quality", "--model", "--norm", "--model-size",
                       "--fit", "--retry-size", "--refine", "--threads", "--models-dir"},
                      {"--mask", "--json", "--help", "-h"});
  if (!a.ok()) return usage_error(a.err().detail);
  if (a->has("--help") || a->has("-h")) {
    std::fputs(help, stdout);
    return 0;
  }
  if (a->positional.empty()) return usage_error("no input photos");
  if (a->has("-o") && a->has("--out-dir")) return usage_error("-o and --out-dir exclude each other");

  pipeline::clean_options co;
  auto bg = pipeline::parse_background(a->get("--bg", "blue"));
  if (!bg.ok()) return usage_error(bg.err().detail);
  co.background = *bg;
  auto max_size = a->get_int("--max-size", 800, 16, 4096);
  if (!max_size.ok()) return usage_error(max_size.err().detail);
  co.max_size_px = static_cast<int>(*max_size);
  const std::string fmt = a->get("--format", "png");
  if (fmt == "png") co.encode.fmt = image::format::png;
  else if (fmt == "jpg" || fmt == "jpeg") co.encode.fmt = image::format::jpeg;
  else if (fmt == "webp") co.encode.fmt = image::format::webp;
  else return usage_error("--format must be png, jpg or webp");
  auto quality = a->get_int("--quality", 90, 1, 100);
  if (!quality.ok()) return usage_error(quality.err().detail);
  co.encode.quality = static_cast<int>(*quality);
  co.mask_only = a->has("--mask");
  const std::string refine = a->get("--refine", "on");
  if (refine != "on" && refine != "off") return usage_error("--refine must be on or off");
  co.refine = refine == "on";
  if (!co.background && co.encode.fmt == image::format::jpeg && !co.mask_only)
    return usage_error("--bg none needs --format png or webp (JPEG has no transparency)");
  const bool json = a->has("--json");

  pipeline::pipeline_config pc;
  pc.models_dir = find_models_dir(a->get("--models-dir"));
  pc.model = a->get("--model", pc.model);
  pc.model_norm = a->get("--norm");
  if (a->get("--model-size", "auto") != "auto") {  // auto = pc.model_size_px's 0: the size rule
    auto msize = a->get_int("--model-size", pc.model_size_px, 384, 1024);
    if (!msize.ok()) return usage_error(msize.err().detail);
    pc.model_size_px = static_cast<int>(*msize);
  }
  auto retry = a->get_int("--retry-size", pc.retry_size_px, 0, 1024);
  if (!retry.ok()) return usage_error(retry.err().detail);
  pc.retry_size_px = static_cast<int>(*retry);
  const std::string fit = a->get("--fit", "squash");
  if (fit == "squash") pc.fit = pipeline::fit_mode::squash;
  else if (fit == "letterbox") pc.fit = pipeline::fit_mode::letterbox;
  else return usage_error("--fit must be squash or letterbox");
  auto threads = a->get_int("--threads", 0, 0, 256);
  if (!threads.ok()) return usage_error(threads.err().detail);
  pc.n_threads = static_cast<int>(*threads);
  auto limits = image::image_limits::from_env();
  if (!limits.ok()) return usage_error(limits.err().detail);
  pc.limits = *limits;
  if (auto v = pc.validate(); !v.ok()) return usage_error(v.err().detail);

  // Expand inputs: folders give their regular, non-hidden files, sorted.
  std::vector<job> jobs;
  const std::string ext = co.mask_only ? "png" : ext_of(co.encode.fmt);
  for (const auto& in : a->positional) {
    std::error_code ec;
    if (in != "-" && fs::is_directory(in, ec)) {
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(in, ec))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path().string());
      std::sort(files.begin(), files.end());
      for (auto& f : files) jobs.push_back({f, ""});
    } else {
      jobs.push_back({in, ""});
    }
  }
  if (jobs.empty()) return usage_error("no photos found in the given folders");
  if (a->has("-o") && jobs.size() != 1) return usage_error("-o takes one input; use --out-dir for several");
  std::vector<fs::path> inputs;
  for (auto& j : jobs) {
    if (j.in != "-") inputs.emplace_back(j.in);
    if (a->has("-o")) j.out = a->get("-o");
    else if (a->has("--out-dir")) j.out = (fs::path(a->get("--out-dir")) / (j.in == "-" ? "stdin" : fs::path(j.in).stem().string())).string() + "." + ext;
    else if (j.in == "-") j.out = "-";
    else {
      fs::path p(j.in);
      j.out = (p.parent_path() / (p.stem().string() + ".id." + ext)).string();
    }
  }
  if (a->has("--out-dir")) {
    std::error_code ec;
    fs::create_directories(a->get("--out-dir"), ec);
    if (ec) return usage_error("cannot create --out-dir: " + ec.message());
  }

  if (auto r = image::init_vips(pc.n_threads > 0 ? pc.n_threads : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))),
                                 keep_warning);
      !r.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n", r.err().to_string().c_str());
    return 1;
  }
  auto cl = pipeline::cleaner::create(pc);
  if (!cl.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n", cl.err().detail.c_str());
    return 1;
  }

  progress bar(jobs.size(), !json);
  size_t failed = 0, done = 0, no_person = 0;
  double total_s = 0;
  const auto t_start = std::chrono::steady_clock::now();
  for (const auto& j : jobs) {
    const std::string shown = j.in == "-" ? "(stdin)" : j.in;
    bar.show(done, shown, done ? total_s / static_cast<double>(done) : 0.0);
    const auto t0 = std::chrono::steady_clock::now();
    std::string err;
    pipeline::clean_result res;
    take_warnings();
    auto bytes = read_input(j.in, pc.limits.max_bytes);
    if (!bytes.ok()) {
      err = bytes.err().detail;
    } else {
      auto r = (*cl)->clean(*bytes, co);
      if (!r.ok()) {
        err = r.err().detail;
        if (const std::string w = take_warnings(); r.err().code == base::errc::corrupt && !w.empty() && err.find(w) == std::string::npos)
          err += " (" + w + ")";
      } else {
        res = std::move(*r);
        if (j.out == "-") {
          if (std::fwrite(res.bytes.data(), 1, res.bytes.size(), stdout) != res.bytes.size() || std::fflush(stdout) != 0)
            err = "cannot write to stdout";
        } else {
          image::write_options wo;
          wo.protected_paths = inputs;
          auto w = image::write_file_atomic(j.out, res.bytes, wo);
          if (!w.ok()) err = "cannot write " + j.out + ": " + w.err().detail;
        }
      }
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    total_s += ms / 1000.0;
    ++done;
    if (!err.empty()) {
      ++failed;
      bar.clear();
      std::fprintf(stderr, "idphoto: error: %s: %s\n", shown.c_str(), err.c_str());
    } else if (!res.person) {
      ++no_person;
      bar.clear();
      std::fprintf(stderr, "idphoto: warning: %s: no face found; the cut-out may not be a person\n", shown.c_str());
    }
    if (json) {
      std::string line = "{\"path\":" + json_str(shown) + ",\"output\":" + (err.empty() ? json_str(j.out) : "null");
      if (err.empty()) {
        line += ",\"width\":" + std::to_string(res.width) + ",\"height\":" + std::to_string(res.height) +
                ",\"person\":" + (res.person ? "true" : "false");
        char cov[32];
        std::snprintf(cov, sizeof cov, "%.4f", res.coverage);
        char steps[160];
        std::snprintf(steps, sizeof steps, ",\"steps_ms\":{\"decode\":%.1f,\"infer\":%.1f,\"refine\":%.1f,\"encode\":%.1f}",
                      res.timing.decode_ms, res.timing.infer_ms, res.timing.refine_ms, res.timing.encode_ms);
        line += steps;
        line += ",\"model_size\":" + std::to_string(res.model_size_px);
        line += ",\"face_fraction\":" + std::to_string(res.face_fraction);
        line += ",\"coverage\":" + std::string(cov) + ",\"warnings\":[";
        for (size_t i = 0; i < res.warnings.size(); ++i) line += (i ? "," : "") + json_str(res.warnings[i]);
        line += "]";
      }
      char msb[32];
      std::snprintf(msb, sizeof msb, "%.1f", ms);
      line += ",\"ms\":" + std::string(msb) + ",\"rss_bytes\":" + std::to_string(base::current_rss_bytes()) + ",\"error\":" + (err.empty() ? "null" : json_str(err)) + "}\n";
      // With -o -, stdout carries the image; JSON goes to stderr then.
      std::fputs(line.c_str(), j.out == "-" ? stderr : stdout);
      std::fflush(j.out == "-" ? stderr : stdout);
    }
  }
  bar.clear();
  if (jobs.size() > 1) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::fprintf(stderr, "idphoto: cleaned %zu of %zu photos in %.1f s (%zu failed, %zu without a face)\n", jobs.size() - failed,
                 jobs.size(), secs, failed, no_person);
  }
  return failed ? 1 : 0;
}

}  // namespace idphoto::cli

// `idphoto clean`: photos in (files, folders, stdin), ID-ready images out.
// One cleaner runs the photos one after another (the network uses every core);
// one bad photo does not stop the batch; the exit code says whether any failed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "base/catching.hpp"
#include "base/memory_stats.hpp"
#include "base/read_file.hpp"
#include "cli/args.hpp"
#include "cli/clean_setup.hpp"
#include "cli/json.hpp"
#include "cli/progress.hpp"
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
    "%s"
    "  --mask        write the final alpha as an 8-bit grey PNG instead of the photo\n"
    "  --json        one JSON line per photo on stdout\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "idphoto: error: %s\n(see idphoto clean --help)\n", msg.c_str());
  return 2;
}

struct job {
  std::string in;   // path, or "-" for stdin
  std::string out;  // path, or "-" for stdout
};

// A photo's bytes: a file (read_file's errors) or stdin (too_large past max_bytes).
base::result<std::vector<uint8_t>> read_input(const std::string& path, int64_t max_bytes) {
  if (path != "-") return base::read_file(path, max_bytes);
  std::vector<uint8_t> bytes;
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

// ,"spec":...,"dpi":...,"jpeg_quality":...,"face":{...},"compliance":{...} of a photo framed to a spec.
std::string framed_json(const pipeline::clean_result& res) {
  const pipeline::framed_photo& f = *res.framed;
  char dpi[32];
  std::snprintf(dpi, sizeof dpi, "%.2f", f.dpi);
  return ",\"spec\":" + json_str(res.spec_name) + ",\"dpi\":" + dpi + ",\"bytes\":" + std::to_string(res.bytes.size()) +
         ",\"jpeg_quality\":" + (f.file.quality ? std::to_string(f.file.quality) : "null") +
         ",\"face\":" + pipeline::face_json(f.face) + ",\"compliance\":" + pipeline::compliance_json(f.compliance);
}

}  // namespace

int cmd_clean(const std::vector<std::string>& argv) {
  std::set<std::string> value_opts = clean_value_options();
  value_opts.insert({"-o", "--out-dir"});
  auto a = parse_args(argv, value_opts, {"--mask", "--json", "--help", "-h"});
  if (!a.ok()) return usage_error(a.err().detail);
  if (a->has("--help") || a->has("-h")) {
    std::printf(help, clean_options_help);
    return 0;
  }
  if (a->positional.empty()) return usage_error("no input photos");
  if (a->has("-o") && a->has("--out-dir")) return usage_error("-o and --out-dir exclude each other");

  auto setup = parse_clean_options(*a, true);
  if (!setup.ok()) return usage_error(setup.err().detail);
  const pipeline::pipeline_config& pc = setup->pc;
  const pipeline::clean_options& co = setup->co;
  const bool json = a->has("--json");

  // Expand inputs: folders give their regular, non-hidden files, sorted.
  std::vector<job> jobs;
  const std::string ext = ext_of(output_format(co));
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
    else if (a->has("--out-dir"))
      j.out = (fs::path(a->get("--out-dir")) / (j.in == "-" ? "stdin" : fs::path(j.in).stem().string())).string() +
              "." + ext;
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

  auto cl = start_cleaner(pc);
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
    take_vips_warnings();
    auto bytes = read_input(j.in, pc.limits.max_bytes);
    if (!bytes.ok()) {
      err = bytes.err().detail;
    } else {
      auto r = base::catching("clean", [&] { return (*cl)->clean(*bytes, co); });  // one photo's throw fails that photo
      if (!r.ok()) {
        err = with_decode_reason(r.err());
      } else {
        res = std::move(*r);
        if (j.out == "-") {
          if (std::fwrite(res.bytes.data(), 1, res.bytes.size(), stdout) != res.bytes.size() ||
              std::fflush(stdout) != 0)
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
        std::snprintf(steps, sizeof steps,
                      ",\"steps_ms\":{\"decode\":%.1f,\"infer\":%.1f,\"refine\":%.1f,\"encode\":%.1f}",
                      res.timing.decode_ms, res.timing.infer_ms, res.timing.refine_ms, res.timing.encode_ms);
        line += steps;
        line += ",\"model_size\":" + std::to_string(res.model_size_px);
        line += ",\"face_fraction\":" + std::to_string(res.face_fraction);
        line += ",\"coverage\":" + std::string(cov);
        if (res.framed) line += framed_json(res);
        line += ",\"warnings\":[";
        for (size_t i = 0; i < res.warnings.size(); ++i) line += (i ? "," : "") + json_str(res.warnings[i]);
        line += "]";
      }
      char msb[32];
      std::snprintf(msb, sizeof msb, "%.1f", ms);
      line += ",\"ms\":" + std::string(msb) + ",\"rss_bytes\":" + std::to_string(base::current_rss_bytes()) +
              ",\"error\":" + (err.empty() ? "null" : json_str(err)) + "}\n";
      // With -o -, stdout carries the image; JSON goes to stderr then.
      std::fputs(line.c_str(), j.out == "-" ? stderr : stdout);
      std::fflush(j.out == "-" ? stderr : stdout);
    }
  }
  bar.clear();
  if (jobs.size() > 1) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::fprintf(stderr, "idphoto: cleaned %zu of %zu photos in %.1f s (%zu failed, %zu without a face)\n",
                 jobs.size() - failed, jobs.size(), secs, failed, no_person);
  }
  return failed ? 1 : 0;
}

}  // namespace idphoto::cli

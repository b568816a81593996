// `idphoto faces`: the faces in photos (BlazeFace boxes and key points, FaceMesh landmarks),
// or the OpenCV Haar detector's boxes for comparison, as JSON lines. A debug and bench tool.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "base/memory_stats.hpp"
#include "cli/args.hpp"
#include "cli/json.hpp"
#include "cli/models_dir.hpp"
#include "face/face.hpp"
#include "image/decode.hpp"
#include "image/image.hpp"
#include "image/ops.hpp"
#include "pipeline/face_detect.hpp"

namespace idphoto::cli {

namespace {

const char* help =
    "usage: idphoto faces PHOTO... [--json] [--detector blazeface|haar] [--threads N]\n"
    "         [--max-side PX] [--no-mesh] [--all-points] [--models-dir DIR]\n"
    "Prints one JSON line per photo: its decoded size, the faces found (box, score, the six\n"
    "BlazeFace key points, and from FaceMesh the eye centres, nose tip, chin and presence),\n"
    "and the wall and CPU time of each step; then a summary line with the resident memory\n"
    "before and after the models were loaded and the peak. Photos are decoded upright in\n"
    "sRGB, shrunk to fit PX (default 1600, as idphoto clean; 0 = full size). --detector haar\n"
    "runs the OpenCV cascade of idphoto clean's person-only step instead (boxes only).\n"
    "The output is always JSON (--json is accepted for clarity). Exit code 1 when a photo\n"
    "could not be read or analysed.\n";

using clock_type = std::chrono::steady_clock;
double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}
// CPU time of the whole process (all threads), ms: with other work on the machine it shows
// the cost that wall time hides.
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}
std::string pt(face::point p) { return "[" + num(p.x) + "," + num(p.y) + "]"; }
face::point mean_pt(const face::mesh& m, int a, int b) {
  return {(m.pts[a].x + m.pts[b].x) / 2, (m.pts[a].y + m.pts[b].y) / 2};
}

struct decoded {
  image::pixel_buffer px;
  double ms = 0;
};

base::result<decoded> decode_photo(const std::string& path, int max_side) {
  const auto t0 = clock_type::now();
  image::decode_options o;
  o.max_width = o.max_height = max_side;
  auto d = image::decode_file(path, o);
  if (!d.ok()) return d.err();
  auto up = image::orient(*d);
  if (!up.ok()) return up.err();
  auto srgb = image::to_srgb(*up);
  if (!srgb.ok()) return srgb.err();
  auto px = image::to_rgb8(srgb->rgb);
  if (!px.ok()) return px.err();
  return decoded{std::move(*px), ms_since(t0)};
}

}  // namespace

int cmd_faces(const std::vector<std::string>& argv) {
  auto a = parse_args(argv, {"--detector", "--threads", "--max-side", "--models-dir"},
                      {"--no-mesh", "--all-points", "--json", "--help"});
  if (!a.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n%s", a.err().detail.c_str(), help);
    return 2;
  }
  if (a->has("--help")) {
    std::fputs(help, stdout);
    return 0;
  }
  if (a->positional.empty()) {
    std::fprintf(stderr, "idphoto: error: no photo given\n%s", help);
    return 2;
  }
  const std::string detector = a->get("--detector", "blazeface");
  if (detector != "blazeface" && detector != "haar") {
    std::fprintf(stderr, "idphoto: error: --detector must be blazeface or haar\n");
    return 2;
  }
  auto threads = a->get_int("--threads", 1, 1, 256);
  auto max_side = a->get_int("--max-side", 1600, 0, 65535);
  if (!threads.ok() || !max_side.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n", (!threads.ok() ? threads.err() : max_side.err()).detail.c_str());
    return 2;
  }
  if (auto v = image::init_vips(1); !v.ok()) {
    std::fprintf(stderr, "idphoto: error: %s\n", v.err().to_string().c_str());
    return 1;
  }
  const bool want_mesh = !a->has("--no-mesh"), all_points = a->has("--all-points");

  const int64_t rss_before = base::current_rss_bytes();
  const auto t_load = clock_type::now();
  std::unique_ptr<face::face_analyser> analyser;
  std::unique_ptr<pipeline::face_detector> haar;
  if (detector == "blazeface") {
    face::face_config c;
    c.models_dir = find_models_dir(a->get("--models-dir"));
    c.n_threads = static_cast<int>(*threads);
    auto r = face::face_analyser::create(c);
    if (!r.ok()) {
      std::fprintf(stderr, "idphoto: error: %s\n", r.err().to_string().c_str());
      return 1;
    }
    analyser = std::move(*r);
  } else {
    auto r = pipeline::face_detector::load(pipeline::face_detector::default_cascade_path());
    if (!r.ok()) {
      std::fprintf(stderr, "idphoto: error: %s\n", r.err().to_string().c_str());
      return 1;
    }
    haar = std::move(*r);
  }
  const double load_ms = ms_since(t_load);
  const int64_t rss_after_load = base::current_rss_bytes();

  int failed = 0;
  for (const std::string& path : a->positional) {
    auto d = decode_photo(path, static_cast<int>(*max_side));
    if (!d.ok()) {
      std::printf("{\"photo\":%s,\"error\":%s}\n", json_str(path).c_str(), json_str(d.err().to_string()).c_str());
      ++failed;
      continue;
    }
    const image::pixel_buffer& px = d->px;
    std::string faces = "[";
    double detect_ms = 0, mesh_ms = 0, detect_cpu_ms = 0, mesh_cpu_ms = 0;
    int n_faces = 0;
    if (haar) {
      pipeline::rgb8_plane plane{px.width, px.height, px.data};
      const auto t0 = clock_type::now();
      const double c0 = cpu_ms();
      const auto boxes = haar->detect(plane);
      detect_ms = ms_since(t0);
      detect_cpu_ms = cpu_ms() - c0;
      for (const auto& b : boxes) {
        faces += std::string(n_faces++ ? "," : "") + "{\"box\":[" + std::to_string(b.x) + "," + std::to_string(b.y) +
                 "," + std::to_string(b.x + b.width) + "," + std::to_string(b.y + b.height) + "]}";
      }
    } else {
      const face::rgb_view view{px.data.data(), px.width, px.height};
      const auto t0 = clock_type::now();
      const double c0 = cpu_ms();
      auto found = analyser->detect(view);
      detect_ms = ms_since(t0);
      detect_cpu_ms = cpu_ms() - c0;
      if (!found.ok()) {
        std::printf("{\"photo\":%s,\"error\":%s}\n", json_str(path).c_str(), json_str(found.err().to_string()).c_str());
        ++failed;
        continue;
      }
      for (const face::detection& f : *found) {
        std::string s = "{\"box\":[" + num(f.x0) + "," + num(f.y0) + "," + num(f.x1) + "," + num(f.y1) +
                        "],\"score\":" + num(f.score) + ",\"keypoints\":[";
        for (int k = 0; k < 6; ++k) s += std::string(k ? "," : "") + pt(f.keypoints[k]);
        s += "]";
        if (want_mesh) {
          const auto t1 = clock_type::now();
          const double c1 = cpu_ms();
          auto m = analyser->landmarks(view, f);
          mesh_ms += ms_since(t1);
          mesh_cpu_ms += cpu_ms() - c1;
          if (!m.ok()) {
            s += ",\"mesh_error\":" + json_str(m.err().to_string());
          } else {
            // Eyes ordered left to right in the image (the subject's right eye first).
            s += ",\"mesh_presence\":" + num(m->presence) + ",\"eyes\":[" + pt(mean_pt(*m, 33, 133)) + "," +
                 pt(mean_pt(*m, 263, 362)) + "],\"nose_tip\":" + pt(m->pts[1]) + ",\"chin\":" + pt(m->pts[152]);
            if (all_points) {
              s += ",\"mesh\":[";
              for (size_t i = 0; i < m->pts.size(); ++i)
                s += std::string(i ? "," : "") + "[" + num(m->pts[i].x) + "," + num(m->pts[i].y) + "," + num(m->z[i]) +
                     "]";
              s += "]";
            }
          }
        }
        faces += std::string(n_faces++ ? "," : "") + s + "}";
      }
    }
    faces += "]";
    std::printf(
        "{\"photo\":%s,\"width\":%d,\"height\":%d,\"detector\":\"%s\",\"n_faces\":%d,\"faces\":%s,"
        "\"decode_ms\":%.2f,\"detect_ms\":%.2f,\"landmarks_ms\":%.2f,\"detect_cpu_ms\":%.2f,"
        "\"landmarks_cpu_ms\":%.2f}\n",
        json_str(path).c_str(), px.width, px.height, detector.c_str(), n_faces, faces.c_str(), d->ms, detect_ms,
        mesh_ms, detect_cpu_ms, mesh_cpu_ms);
    std::fflush(stdout);
  }
  std::printf(
      "{\"summary\":true,\"detector\":\"%s\",\"threads\":%lld,\"photos\":%zu,\"failed\":%d,\"load_ms\":%.1f,"
      "\"rss_before_models_bytes\":%lld,\"rss_after_models_bytes\":%lld,\"rss_end_bytes\":%lld,"
      "\"peak_rss_bytes\":%lld}\n",
      detector.c_str(), *threads, a->positional.size(), failed, load_ms, static_cast<long long>(rss_before),
      static_cast<long long>(rss_after_load), static_cast<long long>(base::current_rss_bytes()),
      static_cast<long long>(base::peak_rss_bytes()));
  return failed ? 1 : 0;
}

}  // namespace idphoto::cli

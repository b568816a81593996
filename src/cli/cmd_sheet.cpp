// `idphoto sheet`: framed ID photos at their exact printed size on 4x6 in, A4 or A6 paper,
// with gaps and crop marks, as a PDF (offline; the spec gives the size and the dpi).
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "card/sheet.hpp"
#include "cli/args.hpp"
#include "image/encode.hpp"
#include "image/image.hpp"
#include "image/limits.hpp"
#include "pipeline/id_spec.hpp"

namespace idphoto::cli {

namespace {
const char* help =
    "usage: idphoto sheet --spec NAME --paper 4x6in|a4|a6 [--copies N] [--dpi N] IN... -o OUT.pdf\n"
    "  IN...           photos framed to the spec (idphoto clean --spec NAME), JPEG or PNG\n"
    "  --spec NAME     a built-in spec (idphoto sheet --list) or custom:WxHmm,...: the printed size\n"
    "  --paper P       4x6in, a4 or a6 (default a4); turned to landscape when more photos fit\n"
    "  --copies N      copies of each photo (default: fill one page)\n"
    "  --dpi N         the least pixels per inch a photo must have at its size (default: the spec's)\n"
    "  -o OUT.pdf      where to write the PDF (never over an input)\n"
    "  --list          the built-in specs with their sizes\n";

int fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "idphoto: error: %s\n", msg.c_str());
  return code;
}
}  // namespace

int cmd_sheet(const std::vector<std::string>& argv) {
  auto a = parse_args(argv, {"--spec", "--paper", "--copies", "--dpi", "-o", "--output"}, {"--help", "-h", "--list"});
  if (!a.ok()) return fail(a.err().detail + "\n(see idphoto sheet --help)", 2);
  if (a->has("--help") || a->has("-h")) {
    std::fputs(help, stdout);
    return 0;
  }
  if (a->has("--list")) {
    const auto& cat = pipeline::builtin_catalogue();
    if (!cat.ok()) return fail(cat.err().to_string());
    for (const auto& s : cat->specs)
      std::printf("%-14s %6.2f x %6.2f mm  %4d x %4d px at %.0f dpi  %s\n", s.name.c_str(), s.width_mm, s.height_mm,
                  s.width_px, s.height_px, s.dpi, s.title.c_str());
    return 0;
  }
  const std::string out = a->has("-o") ? a->get("-o") : a->get("--output");
  if (a->get("--spec").empty() || out.empty() || a->positional.empty())
    return fail("--spec, -o and at least one photo are required\n(see idphoto sheet --help)", 2);
  auto copies = a->get_int("--copies", 0, 1, card::max_sheet_copies);
  if (!copies.ok()) return fail(copies.err().detail, 2);
  auto dpi = a->get_int("--dpi", 0, 72, 1200);
  if (!dpi.ok()) return fail(dpi.err().detail, 2);
  auto paper = card::paper_from(a->get("--paper", "a4"));
  if (!paper.ok()) return fail(paper.err().detail, 2);
  auto spec = pipeline::resolve_spec(a->get("--spec"), static_cast<double>(*dpi));
  if (!spec.ok()) return fail(spec.err().detail, 2);

  std::vector<std::string> photos;
  for (const auto& path : a->positional) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) return fail("cannot read " + path);
    const std::streamoff size = f.tellg();
    if (size < 0 || size > image::image_limits{}.max_bytes) return fail(path + ": larger than the image byte limit");
    f.seekg(0);
    std::string bytes(static_cast<size_t>(size), '\0');
    if (size > 0 && !f.read(bytes.data(), size)) return fail("cannot read " + path);
    photos.push_back(std::move(bytes));
  }
  if (auto r = image::init_vips(1); !r.ok()) return fail(r.err().to_string());
  card::sheet_options o;
  o.photo_width_mm = spec->width_mm;
  o.photo_height_mm = spec->height_mm;
  o.min_dpi = spec->dpi;
  o.page = *paper;
  o.copies = static_cast<int>(*copies);
  auto pdf = card::render_photo_sheet(photos, o);
  if (!pdf.ok()) return fail(pdf.err().to_string());
  image::write_options wo;
  for (const auto& p : a->positional) wo.protected_paths.push_back(p);
  if (auto w = image::write_file_atomic(out, *pdf, wo); !w.ok()) return fail(w.err().to_string());
  auto lay = card::layout_sheet(o);
  std::printf("%s: %s, %d per page, %zu bytes\n", out.c_str(), spec->name.c_str(), lay.ok() ? lay->cols * lay->rows : 0,
              pdf->size());
  return 0;
}

}  // namespace idphoto::cli

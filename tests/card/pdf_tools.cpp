// Test helpers around poppler-utils and zbar-tools; see pdf_tools.hpp.
#include "card/pdf_tools.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace pdf_tools {

namespace fs = std::filesystem;

temp_dir::temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "idphoto-card-XXXXXX").string();
  if (mkdtemp(tmpl.data()) != nullptr) path = tmpl;
}
temp_dir::~temp_dir() {
  std::error_code ec;
  if (!path.empty()) fs::remove_all(path, ec);
}

run_result run(const std::string& cmd, bool merge_stderr) {
  run_result r;
  FILE* p = popen((cmd + (merge_stderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

fs::path write(const fs::path& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  const fs::path p = dir / name;
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return p;
}

namespace {
std::string quote(const fs::path& p) { return "'" + p.string() + "'"; }
}  // namespace

std::pair<double, double> page_size_pts(const fs::path& pdf, int page) {
  const auto r =
      run("pdfinfo " + (page > 0 ? "-f " + std::to_string(page) + " -l " + std::to_string(page) + " " : std::string()) +
          quote(pdf));
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    const auto at = line.find("ize:");
    if (line.rfind("Page", 0) != 0 || at == std::string::npos) continue;
    double w = -1, h = -1;
    if (std::sscanf(line.c_str() + at + 4, " %lf x %lf", &w, &h) == 2) return {w, h};
  }
  return {-1, -1};
}

int page_count(const fs::path& pdf) {
  const auto r = run("pdfinfo " + quote(pdf));
  const auto at = r.out.find("Pages:");
  if (at == std::string::npos) return -1;
  return std::atoi(r.out.c_str() + at + 6);
}

std::string text(const fs::path& pdf) { return run("pdftotext -enc UTF-8 " + quote(pdf) + " -").out; }

std::vector<image_row> images(const fs::path& pdf) {
  // page num type width height color comp bpc enc interp object ID x-ppi y-ppi size ratio
  const auto r = run("pdfimages -list " + quote(pdf));
  std::vector<image_row> rows;
  std::istringstream in(r.out);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (++n <= 2) continue;  // header and dashes
    std::istringstream f(line);
    std::string page, num, type, color, comp, bpc, interp, object, id;
    image_row row;
    if (f >> page >> num >> type >> row.width >> row.height >> color >> comp >> bpc >> row.enc >> interp >> object >>
        id >> row.x_ppi >> row.y_ppi)
      rows.push_back(row);
  }
  return rows;
}

fs::path render_png(const fs::path& pdf, int dpi) {
  const fs::path stem = pdf.parent_path() / (pdf.stem().string() + "-render");
  const auto r =
      run("pdftoppm -r " + std::to_string(dpi) + " -f 1 -l 1 -singlefile -png " + quote(pdf) + " " + quote(stem));
  fs::path out = stem;
  out += ".png";
  return r.exit_code == 0 && fs::exists(out) ? out : fs::path();
}

std::vector<std::string> qr_codes(const fs::path& png) {
  const auto r = run("zbarimg --quiet --raw -Sdisable -Sqrcode.enable " + quote(png), false);  // stderr: D-Bus noise
  std::vector<std::string> codes;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) codes.push_back(line);
  return codes;
}

}  // namespace pdf_tools

// Test helpers: run poppler / zbar command-line tools on PDF bytes and read their output.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pdf_tools {

// A fresh temporary directory, removed by the destructor.
struct temp_dir {
  std::filesystem::path path;
  temp_dir();
  ~temp_dir();
};

struct run_result {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};
// Runs a shell command line and captures its stdout (and stderr when merge_stderr).
run_result run(const std::string& cmd, bool merge_stderr = true);

// Writes bytes to dir/name and returns the path.
std::filesystem::path write(const std::filesystem::path& dir, const std::string& name,
                            const std::vector<uint8_t>& bytes);

// pdfinfo's "Page size: W x H pts"; {-1, -1} if missing. page 0 = pdfinfo's default (page 1).
std::pair<double, double> page_size_pts(const std::filesystem::path& pdf, int page = 0);
int page_count(const std::filesystem::path& pdf);
// pdftotext -layout output (UTF-8).
std::string text(const std::filesystem::path& pdf);

struct image_row {
  int width = 0, height = 0;
  std::string enc;
  double x_ppi = 0, y_ppi = 0;
};
// The rows of pdfimages -list.
std::vector<image_row> images(const std::filesystem::path& pdf);

// Renders page 1 at dpi to a PNG and returns its path ("" on failure).
std::filesystem::path render_png(const std::filesystem::path& pdf, int dpi);
// zbarimg's decoded QR payloads (without the "QR-Code:" prefix).
std::vector<std::string> qr_codes(const std::filesystem::path& png);

}  // namespace pdf_tools

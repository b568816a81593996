// The progress bar of progress.hpp.
#include "cli/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace idphoto::cli {

progress::progress(size_t total, bool on) : total_(total), on_(on && total > 1 && isatty(STDERR_FILENO)) {}

void progress::show(size_t done, const std::string& name, double avg_s) {
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

void progress::clear() {
  if (on_) std::fprintf(stderr, "\r%*s\r", 90, "");
}

}  // namespace idphoto::cli

// Reads VmRSS / VmHWM from /proc/self/status.
#include "base/memory_stats.hpp"

#include <cstdio>
#include <cstring>

namespace idphoto::base {
namespace {
int64_t read_status_kb(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  int64_t kb = 0;
  size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, n) == 0) {
      long long v = 0;
      if (std::sscanf(line + n, " %lld", &v) == 1) kb = v;
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}
}  // namespace

int64_t current_rss_bytes() { return read_status_kb("VmRSS:"); }
int64_t peak_rss_bytes() { return read_status_kb("VmHWM:"); }

}  // namespace idphoto::base

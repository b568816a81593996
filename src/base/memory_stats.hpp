// Process memory as the kernel counts it: current and peak resident set size.
// Both return 0 when /proc is not readable.
#pragma once
#include <cstdint>

namespace idphoto::base {

int64_t current_rss_bytes();  // VmRSS
int64_t peak_rss_bytes();     // VmHWM

}  // namespace idphoto::base

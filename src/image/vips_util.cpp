// libvips error text collection and small helpers shared by the image steps.
// libvips reports failures through a global text buffer; we copy it into error details.
#include "image/vips_util.hpp"

#include <vector>

namespace idphoto::image::detail {

using base::errc;

std::string take_vips_error() {
  // vips_error_buffer_copy() copies and clears under libvips' own lock.
  char* raw = vips_error_buffer_copy();
  std::string text = raw ? raw : "";
  g_free(raw);

  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    for (char& c : line)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    size_t b = line.find_first_not_of(' ');
    size_t e = line.find_last_not_of(' ');
    if (b != std::string::npos) {
      line = line.substr(b, e - b + 1);
      bool seen = false;
      for (const auto& l : lines) seen = seen || l == line;
      if (!seen) lines.push_back(std::move(line));
    }
    start = end + 1;
  }

  constexpr size_t max_chars = 400;
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += "; ";
    out += l;
  }
  if (out.size() > max_chars) out = out.substr(0, max_chars) + "...";
  return out;
}

base::error vips_fail(errc c, std::string_view what) {
  std::string text = take_vips_error();
  std::string detail(what);
  if (!text.empty()) detail += ": " + text;
  return base::make_error(c, std::move(detail));
}

bool has_alpha(const VipsImage* im) {
  int bands = im->Bands;
  if (bands == 2) return true;
  if (bands == 4) return im->Type != VIPS_INTERPRETATION_CMYK;
  if (bands == 5) return im->Type == VIPS_INTERPRETATION_CMYK;
  return false;
}

double max_sample(VipsBandFormat f) {
  switch (f) {
    case VIPS_FORMAT_UCHAR:
    case VIPS_FORMAT_CHAR:
      return 255.0;
    case VIPS_FORMAT_USHORT:
    case VIPS_FORMAT_SHORT:
      return 65535.0;
    case VIPS_FORMAT_UINT:
    case VIPS_FORMAT_INT:
      return 4294967295.0;
    default:
      return 1.0;
  }
}

}  // namespace idphoto::image::detail

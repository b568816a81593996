// Print sheets of ID photos: copies of framed photos at their exact millimetre size on
// 4x6 in, A4 or A6 paper, with gaps and crop marks, as a vector PDF (cairo).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace idphoto::card {

enum class paper { in4x6, a4, a6 };
// "4x6in", "a4" or "a6"; invalid_argument for anything else.
base::result<paper> paper_from(std::string_view s);
struct paper_size {
  double width_mm, height_mm;
};
paper_size paper_mm(paper p);  // portrait: 101.6 x 152.4, 210 x 297, 105 x 148

inline constexpr double sheet_margin_mm = 4;  // page edge to the first photo
inline constexpr double sheet_gap_mm = 4;     // between photos; the crop marks sit in it
inline constexpr int max_sheet_copies = 500;

struct sheet_options {
  double photo_width_mm = 35, photo_height_mm = 45;  // the spec's printed size
  double min_dpi = 300;  // a photo must have at least this many pixels per inch at that size
  paper page = paper::a4;
  int copies = 0;  // of each photo; 0 = fill one page (shared between the photos)
};

// How many photos fit on one page, and whether the page is turned to landscape for it.
struct sheet_layout {
  int cols = 0, rows = 0;
  bool landscape = false;
  double page_w_mm = 0, page_h_mm = 0;
  double x0_mm = 0, y0_mm = 0;  // top-left of the block of photos (centred)
};
// invalid_argument when the photo does not fit the paper at all.
base::result<sheet_layout> layout_sheet(const sheet_options& o);

/* The PDF. Each photo is decoded by the image module (needs image::init_vips()), must
 * have the spec's aspect ratio (within 1 %, i.e. it was framed to the spec) and at least
 * min_dpi at the printed size; it is embedded once per page as JPEG (quality 95) and
 * placed at exactly photo_width_mm x photo_height_mm, never resampled. */
// Returns invalid_argument (no photos, an empty or mismatched photo, too few pixels, bad
// copies or sizes), the image module's errors for undecodable photos, internal for cairo.
base::result<std::vector<uint8_t>> render_photo_sheet(std::span<const std::string> photos, const sheet_options& o);

}  // namespace idphoto::card

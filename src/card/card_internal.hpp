// Pieces of the card module shared between its files; not part of the public header.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace idphoto::card::detail {

inline constexpr double pt_per_mm = 72.0 / 25.4;

// The photo ready to place in a box: 8-bit RGB pixels cropped to the box's aspect ratio,
// sized to min_photo_dpi..max_photo_dpi for the box, and the same pixels as JPEG (the PDF
// embeds the JPEG as is, so the file stays small).
struct placed_photo {
  std::vector<uint8_t> rgb;  // width*height*3
  int width = 0, height = 0;
  std::vector<uint8_t> jpeg;
};
// invalid_argument (empty bytes), the image module's errors (unsupported, corrupt, too_large, internal).
base::result<placed_photo> prepare_photo(std::string_view bytes, double box_w_mm, double box_h_mm);

// A QR code as a square matrix of modules, row-major, true = dark; no quiet zone.
struct qr_matrix {
  int size = 0;
  std::vector<bool> dark;
};
// invalid_argument for empty text, too_large when it does not fit a QR code, internal otherwise.
base::result<qr_matrix> make_qr(std::string_view text);

}  // namespace idphoto::card::detail

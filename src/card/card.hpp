// The ID-card PDF: the front of a CR80 card (85.60 x 53.98 mm) laid out with cairo + pango,
// its photo embedded at >= 300 dpi and a QR code, alone or several to an A4 sheet with crop marks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace idphoto::card {

inline constexpr double card_width_mm = 85.60;  // ISO/IEC 7810 ID-1 (CR80)
inline constexpr double card_height_mm = 53.98;
inline constexpr size_t max_text_bytes = 200;  // per text field, as the database's limit
inline constexpr int min_photo_dpi = 300;      // photos with fewer pixels are upsampled to this
inline constexpr int max_photo_dpi = 600;      // photos with more pixels are downsampled to this
inline constexpr int cards_per_a4_page = 8;    // 2 columns x 4 rows

// One card's front. Text is UTF-8; an empty optional field leaves its row out.
struct card_input {
  std::string card_id;    // required; printed small and encoded in the QR code
  std::string full_name;  // required
  std::string id_number, organization, role;
  std::string issued_at, expires_at;  // printed as given (the API stores YYYY-MM-DD)
  std::string photo_bytes;            // required: encoded JPEG / PNG / WebP / HEIF / TIFF
  bool photo_is_clean = true;         // false: the raw photo; the card is marked "PHOTO NOT CLEANED"
  std::string verify_url;             // "" = the QR code holds card_id; else it holds verify_url + card_id
};

enum class sheet_kind { card, a4 };  // card: one page per card, page = card size; a4: sheets

struct card_options {
  sheet_kind sheet = sheet_kind::card;
};

// "card" or "a4"; invalid_argument for anything else.
base::result<sheet_kind> sheet_from(std::string_view s);

/* The PDF bytes. Needs image::init_vips() to have run (the photo is decoded by the image
 * module). Text longer than its box is shrunk no further than the layout's sizes and then
 * ellipsised; text over max_text_bytes is refused, not truncated. */
// Returns invalid_argument (no cards, a required field empty, a field over max_text_bytes,
// invalid UTF-8 or control characters, empty photo), the image module's errors for the photo
// (unsupported, corrupt, too_large), internal when cairo/pango/qrencode fail.
base::result<std::vector<uint8_t>> render_pdf(std::span<const card_input> cards, const card_options& o = {});
// As above, for one card.
base::result<std::vector<uint8_t>> render_pdf(const card_input& card, const card_options& o = {});

}  // namespace idphoto::card

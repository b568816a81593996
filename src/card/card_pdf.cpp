// The PDF writer and the card layout: cairo's PDF surface written to memory, text with
// pango (fontconfig picks a font for every script: Latin, CJK, Arabic, Hebrew, ...).
#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "base/unique_handle.hpp"
#include "card/cairo_util.hpp"
#include "card/card.hpp"
#include "card/card_internal.hpp"

namespace idphoto::card {

using detail::cairo_ptr;
using detail::cairo_surface_ptr;
using detail::mm;
using detail::pt_per_mm;

namespace {

using pango_layout_ptr = base::unique_handle<PangoLayout, g_object_unref>;
using font_description_ptr = base::unique_handle<PangoFontDescription, pango_font_description_free>;

// Families tried in order; fontconfig falls back per character beyond them.
constexpr const char* font_families =
    "DejaVu Sans, Noto Sans, Noto Sans Arabic, Noto Sans Hebrew, Noto Sans CJK SC, sans-serif";

// --- input checks -------------------------------------------------------------------------

// true when s is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF)
// without control characters (C0, DEL, C1): each field is one line of text.
bool is_clean_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0;
    int n = 0;
    if (c < 0x80) {
      cp = c;
      n = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      cp = c & 0x1F;
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      cp = c & 0x0F;
      n = 2;
    } else if (c >= 0xF0 && c <= 0xF4) {
      cp = c & 0x07;
      n = 3;
    } else {
      return false;
    }
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) return false;
    i += 1 + static_cast<size_t>(n);
  }
  return true;
}

base::result<void> check_field(const char* name, const std::string& v, bool required) {
  if (required && v.empty()) return base::make_error(base::errc::invalid_argument, std::string(name) + ": required");
  if (v.size() > max_text_bytes)
    return base::make_error(base::errc::invalid_argument,
                            std::string(name) + ": longer than " + std::to_string(max_text_bytes) + " bytes");
  if (!is_clean_utf8(v))
    return base::make_error(base::errc::invalid_argument, std::string(name) + ": invalid UTF-8 or a control character");
  return {};
}

base::result<void> check_input(const card_input& c) {
  IDPHOTO_TRY(check_field("card_id", c.card_id, true));
  IDPHOTO_TRY(check_field("full_name", c.full_name, true));
  IDPHOTO_TRY(check_field("id_number", c.id_number, false));
  IDPHOTO_TRY(check_field("organization", c.organization, false));
  IDPHOTO_TRY(check_field("role", c.role, false));
  IDPHOTO_TRY(check_field("issued_at", c.issued_at, false));
  IDPHOTO_TRY(check_field("expires_at", c.expires_at, false));
  if (c.verify_url.size() > 1024 || !is_clean_utf8(c.verify_url))
    return base::make_error(base::errc::invalid_argument, "verify_url: longer than 1024 bytes or not clean UTF-8");
  if (c.photo_bytes.empty()) return base::make_error(base::errc::invalid_argument, "photo: empty");
  return {};
}

// --- drawing helpers ----------------------------------------------------------------------

struct text_style {
  double size_pt = 7;
  bool bold = false;
  bool mono = false;
  int max_lines = 1;  // wraps up to this many lines, then ellipsises
  PangoAlignment align = PANGO_ALIGN_LEFT;
};

// Draws text with its top-left at (x, y) in a box width_pt wide; returns the height used.
double draw_text(cairo_t* cr, const std::string& text, double x, double y, double width_pt, const text_style& st) {
  pango_layout_ptr layout(pango_cairo_create_layout(cr));
  font_description_ptr fd(pango_font_description_from_string(st.mono ? "DejaVu Sans Mono" : font_families));
  pango_font_description_set_absolute_size(fd.get(), st.size_pt * PANGO_SCALE);  // user units are pt
  pango_font_description_set_weight(fd.get(), st.bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_layout_set_font_description(layout.get(), fd.get());
  pango_layout_set_width(layout.get(), static_cast<int>(width_pt * PANGO_SCALE));
  pango_layout_set_wrap(layout.get(), PANGO_WRAP_WORD_CHAR);
  pango_layout_set_height(layout.get(), -st.max_lines);  // negative: at most this many lines
  pango_layout_set_ellipsize(layout.get(), PANGO_ELLIPSIZE_END);
  pango_layout_set_alignment(layout.get(), st.align);
  pango_layout_set_text(layout.get(), text.data(), static_cast<int>(text.size()));
  cairo_move_to(cr, x, y);
  pango_cairo_show_layout(cr, layout.get());
  int w = 0, h = 0;
  pango_layout_get_size(layout.get(), &w, &h);
  return static_cast<double>(h) / PANGO_SCALE;
}

void set_rgb(cairo_t* cr, uint32_t hex) {
  cairo_set_source_rgb(cr, ((hex >> 16) & 0xFF) / 255.0, ((hex >> 8) & 0xFF) / 255.0, (hex & 0xFF) / 255.0);
}

/* The layout of the front, in mm from the card's top-left corner (85.60 x 53.98):
 *   header band 0..9 with the organisation (or "IDENTITY CARD");
 *   photo box 4,12 size 22 x 28.29 (35:45, the passport-photo ratio), the card id under it;
 *   text column from x 29: the name (bold, up to 2 lines, full width), then the rows ID
 *   number, role and issue/expiry dates, narrow enough to leave the QR code's quiet zone;
 *   QR code 15 x 15 at the bottom right, 3.5 from the edges.
 * The fallback (raw photo) gets a red frame and a red "PHOTO NOT CLEANED" band across the
 * bottom of the photo, so a printed card shows it too. */
constexpr double photo_x_mm = 4, photo_y_mm = 12, photo_w_mm = 22, photo_h_mm = 22.0 * 45.0 / 35.0;
constexpr double header_h_mm = 9;
constexpr double qr_size_mm = 15, qr_margin_mm = 3.5;
constexpr double text_x_mm = 29;

void draw_label_value(cairo_t* cr, const char* label, const std::string& value, double x, double y, double w) {
  set_rgb(cr, 0x5a6270);
  draw_text(cr, label, x, y, w, text_style{4.6, false, false, 1});
  set_rgb(cr, 0x111111);
  draw_text(cr, value, x, y + mm(2.1), w, text_style{7, false, false, 1});
}

base::result<void> draw_card(cairo_t* cr, const card_input& c, const detail::placed_photo& photo) {
  const double W = mm(card_width_mm), H = mm(card_height_mm);
  cairo_save(cr);
  cairo_rectangle(cr, 0, 0, W, H);
  cairo_clip(cr);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);

  // Header band.
  set_rgb(cr, 0x1f3a68);
  cairo_rectangle(cr, 0, 0, W, mm(header_h_mm));
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 1, 1, 1);
  const std::string header = c.organization.empty() ? "IDENTITY CARD" : c.organization;
  draw_text(cr, header, mm(4), mm(2.2), W - mm(8), text_style{8, true, false, 1});

  // Photo, scaled so its pixels fill the box exactly (>= 300 pixels per inch by construction).
  auto surf = detail::photo_surface(photo);
  if (!surf) return surf.err();
  detail::draw_photo(cr, surf->get(), photo.width, photo.height, mm(photo_x_mm), mm(photo_y_mm), mm(photo_w_mm),
                     mm(photo_h_mm));

  if (!c.photo_is_clean) {
    set_rgb(cr, 0xc62828);
    cairo_set_line_width(cr, mm(0.5));
    cairo_rectangle(cr, mm(photo_x_mm) + mm(0.25), mm(photo_y_mm) + mm(0.25), mm(photo_w_mm) - mm(0.5),
                    mm(photo_h_mm) - mm(0.5));
    cairo_stroke(cr);
    cairo_rectangle(cr, mm(photo_x_mm), mm(photo_y_mm + photo_h_mm - 4.2), mm(photo_w_mm), mm(4.2));
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    draw_text(cr, "PHOTO NOT CLEANED", mm(photo_x_mm), mm(photo_y_mm + photo_h_mm - 3.5), mm(photo_w_mm),
              text_style{4.4, true, false, 1, PANGO_ALIGN_CENTER});
  }

  // Card id under the photo.
  set_rgb(cr, 0x5a6270);
  draw_text(cr, "No. " + c.card_id, mm(photo_x_mm), mm(photo_y_mm + photo_h_mm + 1.2), mm(60),
            text_style{4.4, false, true, 1});

  // Text column.
  const double qr_x = card_width_mm - qr_margin_mm - qr_size_mm;
  const double full_w = mm(card_width_mm - 4 - text_x_mm);
  const double narrow_w = mm(qr_x - 2.6 - text_x_mm);  // leaves 4+ modules of quiet zone
  set_rgb(cr, 0x111111);
  double y = mm(photo_y_mm) - mm(0.6);
  y += draw_text(cr, c.full_name, mm(text_x_mm), y, full_w, text_style{9, true, false, 2});
  y += mm(1.6);
  if (!c.id_number.empty()) {
    draw_label_value(cr, "ID NUMBER", c.id_number, mm(text_x_mm), y, narrow_w);
    y += mm(6.3);
  }
  if (!c.role.empty()) {
    draw_label_value(cr, "ROLE", c.role, mm(text_x_mm), y, narrow_w);
    y += mm(6.3);
  }
  const double half_w = (narrow_w - mm(1)) / 2;
  if (!c.issued_at.empty()) draw_label_value(cr, "ISSUED", c.issued_at, mm(text_x_mm), y, half_w);
  if (!c.expires_at.empty())
    draw_label_value(cr, "EXPIRES", c.expires_at, mm(text_x_mm) + (c.issued_at.empty() ? 0 : half_w + mm(1)), y,
                     half_w);

  // QR code: dark modules as filled squares (vector, sharp at any print resolution).
  auto qr = detail::make_qr(c.verify_url.empty() ? c.card_id : c.verify_url + c.card_id);
  if (!qr) return qr.err();
  const double module = mm(qr_size_mm) / qr->size;
  const double qx = mm(qr_x), qy = H - mm(qr_margin_mm + qr_size_mm);
  cairo_set_source_rgb(cr, 0, 0, 0);
  for (int r = 0; r < qr->size; ++r)
    for (int k = 0; k < qr->size; ++k)
      if (qr->dark[static_cast<size_t>(r) * qr->size + k])
        cairo_rectangle(cr, qx + k * module, qy + r * module, module, module);
  cairo_fill(cr);

  cairo_restore(cr);
  if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
    return base::make_error(base::errc::internal, std::string("cairo: ") + cairo_status_to_string(cairo_status(cr)));
  return {};
}

/* A4 sheet: 2 columns x 4 rows of cards with 8 mm gutters, centred on the page. Crop marks
 * continue each card edge outwards, 1 mm off the corner and 2.5 mm long, so they stay inside
 * the gutters and never touch a neighbouring card; a guillotine cut along them gives cards of
 * exactly CR80 size. */
constexpr double a4_w_mm = 210, a4_h_mm = 297, gutter_mm = 8, mark_gap_mm = 1, mark_len_mm = 2.5;
constexpr int a4_cols = 2, a4_rows = 4;
static_assert(a4_cols * a4_rows == cards_per_a4_page);

}  // namespace

base::result<sheet_kind> sheet_from(std::string_view s) {
  if (s == "card") return sheet_kind::card;
  if (s == "a4") return sheet_kind::a4;
  return base::make_error(base::errc::invalid_argument, "sheet: expected card or a4");
}

base::result<std::vector<uint8_t>> render_pdf(std::span<const card_input> cards, const card_options& o) {
  if (cards.empty()) return base::make_error(base::errc::invalid_argument, "no cards");
  // Check and prepare everything before any drawing, so a bad card fails the whole call early.
  std::vector<detail::placed_photo> photos;
  photos.reserve(cards.size());
  for (const auto& c : cards) {
    IDPHOTO_TRY(check_input(c));
    auto p = detail::prepare_photo(c.photo_bytes, photo_w_mm, photo_h_mm);
    if (!p) return p.err();
    photos.push_back(std::move(*p));
  }

  std::vector<uint8_t> out;
  const bool a4 = o.sheet == sheet_kind::a4;
  const double page_w = a4 ? mm(a4_w_mm) : mm(card_width_mm), page_h = a4 ? mm(a4_h_mm) : mm(card_height_mm);
  {
    cairo_surface_ptr surface(cairo_pdf_surface_create_for_stream(detail::append_bytes, &out, page_w, page_h));
    if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
      return base::make_error(base::errc::internal, "cairo: cannot create the PDF surface");
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, "ID card");
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "idphoto");
    cairo_ptr cr(cairo_create(surface.get()));
    const double block_w = a4_cols * mm(card_width_mm) + (a4_cols - 1) * mm(gutter_mm);
    const double block_h = a4_rows * mm(card_height_mm) + (a4_rows - 1) * mm(gutter_mm);
    for (size_t i = 0; i < cards.size(); ++i) {
      double x = 0, y = 0;
      if (a4) {
        const size_t slot = i % cards_per_a4_page;
        if (i > 0 && slot == 0) cairo_show_page(cr.get());
        x = (page_w - block_w) / 2 + static_cast<double>(slot % a4_cols) * (mm(card_width_mm) + mm(gutter_mm));
        y = (page_h - block_h) / 2 + static_cast<double>(slot / a4_cols) * (mm(card_height_mm) + mm(gutter_mm));
        detail::draw_crop_marks(cr.get(), x, y, mm(card_width_mm), mm(card_height_mm), mm(mark_gap_mm),
                                mm(mark_len_mm));
      } else if (i > 0) {
        cairo_show_page(cr.get());
      }
      cairo_save(cr.get());
      cairo_translate(cr.get(), x, y);
      auto drawn = draw_card(cr.get(), cards[i], photos[i]);
      cairo_restore(cr.get());
      if (!drawn) return drawn.err();
    }
    cairo_show_page(cr.get());
    cr.reset();
    cairo_surface_finish(surface.get());
    if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
      return base::make_error(base::errc::internal,
                              std::string("cairo: ") + cairo_status_to_string(cairo_surface_status(surface.get())));
  }
  return out;
}

base::result<std::vector<uint8_t>> render_pdf(const card_input& card, const card_options& o) {
  return render_pdf(std::span<const card_input>(&card, 1), o);
}

}  // namespace idphoto::card

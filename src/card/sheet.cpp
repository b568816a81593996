// The photo sheet (sheet.hpp): grid layout on the paper, photos decoded and checked
// against the spec's size and dpi, drawn with the card module's cairo mechanisms.
#include "card/sheet.hpp"

#include <cairo-pdf.h>

#include <algorithm>
#include <cmath>

#include "card/cairo_util.hpp"
#include "image/decode.hpp"
#include "image/encode.hpp"
#include "image/ops.hpp"

namespace idphoto::card {

using base::errc;
using base::make_error;
using detail::mm;

base::result<paper> paper_from(std::string_view s) {
  if (s == "4x6in" || s == "4x6") return paper::in4x6;
  if (s == "a4" || s == "A4") return paper::a4;
  if (s == "a6" || s == "A6") return paper::a6;
  return make_error(errc::invalid_argument, "paper must be 4x6in, a4 or a6");
}

paper_size paper_mm(paper p) {
  switch (p) {
    case paper::in4x6:
      return {101.6, 152.4};
    case paper::a6:
      return {105, 148};
    default:
      return {210, 297};
  }
}

/* Grid: as many columns and rows as fit inside the margins with the gap between photos,
 * tried on the page upright and turned; the orientation holding more photos wins (upright
 * on a tie), and the block is centred so the leftover margin is shared evenly. */
base::result<sheet_layout> layout_sheet(const sheet_options& o) {
  if (!(o.photo_width_mm > 0 && o.photo_height_mm > 0 && o.photo_width_mm <= 300 && o.photo_height_mm <= 300))
    return make_error(errc::invalid_argument, "sheet: photo size must be 0..300 mm");
  const paper_size p = paper_mm(o.page);
  sheet_layout best;
  for (const bool land : {false, true}) {
    const double pw = land ? p.height_mm : p.width_mm, ph = land ? p.width_mm : p.height_mm;
    const int cols =
        static_cast<int>(std::floor((pw - 2 * sheet_margin_mm + sheet_gap_mm) / (o.photo_width_mm + sheet_gap_mm)));
    const int rows =
        static_cast<int>(std::floor((ph - 2 * sheet_margin_mm + sheet_gap_mm) / (o.photo_height_mm + sheet_gap_mm)));
    if (cols < 1 || rows < 1 || cols * rows <= best.cols * best.rows) continue;
    best = {cols, rows, land, pw, ph, 0, 0};
    best.x0_mm = (pw - (cols * o.photo_width_mm + (cols - 1) * sheet_gap_mm)) / 2;
    best.y0_mm = (ph - (rows * o.photo_height_mm + (rows - 1) * sheet_gap_mm)) / 2;
  }
  if (best.cols == 0) return make_error(errc::invalid_argument, "sheet: the photo does not fit on the paper");
  return best;
}

namespace {

base::result<detail::placed_photo> load_photo(const std::string& bytes, const sheet_options& o, size_t index) {
  const std::string which = "photo " + std::to_string(index + 1);
  if (bytes.empty()) return make_error(errc::invalid_argument, which + ": empty");
  auto dec = image::decode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (!dec) return make_error(dec.err().code, which + ": " + dec.err().detail);
  auto up = image::orient(*dec);
  IDPHOTO_TRY(up);
  auto srgb = image::to_srgb(*up);
  IDPHOTO_TRY(srgb);
  image::image flat = srgb->rgb.share();
  if (srgb->alpha) {
    auto c = image::composite(srgb->rgb, *srgb->alpha, image::rgb8{255, 255, 255});
    IDPHOTO_TRY(c);
    flat = std::move(*c);
  }
  const int w = flat.width(), h = flat.height();
  const double want = o.photo_width_mm / o.photo_height_mm, got = static_cast<double>(w) / h;
  if (std::fabs(got / want - 1) > 0.01)
    return make_error(
        errc::invalid_argument,
        which + ": " + std::to_string(w) + "x" + std::to_string(h) +
            " px does not have the spec's aspect ratio (frame it to the spec first: idphoto clean --spec)");
  const int need_w = static_cast<int>(std::lround(o.photo_width_mm / 25.4 * o.min_dpi));
  if (w < need_w - 1)
    return make_error(errc::invalid_argument, which + ": " + std::to_string(w) + " px wide is under " +
                                                  std::to_string(static_cast<int>(o.min_dpi)) + " dpi at " +
                                                  std::to_string(o.photo_width_mm) + " mm (needs " +
                                                  std::to_string(need_w) + ")");
  auto px = image::to_rgb8(flat);
  IDPHOTO_TRY(px);
  auto jpeg = image::encode(flat, image::encode_options{image::format::jpeg, 95});
  IDPHOTO_TRY(jpeg);
  detail::placed_photo p;
  p.rgb = std::move(px->data);
  p.width = w;
  p.height = h;
  p.jpeg = std::move(*jpeg);
  return p;
}

}  // namespace

base::result<std::vector<uint8_t>> render_photo_sheet(std::span<const std::string> photos, const sheet_options& o) {
  if (photos.empty()) return make_error(errc::invalid_argument, "sheet: no photos");
  if (photos.size() > static_cast<size_t>(max_sheet_copies))
    return make_error(errc::invalid_argument, "sheet: too many photos");
  if (o.copies < 0 || o.copies > max_sheet_copies)
    return make_error(errc::invalid_argument, "sheet: copies must be 0..." + std::to_string(max_sheet_copies));
  if (!(o.min_dpi >= 72 && o.min_dpi <= 1200)) return make_error(errc::invalid_argument, "sheet: dpi must be 72..1200");
  auto lay = layout_sheet(o);
  IDPHOTO_TRY(lay);
  std::vector<detail::placed_photo> loaded;
  for (size_t i = 0; i < photos.size(); ++i) {
    auto p = load_photo(photos[i], o, i);
    IDPHOTO_TRY(p);
    loaded.push_back(std::move(*p));
  }
  const int per_page = lay->cols * lay->rows;
  const int copies = o.copies > 0 ? o.copies : std::max(1, per_page / static_cast<int>(photos.size()));
  if (static_cast<long>(copies) * static_cast<long>(photos.size()) > max_sheet_copies)
    return make_error(errc::invalid_argument,
                      "sheet: more than " + std::to_string(max_sheet_copies) + " photos in all");
  std::vector<size_t> order;  // photo index per slot, photo by photo
  for (size_t i = 0; i < photos.size(); ++i)
    for (int k = 0; k < copies; ++k) order.push_back(i);

  std::vector<uint8_t> out;
  {
    detail::cairo_surface_ptr surface(
        cairo_pdf_surface_create_for_stream(detail::append_bytes, &out, mm(lay->page_w_mm), mm(lay->page_h_mm)));
    if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
      return make_error(errc::internal, "cairo: cannot create the PDF surface");
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, "ID photos");
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "idphoto");
    detail::cairo_ptr cr(cairo_create(surface.get()));
    std::vector<detail::cairo_surface_ptr> surfaces;
    for (const auto& p : loaded) {
      auto s = detail::photo_surface(p);
      IDPHOTO_TRY(s);
      surfaces.push_back(std::move(*s));
    }
    for (size_t slot = 0; slot < order.size(); ++slot) {
      const int on_page = static_cast<int>(slot % per_page);
      if (slot > 0 && on_page == 0) cairo_show_page(cr.get());
      const double x = lay->x0_mm + (on_page % lay->cols) * (o.photo_width_mm + sheet_gap_mm);
      const double y = lay->y0_mm + (on_page / lay->cols) * (o.photo_height_mm + sheet_gap_mm);
      const auto& p = loaded[order[slot]];
      detail::draw_photo(cr.get(), surfaces[order[slot]].get(), p.width, p.height, mm(x), mm(y), mm(o.photo_width_mm),
                         mm(o.photo_height_mm));
      detail::draw_crop_marks(cr.get(), mm(x), mm(y), mm(o.photo_width_mm), mm(o.photo_height_mm), mm(0.5), mm(1.5));
    }
    cairo_show_page(cr.get());
    cr.reset();
    surfaces.clear();
    cairo_surface_finish(surface.get());
    if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
      return make_error(errc::internal,
                        std::string("cairo: ") + cairo_status_to_string(cairo_surface_status(surface.get())));
  }
  return out;
}

}  // namespace idphoto::card

// cairo mechanisms shared by the card and the photo sheet (cairo_util.hpp).
#include "card/cairo_util.hpp"

namespace idphoto::card::detail {

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  auto* out = static_cast<std::vector<uint8_t>*>(closure);
  out->insert(out->end(), data, data + length);
  return CAIRO_STATUS_SUCCESS;
}

base::result<cairo_surface_ptr> photo_surface(const placed_photo& p) {
  cairo_surface_ptr s(cairo_image_surface_create(CAIRO_FORMAT_RGB24, p.width, p.height));
  if (cairo_surface_status(s.get()) != CAIRO_STATUS_SUCCESS)
    return base::make_error(base::errc::internal, "cairo: cannot create the photo surface");
  cairo_surface_flush(s.get());
  unsigned char* data = cairo_image_surface_get_data(s.get());
  const int stride = cairo_image_surface_get_stride(s.get());
  for (int y = 0; y < p.height; ++y) {
    auto* row = reinterpret_cast<uint32_t*>(data + static_cast<size_t>(y) * stride);
    const uint8_t* src = p.rgb.data() + static_cast<size_t>(y) * p.width * 3;
    for (int x = 0; x < p.width; ++x)
      row[x] = (uint32_t{src[3 * x]} << 16) | (uint32_t{src[3 * x + 1]} << 8) | uint32_t{src[3 * x + 2]};
  }
  cairo_surface_mark_dirty(s.get());
  // cairo keeps the pointer until the surface dies; the copy is freed by the destroy callback.
  auto* jpeg = new std::vector<uint8_t>(p.jpeg);
  const cairo_status_t st = cairo_surface_set_mime_data(
      s.get(), CAIRO_MIME_TYPE_JPEG, jpeg->data(), jpeg->size(),
      [](void* d) { delete static_cast<std::vector<uint8_t>*>(d); }, jpeg);
  if (st != CAIRO_STATUS_SUCCESS) {
    delete jpeg;
    return base::make_error(base::errc::internal, "cairo: cannot attach the JPEG");
  }
  return s;
}

void draw_photo(cairo_t* cr, cairo_surface_t* photo, int width_px, int height_px, double x, double y, double w,
                double h) {
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_scale(cr, w / width_px, h / height_px);
  cairo_set_source_surface(cr, photo, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BEST);
  cairo_rectangle(cr, 0, 0, width_px, height_px);
  cairo_fill(cr);
  cairo_restore(cr);
}

void draw_crop_marks(cairo_t* cr, double x, double y, double w, double h, double gap, double len) {
  cairo_save(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 0.3);
  for (const double cx : {x, x + w})
    for (const double cy : {y, y + h}) {
      const double sx = (cx == x) ? -1 : 1, sy = (cy == y) ? -1 : 1;
      cairo_move_to(cr, cx + sx * gap, cy);  // horizontal mark, along the top/bottom edge
      cairo_line_to(cr, cx + sx * (gap + len), cy);
      cairo_move_to(cr, cx, cy + sy * gap);  // vertical mark, along the left/right edge
      cairo_line_to(cr, cx, cy + sy * (gap + len));
    }
  cairo_stroke(cr);
  cairo_restore(cr);
}

}  // namespace idphoto::card::detail

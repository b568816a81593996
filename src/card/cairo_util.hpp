// cairo mechanisms the card and the photo sheet share: handle deleters, a PDF surface
// written to memory, a photo as an image surface carrying its JPEG, and crop marks.
#pragma once
#include <cairo.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "base/unique_handle.hpp"
#include "card/card_internal.hpp"

namespace idphoto::card::detail {

using cairo_surface_ptr = base::unique_handle<cairo_surface_t, cairo_surface_destroy>;
using cairo_ptr = base::unique_handle<cairo_t, cairo_destroy>;

inline double mm(double v) { return v * pt_per_mm; }

// A cairo write callback appending to a std::vector<uint8_t> (the closure).
cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length);

// The photo as a cairo image surface with the JPEG attached as MIME data: cairo's PDF
// surface then embeds the JPEG bytes unchanged (DCTDecode) instead of re-compressing pixels.
// Returns internal when cairo fails.
base::result<cairo_surface_ptr> photo_surface(const placed_photo& p);

// Draws the photo's pixels filling the box (x, y, w, h) in the current user units.
void draw_photo(cairo_t* cr, cairo_surface_t* photo, int width_px, int height_px, double x, double y, double w,
                double h);

// Crop marks at the four corners of the box (x, y, w, h): each edge continued outwards,
// `gap` off the corner and `len` long, 0.3 pt black lines.
void draw_crop_marks(cairo_t* cr, double x, double y, double w, double h, double gap, double len);

}  // namespace idphoto::card::detail

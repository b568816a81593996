// Test images made on the spot with libvips (never downloaded), hand-crafted
// headers (PNG chunks with CRCs, JPEG SOF0 patches), and small test utilities.
#pragma once
#include <vips/vips.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "image/image.hpp"

namespace gen {

using bytes = std::vector<uint8_t>;
using pixel_fn = std::function<uint8_t(int x, int y, int band)>;

// init_vips(2) or abort the test binary (every test needs it).
void init();

// A w x h image with `bands` 8-bit bands whose values come from f.
idphoto::image::image make(int w, int h, int bands, const pixel_fn& f);
// A deterministic colourful, noisy pattern (compresses like a photo, not a flat fill).
idphoto::image::image pattern(int w, int h, int bands = 3);

// vips_image_write_to_buffer with a suffix and options, e.g. ".png[bitdepth=16]".
bytes save(VipsImage* im, const char* suffix);
inline bytes save(const idphoto::image::image& im, const char* suffix) { return save(im.v.get(), suffix); }

// A copy of im with an int metadata field set (e.g. "orientation").
idphoto::image::image with_int(const idphoto::image::image& im, const char* field, int value);

// CRC-32 as used by PNG (poly 0xEDB88320).
uint32_t crc32(const uint8_t* data, size_t n);
// A PNG chunk: length, type, data, CRC.
bytes png_chunk(const char* type, const bytes& data);
void put_be32(bytes& b, size_t at, uint32_t v);
uint32_t get_be32(const bytes& b, size_t at);
// zlib-compressed (store-only deflate blocks; valid zlib stream, no zlib library needed).
bytes zlib_store(const bytes& raw);

// A fresh empty directory for this test, removed by the caller if wanted.
std::filesystem::path temp_dir(const std::string& tag);
void write_file(const std::filesystem::path& p, const bytes& b);
bytes read_file(const std::filesystem::path& p);

// Everything fn() writes to file descriptor 2.
std::string capture_stderr(const std::function<void()>& fn);

// Mean of band `band` over a rectangle of an 8-bit interleaved buffer.
double mean(const idphoto::image::pixel_buffer& p, int x0, int y0, int w, int h, int band = 0);

}  // namespace gen

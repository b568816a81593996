// Test images made on the spot with libvips (never downloaded), hand-crafted
// headers (PNG chunks with CRCs, JPEG SOF0 patches), and small test utilities.
#include "image/gen.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

// LeakSanitizer: x265 (HEVC encoder, used here only to make HEIC test files)
// leaks one 1168-byte block per encoder; not our code, not in the product path.
extern "C" const char* __lsan_default_suppressions() { return "leak:libx265.so\n"; }

namespace gen {

namespace img = idphoto::image;

void init() {
  auto r = img::init_vips(2);
  if (!r.ok()) {
    std::fprintf(stderr, "init_vips failed: %s\n", r.err().to_string().c_str());
    std::abort();
  }
}

img::image make(int w, int h, int bands, const pixel_fn& f) {
  bytes data(size_t(w) * h * bands);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int b = 0; b < bands; ++b) data[(size_t(y) * w + x) * bands + b] = f(x, y, b);
  auto r = img::from_pixels(data, w, h, bands);
  if (!r.ok()) std::abort();
  return std::move(*r);
}

img::image pattern(int w, int h, int bands) {
  return make(w, h, bands, [](int x, int y, int b) {
    uint32_t v = uint32_t(x) * 73856093u ^ uint32_t(y) * 19349663u ^ uint32_t(b) * 83492791u;
    v = (v ^ (v >> 13)) * 0x5bd1e995u;
    int base = (x * 255 / 97 + y * 255 / 61 + b * 85) % 256;
    return uint8_t((base * 3 + (v >> 24) % 64) / 4 + 16);
  });
}

bytes save(VipsImage* im, const char* suffix) {
  void* buf = nullptr;
  size_t len = 0;
  if (vips_image_write_to_buffer(im, suffix, &buf, &len, nullptr) != 0) {
    std::fprintf(stderr, "save %s failed: %s\n", suffix, vips_error_buffer());
    std::abort();
  }
  bytes out(static_cast<uint8_t*>(buf), static_cast<uint8_t*>(buf) + len);
  g_free(buf);
  return out;
}

img::image with_int(const img::image& im, const char* field, int value) {
  VipsImage* out = nullptr;
  if (vips_copy(im.v.get(), &out, nullptr) != 0) std::abort();
  vips_image_set_int(out, field, value);
  return img::image{img::vips_image_ptr(out)};
}

uint32_t crc32(const uint8_t* data, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= data[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

void put_be32(bytes& b, size_t at, uint32_t v) {
  b[at] = uint8_t(v >> 24);
  b[at + 1] = uint8_t(v >> 16);
  b[at + 2] = uint8_t(v >> 8);
  b[at + 3] = uint8_t(v);
}

uint32_t get_be32(const bytes& b, size_t at) {
  return (uint32_t(b[at]) << 24) | (uint32_t(b[at + 1]) << 16) | (uint32_t(b[at + 2]) << 8) | b[at + 3];
}

bytes png_chunk(const char* type, const bytes& data) {
  bytes c(8 + data.size() + 4);
  put_be32(c, 0, uint32_t(data.size()));
  std::copy(type, type + 4, c.begin() + 4);
  std::copy(data.begin(), data.end(), c.begin() + 8);
  put_be32(c, 8 + data.size(), crc32(c.data() + 4, 4 + data.size()));
  return c;
}

bytes zlib_store(const bytes& raw) {
  bytes z = {0x78, 0x01};
  size_t at = 0;
  do {
    size_t n = std::min<size_t>(65535, raw.size() - at);
    bool last = at + n == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(uint8_t(n));
    z.push_back(uint8_t(n >> 8));
    z.push_back(uint8_t(~n));
    z.push_back(uint8_t(~n >> 8));
    z.insert(z.end(), raw.begin() + at, raw.begin() + at + n);
    at += n;
  } while (at < raw.size());
  uint32_t a = 1, b = 0;
  for (uint8_t v : raw) {
    a = (a + v) % 65521;
    b = (b + a) % 65521;
  }
  uint32_t adler = (b << 16) | a;
  for (int s = 24; s >= 0; s -= 8) z.push_back(uint8_t(adler >> s));
  return z;
}

std::filesystem::path temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  auto p = std::filesystem::temp_directory_path() /
           ("idphoto-image-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

void write_file(const std::filesystem::path& p, const bytes& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

bytes read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(f), {});
}

std::string capture_stderr(const std::function<void()>& fn) {
  std::fflush(stderr);
  char path[] = "/tmp/idphoto-stderr-XXXXXX";
  int fd = ::mkstemp(path);
  int saved = ::dup(2);
  ::dup2(fd, 2);
  fn();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  auto b = read_file(path);
  ::unlink(path);
  return std::string(b.begin(), b.end());
}

double mean(const img::pixel_buffer& p, int x0, int y0, int w, int h, int band) {
  double s = 0;
  for (int y = y0; y < y0 + h; ++y)
    for (int x = x0; x < x0 + w; ++x) s += p.data[(size_t(y) * p.width + x) * p.bands + band];
  return s / (double(w) * h);
}

}  // namespace gen

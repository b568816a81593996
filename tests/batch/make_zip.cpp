// The test ZIP makers of make_zip.hpp.
#include "batch/make_zip.hpp"

#include <zip.h>
#include <zlib.h>

#include <fstream>
#include <iterator>

namespace ziptest {

bool write_zip(const std::string& path, const std::vector<entry>& entries, bool deflate) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) return false;
  for (const auto& e : entries) {
    // libzip reads the buffer at zip_close; the entries outlive the archive here.
    zip_source_t* src = zip_source_buffer(z, e.data.data(), e.data.size(), 0);
    if (!src) {
      zip_discard(z);
      return false;
    }
    const zip_int64_t idx = zip_file_add(z, e.name.c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    if (idx < 0) {
      zip_source_free(src);
      zip_discard(z);
      return false;
    }
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 9);
  }
  return zip_close(z) == 0;
}

void put_le16(bytes& b, size_t at, uint16_t v) {
  b[at] = v & 0xff;
  b[at + 1] = v >> 8;
}
void put_le32(bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = (v >> (8 * i)) & 0xff;
}

bytes stored_zip(const std::vector<entry>& entries) {
  bytes out, central;
  for (const auto& e : entries) {
    const uint32_t crc = static_cast<uint32_t>(crc32(0, e.data.data(), static_cast<uInt>(e.data.size())));
    const uint32_t offset = static_cast<uint32_t>(out.size());
    bytes h(30, 0);
    put_le32(h, 0, 0x04034b50);
    put_le16(h, 4, 20);
    put_le32(h, 14, crc);
    put_le32(h, 18, static_cast<uint32_t>(e.data.size()));
    put_le32(h, 22, static_cast<uint32_t>(e.data.size()));
    put_le16(h, 26, static_cast<uint16_t>(e.name.size()));
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), e.name.begin(), e.name.end());
    out.insert(out.end(), e.data.begin(), e.data.end());
    bytes c(46, 0);
    put_le32(c, 0, 0x02014b50);
    put_le16(c, 4, 20);
    put_le16(c, 6, 20);
    put_le32(c, 16, crc);
    put_le32(c, 20, static_cast<uint32_t>(e.data.size()));
    put_le32(c, 24, static_cast<uint32_t>(e.data.size()));
    put_le16(c, 28, static_cast<uint16_t>(e.name.size()));
    put_le32(c, 42, offset);
    central.insert(central.end(), c.begin(), c.end());
    central.insert(central.end(), e.name.begin(), e.name.end());
  }
  const uint32_t cd_offset = static_cast<uint32_t>(out.size());
  out.insert(out.end(), central.begin(), central.end());
  bytes eocd(22, 0);
  put_le32(eocd, 0, 0x06054b50);
  put_le16(eocd, 8, static_cast<uint16_t>(entries.size()));
  put_le16(eocd, 10, static_cast<uint16_t>(entries.size()));
  put_le32(eocd, 12, static_cast<uint32_t>(central.size()));
  put_le32(eocd, 16, cd_offset);
  out.insert(out.end(), eocd.begin(), eocd.end());
  return out;
}

std::vector<size_t> find_sig(const bytes& b, uint32_t sig) {
  std::vector<size_t> at;
  for (size_t i = 0; i + 4 <= b.size(); ++i)
    if ((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (uint32_t(b[i + 3]) << 24)) == sig) at.push_back(i);
  return at;
}

void write_file(const std::string& path, const bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(f), {});
}

bytes text(const std::string& s) { return bytes(s.begin(), s.end()); }

}  // namespace ziptest

// zip_raw_names: a walk of the ZIP central directory (APPNOTE.TXT 4.3.12-4.3.16), names only.
#include "batch/zip_names.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace idphoto::batch {

namespace {

struct file_closer {
  void operator()(FILE* f) const { std::fclose(f); }
};
using file_ptr = std::unique_ptr<FILE, file_closer>;

uint64_t le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool read_at(FILE* f, uint64_t offset, unsigned char* buf, size_t n) {
  if (fseeko(f, static_cast<off_t>(offset), SEEK_SET) != 0) return false;
  return std::fread(buf, 1, n, f) == n;
}

base::error bad(const std::string& what) { return base::make_error(base::errc::corrupt, "zip: " + what); }

}  // namespace

/* The end-of-central-directory record (22 bytes + a comment of up to 65535) is searched
 * backwards from the end of the file. When a count, size or offset there is saturated
 * (0xFFFF / 0xFFFFFFFF), the ZIP64 locator just before it points at the ZIP64 record that
 * holds the 64-bit values. Then each central header (46 bytes + name + extra + comment) is
 * read in turn; only its name is kept. A file with data before the archive (a
 * self-extractor) has shifted offsets and is refused as corrupt: not a photo upload. */
base::result<std::vector<std::string>> zip_raw_names(const std::string& path, int64_t max_entries) {
  file_ptr f(std::fopen(path.c_str(), "rb"));
  if (!f) return base::make_error(base::errc::io, "zip: cannot open " + path + ": " + std::strerror(errno));
  if (fseeko(f.get(), 0, SEEK_END) != 0) return base::make_error(base::errc::io, "zip: cannot seek");
  const off_t end = ftello(f.get());
  if (end < 22) return bad("too short to be a ZIP archive");
  const uint64_t size = static_cast<uint64_t>(end);
  const uint64_t tail_len = std::min<uint64_t>(size, 22 + 65535);
  std::vector<unsigned char> tail(tail_len);
  if (!read_at(f.get(), size - tail_len, tail.data(), tail_len))
    return base::make_error(base::errc::io, "zip: cannot read");
  int64_t eocd = -1;
  for (int64_t i = static_cast<int64_t>(tail_len) - 22; i >= 0; --i)
    if (le(&tail[i], 4) == 0x06054b50 && i + 22 + le(&tail[i + 20], 2) <= tail_len) {
      eocd = i;
      break;
    }
  if (eocd < 0) return bad("no end-of-central-directory record (not a ZIP archive, or truncated)");
  const unsigned char* e = &tail[eocd];
  uint64_t count = le(e + 10, 2), cd_size = le(e + 12, 4), cd_offset = le(e + 16, 4);
  if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    const uint64_t eocd_abs = size - tail_len + static_cast<uint64_t>(eocd);
    unsigned char loc[20], z64[56];
    if (eocd_abs < 20 || !read_at(f.get(), eocd_abs - 20, loc, 20) || le(loc, 4) != 0x07064b50)
      return bad("saturated end record without a ZIP64 locator");
    const uint64_t z64_at = le(loc + 8, 8);
    if (z64_at + 56 > size || !read_at(f.get(), z64_at, z64, 56) || le(z64, 4) != 0x06064b50)
      return bad("ZIP64 end record not found where the locator says");
    count = le(z64 + 32, 8);
    cd_size = le(z64 + 40, 8);
    cd_offset = le(z64 + 48, 8);
  }
  if (count > static_cast<uint64_t>(max_entries))
    return base::make_error(base::errc::too_large, "zip: " + std::to_string(count) + " entries, over the limit of " +
                                                       std::to_string(max_entries) + " (IDPHOTO_MAX_ZIP_ENTRIES)");
  if (cd_offset > size || cd_size > size - cd_offset) return bad("central directory outside the file");
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(count));
  uint64_t at = cd_offset;
  for (uint64_t k = 0; k < count; ++k) {
    unsigned char h[46];
    if (at + 46 > cd_offset + cd_size || !read_at(f.get(), at, h, 46) || le(h, 4) != 0x02014b50)
      return bad("central directory entry " + std::to_string(k) + " does not parse");
    const uint64_t n = le(h + 28, 2), m = le(h + 30, 2), c = le(h + 32, 2);
    if (at + 46 + n + m + c > cd_offset + cd_size) return bad("central directory entry overruns it");
    std::string name(n, '\0');
    if (n && std::fread(name.data(), 1, n, f.get()) != n) return bad("truncated entry name");
    names.push_back(std::move(name));
    at += 46 + n + m + c;
  }
  return names;
}

}  // namespace idphoto::batch

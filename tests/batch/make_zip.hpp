// ZIP archives made by the tests: through libzip (deflated or stored), or byte by byte for
// what libzip will not write (a NUL in a name, a lying size, an encrypted flag).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ziptest {

using bytes = std::vector<uint8_t>;
struct entry {
  std::string name;
  bytes data;
};

// Writes a ZIP at path with libzip; deflate = true compresses every entry. false on failure
// (the test then fails on the missing file).
bool write_zip(const std::string& path, const std::vector<entry>& entries, bool deflate = true);

// A ZIP of stored (uncompressed) entries, written byte by byte (APPNOTE 4.3): any name bytes,
// NUL included.
bytes stored_zip(const std::vector<entry>& entries);

// Little-endian field writes into an archive's bytes.
void put_le16(bytes& b, size_t at, uint16_t v);
void put_le32(bytes& b, size_t at, uint32_t v);
// Offsets of every signature sig (e.g. 0x04034b50 local, 0x02014b50 central) in b.
std::vector<size_t> find_sig(const bytes& b, uint32_t sig);

void write_file(const std::string& path, const bytes& b);
bytes read_file(const std::string& path);
bytes text(const std::string& s);

}  // namespace ziptest

// read_file: stat, check the limit, then read (never more than the limit, even if the file
// grows meanwhile).
#include "base/read_file.hpp"

#include <filesystem>
#include <fstream>

namespace idphoto::base {

result<std::vector<uint8_t>> read_file(const std::string& path, int64_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return make_error(errc::not_found, "no such file");
  if (!fs::is_regular_file(st)) return make_error(errc::io, "not a regular file");
  const auto size = fs::file_size(path, ec);
  if (ec) return make_error(errc::io, ec.message());
  if (static_cast<int64_t>(size) > max_bytes)
    return make_error(errc::too_large,
                      "file is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(max_bytes));
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(errc::io, "cannot open");
  std::vector<uint8_t> bytes(size);
  f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (static_cast<size_t>(f.gcount()) != size) return make_error(errc::io, "cannot read (file shrank?)");
  if (f.peek() != std::ifstream::traits_type::eof())
    return make_error(errc::too_large, "file grew while being read, over the limit of " + std::to_string(max_bytes));
  return bytes;
}

}  // namespace idphoto::base

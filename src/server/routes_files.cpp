// GET /files/{key}: the local store's files, streamed, with at most one byte range.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "server/http_errors.hpp"
#include "server/respond.hpp"
#include "server/server_internal.hpp"

namespace idphoto::server {

namespace {

const char* file_content_type(const std::string& key) {
  auto ends = [&](const char* suf) {
    const std::string s(suf);
    return key.size() >= s.size() && key.compare(key.size() - s.size(), s.size(), s) == 0;
  };
  if (ends(".png")) return "image/png";
  if (ends(".jpg") || ends(".jpeg")) return "image/jpeg";
  if (ends(".webp")) return "image/webp";
  if (ends(".heic") || ends(".heif")) return "image/heic";
  if (ends(".avif")) return "image/avif";
  if (ends(".tif") || ends(".tiff")) return "image/tiff";
  if (ends(".pdf")) return "application/pdf";
  return "application/octet-stream";
}

// The one byte range of a Range header, [first, last] inside a file of size bytes: bytes=a-b,
// a- or -n, clamped to the file. nullopt when there is none to serve (no header, several ranges
// or a malformed one: the whole file, 200, as RFC 9110 §14.2 allows). *unsatisfiable when it
// starts past the end (or asks for the last 0 bytes): the answer is 416.
struct byte_range {
  uint64_t first = 0, last = 0;
};
std::optional<byte_range> requested_range(const std::string& h, uint64_t size, bool* unsatisfiable) {
  *unsatisfiable = false;
  const std::string unit = "bytes=";
  if (h.compare(0, unit.size(), unit) != 0 || h.find(',') != std::string::npos) return std::nullopt;
  const std::string spec = h.substr(unit.size());
  const auto dash = spec.find('-');
  if (dash == std::string::npos) return std::nullopt;
  const std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  const auto number = [](const std::string& v, uint64_t* out) {
    if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) return false;
    *out = std::stoull(v);
    return true;
  };
  uint64_t x = 0, y = 0;
  if (a.empty()) {  // the last y bytes
    if (!number(b, &y)) return std::nullopt;
    if (y == 0 || size == 0) {
      *unsatisfiable = true;
      return std::nullopt;
    }
    return byte_range{size - std::min(y, size), size - 1};
  }
  if (!number(a, &x) || (!b.empty() && (!number(b, &y) || y < x))) return std::nullopt;
  if (x >= size) {
    *unsatisfiable = true;
    return std::nullopt;
  }
  return byte_range{x, b.empty() ? size - 1 : std::min(y, size - 1)};
}

}  // namespace

void add_file_routes(router& r, app::service& svc) {
  r.on("GET", R"(/files/(.+))", "/files/{key}", access::open, [&svc](const http_request& req, http_response& res) {
    const std::string key = req.matches[1];
    auto path = svc.local_file(key);
    if (!path.ok())
      return fail(res, svc, base::make_error(base::errc::not_found, path.err().detail), app::stage::store);
    auto f = std::make_shared<std::ifstream>(*path, std::ios::binary);
    std::error_code ec;
    const auto size = std::filesystem::file_size(*path, ec);
    if (!*f || ec)
      return fail(res, svc, base::make_error(base::errc::not_found, "cannot open " + key), app::stage::store);
    res.set_header("Cache-Control", "private, max-age=31536000, immutable");
    res.set_header("X-Robots-Tag", "noindex");
    bool unsatisfiable = false;
    const auto range = requested_range(req.get_header_value("Range"), size, &unsatisfiable);
    if (unsatisfiable) {
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      return send_error(res, http_error_for_status(416), svc.config().retry_after_s);
    }
    res.set_header("Accept-Ranges", "bytes");
    uint64_t start = 0, length = size;
    if (range) {
      res.status = 206;
      start = range->first;
      length = range->last - range->first + 1;
      res.set_header("Content-Range", "bytes " + std::to_string(range->first) + "-" + std::to_string(range->last) +
                                          "/" + std::to_string(size));
    }
    res.set_content_provider(length, file_content_type(key),
                             [f, start, length](uint64_t offset, char* buf, size_t max) {
                               if (offset >= length) return -1L;
                               f->clear();
                               f->seekg(static_cast<std::streamoff>(start + offset));
                               f->read(buf, static_cast<std::streamsize>(std::min<uint64_t>(max, length - offset)));
                               const auto got = f->gcount();
                               return got > 0 ? static_cast<long>(got) : -1L;
                             });
  });
}

}  // namespace idphoto::server

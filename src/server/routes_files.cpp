// GET /files/{key}: the local store's files, streamed, with at most one byte range.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

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

// The Range of a /files request, checked before cpp-httplib applies it (0.11 computes a
// negative length for a start past the end and sends a 206 it never fills). One range —
// bytes=a-b, a- or -n — is served as 206, clamped to the file; one that starts past the end
// gets 416 with "Content-Range: bytes */size"; several ranges are ignored (the whole file, 200,
// as RFC 9110 §14.2 allows). false when the 416 is sent.
bool usable_ranges(const httplib::Request& req, size_t size, httplib::Response& res, int retry_after_s) {
  auto& ranges = const_cast<httplib::Request&>(req).ranges;  // as photo_body: the request is ours
  if (ranges.size() > 1) ranges.clear();
  if (ranges.empty()) return true;
  auto& [first, last] = ranges.front();  // -1 = not given
  const auto n = static_cast<ssize_t>(size);
  const bool ok = first < 0 ? last > 0 && n > 0 : first < n && (last < 0 || last >= first);
  if (!ok) {
    ranges.clear();
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    send_error(res, http_error_for_status(416), retry_after_s);
    return false;
  }
  if (first < 0) last = std::min(last, n);
  else if (last >= n) last = n - 1;
  return true;
}

}  // namespace

void add_file_routes(router& r, app::service& svc) {
  r.on("GET", R"(/files/(.+))", "/files/{key}", access::open,
       [&svc](const httplib::Request& req, httplib::Response& res) {
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
         if (!usable_ranges(req, static_cast<size_t>(size), res, svc.config().retry_after_s)) return;
         res.set_content_provider(static_cast<size_t>(size), file_content_type(key),
                                  [f](size_t offset, size_t length, httplib::DataSink& sink) {
                                    char buf[64 * 1024];
                                    f->seekg(static_cast<std::streamoff>(offset));
                                    const auto n = std::min(length, sizeof buf);
                                    f->read(buf, static_cast<std::streamsize>(n));
                                    const auto got = f->gcount();
                                    if (got <= 0) return false;
                                    return sink.write(buf, static_cast<size_t>(got));
                                  });
       });
}

}  // namespace idphoto::server

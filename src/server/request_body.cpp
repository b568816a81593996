// Content-Type checks of request bodies: JSON must say application/json and parse strictly;
// a photo is multipart field "photo", or a body of type image/* or application/octet-stream.
#include "server/request_body.hpp"

#include <algorithm>
#include <cctype>

#include "server/respond.hpp"
#include "server/strict_json.hpp"

namespace idphoto::server {

// Content-Type must be application/json (415 otherwise: a form or text/plain post from another
// page must not pass as JSON); a member name given twice is refused like malformed JSON.
std::optional<json> json_body(const http_request& req, http_response& res) {
  std::string ct = req.get_header_value("Content-Type");
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && (ct.back() == ' ' || ct.back() == '\t')) ct.pop_back();
  std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ct != "application/json") {
    send_bad_request(res, "send the body as JSON with Content-Type: application/json", 415);
    return std::nullopt;
  }
  auto b = parse_strict_json(req.body);
  if (!b || !b->is_object()) {
    send_bad_request(res, "the body must be a JSON object (each member name once)");
    return std::nullopt;
  }
  return b;
}

/* The bytes are moved out of the request rather than copied: the request is the connection's
 * own object (http_server.cpp), handed to us as const only by signature, and nothing reads the
 * body after the handler. This keeps one copy of a photo per request, which the memory
 * estimate in app/config.hpp counts on. */
bool photo_body(const http_request& req, http_response& res, std::string* out) {
  auto& mreq = const_cast<http_request&>(req);
  if (req.is_multipart_form_data()) {
    auto it = mreq.files.find("photo");
    if (it == mreq.files.end()) {
      send_bad_request(res, "multipart field 'photo' is missing");
      return false;
    }
    *out = std::move(it->second.content);
    return true;
  }
  const std::string ct = req.get_header_value("Content-Type");
  if (ct.rfind("image/", 0) == 0 || ct.rfind("application/octet-stream", 0) == 0) {
    *out = std::move(mreq.body);
    return true;
  }
  send_bad_request(
      res, "send the photo as multipart/form-data field 'photo' or as a raw image body (Content-Type image/*)", 415);
  return false;
}

}  // namespace idphoto::server

// The ONE error → status table of the server. Client faults are 4xx, ours are 5xx; an
// overloaded or unreachable dependency is 503 with Retry-After; a URL the client gave that
// cannot be fetched is the remote's fault (502/504), never presented as ours.
#include "server/http_errors.hpp"

#include <utility>

#include "db/job_repository.hpp"

namespace idphoto::server {

using app::stage;
using base::errc;

http_error http_error_for(errc code, stage where) {
  if (where == stage::fetch) {  // the client's URL
    switch (code) {
      case errc::invalid_argument:
        return {400, "bad_url", "rawPhotoUrl must be an http or https URL without credentials"};
      case errc::forbidden:
        return {403, "url_forbidden", "rawPhotoUrl points to an address this server may not fetch"};
      case errc::too_large:
        return {413, "too_large", "the photo at rawPhotoUrl is over the size limit"};
      case errc::unsupported:
        return {415, "unsupported_media_type",
                "rawPhotoUrl is not an image format we read (JPEG, PNG, WebP, HEIC, TIFF)"};
      case errc::timeout:
        return {504, "fetch_timeout", "fetching rawPhotoUrl took too long"};
      case errc::unavailable:
      case errc::not_found:
      case errc::io:
        return {502, "fetch_failed", "rawPhotoUrl could not be fetched"};
      default:
        break;
    }
  }
  if (where == stage::queue && code == errc::unavailable)
    return {503, "queue_full", "the server is busy cleaning other photos; retry later", true};
  switch (code) {
    case errc::invalid_argument:
      if (where == stage::frame)
        return {422, "no_face", "no face was found, so the photo cannot be framed to the spec"};
      return where == stage::clean
                 ? http_error{422, "unprocessable", "the options do not fit this image"}
                 : http_error{400, "invalid_argument", "the request is malformed or a field is invalid"};
    case errc::unsupported:
      return {415, "unsupported_media_type", "not an image format we read (JPEG, PNG, WebP, HEIC, TIFF)"};
    case errc::not_found:
      return {404, "not_found", "no such resource"};
    case errc::corrupt:
      return {422, "corrupt_image", "the image data is corrupt or truncated"};
    case errc::too_large:
      return {413, "too_large", "the image is over the size limits"};
    case errc::forbidden:
      return {403, "forbidden", "refused by policy"};
    case errc::timeout:
      return {503, "timeout", "the work took too long; retry later", true};
    case errc::unavailable:
      return {503, "unavailable", "a backend is unavailable; retry later", true};
    case errc::conflict:
      return {409, "conflict",
              "another photo request for this card is in flight, or the card changed meanwhile; retry when it is done"};
    case errc::io:
    case errc::internal:
      break;
  }
  return {500, "internal", "internal error"};
}

http_error http_error_for(const base::error& e, stage where) {
  if (db::is_idempotency_mismatch(e))
    return {422, "idempotency_key_reused", "this Idempotency-Key was sent before with another request"};
  return http_error_for(e.code, where);
}

http_error http_auth_error() { return {401, "unauthorized", "a valid bearer token is required"}; }

http_error http_request_error(std::string message, int status) {
  return {status, status == 415 ? "unsupported_media_type" : "invalid_argument", std::move(message)};
}

http_error http_error_for(pdf_refusal why) {
  switch (why) {
    case pdf_refusal::no_photo:
      return {409, "no_photo", "the card has no photo yet; upload one first"};
    case pdf_refusal::no_framed_photo:
      return {409, "no_framed_photo", "the card has no photo framed to a spec yet; upload one (photoSpec not none)"};
    case pdf_refusal::spec_differs:
      return {409, "spec_differs",
              "the photo is framed to the card's photoSpec; upload it again with spec= that spec first"};
  }
  return {500, "internal", "internal error"};
}

http_error http_error_for(access_refusal why) {
  switch (why) {
    case access_refusal::insufficient_scope:
      return {403, "insufficient_scope", "this token's scope does not allow this request"};
    case access_refusal::other_organization:
      return {403, "other_organization", "this token may only set its own organization on a card"};
  }
  return {500, "internal", "internal error"};
}

http_error http_error_for_status(int status) {
  switch (status) {
    case 400:
      return {400, "bad_request", "the request is malformed"};
    case 401:
      return http_auth_error();
    case 404:
      return {404, "not_found", "no such resource"};
    case 405:
      return {405, "method_not_allowed", "method not allowed"};
    case 413:
      return {413, "too_large", "the request body is over the size limit"};
    case 414:
      return {414, "uri_too_long", "the request URI is too long"};
    case 415:
      return {415, "unsupported_media_type", "send the photo as multipart field 'photo' or as a raw image body"};
    case 416:
      return {416, "range_not_satisfiable", "the range starts past the end of the file"};
    case 431:
      return {431, "headers_too_large", "the request headers are too many or too large"};
    case 501:
      return {501, "not_implemented", "this method is not implemented"};
    case 503:
      return {503, "unavailable", "retry later", true};
    default:
      break;
  }
  if (status >= 500) return {status, "internal", "internal error"};
  return {status, "error", "the request failed"};
}

}  // namespace idphoto::server

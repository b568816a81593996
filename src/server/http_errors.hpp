// The one table from an error to an HTTP answer: status, stable code, public message.
// The error's detail goes to the log only; clients never see it.
#pragma once
#include <string>

#include "app/service.hpp"
#include "base/result.hpp"

namespace idphoto::server {

struct http_error {
  int status = 500;
  std::string code;          // stable, machine-readable: "too_large", "queue_full", …
  std::string message;       // public, safe to show
  bool retry_after = false;  // answer with Retry-After (503)
};

// The answer for an error raised at a stage of a use case.
http_error http_error_for(base::errc code, app::stage where = app::stage::request);
// As above, and 422 idempotency_key_reused for an Idempotency-Key sent again with another
// request (db::is_idempotency_mismatch).
http_error http_error_for(const base::error& e, app::stage where);
// The answer for a missing or refused token (401, WWW-Authenticate: Bearer).
http_error http_auth_error();
// The answer the server gives on its own for a status (404 no route, 413 body too large, …).
http_error http_error_for_status(int status);
// The answer for a request the server refuses by its shape, with the server's own public
// message: 415 unsupported_media_type, otherwise status with invalid_argument.
http_error http_request_error(std::string message, int status = 400);

// Why a card's PDF cannot be made from its photo (409).
enum class pdf_refusal {
  no_photo,         // card.pdf of a card without any photo
  no_framed_photo,  // photo-sheet.pdf of a card whose photo is not framed to a spec
  spec_differs,     // photo-sheet.pdf with spec= other than the spec the photo is framed to
};
http_error http_error_for(pdf_refusal why);

// Why a valid token may not do what it asks (403). A card of another organization is not one
// of these: it answers 404, as a card that does not exist.
enum class access_refusal {
  insufficient_scope,  // the token's scope lacks what the route needs (RFC 6750 §3.1)
  other_organization,  // a create or patch naming an organization other than the token's org
};
http_error http_error_for(access_refusal why);

}  // namespace idphoto::server

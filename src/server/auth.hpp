// Bearer-token auth of the API routes: Authorization: Bearer <JWT>, HS256 with JWT_SECRET,
// then the token's scope against what the route needs, and its tenant (org) for the handler.
#pragma once
#include "server/http_message.hpp"

#include <optional>
#include <string>

#include "app/config.hpp"

namespace idphoto::server {

// What a route needs before its handler runs: nothing, or a valid bearer token whose scope
// grants cards:read, cards:write or admin (401 without a valid token, 403 without the scope).
enum class access { open, cards_read, cards_write, admin };

// The verified token of the request this thread is serving (set by authorised, before the
// handler runs; only routes that need a token may read it).
struct token_grant {
  unsigned scopes = 0;             // scope_bit values (jwt.hpp)
  std::optional<std::string> org;  // the card queries are limited to this organization, when set
  std::string subject;             // the token's sub: whose Idempotency-Keys these are
};
const token_grant& this_token();

// true when the request carries a valid token whose scope covers need; false otherwise, with
// the answer sent: 401 (WWW-Authenticate: Bearer) or 403 insufficient_scope
// (WWW-Authenticate: Bearer error="insufficient_scope", scope="<needed>"), the reason in the log line.
bool authorised(const http_request& req, http_response& res, const app::app_config& config, access need);

}  // namespace idphoto::server

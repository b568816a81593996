// Bearer-token auth of the API routes: Authorization: Bearer <JWT>, HS256 with JWT_SECRET.
#pragma once
#include "server/http_message.hpp"

#include "app/config.hpp"

namespace idphoto::server {

// true when the request carries a valid token; false (401 with WWW-Authenticate sent, the
// reason in the log line) otherwise.
bool authorised(const http_request& req, http_response& res, const app::app_config& config);

}  // namespace idphoto::server

// What the photo routes share: the photo options of a request, the card answer of a photo use
// case, and fetch-and-clean (on /api/id-cards/{id}/fetch-and-clean and /fetch-and-clean).
#pragma once
#include "server/http_message.hpp"

#include <string>

#include <nlohmann/json.hpp>

#include "app/service.hpp"

namespace idphoto::server {

// bg, maxSize, format, spec, dpi, maxKb from a JSON body (when given), the multipart form or the
// query; false (400 sent) when one is malformed or the service refuses the combination.
bool photo_options(const http_request& req, http_response& res, const app::service& svc, const nlohmann::json* body,
                   app::photo_options* o);
// 200 with the card, or the table's answer for the outcome's error (with the card when it has one).
void send_photo_outcome(http_response& res, const app::service& svc, const app::photo_outcome& o);
// Fetches body's rawPhotoUrl for card id (within the token's org) and cleans it; 400 sent when
// rawPhotoUrl is missing.
void fetch_and_clean(app::service& svc, const std::string& id, const http_request& req, http_response& res,
                     const nlohmann::json& body);

}  // namespace idphoto::server

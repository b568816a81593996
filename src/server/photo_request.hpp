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
// How the request wants its job: async (query or form field async=true|false, or the JSON body's
// "async"), the Idempotency-Key header (1..200 visible ASCII characters) scoped to the token's
// subject and endpoint; false (400 sent) when one is malformed.
bool job_request_of(const http_request& req, http_response& res, const char* endpoint, const nlohmann::json* body,
                    app::job_request* jr);
// 200 with the card when the photo's job has ended clean; 202 {"job","card"} with Location
// /api/jobs/{id} while it is queued or running (async, or a synchronous wait that ran out); the
// table's answer for the outcome's error otherwise (with the card when it has one). A replayed
// Idempotency-Key gets the first request's job, with Idempotent-Replayed: true.
void send_photo_outcome(http_response& res, const app::service& svc, const app::photo_outcome& o);
// Fetches body's rawPhotoUrl for card id (within the token's org) and cleans it; 400 sent when
// rawPhotoUrl is missing. endpoint: the route's name (scopes the Idempotency-Key).
void fetch_and_clean(app::service& svc, const std::string& id, const http_request& req, http_response& res,
                     const nlohmann::json& body, const char* endpoint);

}  // namespace idphoto::server

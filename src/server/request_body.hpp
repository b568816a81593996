// The body of a request, checked by its Content-Type before it is read: a strict JSON object,
// or a photo (multipart field "photo" or a raw image body).
#pragma once
#include "server/http_message.hpp"

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace idphoto::server {

// The JSON object body; nullopt (415 or 400 sent) when it is not application/json or not one
// object with each member name once.
std::optional<nlohmann::json> json_body(const http_request& req, http_response& res);
// The photo of an upload, moved out of the request into *out; false (400 or 415 sent) when
// there is none.
bool photo_body(const http_request& req, http_response& res, std::string* out);

}  // namespace idphoto::server

// Answers in the API's JSON shape. Every error answer is an http_error from the one table
// (http_errors.cpp); its detail goes to this request's log line only.
#pragma once
#include "server/http_message.hpp"

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "app/service.hpp"
#include "server/http_errors.hpp"

namespace idphoto::server {

using json = nlohmann::json;

// body as application/json with status, Cache-Control: no-store.
void send_json(http_response& res, int status, const json& body);
// {"error": {"code", "message"}} (and "card" when given), Retry-After and WWW-Authenticate as e asks.
void send_error(http_response& res, const http_error& e, int retry_after_s,
                const std::optional<db::id_card>& card = std::nullopt);
// A request the server refuses by its shape (http_request_error), message also in the log.
void send_bad_request(http_response& res, const std::string& message, int status = 400);
// The table's answer for e raised at where; "stage: error" goes to the log.
void fail(http_response& res, const app::service& svc, const base::error& e, app::stage where,
          const std::optional<db::id_card>& card = std::nullopt);

}  // namespace idphoto::server

// JSON answers and the error answer built from the table, with the detail kept for the log.
#include "server/respond.hpp"

#include "server/card_json.hpp"
#include "server/request_log.hpp"

namespace idphoto::server {

void send_json(http_response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(), "application/json");
}

void send_error(http_response& res, const http_error& e, int retry_after_s, const std::optional<db::id_card>& card) {
  json body = {{"error", {{"code", e.code}, {"message", e.message}}}};
  if (card) body["card"] = card_json(*card);
  if (e.retry_after) res.set_header("Retry-After", std::to_string(retry_after_s));
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  send_json(res, e.status, body);
}

void send_bad_request(http_response& res, const std::string& message, int status) {
  this_request().log_detail = message;
  send_error(res, http_request_error(message, status), 0);
}

void fail(http_response& res, const app::service& svc, const base::error& e, app::stage where,
          const std::optional<db::id_card>& card) {
  this_request().log_detail = std::string(app::stage_name(where)) + ": " + e.to_string();
  send_error(res, http_error_for(e, where), svc.config().retry_after_s, card);
}

}  // namespace idphoto::server

// The bearer check: the scheme (any case), then jwt_verify_hs256 with 30 s of clock leeway.
#include "server/auth.hpp"

#include <strings.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "server/jwt.hpp"
#include "server/request_log.hpp"
#include "server/respond.hpp"

namespace idphoto::server {

bool authorised(const http_request& req, http_response& res, const app::app_config& config) {
  const std::string h = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (h.size() <= prefix.size() || strncasecmp(h.c_str(), prefix.c_str(), prefix.size()) != 0) {
    this_request().log_detail = "auth: no bearer token";
    send_error(res, http_auth_error(), config.retry_after_s);
    return false;
  }
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto v = jwt_verify_hs256(h.substr(prefix.size()), config.jwt_secret, now, 30);
  if (!v.ok()) {
    this_request().log_detail = "auth: " + v.err().detail;
    send_error(res, http_auth_error(), config.retry_after_s);
    return false;
  }
  return true;
}

}  // namespace idphoto::server

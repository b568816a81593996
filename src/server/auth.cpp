// The bearer check: the scheme (any case), then jwt_verify_hs256 with 30 s of clock leeway,
// then the scope the route needs. The grant is kept per thread for the handler (its org).
#include "server/auth.hpp"

#include <strings.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "server/http_errors.hpp"
#include "server/jwt.hpp"
#include "server/request_log.hpp"
#include "server/respond.hpp"

namespace idphoto::server {

namespace {

// Every handler runs on the thread that checked its token, right after the check.
thread_local token_grant t_grant;

// The scope bit a route needs and its name.
unsigned needed_bit(access need) {
  switch (need) {
    case access::open:
      return 0;
    case access::cards_read:
      return scope_cards_read;
    case access::cards_write:
      return scope_cards_write;
    case access::admin:
      return scope_admin;
  }
  return scope_admin;
}
const char* needed_name(access need) {
  switch (need) {
    case access::open:
    case access::cards_read:
      return k_scope_names[0];
    case access::cards_write:
      return k_scope_names[1];
    case access::admin:
      return k_scope_names[2];
  }
  return k_scope_names[2];
}

}  // namespace

const token_grant& this_token() { return t_grant; }

bool authorised(const http_request& req, http_response& res, const app::app_config& config, access need) {
  t_grant = token_grant{};  // nothing from an earlier request on this thread survives a refusal
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
  const unsigned granted = granted_scopes(*v);
  if ((granted & needed_bit(need)) == 0) {
    this_request().log_detail = std::string("auth: scope \"") + v->scope.value_or("") + "\" lacks " + needed_name(need);
    send_error(res, http_error_for(access_refusal::insufficient_scope), config.retry_after_s);
    res.set_header("WWW-Authenticate",
                   std::string("Bearer error=\"insufficient_scope\", scope=\"") + needed_name(need) + "\"");
    return false;
  }
  t_grant.scopes = granted;
  t_grant.org = v->org;
  t_grant.subject = v->sub;
  return true;
}

}  // namespace idphoto::server

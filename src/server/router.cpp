// The route table: method and path to a handler, auth before it, and 404/405/501 otherwise.
#include <set>

#include "server/auth.hpp"
#include "server/http_errors.hpp"
#include "server/request_log.hpp"
#include "server/respond.hpp"
#include "server/server_internal.hpp"

namespace idphoto::server {

void router::on(const char* method, const std::string& pattern, const char* name, access need, handler h) {
  routes_.push_back(route{method, std::regex(pattern), name, need, std::move(h)});
}

std::string router::allowed_methods(const std::string& path) const {
  std::string allow;
  for (const auto& r : routes_) {
    if (!std::regex_match(path, r.pattern) || allow.find(r.method) != std::string::npos) continue;
    allow += (allow.empty() ? "" : ", ") + r.method + (r.method == "GET" ? ", HEAD" : "");
  }
  return allow;
}

void router::dispatch(http_request& req, http_response& res) const {
  const std::string& method = req.method == "HEAD" ? std::string("GET") : req.method;
  for (const auto& r : routes_) {
    std::smatch m;
    if (r.method != method || !std::regex_match(req.path, m, r.pattern)) continue;
    req.matches.assign(m.begin(), m.end());
    this_request().route = r.name;
    if (r.need != access::open && !authorised(req, res, config_, r.need)) return;
    return r.run(req, res);
  }
  // A method no route has (TRACE, CONNECT, OPTIONS, anything unknown): 501. A standard one on
  // a path that has other methods: 405 with Allow. Otherwise 404.
  static const std::set<std::string> served = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  int status = 404;
  if (!served.count(req.method)) {
    status = 501;
  } else if (const std::string allow = allowed_methods(req.path); !allow.empty()) {
    status = 405;
    res.set_header("Allow", allow);
  }
  send_error(res, http_error_for_status(status), config_.retry_after_s);
}

}  // namespace idphoto::server

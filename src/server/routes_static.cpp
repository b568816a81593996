// The routes without auth that serve the server itself: the web page (web/, embedded at build
// time), health and readiness, Prometheus metrics and the OpenAPI document.
#include "server/http_server.hpp"
#include "server/respond.hpp"
#include "server/security_headers.hpp"
#include "server/server_internal.hpp"

namespace idphoto::server {

void add_static_routes(router& r, app::service& svc, const metrics& stats) {
  r.on("GET", "/", "/", access::open, [csp = page_csp(svc.config())](const http_request&, http_response& res) {
    res.set_header("Content-Security-Policy", csp);
    res.set_content(web_index_html(), "text/html; charset=utf-8");
  });
  r.on("GET", "/app.js", "/app.js", access::open, [](const http_request&, http_response& res) {
    res.set_content(web_app_js(), "text/javascript; charset=utf-8");
  });
  r.on("GET", "/style.css", "/style.css", access::open,
       [](const http_request&, http_response& res) { res.set_content(web_style_css(), "text/css; charset=utf-8"); });
  r.on("GET", "/healthz", "/healthz", access::open, [](const http_request&, http_response& res) {
    send_json(res, 200, json{{"status", "ok"}});
  });
  r.on("GET", "/readyz", "/readyz", access::open, [&svc](const http_request&, http_response& res) {
    const auto ready = svc.check_ready();
    json b = {{"ready", ready.ready()}, {"model", ready.model}, {"database", ready.database}, {"store", ready.store}};
    if (!ready.ready()) res.set_header("Retry-After", std::to_string(svc.config().retry_after_s));
    send_json(res, ready.ready() ? 200 : 503, b);
  });
  r.on("GET", "/metrics", "/metrics", access::open, [&svc, &stats](const http_request&, http_response& res) {
    res.set_content(stats.render(svc.stats(), svc.job_stats()), "text/plain; version=0.0.4; charset=utf-8");
  });
  r.on("GET", "/openapi.json", "/openapi.json", access::open,
       [](const http_request&, http_response& res) { res.set_content(openapi_json(), "application/json"); });
}

}  // namespace idphoto::server

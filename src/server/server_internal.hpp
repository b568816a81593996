// The contract inside src/server between http_server.cpp (lifecycle, router, 405/501, the
// last-resort handler) and the route files, one per resource. Not installed; not for other modules.
#pragma once
#include <functional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "app/service.hpp"
#include "server/auth.hpp"  // access: what a route needs
#include "server/http_message.hpp"
#include "server/metrics.hpp"
#include "server/spooled_body.hpp"

namespace idphoto::server {

using handler = std::function<void(const http_request&, http_response&)>;

// The route table: a request's method and path to its handler (HEAD runs the GET route), and
// the answers when none fits: 405 with Allow when the path has routes for other methods, 501
// for a method no route has, 404 otherwise.
class router {
 public:
  explicit router(const app::app_config& config) : config_(config) {}

  // Serves method ("GET", "POST", "PATCH", "DELETE") on pattern (a regex over the whole path).
  // name is the route for metrics and the log line ("/api/id-cards/{id}"), never a raw path;
  // with any access but open the handler runs only after the token and its scope are checked
  // (authorised), and may read the token's org from this_token().
  void on(const char* method, const std::string& pattern, const char* name, access need, handler h);
  // The methods a path has routes for ("GET, HEAD, POST"), or "" when it has none.
  std::string allowed_methods(const std::string& path) const;
  // Runs the route for req (filling req.matches and this_request().route), or answers
  // 404/405/501 in the JSON error shape.
  void dispatch(http_request& req, http_response& res) const;

 private:
  struct route {
    std::string method;
    std::regex pattern;
    const char* name;
    access need;
    handler run;
  };
  const app::app_config& config_;
  std::vector<route> routes_;
};

// The route files. svc (and stats) must outlive the server the router registers on.
// routes_static.cpp: /, /app.js, /style.css, /healthz, /readyz, /metrics, /openapi.json.
void add_static_routes(router& r, app::service& svc, const metrics& stats);
// routes_files.cpp: /files/{key}, the local store's files, with one Range.
void add_file_routes(router& r, app::service& svc);
// routes_cards.cpp: /api/id-cards and /api/id-cards/{id}/... (CRUD, photo, fetch-and-clean, PDFs).
void add_card_routes(router& r, app::service& svc);
// routes_photos.cpp: /fetch-and-clean and /api/remove-background.
void add_photo_routes(router& r, app::service& svc);
// routes_jobs.cpp: /api/jobs/{id}.
void add_job_routes(router& r, app::service& svc);

// routes_batches.cpp: /api/batches and /api/batches/{id}/... (create, progress, cards.pdf, export.csv).
void add_batch_routes(router& r, app::service& svc);
// The requests whose body is spooled to a file (http_server.cpp asks before reading the body),
// and how their parts are taken (spooled_body.hpp).
bool is_spooled_route(const std::string& method, const std::string& path);
spool_policy spooled_policy(const app::app_config& c);
// Before a spooled body is read (so that no one without a token fills the disk): 0 when the
// request carries a valid token with cards:write, else the status to refuse it with (401, 403).
// The router checks the token again, as for every route.
int spool_refusal(const http_request& req, const app::app_config& c);

// The web page's files, generated from web/ (src/server/CMakeLists.txt).
const char* web_index_html();
const char* web_app_js();
const char* web_style_css();

}  // namespace idphoto::server

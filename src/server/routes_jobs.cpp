// GET /api/jobs/{id} (cards:read): a photo job's state, within the token's org (a job of another
// organization's card is 404, as one that does not exist).
#include <string>

#include "server/job_json.hpp"
#include "server/respond.hpp"
#include "server/server_internal.hpp"

namespace idphoto::server {

void add_job_routes(router& r, app::service& svc) {
  r.on("GET", R"(/api/jobs/([^/]+))", "/api/jobs/{id}", access::cards_read,
       [&svc](const http_request& req, http_response& res) {
         auto j = svc.get_job(req.matches[1], this_token().org);
         if (!j.ok()) return fail(res, svc, j.err(), app::stage::database);
         send_json(res, 200, job_json(*j));
       });
}

}  // namespace idphoto::server

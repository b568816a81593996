// The photo routes not under a card path, behind a bearer token with cards:write: fetch-and-clean
// by idCardId (within the token's org), and remove-background (a photo in, the cleaned photo
// out, nothing stored; cards:write all the same, as it takes a worker place like an upload).
#include <string>
#include <utility>

#include "server/photo_request.hpp"
#include "server/request_body.hpp"
#include "server/respond.hpp"
#include "server/security_headers.hpp"
#include "server/server_internal.hpp"

namespace idphoto::server {

void add_photo_routes(router& r, app::service& svc) {
  r.on("POST", "/fetch-and-clean", "/fetch-and-clean", access::cards_write,
       [&svc](const http_request& req, http_response& res) {
         auto b = json_body(req, res);
         if (!b) return;
         const auto id = b->find("idCardId");
         if (id == b->end() || !id->is_string() || id->get<std::string>().empty())
           return send_bad_request(res, "idCardId (a string) is required");
         fetch_and_clean(svc, id->get<std::string>(), req, res, *b, "/fetch-and-clean");
       });
  r.on("POST", "/api/remove-background", "/api/remove-background", access::cards_write,
       [&svc](const http_request& req, http_response& res) {
         std::string bytes;
         if (!photo_body(req, res, &bytes)) return;
         app::photo_options po;
         if (!photo_options(req, res, svc, nullptr, &po)) return;
         app::stage where = app::stage::request;
         auto out = svc.remove_background(std::move(bytes), po, &where);
         if (!out.ok()) return fail(res, svc, out.err(), where);
         res.set_header("Cache-Control", "no-store");
         if (!out->warning.empty()) res.set_header("X-Photo-Warning", out->warning);
         if (!out->spec.empty()) {  // framed: the verdict, the rules that did not pass, the whole report
           res.set_header("X-Photo-Spec", out->spec);
           res.set_header("X-Photo-Compliance", out->verdict);
           res.set_header("X-Photo-Rules-Failed", out->failed_rules);
           res.set_header("X-Photo-Report", header_safe(out->report_json));
         }
         res.set_content(std::move(out->bytes), out->content_type);
       });
}

}  // namespace idphoto::server

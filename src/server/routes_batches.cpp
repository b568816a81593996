// The batch routes (issue #12), behind a bearer token: POST /api/batches (cards:write; a
// roster and its photos, spooled to disk by http_server.cpp) answers 202 with the batch;
// GET /api/batches/{id}, …/cards.pdf and …/export.csv (cards:read) show it. Every one is
// limited to the token's org when it has one.
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <strings.h>
#include <utility>

#include "db/records.hpp"
#include "server/card_json.hpp"
#include "server/http_errors.hpp"
#include "server/jwt.hpp"
#include "server/photo_request.hpp"
#include "server/request_log.hpp"
#include "server/job_json.hpp"
#include "server/respond.hpp"
#include "server/server_internal.hpp"

namespace idphoto::server {

using base::errc;

bool is_spooled_route(const std::string& method, const std::string& path) {
  return method == "POST" && path == "/api/batches";
}

spool_policy spooled_policy(const app::app_config& c) {
  spool_policy p;
  p.file_field = "photos";
  p.max_bytes["roster"] = c.batch.max_roster_bytes;
  p.max_bytes["photo"] = c.pipeline.limits.max_bytes;
  // The photo parts are for a few photos; many go in the ZIP, which is never in memory.
  p.max_total_bytes = c.batch.max_roster_bytes + c.max_body_bytes;
  return p;
}

int spool_refusal(const http_request& req, const app::app_config& c) {
  const std::string h = req.get_header_value("Authorization");
  if (h.size() <= 7 || strncasecmp(h.c_str(), "Bearer ", 7) != 0) return 401;
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto v = jwt_verify_hs256(h.substr(7), c.jwt_secret, now, 30);
  if (!v) return 401;
  return (granted_scopes(*v) & scope_cards_write) ? 0 : 403;
}

namespace {

// 1..200 visible ASCII characters (new_job's rule), or absent.
bool valid_idempotency_key(const std::string& k) {
  if (k.empty() || k.size() > 200) return false;
  for (const char ch : k)
    if (ch < 0x21 || ch > 0x7e) return false;
  return true;
}

// ?limit= (1..max, default 50) as the card list reads it; false with 400 sent.
bool page_limit(const http_request& req, http_response& res, int max, int* limit) {
  *limit = 50;
  if (!req.has_param("limit")) return true;
  const std::string s = req.get_param_value("limit");
  try {
    size_t used = 0;
    *limit = std::stoi(s, &used);
    if (used != s.size()) throw std::invalid_argument("limit");
  } catch (const std::exception&) {
    *limit = 0;
  }
  if (*limit < 1 || *limit > max) {
    send_bad_request(res, "limit must be an integer in 1.." + std::to_string(max));
    return false;
  }
  return true;
}

nlohmann::json batch_json(const db::batch& b) {
  return json{{"id", b.id},
              {"status", db::batch_status_name(b.status)},
              {"total", b.total},
              {"organization", nullable(b.organization)},
              {"createdAt", b.created_at},
              {"finishedAt", nullable(b.finished_at)}};
}

nlohmann::json counts_json(const db::job_counts& c) {
  return json{{"queued", c.queued}, {"running", c.running}, {"done", c.done}, {"failed", c.failed}, {"dead", c.dead}};
}

nlohmann::json problems_json(const std::vector<db::batch_problem>& ps) {
  json out = json::array();
  for (const auto& p : ps)
    out.push_back({{"row", p.row}, {"idNumber", nullable(p.id_number)}, {"code", p.code}, {"message", p.message}});
  return out;
}

/* A roster or archive the service refused: its detail is our own text naming the file, the
 * row or the entry (parse_roster / open_zip), so it is the public message here; the status is
 * the table's (400 invalid_argument, 413 too_large, 415 unsupported). Other errors go through
 * the table as they are. */
void fail_batch(http_response& res, const app::service& svc, const base::error& e, const app::failure& why) {
  if (db::is_idempotency_mismatch(e)) return fail(res, svc, e, app::stage::database);  // the table's 422
  if (why.where == app::stage::request &&
      (e.code == errc::invalid_argument || e.code == errc::too_large || e.code == errc::unsupported ||
       e.code == errc::corrupt || e.code == errc::forbidden)) {
    const int status = e.code == errc::too_large     ? 413
                       : e.code == errc::unsupported ? 415
                       : e.code == errc::forbidden   ? 403
                                                     : 400;
    return send_bad_request(res, db::storable_text(e.detail, 600), status);
  }
  fail(res, svc, e, why.where);
}

void add_create(router& r, app::service& svc) {
  r.on("POST", "/api/batches", "/api/batches", access::cards_write,
       [&svc](const http_request& req, http_response& res) {
         if (!req.is_multipart_form_data())
           return send_bad_request(
               res, "send multipart/form-data: a 'roster' part (CSV) and a 'photos' part (ZIP) or 'photo' parts", 415);
         if (!req.has_file("roster")) return send_bad_request(res, "the 'roster' part (a CSV file) is required");
         if (req.files.count("roster") > 1) return send_bad_request(res, "one 'roster' part, please");
         app::batch_upload u;
         u.roster_csv = req.get_file_value("roster").content;
         u.zip_path = req.spooled_file;
         const auto [first, last] = req.files.equal_range("photo");
         for (auto it = first; it != last; ++it) {
           if (it->second.filename.empty())
             return send_bad_request(res, "each 'photo' part needs a filename (it is matched to the idNumber)");
           u.photos.push_back({it->second.filename, it->second.content});
         }
         const auto& org = this_token().org;
         if (req.has_file("organization")) {
           u.organization = req.get_file_value("organization").content;
           if (org && u.organization != *org) {
             this_request().log_detail = "access: organization " + db::storable_text(u.organization, 80);
             return send_error(res, http_error_for(access_refusal::other_organization), svc.config().retry_after_s);
           }
         }
         if (!photo_options(req, res, svc, nullptr, &u.options)) return;
         u.job.async = true;
         u.job.subject = this_token().subject;
         u.job.endpoint = "POST /api/batches";
         if (req.has_header("Idempotency-Key")) {
           u.job.idempotency_key = req.get_header_value("Idempotency-Key");
           if (!valid_idempotency_key(u.job.idempotency_key))
             return send_bad_request(res, "Idempotency-Key must be 1..200 visible ASCII characters");
         }
         if (req.has_file("callbackUrl")) u.job.callback_url = req.get_file_value("callbackUrl").content;
         app::failure why;
         auto made = svc.create_batch(u, org, &why);
         if (!made.ok()) return fail_batch(res, svc, made.err(), why);
         auto v = svc.get_batch(made->b.id, 100, "", org);
         json body = batch_json(made->b);
         if (v.ok()) {
           body = batch_json(v->b);
           body["counts"] = counts_json(v->counts);
           body["problems"] = problems_json(v->problems);
         }
         body["created"] = made->created;
         res.set_header("Location", "/api/batches/" + made->b.id);
         send_json(res, 202, body);
       });
}

void add_reads(router& r, app::service& svc) {
  r.on("GET", R"(/api/batches/([^/]+))", "/api/batches/{id}", access::cards_read,
       [&svc](const http_request& req, http_response& res) {
         int limit = 0;
         if (!page_limit(req, res, 1000, &limit)) return;
         auto v = svc.get_batch(req.matches[1], limit, req.get_param_value("cursor"), this_token().org);
         if (!v.ok()) return fail(res, svc, v.err(), app::stage::database);
         json body = batch_json(v->b);
         body["counts"] = counts_json(v->counts);
         body["problems"] = problems_json(v->problems);
         json cards = json::array();
         for (const auto& j : v->jobs.items)
           cards.push_back({{"row", j.batch_row},
                            {"cardId", nullable(j.card_id)},
                            {"jobId", j.id},
                            {"status", db::job_status_name(j.status)},
                            {"error", job_error_json(j)}});
         body["cards"] = cards;
         body["nextCursor"] = nullable(v->jobs.next_cursor);
         send_json(res, 200, body);
       });
  r.on("GET", R"(/api/batches/([^/]+)/cards\.pdf)", "/api/batches/{id}/cards.pdf", access::cards_read,
       [&svc](const http_request& req, http_response& res) {
         auto pdf = svc.batch_cards_pdf(req.matches[1], this_token().org);
         if (!pdf.ok() && pdf.err().code == errc::conflict) {
           this_request().log_detail = "batch pdf: " + pdf.err().to_string();
           return send_error(res, http_error{409, "no_photo", "no card of this batch has a photo yet"},
                             svc.config().retry_after_s);
         }
         if (!pdf.ok()) {
           base::error e = pdf.err();  // the stored cards and photos were checked when stored: ours
           if (e.code != errc::not_found && e.code != errc::unavailable) e.code = errc::internal;
           return fail(res, svc, e, app::stage::store);
         }
         res.set_header("Cache-Control", "no-store");
         res.set_header("Content-Disposition", "inline; filename=\"batch-" + std::string(req.matches[1]) + ".pdf\"");
         res.set_content(std::string(pdf->begin(), pdf->end()), "application/pdf");
       });
  r.on("GET", R"(/api/batches/([^/]+)/export\.csv)", "/api/batches/{id}/export.csv", access::cards_read,
       [&svc](const http_request& req, http_response& res) {
         auto csv = svc.batch_export_csv(req.matches[1], this_token().org);
         if (!csv.ok()) return fail(res, svc, csv.err(), app::stage::database);
         res.set_header("Cache-Control", "no-store");
         res.set_header("Content-Disposition",
                        "attachment; filename=\"batch-" + std::string(req.matches[1]) + ".csv\"");
         res.set_content(std::move(*csv), "text/csv; charset=utf-8");
       });
}

}  // namespace

void add_batch_routes(router& r, app::service& svc) {
  add_create(r, svc);
  add_reads(r, svc);
}

}  // namespace idphoto::server

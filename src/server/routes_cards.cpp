// The ID-card routes, all behind a bearer token: create, list, get, patch and delete a card,
// its photo (upload, fetch-and-clean), its card PDF and its photo sheet. GETs need cards:read,
// the rest cards:write; each is limited to the token's org (this_token()) when it has one.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/card_json.hpp"
#include "server/http_errors.hpp"
#include "server/photo_request.hpp"
#include "server/request_body.hpp"
#include "server/request_log.hpp"
#include "server/respond.hpp"
#include "server/server_internal.hpp"

namespace idphoto::server {

using base::errc;

namespace {

// 403 other_organization: a create or patch that names an organization the token's org is not.
void refuse_organization(http_response& res, const app::service& svc, const base::error& e) {
  this_request().log_detail = "access: " + e.to_string();
  send_error(res, http_error_for(access_refusal::other_organization), svc.config().retry_after_s);
}

void add_crud(router& r, app::service& svc) {
  r.on("POST", "/api/id-cards", "/api/id-cards", access::cards_write,
       [&svc](const http_request& req, http_response& res) {
         auto b = json_body(req, res);
         if (!b) return;
         auto f = card_fields(*b);
         if (!f.ok()) return send_bad_request(res, f.err().detail);
         auto c = svc.create_card(*f, this_token().org);
         if (!c.ok() && c.err().code == errc::forbidden) return refuse_organization(res, svc, c.err());
         if (!c.ok()) return fail(res, svc, c.err(), app::stage::database);
         res.set_header("Location", "/api/id-cards/" + c->id);
         send_json(res, 201, card_json(*c));
       });
  r.on("GET", "/api/id-cards", "/api/id-cards", access::cards_read,
       [&svc](const http_request& req, http_response& res) {
         int limit = 20;
         if (req.has_param("limit")) {
           try {
             size_t used = 0;
             const std::string s = req.get_param_value("limit");
             limit = std::stoi(s, &used);
             if (used != s.size()) throw std::invalid_argument("limit");
           } catch (const std::exception&) {
             return send_bad_request(res, "limit must be an integer in 1..100");
           }
           if (limit < 1 || limit > 100) return send_bad_request(res, "limit must be an integer in 1..100");
         }
         auto p = svc.list_cards(limit, req.get_param_value("cursor"), this_token().org);
         if (!p.ok()) return fail(res, svc, p.err(), app::stage::database);
         json items = json::array();
         for (const auto& c : p->items) items.push_back(card_json(c));
         send_json(res, 200, json{{"items", items}, {"nextCursor", nullable(p->next_cursor)}});
       });
  r.on("GET", R"(/api/id-cards/([^/]+))", "/api/id-cards/{id}", access::cards_read,
       [&svc](const http_request& req, http_response& res) {
         auto c = svc.get_card(req.matches[1], this_token().org);
         if (!c.ok()) return fail(res, svc, c.err(), app::stage::database);
         send_json(res, 200, card_json(*c));
       });
  r.on("PATCH", R"(/api/id-cards/([^/]+))", "/api/id-cards/{id}", access::cards_write,
       [&svc](const http_request& req, http_response& res) {
         auto b = json_body(req, res);
         if (!b) return;
         auto f = card_fields(*b);
         if (!f.ok()) return send_bad_request(res, f.err().detail);
         auto c = svc.patch_card(req.matches[1], *f, this_token().org);
         if (!c.ok() && c.err().code == errc::forbidden) return refuse_organization(res, svc, c.err());
         if (!c.ok()) return fail(res, svc, c.err(), app::stage::database);
         send_json(res, 200, card_json(*c));
       });
  r.on("DELETE", R"(/api/id-cards/([^/]+))", "/api/id-cards/{id}", access::cards_write,
       [&svc](const http_request& req, http_response& res) {
         auto d = svc.delete_card(req.matches[1], this_token().org);
         if (!d.ok()) return fail(res, svc, d.err(), app::stage::database);
         res.status = 204;
       });
}

// A PDF answer, shown in the browser, named after the card.
void send_pdf(http_response& res, const std::string& filename, const std::vector<uint8_t>& pdf) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("Content-Disposition", "inline; filename=\"" + filename + "\"");
  res.set_content(std::string(pdf.begin(), pdf.end()), "application/pdf");
}

void add_pdfs(router& r, app::service& svc) {
  r.on("GET", R"(/api/id-cards/([^/]+)/card\.pdf)", "/api/id-cards/{id}/card.pdf", access::cards_read,
       [&svc](const http_request& req, http_response& res) {
         auto sheet = card::sheet_from(req.has_param("sheet") ? req.get_param_value("sheet") : "card");
         if (!sheet.ok()) return send_bad_request(res, "sheet must be card or a4");
         auto pdf = svc.card_pdf(req.matches[1], *sheet, this_token().org);
         if (!pdf.ok() && pdf.err().code == errc::conflict) {
           this_request().log_detail = "card: " + pdf.err().to_string();
           return send_error(res, http_error_for(pdf_refusal::no_photo), svc.config().retry_after_s);
         }
         if (!pdf.ok()) {
           // The fields and the photo were checked when stored: one the card module refuses now
           // is our data's fault (500), not the request's. not_found (no card) stays 404.
           base::error e = pdf.err();
           if (e.code == errc::corrupt || e.code == errc::unsupported || e.code == errc::invalid_argument ||
               e.code == errc::too_large)
             e.code = errc::internal;
           return fail(res, svc, e, app::stage::store);
         }
         send_pdf(res, "card-" + std::string(req.matches[1]) + ".pdf", *pdf);
       });
  r.on("GET", R"(/api/id-cards/([^/]+)/photo-sheet\.pdf)", "/api/id-cards/{id}/photo-sheet.pdf", access::cards_read,
       [&svc](const http_request& req, http_response& res) {
         auto paper = card::paper_from(req.has_param("paper") ? req.get_param_value("paper") : "a4");
         if (!paper.ok()) return send_bad_request(res, "paper must be 4x6in, a4 or a6");
         int copies = 0;
         if (req.has_param("copies")) {
           const std::string v = req.get_param_value("copies");
           if (v.empty() || v.size() > 3 || v.find_first_not_of("0123456789") != std::string::npos ||
               std::stoi(v) > card::max_sheet_copies)
             return send_bad_request(
                 res, "copies must be 0.." + std::to_string(card::max_sheet_copies) + " (0 = fill the page)");
           copies = std::stoi(v);
         }
         std::optional<std::string> spec;
         if (req.has_param("spec")) spec = req.get_param_value("spec");
         auto pdf = svc.photo_sheet_pdf(req.matches[1], *paper, copies, spec, this_token().org);
         if (!pdf.ok() && pdf.err().code == errc::conflict) {
           this_request().log_detail = "photo sheet: " + pdf.err().to_string();
           const auto why =
               pdf.err().detail == "spec differs" ? pdf_refusal::spec_differs : pdf_refusal::no_framed_photo;
           return send_error(res, http_error_for(why), svc.config().retry_after_s);
         }
         if (!pdf.ok()) {
           base::error e = pdf.err();
           if (e.code == errc::corrupt || e.code == errc::unsupported || e.code == errc::too_large)
             e.code = errc::internal;
           return fail(res, svc, e, app::stage::store);
         }
         send_pdf(res, "photos-" + std::string(req.matches[1]) + ".pdf", *pdf);
       });
}

void add_photo(router& r, app::service& svc) {
  r.on("POST", R"(/api/id-cards/([^/]+)/photo)", "/api/id-cards/{id}/photo", access::cards_write,
       [&svc](const http_request& req, http_response& res) {
         std::string bytes;
         if (!photo_body(req, res, &bytes)) return;
         app::photo_options po;
         if (!photo_options(req, res, svc, nullptr, &po)) return;
         app::job_request jr;
         if (!job_request_of(req, res, "/api/id-cards/{id}/photo", nullptr, &jr)) return;
         send_photo_outcome(res, svc, svc.submit_photo(req.matches[1], std::move(bytes), po, jr, this_token().org));
       });
  r.on("POST", R"(/api/id-cards/([^/]+)/fetch-and-clean)", "/api/id-cards/{id}/fetch-and-clean", access::cards_write,
       [&svc](const http_request& req, http_response& res) {
         auto b = json_body(req, res);
         if (!b) return;
         fetch_and_clean(svc, req.matches[1], req, res, *b, "/api/id-cards/{id}/fetch-and-clean");
       });
}

}  // namespace

void add_card_routes(router& r, app::service& svc) {
  add_crud(r, svc);
  add_pdfs(r, svc);
  add_photo(r, svc);
}

}  // namespace idphoto::server

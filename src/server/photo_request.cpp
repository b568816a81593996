// Photo options from a request (JSON body, form or query), and the answers of the photo use
// cases that the card and photo routes share.
#include "server/photo_request.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>

#include "server/auth.hpp"
#include "server/card_json.hpp"
#include "server/job_json.hpp"
#include "server/request_log.hpp"
#include "server/respond.hpp"

namespace idphoto::server {

namespace {

// A form field (multipart) or query parameter; nullopt when absent.
std::optional<std::string> field(const http_request& req, const char* name) {
  if (req.is_multipart_form_data() && req.has_file(name)) return req.get_file_value(name).content;
  if (req.has_param(name)) return req.get_param_value(name);
  return std::nullopt;
}

}  // namespace

bool photo_options(const http_request& req, http_response& res, const app::service& svc, const json* body,
                   app::photo_options* o) {
  auto get = [&](const char* k) -> std::optional<std::string> {
    if (body && body->contains(k)) {
      const auto& v = (*body)[k];
      if (v.is_string()) return v.get<std::string>();
      if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
      if (!v.is_null()) return std::string("\x01");  // wrong type: refused below
    }
    return field(req, k);
  };
  o->bg = get("bg");
  o->format = get("format");
  o->spec = get("spec");
  // Whole numbers in 1..100000 (the service checks each one's own range).
  const auto integer = [&](const char* k, std::optional<int>* to) {
    const auto v = get(k);
    if (!v) return true;
    try {
      size_t used = 0;
      const long n = std::stol(*v, &used);
      if (used != v->size() || n < 1 || n > 100000) throw std::invalid_argument("range");
      *to = static_cast<int>(n);
      return true;
    } catch (const std::exception&) {
      send_bad_request(res, std::string(k) + " must be a whole number");
      return false;
    }
  };
  if (!integer("maxSize", &o->max_size_px) || !integer("dpi", &o->dpi) || !integer("maxKb", &o->max_kb)) return false;
  if (auto co = svc.resolve_options(*o); !co.ok()) {
    if (o->spec || o->dpi || o->max_kb) {  // the spec options' own messages name the field (never the photo)
      send_bad_request(res, "bad photo options: " + co.err().detail.substr(0, 600));
      return false;
    }
    send_bad_request(res, "bad photo options: bg is blue, white, grey, red, #RRGGBB or none; maxSize 16.." +
                              std::to_string(svc.config().max_size_limit_px) +
                              "; format png, jpg or webp (bg none needs png or webp)");
    return false;
  }
  return true;
}

bool job_request_of(const http_request& req, http_response& res, const char* endpoint, const json* body,
                    app::job_request* jr) {
  std::optional<std::string> async;
  if (body && body->contains("async")) {
    const auto& v = (*body)["async"];
    if (!v.is_boolean()) {
      send_bad_request(res, "async must be true or false");
      return false;
    }
    async = v.get<bool>() ? "true" : "false";
  } else {
    async = field(req, "async");
  }
  if (async && *async != "true" && *async != "false" && *async != "1" && *async != "0") {
    send_bad_request(res, "async must be true or false");
    return false;
  }
  jr->async = async && (*async == "true" || *async == "1");
  jr->subject = this_token().subject;
  jr->endpoint = endpoint;
  if (req.has_header("Idempotency-Key")) {
    const std::string k = req.get_header_value("Idempotency-Key");
    bool ok = !k.empty() && k.size() <= 200;
    for (unsigned char c : k) ok = ok && c > 0x20 && c < 0x7f;
    if (!ok) {
      send_bad_request(res, "Idempotency-Key must be 1..200 visible ASCII characters");
      return false;
    }
    jr->idempotency_key = k;
  }
  return true;
}

void send_photo_outcome(http_response& res, const app::service& svc, const app::photo_outcome& o) {
  if (o.job && !o.job_created) res.set_header("Idempotent-Replayed", "true");
  if (o.error) return fail(res, svc, o.error->err, o.error->where, o.card);
  if (o.job && o.job->status != db::job_status::done) {
    res.set_header("Location", "/api/jobs/" + o.job->id);
    json body = {{"job", job_json(*o.job)}, {"card", o.card ? card_json(*o.card) : json(nullptr)}};
    return send_json(res, 202, body);
  }
  if (!o.card) {  // the card was deleted while its photo was cleaned
    this_request().log_detail = "photo: the card was deleted meanwhile";
    return send_error(res, http_error_for(base::errc::not_found), svc.config().retry_after_s);
  }
  send_json(res, 200, card_json(*o.card));
}

void fetch_and_clean(app::service& svc, const std::string& id, const http_request& req, http_response& res,
                     const json& b, const char* endpoint) {
  const auto url = b.find("rawPhotoUrl");
  if (url == b.end() || !url->is_string() || url->get<std::string>().empty())
    return send_bad_request(res, "rawPhotoUrl (a string) is required");
  app::photo_options po;
  if (!photo_options(req, res, svc, &b, &po)) return;
  app::job_request jr;
  if (!job_request_of(req, res, endpoint, &b, &jr)) return;
  send_photo_outcome(res, svc, svc.submit_fetch(id, url->get<std::string>(), po, jr, this_token().org));
}

}  // namespace idphoto::server

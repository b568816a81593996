// The routes of the HTTP API over app::service (cpp-httplib), with auth, the error table,
// metrics and one log line per request. Exceptions stop here: the last-resort handler
// answers 500 without detail.
#include "server/http_server.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/http_errors.hpp"
#include "server/jwt.hpp"
#include "server/metrics.hpp"
#include "server/strict_json.hpp"

namespace idphoto::server {

// The web page's files, generated from web/ (src/server/CMakeLists.txt).
const char* web_index_html();
const char* web_app_js();
const char* web_style_css();

using json = nlohmann::json;
using base::errc;

namespace {

// Per-request bookkeeping: httplib runs a request's routing, handler and logger on one thread.
struct request_scope {
  std::chrono::steady_clock::time_point start{};
  const char* route = "unmatched";
  std::string log_detail;  // the error detail, for the log line only
};
thread_local request_scope t_scope;

std::string utc_now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[80];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, static_cast<int>(ms));
  return b;
}

json nullable(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json card_json(const db::id_card& c) {
  // The framing report is stored as one JSON line; a row it does not parse in shows null.
  const json report = c.photo_report.empty() ? json() : json::parse(c.photo_report, nullptr, false);
  const auto part = [&](const char* k) { return report.is_object() && report.contains(k) ? report[k] : json(); };
  return json{{"id", c.id},
              {"fullName", c.full_name},
              {"idNumber", nullable(c.id_number)},
              {"organization", nullable(c.organization)},
              {"role", nullable(c.role)},
              {"issuedAt", nullable(c.issued_at)},
              {"expiresAt", nullable(c.expires_at)},
              {"rawPhotoUrl", nullable(c.raw_photo_url)},
              {"cleanPhotoUrl", nullable(c.clean_photo_url)},
              {"photoStatus", db::photo_status_name(c.status)},
              {"photoError", nullable(c.photo_error)},
              {"photoErrorAt", nullable(c.photo_error_at)},
              {"photoWarning", nullable(c.photo_warning)},
              {"photoSpec", c.photo_spec},
              {"photoCompliance", part("compliance")},
              {"photoFace", part("face")},
              {"createdAt", c.created_at},
              {"updatedAt", c.updated_at}};
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, const http_error& e, int retry_after_s, const std::optional<db::id_card>& card = std::nullopt) {
  json body = {{"error", {{"code", e.code}, {"message", e.message}}}};
  if (card) body["card"] = card_json(*card);
  if (e.retry_after) res.set_header("Retry-After", std::to_string(retry_after_s));
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  send_json(res, e.status, body);
}

// A request error the server itself found (body shape), with its own public message.
void send_bad_request(httplib::Response& res, const std::string& message, int status = 400) {
  t_scope.log_detail = message;
  send_json(res, status, json{{"error", {{"code", status == 415 ? "unsupported_media_type" : "invalid_argument"}, {"message", message}}}});
}

// Text from a client made safe for one log line: bytes outside printable ASCII, '"' and '\\'
// become \xNN, so a %0a in a path cannot start a forged line and no ESC sequence reaches a
// terminal. At most max_bytes of the input are kept.
std::string log_safe(std::string_view v, std::size_t max_bytes) {
  std::string out;
  for (const unsigned char c : v.substr(0, max_bytes)) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      char b[5];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// A header value: printable ASCII only (anything else becomes '?'), so no CR/LF can split it.
std::string header_safe(std::string v) {
  for (char& c : v)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return v;
}

const char* file_content_type(const std::string& key) {
  auto ends = [&](const char* suf) {
    const std::string s(suf);
    return key.size() >= s.size() && key.compare(key.size() - s.size(), s.size(), s) == 0;
  };
  if (ends(".png")) return "image/png";
  if (ends(".jpg") || ends(".jpeg")) return "image/jpeg";
  if (ends(".webp")) return "image/webp";
  if (ends(".heic") || ends(".heif")) return "image/heic";
  if (ends(".avif")) return "image/avif";
  if (ends(".tif") || ends(".tiff")) return "image/tiff";
  if (ends(".pdf")) return "application/pdf";
  return "application/octet-stream";
}

// "scheme://host[:port]" of an absolute http(s) URL; "" otherwise.
std::string origin_of(const std::string& url) {
  const auto sep = url.find("://");
  if (sep == std::string::npos || (url.compare(0, sep, "http") != 0 && url.compare(0, sep, "https") != 0)) return "";
  const std::string origin = url.substr(0, url.find_first_of("/?#", sep + 3));
  return origin.find_first_of(" ;,'\"") == std::string::npos ? origin : "";
}

/* The page's Content-Security-Policy: scripts, styles and requests to this origin only; images
 * also from where the store serves photos (the public URL, or Cloudinary's delivery host) — so
 * an injected script could neither load code nor send the token in localStorage elsewhere. */
std::string page_csp(const app::app_config& c) {
  std::string img = "'self' data: blob:";
  const std::string store = origin_of(c.cloudinary ? c.cloudinary->delivery_base_url : c.effective_public_url());
  if (!store.empty()) img += " " + store;
  return "default-src 'self'; img-src " + img + "; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
}

// The Range of a /files request, checked before cpp-httplib applies it (0.11 computes a
// negative length for a start past the end and sends a 206 it never fills). One range —
// bytes=a-b, a- or -n — is served as 206, clamped to the file; one that starts past the end
// gets 416 with "Content-Range: bytes */size"; several ranges are ignored (the whole file, 200,
// as RFC 9110 §14.2 allows). false when the 416 is sent.
bool usable_ranges(const httplib::Request& req, size_t size, httplib::Response& res, int retry_after_s) {
  auto& ranges = const_cast<httplib::Request&>(req).ranges;  // as photo_body: the request is ours
  if (ranges.size() > 1) ranges.clear();
  if (ranges.empty()) return true;
  auto& [first, last] = ranges.front();  // -1 = not given
  const auto n = static_cast<ssize_t>(size);
  const bool ok = first < 0 ? last > 0 && n > 0 : first < n && (last < 0 || last >= first);
  if (!ok) {
    ranges.clear();
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    send_error(res, http_error_for_status(416), retry_after_s);
    return false;
  }
  if (first < 0) last = std::min(last, n);
  else if (last >= n) last = n - 1;
  return true;
}

// A form field (multipart) or query parameter; nullopt when absent.
std::optional<std::string> field(const httplib::Request& req, const char* name) {
  if (req.is_multipart_form_data() && req.has_file(name)) return req.get_file_value(name).content;
  if (req.has_param(name)) return req.get_param_value(name);
  return std::nullopt;
}

}  // namespace

struct http_server::impl {
  app::service& svc;
  log_sink log;
  httplib::Server http;
  metrics stats;
  int port = 0;
  std::thread bg;
  std::mutex log_mu;

  impl(app::service& s, log_sink l) : svc(s), log(std::move(l)) {}

  int retry_after() const { return svc.config().retry_after_s; }

  void fail(httplib::Response& res, const base::error& e, app::stage where, const std::optional<db::id_card>& card = std::nullopt) {
    t_scope.log_detail = std::string(app::stage_name(where)) + ": " + e.to_string();
    send_error(res, http_error_for(e.code, where), retry_after(), card);
  }

  // Authorization: Bearer <JWT>, HS256 with JWT_SECRET; false (and a 401 sent) otherwise.
  bool authorised(const httplib::Request& req, httplib::Response& res) {
    const std::string h = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (h.size() <= prefix.size() || strncasecmp(h.c_str(), prefix.c_str(), prefix.size()) != 0) {
      t_scope.log_detail = "auth: no bearer token";
      send_error(res, http_auth_error(), retry_after());
      return false;
    }
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto v = jwt_verify_hs256(h.substr(prefix.size()), svc.config().jwt_secret, now, 30);
    if (!v.ok()) {
      t_scope.log_detail = "auth: " + v.err().detail;
      send_error(res, http_auth_error(), retry_after());
      return false;
    }
    return true;
  }

  using handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  // Wraps a handler with its route name (for metrics and the log) and, when asked, auth.
  httplib::Server::Handler route(const char* name, bool auth, handler h) {
    return [this, name, auth, h = std::move(h)](const httplib::Request& req, httplib::Response& res) {
      t_scope.route = name;
      if (auth && !authorised(req, res)) return;
      h(req, res);
    };
  }

  /* The photo of an upload: multipart field "photo", or a raw image body; false (answer sent)
   * otherwise. The bytes are moved out of the request rather than copied: httplib's Request
   * is a local object of the connection thread, handed to us as const only by signature, and
   * nothing reads the body after the handler. This keeps one copy of a photo per request,
   * which the memory estimate in app/config.hpp counts on. */
  bool photo_body(const httplib::Request& req, httplib::Response& res, std::string* out) {
    auto& mreq = const_cast<httplib::Request&>(req);
    if (req.is_multipart_form_data()) {
      auto it = mreq.files.find("photo");
      if (it == mreq.files.end()) {
        send_bad_request(res, "multipart field 'photo' is missing");
        return false;
      }
      *out = std::move(it->second.content);
      return true;
    }
    const std::string ct = req.get_header_value("Content-Type");
    if (ct.rfind("image/", 0) == 0 || ct.rfind("application/octet-stream", 0) == 0) {
      *out = std::move(mreq.body);
      return true;
    }
    send_bad_request(res, "send the photo as multipart/form-data field 'photo' or as a raw image body (Content-Type image/*)", 415);
    return false;
  }

  // bg, maxSize, format from the query, the multipart form or a JSON body; false (answer sent) when malformed.
  bool photo_options(const httplib::Request& req, httplib::Response& res, const json* body, app::photo_options* o) {
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
                                std::to_string(svc.config().max_size_limit_px) + "; format png, jpg or webp (bg none needs png or webp)");
      return false;
    }
    return true;
  }

  // The JSON object body of a request; nullopt (answer sent) when it is not one.
  // Content-Type must be application/json (415 otherwise: a form or text/plain post from another
  // page must not pass as JSON); a member name given twice is refused like malformed JSON.
  std::optional<json> json_body(const httplib::Request& req, httplib::Response& res) {
    std::string ct = req.get_header_value("Content-Type");
    ct = ct.substr(0, ct.find(';'));
    while (!ct.empty() && (ct.back() == ' ' || ct.back() == '\t')) ct.pop_back();
    std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ct != "application/json") {
      send_bad_request(res, "send the body as JSON with Content-Type: application/json", 415);
      return std::nullopt;
    }
    auto b = parse_strict_json(req.body);
    if (!b || !b->is_object()) {
      send_bad_request(res, "the body must be a JSON object (each member name once)");
      return std::nullopt;
    }
    return b;
  }

  // The card fields of a create/patch body; false (answer sent) on a wrong type or unknown key.
  bool card_fields(const json& b, httplib::Response& res, db::id_card_fields* f) {
    static const std::vector<std::pair<const char*, std::optional<std::string> db::id_card_fields::*>> keys = {
        {"fullName", &db::id_card_fields::full_name},       {"idNumber", &db::id_card_fields::id_number},
        {"organization", &db::id_card_fields::organization}, {"role", &db::id_card_fields::role},
        {"issuedAt", &db::id_card_fields::issued_at},       {"expiresAt", &db::id_card_fields::expires_at},
        {"photoSpec", &db::id_card_fields::photo_spec}};
    static const std::vector<std::string> read_only = {"id", "rawPhotoUrl", "cleanPhotoUrl", "photoStatus", "photoError",
                                                       "photoWarning", "photoCompliance", "photoFace", "createdAt", "updatedAt"};
    for (const auto& [k, v] : b.items()) {
      bool known = std::find(read_only.begin(), read_only.end(), k) != read_only.end();
      for (const auto& [name, member] : keys) {
        if (k != name) continue;
        known = true;
        if (v.is_null()) f->*member = std::string();
        else if (v.is_string()) f->*member = v.get<std::string>();
        else {
          send_bad_request(res, "field " + k + " must be a string or null");
          return false;
        }
      }
      if (!known) {
        send_bad_request(res, "unknown field '" + k.substr(0, 40) + "'");
        return false;
      }
    }
    if (f->photo_spec && f->photo_spec->empty()) f->photo_spec = "card";  // null: back to the default
    return true;
  }

  void send_photo_outcome(httplib::Response& res, const app::photo_outcome& o) {
    if (o.error) return fail(res, o.error->err, o.error->where, o.card);
    send_json(res, 200, card_json(*o.card));
  }

  void fetch_and_clean(const std::string& id, const httplib::Request& req, httplib::Response& res, const json& b) {
    const auto url = b.find("rawPhotoUrl");
    if (url == b.end() || !url->is_string() || url->get<std::string>().empty())
      return send_bad_request(res, "rawPhotoUrl (a string) is required");
    app::photo_options po;
    if (!photo_options(req, res, &b, &po)) return;
    send_photo_outcome(res, svc.fetch_and_clean(id, url->get<std::string>(), po));
  }

  // Every route, as registered: a path that matches one with another method is a 405 (with
  // Allow), not a 404.
  std::vector<std::pair<std::string, std::regex>> routes;
  void on(const char* method, const std::string& pattern, httplib::Server::Handler h) {
    routes.emplace_back(method, std::regex(pattern));
    const std::string m = method;
    if (m == "GET") http.Get(pattern, std::move(h));
    else if (m == "POST") http.Post(pattern, std::move(h));
    else if (m == "PATCH") http.Patch(pattern, std::move(h));
    else http.Delete(pattern, std::move(h));
  }
  // The methods a path has routes for ("GET, HEAD, POST"), or "" when it has none.
  std::string allowed_methods(const std::string& path) const {
    std::string allow;
    for (const auto& [m, re] : routes) {
      if (!std::regex_match(path, re) || allow.find(m) != std::string::npos) continue;
      allow += (allow.empty() ? "" : ", ") + m + (m == "GET" ? ", HEAD" : "");
    }
    return allow;
  }

  void install_routes() {
    // --- the web page: web/ embedded at build time (src/server/CMakeLists.txt) -------
    on("GET", "/", route("/", false, [csp = page_csp(svc.config())](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy", csp);
      res.set_content(web_index_html(), "text/html; charset=utf-8");
    }));
    on("GET", "/app.js", route("/app.js", false, [](const httplib::Request&, httplib::Response& res) {
      res.set_content(web_app_js(), "text/javascript; charset=utf-8");
    }));
    on("GET", "/style.css", route("/style.css", false, [](const httplib::Request&, httplib::Response& res) {
      res.set_content(web_style_css(), "text/css; charset=utf-8");
    }));
    // --- end web page ----------------------------------------------------------------------------
    on("GET", "/healthz", route("/healthz", false, [](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, json{{"status", "ok"}});
    }));
    on("GET", "/readyz", route("/readyz", false, [this](const httplib::Request&, httplib::Response& res) {
      const auto r = svc.check_ready();
      json b = {{"ready", r.ready()}, {"model", r.model}, {"database", r.database}, {"store", r.store}};
      if (!r.ready()) res.set_header("Retry-After", std::to_string(retry_after()));
      send_json(res, r.ready() ? 200 : 503, b);
    }));
    on("GET", "/metrics", route("/metrics", false, [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(stats.render(svc.stats()), "text/plain; version=0.0.4; charset=utf-8");
    }));
    on("GET", "/openapi.json", route("/openapi.json", false, [](const httplib::Request&, httplib::Response& res) {
      res.set_content(openapi_json(), "application/json");
    }));
    on("GET", R"(/files/(.+))", route("/files/{key}", false, [this](const httplib::Request& req, httplib::Response& res) {
      const std::string key = req.matches[1];
      auto path = svc.local_file(key);
      if (!path.ok()) return fail(res, base::make_error(errc::not_found, path.err().detail), app::stage::store);
      auto f = std::make_shared<std::ifstream>(*path, std::ios::binary);
      std::error_code ec;
      const auto size = std::filesystem::file_size(*path, ec);
      if (!*f || ec) return fail(res, base::make_error(errc::not_found, "cannot open " + key), app::stage::store);
      res.set_header("Cache-Control", "private, max-age=31536000, immutable");
      res.set_header("X-Robots-Tag", "noindex");
      if (!usable_ranges(req, static_cast<size_t>(size), res, retry_after())) return;
      res.set_content_provider(static_cast<size_t>(size), file_content_type(key), [f](size_t offset, size_t length, httplib::DataSink& sink) {
        char buf[64 * 1024];
        f->seekg(static_cast<std::streamoff>(offset));
        const auto n = std::min(length, sizeof buf);
        f->read(buf, static_cast<std::streamsize>(n));
        const auto got = f->gcount();
        if (got <= 0) return false;
        return sink.write(buf, static_cast<size_t>(got));
      });
    }));

    // ID cards.
    on("POST", "/api/id-cards", route("/api/id-cards", true, [this](const httplib::Request& req, httplib::Response& res) {
      auto b = json_body(req, res);
      if (!b) return;
      db::id_card_fields f;
      if (!card_fields(*b, res, &f)) return;
      auto c = svc.create_card(f);
      if (!c.ok()) return fail(res, c.err(), app::stage::database);
      res.set_header("Location", "/api/id-cards/" + c->id);
      send_json(res, 201, card_json(*c));
    }));
    on("GET", "/api/id-cards", route("/api/id-cards", true, [this](const httplib::Request& req, httplib::Response& res) {
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
      auto p = svc.list_cards(limit, req.get_param_value("cursor"));
      if (!p.ok()) return fail(res, p.err(), app::stage::database);
      json items = json::array();
      for (const auto& c : p->items) items.push_back(card_json(c));
      send_json(res, 200, json{{"items", items}, {"nextCursor", nullable(p->next_cursor)}});
    }));
    on("GET", R"(/api/id-cards/([^/]+))", route("/api/id-cards/{id}", true, [this](const httplib::Request& req, httplib::Response& res) {
      auto c = svc.get_card(req.matches[1]);
      if (!c.ok()) return fail(res, c.err(), app::stage::database);
      send_json(res, 200, card_json(*c));
    }));
    on("PATCH", R"(/api/id-cards/([^/]+))", route("/api/id-cards/{id}", true, [this](const httplib::Request& req, httplib::Response& res) {
      auto b = json_body(req, res);
      if (!b) return;
      db::id_card_fields f;
      if (!card_fields(*b, res, &f)) return;
      auto c = svc.patch_card(req.matches[1], f);
      if (!c.ok()) return fail(res, c.err(), app::stage::database);
      send_json(res, 200, card_json(*c));
    }));
    on("DELETE", R"(/api/id-cards/([^/]+))", route("/api/id-cards/{id}", true, [this](const httplib::Request& req, httplib::Response& res) {
      auto r = svc.delete_card(req.matches[1]);
      if (!r.ok()) return fail(res, r.err(), app::stage::database);
      res.status = 204;
    }));
    // --- ID-card PDF and photo sheet ---------------------------------------------------------------
    on("GET", R"(/api/id-cards/([^/]+)/card\.pdf)", route("/api/id-cards/{id}/card.pdf", true, [this](const httplib::Request& req, httplib::Response& res) {
      auto sheet = card::sheet_from(req.has_param("sheet") ? req.get_param_value("sheet") : "card");
      if (!sheet.ok()) return send_bad_request(res, "sheet must be card or a4");
      auto pdf = svc.card_pdf(req.matches[1], *sheet);
      if (!pdf.ok() && pdf.err().code == errc::conflict) {
        t_scope.log_detail = "card: " + pdf.err().to_string();
        return send_json(res, 409, json{{"error", {{"code", "no_photo"}, {"message", "the card has no photo yet; upload one first"}}}});
      }
      if (!pdf.ok()) {
        // The fields and the photo were checked when stored: one the card module refuses now
        // is our data's fault (500), not the request's. not_found (no card) stays 404.
        base::error e = pdf.err();
        if (e.code == errc::corrupt || e.code == errc::unsupported || e.code == errc::invalid_argument || e.code == errc::too_large)
          e.code = errc::internal;
        return fail(res, e, app::stage::store);
      }
      res.set_header("Cache-Control", "no-store");
      res.set_header("Content-Disposition", "inline; filename=\"card-" + std::string(req.matches[1]) + ".pdf\"");
      res.set_content(std::string(pdf->begin(), pdf->end()), "application/pdf");
    }));
    on("GET", R"(/api/id-cards/([^/]+)/photo-sheet\.pdf)", route("/api/id-cards/{id}/photo-sheet.pdf", true, [this](const httplib::Request& req, httplib::Response& res) {
      auto paper = card::paper_from(req.has_param("paper") ? req.get_param_value("paper") : "a4");
      if (!paper.ok()) return send_bad_request(res, "paper must be 4x6in, a4 or a6");
      int copies = 0;
      if (req.has_param("copies")) {
        const std::string v = req.get_param_value("copies");
        if (v.empty() || v.size() > 3 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) > card::max_sheet_copies)
          return send_bad_request(res, "copies must be 0.." + std::to_string(card::max_sheet_copies) + " (0 = fill the page)");
        copies = std::stoi(v);
      }
      std::optional<std::string> spec;
      if (req.has_param("spec")) spec = req.get_param_value("spec");
      auto pdf = svc.photo_sheet_pdf(req.matches[1], *paper, copies, spec);
      if (!pdf.ok() && pdf.err().code == errc::conflict) {
        t_scope.log_detail = "photo sheet: " + pdf.err().to_string();
        const bool differs = pdf.err().detail == "spec differs";
        return send_json(res, 409, json{{"error", {{"code", differs ? "spec_differs" : "no_framed_photo"},
                                                   {"message", differs ? "the photo is framed to the card's photoSpec; upload it again with spec= that spec first"
                                                                       : "the card has no photo framed to a spec yet; upload one (photoSpec not none)"}}}});
      }
      if (!pdf.ok()) {
        base::error e = pdf.err();
        if (e.code == errc::corrupt || e.code == errc::unsupported || e.code == errc::too_large) e.code = errc::internal;
        return fail(res, e, app::stage::store);
      }
      res.set_header("Cache-Control", "no-store");
      res.set_header("Content-Disposition", "inline; filename=\"photos-" + std::string(req.matches[1]) + ".pdf\"");
      res.set_content(std::string(pdf->begin(), pdf->end()), "application/pdf");
    }));
    // --- end ID-card PDF ---------------------------------------------------------------------
    on("POST", R"(/api/id-cards/([^/]+)/photo)", route("/api/id-cards/{id}/photo", true, [this](const httplib::Request& req, httplib::Response& res) {
      std::string bytes;
      if (!photo_body(req, res, &bytes)) return;
      app::photo_options po;
      if (!photo_options(req, res, nullptr, &po)) return;
      send_photo_outcome(res, svc.upload_photo(req.matches[1], std::move(bytes), po));
    }));
    on("POST", R"(/api/id-cards/([^/]+)/fetch-and-clean)",
              route("/api/id-cards/{id}/fetch-and-clean", true, [this](const httplib::Request& req, httplib::Response& res) {
                auto b = json_body(req, res);
                if (!b) return;
                fetch_and_clean(req.matches[1], req, res, *b);
              }));
    on("POST", "/fetch-and-clean", route("/fetch-and-clean", true, [this](const httplib::Request& req, httplib::Response& res) {
      auto b = json_body(req, res);
      if (!b) return;
      const auto id = b->find("idCardId");
      if (id == b->end() || !id->is_string() || id->get<std::string>().empty()) return send_bad_request(res, "idCardId (a string) is required");
      fetch_and_clean(id->get<std::string>(), req, res, *b);
    }));
    on("POST", "/api/remove-background", route("/api/remove-background", true, [this](const httplib::Request& req, httplib::Response& res) {
      std::string bytes;
      if (!photo_body(req, res, &bytes)) return;
      app::photo_options po;
      if (!photo_options(req, res, nullptr, &po)) return;
      app::stage where = app::stage::request;
      auto out = svc.remove_background(std::move(bytes), po, &where);
      if (!out.ok()) return fail(res, out.err(), where);
      res.set_header("Cache-Control", "no-store");
      if (!out->warning.empty()) res.set_header("X-Photo-Warning", out->warning);
      if (!out->spec.empty()) {  // framed: the verdict, the rules that did not pass, the whole report
        res.set_header("X-Photo-Spec", out->spec);
        res.set_header("X-Photo-Compliance", out->verdict);
        res.set_header("X-Photo-Rules-Failed", out->failed_rules);
        res.set_header("X-Photo-Report", header_safe(out->report_json));
      }
      res.set_content(std::move(out->bytes), out->content_type);
    }));
  }

  void install_hooks() {
    http.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
      t_scope = request_scope{};
      t_scope.start = std::chrono::steady_clock::now();
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // httplib's own answers (no route, body over the limit, bad request line) get our JSON shape.
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty() || res.status == 204) return httplib::Server::HandlerResponse::Unhandled;
      // A method no route has (TRACE, CONNECT, OPTIONS, anything unknown): 501. A standard one
      // on a path that has other methods: 405 with Allow. (Closing the connection after a
      // malformed request is not in our hands with cpp-httplib 0.11: docs/architecture.md.)
      static const std::set<std::string> served = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
      if (!req.method.empty() && !served.count(req.method)) {
        res.status = 501;
      } else if (res.status == 404) {
        if (const std::string allow = allowed_methods(req.path); !allow.empty()) {
          res.status = 405;
          res.set_header("Allow", allow);
        }
      }
      send_error(res, http_error_for_status(res.status), retry_after());
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      t_scope.log_detail = "exception: " + what;
      res.headers.clear();
      send_error(res, http_error_for(errc::internal), retry_after());
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      const bool timed = t_scope.start != std::chrono::steady_clock::time_point{};
      const double s = timed ? std::chrono::duration<double>(std::chrono::steady_clock::now() - t_scope.start).count() : 0.0;
      stats.count_request(t_scope.route, res.status, s);
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.1f", s * 1000);
      // The path without the query (it may carry options, never secrets, but keep lines short).
      std::string line = utc_now_rfc3339() + " " + log_safe(req.remote_addr, 64) + " " + log_safe(req.method, 16) + " " + log_safe(req.path, 200) + " " +
                         std::to_string(res.status) + " " + ms + "ms " + std::to_string(res.body.size()) + "B route=" + t_scope.route;
      if (!t_scope.log_detail.empty()) line += " error=\"" + log_safe(t_scope.log_detail, 300) + "\"";
      emit(line);
      t_scope = request_scope{};
    });
  }

  void emit(const std::string& line) {
    if (log) return log(line);
    std::lock_guard<std::mutex> lock(log_mu);
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }
};

http_server::http_server(app::service& svc, log_sink log) : p_(std::make_unique<impl>(svc, std::move(log))) {
  const auto& c = svc.config();
  const int threads = c.http_threads;
  p_->http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  p_->http.set_payload_max_length(static_cast<size_t>(c.max_body_bytes));
  const time_t sec = c.request_timeout_ms / 1000, usec = (c.request_timeout_ms % 1000) * 1000;
  p_->http.set_read_timeout(sec, usec);
  p_->http.set_write_timeout(sec, usec);
  p_->http.set_keep_alive_timeout(5);
  p_->http.set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"}});
  svc.set_clean_observer([m = &p_->stats](double ms, bool ok) { m->observe_clean(ms / 1000.0, ok); });
  p_->install_hooks();
  p_->install_routes();
}

http_server::~http_server() {
  stop();
  p_->svc.set_clean_observer(nullptr);
}

base::result<int> http_server::bind() {
  const auto& c = p_->svc.config();
  if (c.port == 0) {
    const int port = p_->http.bind_to_any_port(c.bind_host);
    if (port <= 0) return base::make_error(errc::unavailable, "cannot bind " + c.bind_host + " on any port");
    p_->port = port;
  } else {
    if (!p_->http.bind_to_port(c.bind_host, c.port))
      return base::make_error(errc::unavailable, "cannot bind " + c.bind_host + ":" + std::to_string(c.port) + " (in use, or not allowed)");
    p_->port = c.port;
  }
  return p_->port;
}

base::result<void> http_server::listen() {
  if (!p_->http.listen_after_bind()) return base::make_error(errc::internal, "the HTTP server stopped with an error");
  return {};
}

void http_server::start_background() {
  p_->bg = std::thread([this] { (void)listen(); });
  for (int i = 0; i < 2500 && !p_->http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

void http_server::stop() {
  p_->http.stop();
  if (p_->bg.joinable()) p_->bg.join();
}

int http_server::port() const { return p_->port; }

}  // namespace idphoto::server

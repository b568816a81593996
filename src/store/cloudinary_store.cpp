// The Cloudinary blob store: signed Upload API calls (upload, destroy) over libcurl, reads
// through the delivery URL. Also cloudinary_from_url and the request signature.
//
// What a key maps to (keys are "<folder>/<32 hex>.<ext>" like the local store):
//   public_id    = "<config folder>/<folder>/<32 hex>"  (the folder path travels inside the
//                  public_id; the `folder` upload parameter is NOT sent, because its meaning
//                  differs between Cloudinary's fixed-folder and dynamic-folder accounts, while
//                  a public_id with slashes gives the same delivery URL in both)
//   delivery URL = {delivery_base_url}/{cloud}/image/upload/v1/{public_id}.{ext}
// put    = POST {api}/v1_1/{cloud}/image/upload (multipart: file, api_key, timestamp, public_id,
//          overwrite=false, signature); url = the response's secure_url. resource_type is
//          "image" for every type, PDF included (Cloudinary treats PDF as an image; note that
//          free accounts refuse PDF delivery until "Allow delivery of PDF and ZIP files" is on).
// get    = GET the delivery URL (200 → bytes, 404 → not_found).
// exists = HEAD the delivery URL (200 → true, 404 → false). No Admin API call, so no Admin
//          rate limit; the price is that the CDN may answer from cache for a short while
//          after a remove (remove asks for invalidation).
// remove = signed POST {api}/v1_1/{cloud}/image/destroy (public_id, invalidate=true,
//          timestamp); result "ok" or "not found" are both success.
// ping   = DNS + TCP + TLS connect to api_base_url (CURLOPT_CONNECT_ONLY): cheap, not rate
//          limited, but does not prove the credentials (the first put does).
// The api_secret only ever goes into the SHA-1 input; it is never sent, logged, or put in an
// error (server messages are scrubbed of it before they reach an error detail).
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <ctime>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/percent_decode.hpp"
#include "base/unique_handle.hpp"
#include "net/curl_easy.hpp"
#include "store/blob_store.hpp"
#include "store/store_key.hpp"

namespace idphoto::store {

namespace {

using base::errc;
using base::make_error;

constexpr std::size_t k_max_body_bytes = 64u << 20;  // cap on anything read back

using evp_md_ctx_ptr = base::unique_handle<EVP_MD_CTX, EVP_MD_CTX_free>;
using http_response = net::response;

std::string strip_trailing_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!is_name_char(c)) return false;
  return true;
}

// "a/b_c" style: name chars and single slashes, no leading/trailing slash; empty allowed.
bool valid_folder_path(const std::string& s) {
  if (s.empty()) return true;
  if (s.size() > 200 || s.front() == '/' || s.back() == '/') return false;
  char prev = 0;
  for (char c : s) {
    if (c == '/' ? prev == '/' : !is_name_char(c)) return false;
    prev = c;
  }
  return true;
}

bool valid_base_url(const std::string& s) {
  return (s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0) && s.size() > 8 &&
         s.find_first_of(" \t\r\n?#") == std::string::npos;
}

// Replaces every occurrence of secret in text (an error body may echo what it was given).
std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t pos = 0; (pos = text.find(secret, pos)) != std::string::npos;)
    text.replace(pos, secret.size(), "***");
  return text;
}

// Cloudinary's error body is {"error":{"message":"…"}}; otherwise the start of the body.
std::string server_message(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].contains("message") && j["error"]["message"].is_string())
    return detail::printable(j["error"]["message"].get<std::string>());
  return detail::printable(body.substr(0, 120));
}

// Maps a non-2xx status: 401/403 forbidden, 404 not_found (delivery) or internal (API: a
// wrong api_base_url or cloud name), 420/429/5xx unavailable, other statuses internal (a
// request we built wrong).
base::error status_error(const std::string& what, const http_response& r, const std::string& secret, bool api_call) {
  std::string detail = what + ": HTTP " + std::to_string(r.status);
  std::string msg = scrub(server_message(r.body), secret);
  if (!msg.empty()) detail += ": " + msg;
  errc code = errc::internal;
  if (r.status == 401 || r.status == 403) code = errc::forbidden;
  else if (r.status == 404) code = api_call ? errc::internal : errc::not_found;
  else if (r.status == 420 || r.status == 429 || r.status >= 500) code = errc::unavailable;
  return make_error(code, detail);
}

class cloudinary_store final : public blob_store {
 public:
  explicit cloudinary_store(cloudinary_config c) : c_(std::move(c)) {
    c_.api_base_url = strip_trailing_slash(c_.api_base_url);
    c_.delivery_base_url = strip_trailing_slash(c_.delivery_base_url);
  }

  base::result<stored> put(std::string_view bytes, const std::string& content_type, const std::string& folder,
                           const std::string& name) override {
    IDPHOTO_TRY(detail::check_folder(folder));
    auto ext = detail::ext_for_content_type(content_type);
    if (!ext.ok()) return ext.err();
    if (bytes.empty()) return make_error(errc::invalid_argument, "cloudinary store: empty body");
    auto id = detail::name_or_random(name);
    if (!id.ok()) return id.err();
    const std::string key = folder + "/" + *id + "." + *ext;
    const std::string public_id = public_id_for(folder, *id);

    std::map<std::string, std::string> params = {
        {"overwrite", name.empty() ? "false" : "true"}, {"public_id", public_id}, {"timestamp", now_s()}};
    file_part file{bytes, *id + "." + *ext, content_type};
    auto r = signed_post("upload", params, &file);
    if (!r.ok()) return r.err();

    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return make_error(errc::corrupt,
                        "cloudinary upload: response is not JSON: " + detail::printable(r->body.substr(0, 80)));
    if (!j.contains("secure_url") || !j["secure_url"].is_string() || j["secure_url"].get<std::string>().empty())
      return make_error(errc::corrupt, "cloudinary upload: response has no secure_url");
    if (j.contains("existing") && j["existing"].is_boolean() && j["existing"].get<bool>())
      return make_error(errc::conflict, "cloudinary upload: public_id already taken: " + public_id);
    if (j.contains("public_id") && j["public_id"].is_string() && j["public_id"].get<std::string>() != public_id)
      return make_error(errc::corrupt, "cloudinary upload: stored under an unexpected public_id '" +
                                           detail::printable(j["public_id"].get<std::string>()) + "' instead of '" +
                                           public_id + "'");
    return stored{key, j["secure_url"].get<std::string>()};
  }

  base::result<std::string> get(const std::string& key) override {
    auto parts = detail::parse_key(key);
    if (!parts.ok()) return parts.err();
    auto r = perform_get(delivery_url(*parts), false);
    if (!r.ok()) return r.err();
    if (r->status == 200) return std::move(r->body);
    return status_error("cloudinary get " + key, *r, c_.api_secret, false);
  }

  base::result<void> remove(const std::string& key) override {
    auto parts = detail::parse_key(key);
    if (!parts.ok()) return parts.err();
    std::map<std::string, std::string> params = {
        {"invalidate", "true"}, {"public_id", public_id_for(parts->folder, parts->id_hex)}, {"timestamp", now_s()}};
    auto r = signed_post("destroy", params, nullptr);
    if (!r.ok()) return r.err();
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("result") || !j["result"].is_string())
      return make_error(errc::corrupt,
                        "cloudinary destroy: unexpected response: " + detail::printable(r->body.substr(0, 80)));
    const auto result = j["result"].get<std::string>();
    if (result == "ok" || result == "not found") return {};
    return make_error(errc::internal, "cloudinary destroy " + key + ": result '" + detail::printable(result) + "'");
  }

  base::result<bool> exists(const std::string& key) override {
    auto parts = detail::parse_key(key);
    if (!parts.ok()) return parts.err();
    auto r = perform_get(delivery_url(*parts), true);
    if (!r.ok()) return r.err();
    if (r->status == 200) return true;
    if (r->status == 404) return false;
    return status_error("cloudinary exists " + key, *r, c_.api_secret, false);
  }

  base::result<void> ping() override {
    auto h = new_handle(c_.api_base_url);
    if (!h.ok()) return h.err();
    curl_easy_setopt(h->get(), CURLOPT_CONNECT_ONLY, 1L);
    CURLcode rc = curl_easy_perform(h->get());
    if (rc != CURLE_OK) {
      auto e = net::error_for(rc, "cloudinary ping " + c_.api_base_url);
      if (e.code == errc::internal) e.code = errc::unavailable;
      return e;
    }
    return {};
  }

  std::string backend_name() const override { return "cloudinary"; }
  // Unsupported: the store cannot list its keys yet (blob_store.hpp).
  base::result<sweep_report> sweep_orphans(const std::set<std::string>&, int) override {
    return base::make_error(base::errc::unsupported, "sweep_orphans: the Cloudinary store cannot list its keys");
  }

 private:
  struct file_part {
    std::string_view bytes;
    std::string filename, content_type;
  };

  std::string public_id_for(const std::string& folder, const std::string& id_hex) const {
    return (c_.folder.empty() ? "" : c_.folder + "/") + folder + "/" + id_hex;
  }
  std::string delivery_url(const detail::key_parts& p) const {
    return c_.delivery_base_url + "/" + c_.cloud_name + "/image/upload/v1/" + public_id_for(p.folder, p.id_hex) + "." +
           p.ext;
  }
  static std::string now_s() { return std::to_string(static_cast<long long>(std::time(nullptr))); }

  base::result<net::curl_ptr> new_handle(const std::string& url) const {
    auto h = net::new_handle({.timeout_ms = c_.timeout_ms,
                              .connect_timeout_ms = std::min(c_.timeout_ms, 10000),
                              .user_agent = "idphoto-store/0.1"});
    if (!h.ok()) return h.err();
    curl_easy_setopt(h->get(), CURLOPT_URL, url.c_str());
    return h;
  }

  base::result<http_response> perform_get(const std::string& url, bool head_only) const {
    auto h = new_handle(url);
    if (!h.ok()) return h.err();
    if (head_only) curl_easy_setopt(h->get(), CURLOPT_NOBODY, 1L);
    return net::perform(h->get(), k_max_body_bytes, std::string(head_only ? "HEAD " : "GET ") + url);
  }

  /*
   * One signed Upload API call: the params (timestamp included) are signed with
   * cloudinary_signature, then sent as multipart/form-data together with api_key, the
   * signature and, for uploads, the file part. Any non-200 status becomes an error via
   * status_error; a 200 body is returned for the caller to parse.
   */
  base::result<http_response> signed_post(const std::string& action, const std::map<std::string, std::string>& params,
                                          const file_part* file) const {
    const std::string url = c_.api_base_url + "/v1_1/" + c_.cloud_name + "/image/" + action;
    auto h = new_handle(url);
    if (!h.ok()) return h.err();
    net::curl_mime_ptr mime(curl_mime_init(h->get()));
    if (!mime) return make_error(errc::internal, "curl_mime_init failed");
    auto add_field = [&](const std::string& name, const std::string& value) {
      curl_mimepart* part = curl_mime_addpart(mime.get());
      curl_mime_name(part, name.c_str());
      curl_mime_data(part, value.data(), value.size());
    };
    if (file) {
      curl_mimepart* part = curl_mime_addpart(mime.get());
      curl_mime_name(part, "file");
      curl_mime_data(part, file->bytes.data(), file->bytes.size());
      curl_mime_filename(part, file->filename.c_str());
      curl_mime_type(part, file->content_type.c_str());
    }
    for (const auto& [k, v] : params) add_field(k, v);
    add_field("api_key", c_.api_key);
    add_field("signature", cloudinary_signature(params, c_.api_secret));
    curl_easy_setopt(h->get(), CURLOPT_MIMEPOST, mime.get());
    // Cloudinary answers quickly; no "Expect: 100-continue" round trip for large parts.
    auto hdrs = net::header_list({"Expect:"});
    if (!hdrs.ok()) return hdrs.err();
    curl_easy_setopt(h->get(), CURLOPT_HTTPHEADER, hdrs->get());
    auto r = net::perform(h->get(), k_max_body_bytes, "cloudinary " + action + " " + url);
    if (!r.ok()) return r.err();
    if (r->status != 200) return status_error("cloudinary " + action, *r, c_.api_secret, true);
    return r;
  }

  cloudinary_config c_;
};

}  // namespace

std::string cloudinary_signature(const std::map<std::string, std::string>& params, const std::string& api_secret) {
  std::string to_sign;
  for (const auto& [k, v] : params) {  // std::map iterates in sorted key order
    if (k == "file" || k == "api_key" || k == "resource_type" || k == "cloud_name" || k == "signature") continue;
    if (!to_sign.empty()) to_sign += '&';
    to_sign += k + "=" + v;
  }
  to_sign += api_secret;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), to_sign.data(), to_sign.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &md_len) != 1)
    return {};  // only on allocation failure; an empty signature is simply refused upstream
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < md_len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

/*
 * "cloudinary://KEY:SECRET@CLOUD": split at the LAST '@' (an unencoded '@' in the secret
 * still parses), then at the FIRST ':' of the user part; each piece is percent-decoded.
 * Anything after the cloud name ('?' options, '/' path) is ignored. Errors name the missing
 * or malformed piece, never its value.
 */
base::result<cloudinary_config> cloudinary_from_url(const std::string& url) {
  auto bad = [](const std::string& why) -> base::result<cloudinary_config> {
    return make_error(errc::invalid_argument, "CLOUDINARY_URL: " + why);
  };
  const std::string scheme = "cloudinary://";
  if (url.rfind(scheme, 0) != 0) return bad("must start with cloudinary://");
  std::string_view rest(url);
  rest.remove_prefix(scheme.size());
  auto at = rest.rfind('@');
  if (at == std::string_view::npos) return bad("missing '@' and cloud name");
  std::string_view user = rest.substr(0, at), host = rest.substr(at + 1);
  host = host.substr(0, host.find_first_of("/?#"));
  auto colon = user.find(':');
  if (colon == std::string_view::npos) return bad("missing ':' and API secret");
  cloudinary_config c;
  if (!base::percent_decode(user.substr(0, colon), &c.api_key)) return bad("bad percent-encoding in API key");
  if (!base::percent_decode(user.substr(colon + 1), &c.api_secret)) return bad("bad percent-encoding in API secret");
  if (!base::percent_decode(host, &c.cloud_name)) return bad("bad percent-encoding in cloud name");
  if (c.api_key.empty()) return bad("missing API key");
  if (c.api_secret.empty()) return bad("missing API secret");
  if (c.cloud_name.empty()) return bad("missing cloud name");
  if (!valid_name(c.cloud_name)) return bad("cloud name has characters outside [A-Za-z0-9_-]");
  return c;
}

base::result<std::unique_ptr<blob_store>> make_cloudinary_store(const cloudinary_config& c) {
  auto bad = [](const std::string& why) -> base::result<std::unique_ptr<blob_store>> {
    return make_error(errc::invalid_argument, "cloudinary config: " + why);
  };
  if (c.cloud_name.empty()) return bad("cloud_name is missing");
  if (!valid_name(c.cloud_name)) return bad("cloud_name has characters outside [A-Za-z0-9_-]");
  if (c.api_key.empty()) return bad("api_key is missing");
  if (!valid_name(c.api_key)) return bad("api_key has characters outside [A-Za-z0-9_-]");
  if (c.api_secret.empty()) return bad("api_secret is missing");
  for (char ch : c.api_secret)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) return bad("api_secret contains control characters");
  if (!valid_folder_path(c.folder)) return bad("folder must be name characters [A-Za-z0-9_-] separated by single '/'");
  if (!valid_base_url(c.api_base_url)) return bad("api_base_url must be an http(s) URL");
  if (!valid_base_url(c.delivery_base_url)) return bad("delivery_base_url must be an http(s) URL");
  if (c.timeout_ms <= 0) return bad("timeout_ms must be positive");
  IDPHOTO_TRY(net::global_init());
  return std::unique_ptr<blob_store>(new cloudinary_store(c));
}

}  // namespace idphoto::store

// The S3 blob store: PUT/GET/HEAD/DELETE of objects signed with AWS Signature V4 by libcurl,
// presigned GET URLs signed here (sigv4.cpp). Also s3_from_url and s3_presigned_get_url.
//
// Object name = prefix + key ("idphoto/clean/3f9c….png"); URL of an object:
//   path style:          {scheme}://{host[:port]}/{bucket}/{object}
//   virtual-host style:  {scheme}://{bucket}.{host[:port]}/{object}
// Signing: curl 7.88's CURLOPT_AWS_SIGV4 signs the method, path, Host, x-amz-date and every
// header we set. Two things it does not do by itself in 7.88, so we do them:
//   - x-amz-content-sha256 is set by us on every request (S3 requires it; for a PUT it is the
//     body's SHA-256, which the server checks: a body changed in flight is refused, BadDigest);
//   - curl does not sort query parameters before signing; our requests carry none (object and
//     bucket URLs only), so there is nothing to sort. Presigned URLs are signed here, in order.
// Content-Type is set explicitly on PUT (so curl adds no form type of its own) and is signed.
// The secret goes to curl as the SigV4 password and into the presign HMAC only; error details
// are scrubbed of it.
#include <algorithm>
#include <ctime>
#include <memory>
#include <vector>

#include "base/percent_decode.hpp"
#include "net/curl_easy.hpp"
#include "store/blob_store.hpp"
#include "store/sigv4.hpp"
#include "store/store_key.hpp"

namespace idphoto::store {

namespace {

using base::errc;
using base::make_error;

constexpr std::size_t k_max_body_bytes = 64u << 20;  // cap on anything read back
constexpr int k_max_presign_expiry_s = 604800;       // SigV4's limit: 7 days

// ---- libcurl: everything this file asks of libcurl is in this section (one request in, one
// ---- response out), on the shared setup in net/curl_easy.hpp.

struct http_request {
  std::string method;  // PUT, GET, HEAD, DELETE
  std::string url;
  std::string_view body;  // PUT only
  std::vector<std::string> headers;
  std::string sigv4_provider;  // "aws:amz:us-east-1:s3"
  std::string user, password;  // SigV4 access key id and secret
  int timeout_ms = 30000;
};
using http_response = net::response;

// One SigV4-signed request. Transport failures are errors; any HTTP status is a response.
base::result<http_response> perform(const http_request& rq) {
  auto h = net::new_handle({.timeout_ms = rq.timeout_ms,
                            .connect_timeout_ms = std::min(rq.timeout_ms, 10000),
                            .user_agent = "idphoto-store/0.1"});
  if (!h.ok()) return h.err();
  CURL* c = h->get();
  curl_easy_setopt(c, CURLOPT_URL, rq.url.c_str());
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, rq.sigv4_provider.c_str());
  curl_easy_setopt(c, CURLOPT_USERNAME, rq.user.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, rq.password.c_str());
  if (rq.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (rq.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(rq.body.size()));
  } else if (rq.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq.method.c_str());
  }
  auto list = net::header_list(rq.headers);
  if (!list.ok()) return list.err();
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list->get());
  return net::perform(c, k_max_body_bytes, rq.method + " " + rq.url);
}

// ---- end of the libcurl section ------------------------------------------------------------

struct endpoint_parts {
  std::string scheme, host;  // host includes ":port" unless it is the scheme's default
};

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

// "http(s)://host[:port]" with nothing after (a trailing '/' allowed); false otherwise.
bool parse_endpoint(const std::string& e, endpoint_parts* out) {
  std::string rest;
  if (e.rfind("https://", 0) == 0) {
    out->scheme = "https";
    rest = e.substr(8);
  } else if (e.rfind("http://", 0) == 0) {
    out->scheme = "http";
    rest = e.substr(7);
  } else {
    return false;
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.size() > 255) return false;
  std::string host = rest, port;
  auto colon = rest.rfind(':');
  if (colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) return false;
    long p = std::stol(port);
    if (p < 1 || p > 65535) return false;
    if ((out->scheme == "https" && p == 443) || (out->scheme == "http" && p == 80)) port.clear();
  }
  if (host.empty() || host.front() == '.' || host.front() == '-' || host.back() == '.' ||
      !std::all_of(host.begin(), host.end(), host_char))
    return false;
  std::transform(host.begin(), host.end(), host.begin(), ::tolower);
  out->host = port.empty() ? host : host + ":" + port;
  return true;
}

// S3 bucket naming rules: 3..63 of [a-z0-9.-], starts and ends with a letter or digit.
bool valid_bucket(const std::string& b) {
  if (b.size() < 3 || b.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(b.front()) || !alnum(b.back())) return false;
  return std::all_of(b.begin(), b.end(), [&](char c) { return alnum(c) || c == '.' || c == '-'; });
}

// Empty, or name characters and single '/' separators ending in '/': "idphoto/", "a/b-c/".
bool valid_prefix(const std::string& p) {
  if (p.empty()) return true;
  if (p.size() > 200 || p.front() == '/' || p.back() != '/') return false;
  char prev = 0;
  for (char c : p) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == '/';
    if (!ok || (c == '/' && prev == '/') || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

bool valid_region(const std::string& r) {
  return !r.empty() && r.size() <= 64 && std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool printable_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

std::string effective_endpoint(const s3_config& c) {
  return c.endpoint.empty() ? "https://s3." + c.region + ".amazonaws.com" : c.endpoint;
}

// Every check make_s3_store makes; invalid_argument naming the field.
base::result<endpoint_parts> check_config(const s3_config& c) {
  auto bad = [](const std::string& why) -> base::result<endpoint_parts> {
    return make_error(errc::invalid_argument, "s3 config: " + why);
  };
  endpoint_parts ep;
  if (!valid_region(c.region)) return bad("region must be lowercase letters, digits and '-'");
  if (!parse_endpoint(effective_endpoint(c), &ep))
    return bad("endpoint must be http(s)://host[:port] with nothing after the port");
  if (c.bucket.empty()) return bad("bucket is missing");
  if (!valid_bucket(c.bucket)) return bad("bucket name must be 3-63 of [a-z0-9.-]");
  if (c.addressing == s3_addressing::virtual_host && ep.host.find_first_not_of("0123456789.:") == std::string::npos)
    return bad("virtual-host addressing needs a host name, not an IP address (use path style)");
  if (c.access_key_id.empty()) return bad("access key id is missing");
  if (!printable_ascii(c.access_key_id) || c.access_key_id.size() > 128)
    return bad("access key id must be printable ASCII without spaces");
  if (c.secret_access_key.empty()) return bad("secret access key is missing");
  if (!printable_ascii(c.secret_access_key) || c.secret_access_key.size() > 256)
    return bad("secret access key must be printable ASCII without spaces");
  if (!valid_prefix(c.prefix)) return bad("prefix must be like \"a/b/\" (name characters, ends in '/')");
  if (c.presign_expiry_s < 1 || c.presign_expiry_s > k_max_presign_expiry_s)
    return bad("presign expiry must be 1..604800 s");
  if (!c.public_base_url.empty()) {
    endpoint_parts pub;
    std::string base = c.public_base_url;
    auto slash = base.find('/', base.find("://") == std::string::npos ? 0 : base.find("://") + 3);
    if (!parse_endpoint(slash == std::string::npos ? base : base.substr(0, slash), &pub) ||
        base.find_first_of(" \t\r\n?#") != std::string::npos)
      return bad("public base URL must be an http(s) URL without query or fragment");
  }
  if (c.timeout_ms <= 0) return bad("timeout_ms must be positive");
  return ep;
}

std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t pos = 0; (pos = text.find(secret, pos)) != std::string::npos;)
    text.replace(pos, secret.size(), "***");
  return text;
}

// The text of <tag>…</tag> in an S3 error document, or "".
std::string xml_field(const std::string& body, const std::string& tag) {
  auto a = body.find("<" + tag + ">");
  if (a == std::string::npos) return {};
  a += tag.size() + 2;
  auto b = body.find("</" + tag + ">", a);
  if (b == std::string::npos) return {};
  return body.substr(a, std::min<std::size_t>(b - a, 200));
}

class s3_store final : public blob_store {
 public:
  s3_store(s3_config c, endpoint_parts ep) : c_(std::move(c)), ep_(std::move(ep)) {
    provider_ = "aws:amz:" + c_.region + ":s3";
    host_ = c_.addressing == s3_addressing::virtual_host ? c_.bucket + "." + ep_.host : ep_.host;
    bucket_path_ = c_.addressing == s3_addressing::virtual_host ? "" : "/" + c_.bucket;
    public_base_ = c_.public_base_url;
    while (!public_base_.empty() && public_base_.back() == '/') public_base_.pop_back();
  }

  base::result<stored> put(std::string_view bytes, const std::string& content_type, const std::string& folder,
                           const std::string& name) override {
    IDPHOTO_TRY(detail::check_folder(folder));
    auto ext = detail::ext_for_content_type(content_type);
    if (!ext.ok()) return ext.err();
    if (bytes.empty()) return make_error(errc::invalid_argument, "s3 store: empty body");
    auto id = detail::name_or_random(name);
    if (!id.ok()) return id.err();
    const std::string key = folder + "/" + *id + "." + *ext;
    auto r = request("PUT", key, bytes, {"Content-Type: " + content_type});
    if (!r.ok()) return r.err();
    if (r->status != 200) return status_error("s3 put " + key, *r, false);
    return stored{key, url_for(key, std::time(nullptr), c_.presign_expiry_s)};
  }

  base::result<std::string> get(const std::string& key) override {
    IDPHOTO_TRY(detail::parse_key(key));
    auto r = request("GET", key, {}, {});
    if (!r.ok()) return r.err();
    if (r->status == 200) return std::move(r->body);
    return status_error("s3 get " + key, *r, true);
  }

  base::result<void> remove(const std::string& key) override {
    IDPHOTO_TRY(detail::parse_key(key));
    auto r = request("DELETE", key, {}, {});
    if (!r.ok()) return r.err();
    // S3 answers 204 whether or not the object existed; some compatibles answer 404.
    if (r->status == 204 || r->status == 200 || (r->status == 404 && xml_field(r->body, "Code") != "NoSuchBucket"))
      return {};
    return status_error("s3 delete " + key, *r, false);
  }

  base::result<bool> exists(const std::string& key) override {
    IDPHOTO_TRY(detail::parse_key(key));
    auto r = request("HEAD", key, {}, {});
    if (!r.ok()) return r.err();
    if (r->status == 200) return true;
    if (r->status == 404) return false;  // HEAD has no body: a missing bucket looks the same
    return status_error("s3 exists " + key, *r, false);
  }

  base::result<void> ping() override {
    auto r = request("HEAD", "", {}, {});
    if (!r.ok()) {
      auto e = r.err();
      if (e.code == errc::internal) e.code = errc::unavailable;
      return e;
    }
    if (r->status == 200) return {};
    if (r->status == 404)
      return make_error(errc::unavailable,
                        "s3 ping: bucket '" + c_.bucket + "' not found at " + ep_.scheme + "://" + host_);
    return status_error("s3 ping", *r, false);
  }

  std::string backend_name() const override { return "s3"; }
  // Unsupported: the store cannot list its keys yet (blob_store.hpp).
  base::result<sweep_report> sweep_orphans(const std::set<std::string>&, int) override {
    return base::make_error(base::errc::unsupported, "sweep_orphans: the S3 store cannot list its keys");
  }

  // Path of an object below the host, unencoded ("/bucket/prefix/clean/x.png").
  std::string object_path(const std::string& key) const { return bucket_path_ + "/" + c_.prefix + key; }

  std::string url_for(const std::string& key, std::int64_t now_s, int expiry_s) const {
    if (!public_base_.empty()) return public_base_ + "/" + c_.prefix + key;
    detail::presign_request p;
    p.scheme = ep_.scheme;
    p.host = host_;
    p.path = object_path(key);
    p.region = c_.region;
    p.access_key_id = c_.access_key_id;
    p.secret_access_key = c_.secret_access_key;
    p.now_unix_s = now_s;
    p.expiry_s = expiry_s;
    return detail::presign_get_url(p);
  }

 private:
  // key "" = the bucket itself.
  base::result<http_response> request(const std::string& method, const std::string& key, std::string_view body,
                                      std::vector<std::string> headers) const {
    http_request rq;
    rq.method = method;
    std::string path = key.empty() ? (bucket_path_.empty() ? "/" : bucket_path_) : object_path(key);
    rq.url = ep_.scheme + "://" + host_ + detail::aws_uri_encode(path, true);
    rq.body = body;
    headers.push_back("x-amz-content-sha256: " + detail::sha256_hex(body));
    // No "Expect:" override here: curl 7.88 signs every header in the list, an empty one too,
    // but never sends an empty one, so the server's signature would differ.
    rq.headers = std::move(headers);
    rq.sigv4_provider = provider_;
    rq.user = c_.access_key_id;
    rq.password = c_.secret_access_key;
    rq.timeout_ms = c_.timeout_ms;
    auto r = perform(rq);
    if (!r.ok()) return make_error(r.err().code, scrub(r.err().detail, c_.secret_access_key));
    return r;
  }

  // Maps a non-success status to an error, naming S3's error code (e.g. SignatureDoesNotMatch).
  base::error status_error(const std::string& what, const http_response& r, bool absent_is_not_found) const {
    std::string code_name = xml_field(r.body, "Code");
    std::string detail = what + ": HTTP " + std::to_string(r.status);
    if (!code_name.empty()) detail += " " + detail::printable(code_name);
    std::string msg = xml_field(r.body, "Message");
    if (!msg.empty()) detail += ": " + detail::printable(scrub(msg, c_.secret_access_key));
    errc code = errc::internal;
    if (r.status == 401 || r.status == 403) code = errc::forbidden;
    else if (r.status == 404)
      code = (absent_is_not_found && code_name != "NoSuchBucket") ? errc::not_found : errc::internal;
    else if (r.status == 400 && (code_name == "BadDigest" || code_name == "XAmzContentSHA256Mismatch"))
      code = errc::corrupt;
    else if (r.status == 408 || r.status == 429 || r.status >= 500) code = errc::unavailable;
    else if (r.status == 413 || code_name == "EntityTooLarge") code = errc::too_large;
    return make_error(code, detail);
  }

  s3_config c_;
  endpoint_parts ep_;
  std::string provider_, host_, bucket_path_, public_base_;
};

}  // namespace

/*
 * "s3://KEY:SECRET@HOST[:PORT]/BUCKET[/PREFIX/][?k=v&…]": split the authority at the LAST '@'
 * (an unencoded '@' in the secret still parses) and the user part at its FIRST ':'; key and
 * secret are percent-decoded (an AWS secret may hold '/' and '+'; write them as %2F and %2B).
 * Query keys: region, scheme (https default), style (path default | virtual),
 * presign_expiry_s, public_base_url; an unknown key is an error (a typo must not pass
 * silently). Errors name the piece, never its value.
 */
base::result<s3_config> s3_from_url(const std::string& url) {
  auto bad = [](const std::string& why) -> base::result<s3_config> {
    return make_error(errc::invalid_argument, "IDPHOTO_S3_URL: " + why);
  };
  const std::string scheme = "s3://";
  if (url.rfind(scheme, 0) != 0) return bad("must start with s3://");
  if (url.size() > 2048) return bad("longer than 2048 characters");
  std::string_view rest(url);
  rest.remove_prefix(scheme.size());
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return bad("missing /BUCKET after the host");
  std::string_view authority = rest.substr(0, slash), path = rest.substr(slash + 1);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) return bad("missing ACCESS_KEY:SECRET@ before the host");
  std::string_view user = authority.substr(0, at), host = authority.substr(at + 1);
  auto colon = user.find(':');
  if (colon == std::string_view::npos) return bad("missing ':' and secret access key");
  s3_config c;
  if (!base::percent_decode(user.substr(0, colon), &c.access_key_id))
    return bad("bad percent-encoding in the access key id");
  if (!base::percent_decode(user.substr(colon + 1), &c.secret_access_key))
    return bad("bad percent-encoding in the secret access key");
  if (c.access_key_id.empty()) return bad("missing access key id");
  if (c.secret_access_key.empty()) return bad("missing secret access key");
  if (host.empty()) return bad("missing host");
  auto bslash = path.find('/');
  c.bucket = std::string(path.substr(0, bslash));
  if (c.bucket.empty()) return bad("missing bucket");
  if (bslash != std::string_view::npos) c.prefix = std::string(path.substr(bslash + 1));
  std::string url_scheme = "https";
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    std::string k(kv.substr(0, eq)), v;
    if (eq == std::string_view::npos || !base::percent_decode(kv.substr(eq + 1), &v))
      return bad("query parameter '" + detail::printable(k) + "' needs a (well-encoded) value");
    if (k == "region") {
      c.region = v;
    } else if (k == "scheme") {
      if (v != "http" && v != "https") return bad("scheme must be http or https");
      url_scheme = v;
    } else if (k == "style") {
      if (v == "path") c.addressing = s3_addressing::path;
      else if (v == "virtual") c.addressing = s3_addressing::virtual_host;
      else return bad("style must be path or virtual");
    } else if (k == "presign_expiry_s") {
      if (v.empty() || v.size() > 7 || !std::all_of(v.begin(), v.end(), ::isdigit))
        return bad("presign_expiry_s must be a number of seconds");
      c.presign_expiry_s = std::stoi(v);
    } else if (k == "public_base_url") {
      c.public_base_url = v;
    } else {
      return bad("unknown query parameter '" + detail::printable(k) + "'");
    }
  }
  c.endpoint = url_scheme + "://" + std::string(host);
  auto checked = check_config(c);
  if (!checked.ok()) return bad(checked.err().detail.substr(std::string("s3 config: ").size()));
  return c;
}

base::result<std::unique_ptr<blob_store>> make_s3_store(const s3_config& c) {
  auto ep = check_config(c);
  if (!ep.ok()) return ep.err();
  IDPHOTO_TRY(net::global_init());
  return std::unique_ptr<blob_store>(new s3_store(c, *ep));
}

base::result<std::string> s3_presigned_get_url(const s3_config& c, const std::string& key, std::int64_t now_unix_s,
                                               int expiry_s) {
  auto ep = check_config(c);
  if (!ep.ok()) return ep.err();
  IDPHOTO_TRY(detail::parse_key(key));
  if (expiry_s < 1 || expiry_s > k_max_presign_expiry_s)
    return make_error(errc::invalid_argument, "s3 presign: expiry must be 1..604800 s");
  s3_config no_public = c;
  no_public.public_base_url.clear();
  return s3_store(no_public, *ep).url_for(key, now_unix_s, expiry_s);
}

}  // namespace idphoto::store

// curl_easy: libcurl's global init, the easy handle every caller starts from, the capped body
// reader and CURLcode → errc (see curl_easy.hpp).
#include "net/curl_easy.hpp"

#include <cstdint>
#include <mutex>

namespace idphoto::net {

namespace {

using base::errc;
using base::make_error;

template <class T>
bool set(CURL* h, CURLoption opt, T value) {
  return curl_easy_setopt(h, opt, value) == CURLE_OK;
}

/* The write callback of capped_body. The order matters: an unwanted status is stopped before
 * the cap is looked at (a redirect's body is skipped, not "too large"); then the declared
 * length, so a large Content-Length fails on its first byte; then the bytes so far. */
size_t on_body(char* data, size_t size, size_t n, void* userdata) {
  auto* body = static_cast<capped_body*>(userdata);
  const size_t bytes = size * n;
  if (body->only_2xx) {
    long status = 0;
    curl_easy_getinfo(body->handle, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
      body->skipped = true;
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
  }
  curl_off_t declared = -1;
  curl_easy_getinfo(body->handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &declared);
  const std::size_t cap = body->max_bytes;
  if ((declared > 0 && static_cast<std::uint64_t>(declared) > cap) ||
      bytes > cap - body->out->size()) {  // out never exceeds cap, so no underflow
    body->over_cap = true;
    return 0;
  }
  body->out->append(data, bytes);
  return bytes;
}

}  // namespace

base::result<void> global_init() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) return make_error(errc::internal, std::string("curl_global_init: ") + curl_easy_strerror(rc));
  return {};
}

/* The settings every idphoto transfer shares. Redirects are the caller's (FOLLOWLOCATION off,
 * MAXREDIRS 0); only http and https, for the first request and any redirect; no proxy, neither
 * configured nor from http_proxy/https_proxy/all_proxy (a proxy would pick the address the
 * fetch policy is meant to check, and store endpoints are reached directly); NOSIGNAL because
 * transfers run on worker threads. */
base::result<curl_ptr> new_handle(const handle_options& o) {
  IDPHOTO_TRY(global_init());
  curl_ptr h(curl_easy_init());
  if (!h) return make_error(errc::internal, "curl_easy_init failed");
  CURL* c = h.get();
  bool ok = set(c, CURLOPT_NOSIGNAL, 1L) && set(c, CURLOPT_PROTOCOLS_STR, "http,https") &&
            set(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") && set(c, CURLOPT_FOLLOWLOCATION, 0L) &&
            set(c, CURLOPT_MAXREDIRS, 0L) && set(c, CURLOPT_PROXY, "") && set(c, CURLOPT_NOPROXY, "*") &&
            set(c, CURLOPT_TIMEOUT_MS, o.timeout_ms) && set(c, CURLOPT_CONNECTTIMEOUT_MS, o.connect_timeout_ms) &&
            set(c, CURLOPT_USERAGENT, o.user_agent);
  if (!ok) return make_error(errc::internal, "curl_easy_setopt refused an option (libcurl too old?)");
  return h;
}

base::result<curl_slist_ptr> header_list(const std::vector<std::string>& lines) {
  curl_slist_ptr list;
  for (const auto& line : lines) {
    curl_slist* head = curl_slist_append(list.get(), line.c_str());  // the same head, or null
    if (head == nullptr) return make_error(errc::internal, "curl_slist_append: out of memory");
    (void)list.release();
    list.reset(head);
  }
  return list;
}

void attach_body(CURL* h, capped_body* body) {
  body->handle = h;
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
}

base::errc errc_for(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return errc::timeout;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return errc::unavailable;
    default:
      return errc::internal;
  }
}

base::error error_for(CURLcode rc, const std::string& what) {
  return make_error(errc_for(rc), what + ": " + curl_easy_strerror(rc));
}

base::result<response> perform(CURL* h, std::size_t max_body_bytes, const std::string& what) {
  response r;
  capped_body body{&r.body, max_body_bytes};
  attach_body(h, &body);
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    if (body.over_cap)
      return make_error(errc::too_large, what + ": response over " + std::to_string(max_body_bytes) + " bytes");
    return error_for(rc, what);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

}  // namespace idphoto::net

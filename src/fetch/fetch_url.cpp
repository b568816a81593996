// fetch_url: download a client-given http(s) URL with libcurl, refusing private/loopback/
// link-local/metadata/reserved addresses at connect time, and following redirects by hand.
#include "fetch/fetch_url.hpp"

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fetch/address_policy.hpp"
#include "fetch/check_url.hpp"
#include "fetch/sniff_image.hpp"
#include "net/curl_easy.hpp"

namespace idphoto::fetch {

namespace {

using base::errc;
using base::make_error;

using net::curl_url_ptr;

std::mutex g_hook_mutex;
std::function<bool(const sockaddr*)> g_connect_hook;

// Everything the callbacks of one hop record; read after curl_easy_perform returns.
struct transfer_state {
  const fetch_config* config = nullptr;
  std::string body;
  // Capped at config->max_bytes; only_2xx: the body of a redirect or an error is not wanted,
  // its first byte stops the transfer (sink.skipped).
  net::capped_body sink;
  std::string location;
  std::vector<std::string> refused;  // addresses the policy refused (no socket was made)
  std::vector<std::string> hook_refused;
  std::string prereq_refused;  // connected peer refused by the second check
  std::string socket_error;

  void reset_for_hop() {
    body.clear();
    location.clear();
    sink.over_cap = sink.skipped = false;
    refused.clear();
    hook_refused.clear();
    prereq_refused.clear();
    socket_error.clear();
  }
};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

/* The guard. libcurl calls this for every socket it wants: after DNS resolution (its own or
 * getaddrinfo, numeric forms like 2130706433 or 0x7f000001 included), for every address it tries
 * (IPv6 and IPv4 happy-eyeballs attempts each come here), for every hop. Refusing here means no
 * socket exists, so not even a SYN is sent. Only TCP/IP connections are accepted (curlsocktype
 * IPCXN); anything else (an FTP active-mode accept socket, impossible with http/https) is
 * refused. */
curl_socket_t open_socket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
  auto* st = static_cast<transfer_state*>(clientp);
  const sockaddr* sa = &address->addr;
  if (purpose != CURLSOCKTYPE_IPCXN || (address->family == AF_INET && address->addrlen < sizeof(sockaddr_in)) ||
      (address->family == AF_INET6 && address->addrlen < sizeof(sockaddr_in6)) ||
      (address->family != AF_INET && address->family != AF_INET6)) {
    st->refused.push_back("<non-IP socket>");
    return CURL_SOCKET_BAD;
  }
  if (!address_allowed(sa, *st->config)) {
    st->refused.push_back(address_to_string(sa));
    return CURL_SOCKET_BAD;
  }
  std::function<bool(const sockaddr*)> hook;
  {
    std::lock_guard<std::mutex> lock(g_hook_mutex);
    hook = g_connect_hook;
  }
  if (hook && !hook(sa)) {
    st->hook_refused.push_back(address_to_string(sa));
    return CURL_SOCKET_BAD;
  }
  int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd < 0) {
    st->socket_error = std::strerror(errno);
    return CURL_SOCKET_BAD;
  }
  return fd;
}

/* Belt and braces: after a connection is up (new or reused) and before the request is sent,
 * libcurl reports the peer's address; re-apply the policy to it. With open_socket in place this
 * never fires; it would catch a path that connects without asking open_socket. */
int before_request(void* clientp, char* primary_ip, char* /*local_ip*/, int primary_port, int /*local_port*/) {
  auto* st = static_cast<transfer_state*>(clientp);
  sockaddr_in6 in6{};
  sockaddr_in in{};
  const sockaddr* sa = nullptr;
  if (primary_ip != nullptr && inet_pton(AF_INET, primary_ip, &in.sin_addr) == 1) {
    in.sin_family = AF_INET;
    in.sin_port = htons(static_cast<std::uint16_t>(primary_port));
    sa = reinterpret_cast<const sockaddr*>(&in);
  } else if (primary_ip != nullptr && inet_pton(AF_INET6, primary_ip, &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(static_cast<std::uint16_t>(primary_port));
    sa = reinterpret_cast<const sockaddr*>(&in6);
  }
  if (sa == nullptr || !address_allowed(sa, *st->config)) {
    st->prereq_refused = primary_ip ? primary_ip : "<unknown peer>";
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool header_is(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

// Keeps only the Location of the latest response (a new status line starts a new response).
size_t on_header(char* data, size_t size, size_t n, void* userdata) {
  auto* st = static_cast<transfer_state*>(userdata);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    st->location.clear();
  } else if (header_is(line, "location")) {
    st->location = std::string(trim(line.substr(9)));
  }
  return size * n;
}

template <class T>
bool set(CURL* h, CURLoption opt, T value) {
  return curl_easy_setopt(h, opt, value) == CURLE_OK;
}

/* The options common to every hop, on top of net::new_handle's (redirects are ours:
 * FOLLOWLOCATION off; only http/https; no proxy, from the environment or else: http_proxy would
 * make the proxy, not us, pick the address; no signals): no .netrc credentials; no content
 * decoding (no Accept-Encoding is sent, and a server that compresses anyway hands us bytes that
 * fail the magic check, so there is no decompression bomb); the size cap also as
 * CURLOPT_MAXFILESIZE so a large Content-Length fails early, and in the body sink while
 * streaming (net::capped_body). */
base::result<void> set_common_options(CURL* h, transfer_state& st, const fetch_config& c, char* error_buffer,
                                      curl_slist* headers) {
  bool ok = set(h, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_IGNORED)) && set(h, CURLOPT_HTTP_CONTENT_DECODING, 0L) &&
            set(h, CURLOPT_HTTPGET, 1L) && set(h, CURLOPT_SSL_VERIFYPEER, 1L) && set(h, CURLOPT_SSL_VERIFYHOST, 2L) &&
            set(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(c.max_bytes)) &&
            set(h, CURLOPT_HTTPHEADER, headers) && set(h, CURLOPT_ERRORBUFFER, error_buffer) &&
            set(h, CURLOPT_OPENSOCKETFUNCTION, &open_socket) && set(h, CURLOPT_OPENSOCKETDATA, &st) &&
            set(h, CURLOPT_PREREQFUNCTION, &before_request) && set(h, CURLOPT_PREREQDATA, &st) &&
            set(h, CURLOPT_HEADERFUNCTION, &on_header) && set(h, CURLOPT_HEADERDATA, &st);
  if (!ok) return make_error(errc::internal, "curl_easy_setopt refused an option (libcurl too old?)");
  st.sink = net::capped_body{&st.body, c.max_bytes, /*only_2xx=*/true};
  net::attach_body(h, &st.sink);
  return {};
}

// The error for a failed curl_easy_perform, from what the callbacks recorded first.
base::error transfer_error(CURLcode rc, const transfer_state& st, const std::string& url, const char* error_buffer) {
  std::string curl_text = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
  if (!st.refused.empty())
    return make_error(errc::forbidden, "refused to connect to " + join(st.refused) +
                                           " (private, loopback, link-local or reserved address) for " + url);
  if (!st.hook_refused.empty())
    return make_error(errc::forbidden, "connect hook refused " + join(st.hook_refused) + " for " + url);
  if (!st.prereq_refused.empty())
    return make_error(errc::forbidden, "connected peer " + st.prereq_refused + " refused for " + url);
  if (st.sink.over_cap || rc == CURLE_FILESIZE_EXCEEDED)
    return make_error(errc::too_large, "body over " + std::to_string(st.config->max_bytes) + " bytes from " + url);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return make_error(errc::timeout, "fetch of " + url + " timed out: " + curl_text);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return make_error(errc::invalid_argument, "bad URL " + url + ": " + curl_text);
    case CURLE_OUT_OF_MEMORY:
      return make_error(errc::internal, "libcurl out of memory");
    default:
      break;
  }
  if (!st.socket_error.empty()) return make_error(errc::unavailable, "socket(): " + st.socket_error + " for " + url);
  return make_error(errc::unavailable, "fetch of " + url + " failed: " + curl_text);
}

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

void set_connect_hook(std::function<bool(const sockaddr*)> hook) {
  std::lock_guard<std::mutex> lock(g_hook_mutex);
  g_connect_hook = std::move(hook);
}

/* The hop loop. Each hop: check the URL, give curl the parsed handle with the time left of the
 * whole budget, perform (the connect-time guard runs inside), then look at the status: 2xx ends
 * the loop, a redirect's Location is resolved against the current URL with curl's URL API and
 * goes round again (it is re-checked like the first URL; after max_redirects we stop), anything
 * else is an error. One easy handle serves all hops, so a redirect to the same host may reuse
 * the already-checked connection. */
base::result<fetched> fetch_url(const std::string& url, const fetch_config& c) {
  IDPHOTO_TRY(validate(c));
  auto first = check_url(url);
  if (!first) return first.err();

  // URL handles outlive the easy handle that points at them (CURLOPT_CURLU does not copy).
  checked_url current = std::move(*first);
  std::vector<curl_url_ptr> retired_urls;
  auto made = net::new_handle(
      {.timeout_ms = c.timeout_ms, .connect_timeout_ms = c.connect_timeout_ms, .user_agent = "idphoto-fetch/0.1"});
  if (!made) return made.err();
  net::curl_ptr handle = std::move(*made);
  auto headers = net::header_list({"Accept: image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8"});
  if (!headers) return headers.err();
  transfer_state st;
  st.config = &c;
  char error_buffer[CURL_ERROR_SIZE] = {};
  IDPHOTO_TRY(set_common_options(handle.get(), st, c, error_buffer, headers->get()));

  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::milliseconds(c.timeout_ms);
  for (int redirects = 0;; ++redirects) {
    auto left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left_ms <= 0)
      return make_error(errc::timeout,
                        "fetch of " + url + " timed out after " + std::to_string(redirects) + " redirects");
    long connect_ms = std::min<long>(static_cast<long>(left_ms), c.connect_timeout_ms);
    st.reset_for_hop();
    error_buffer[0] = '\0';
    if (!set(handle.get(), CURLOPT_CURLU, current.handle.get()) ||
        !set(handle.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(left_ms)) ||
        !set(handle.get(), CURLOPT_CONNECTTIMEOUT_MS, connect_ms))
      return make_error(errc::internal, "curl_easy_setopt failed");

    CURLcode rc = curl_easy_perform(handle.get());
    bool stopped_on_purpose = rc == CURLE_WRITE_ERROR && st.sink.skipped;
    if (rc != CURLE_OK && !stopped_on_purpose) return transfer_error(rc, st, current.text, error_buffer);

    long status = 0;
    curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      std::string type = sniff_image_type(st.body);
      if (type.empty())
        return make_error(errc::unsupported, "body of " + current.text + " (" + std::to_string(st.body.size()) +
                                                 " bytes) is not JPEG, PNG, WebP, HEIC/HEIF, AVIF or TIFF");
      return fetched{std::move(st.body), std::move(type), std::move(current.text)};
    }
    if (!is_redirect(status))
      return make_error(errc::unavailable, "HTTP " + std::to_string(status) + " from " + current.text);
    if (st.location.empty())
      return make_error(errc::unavailable, "HTTP " + std::to_string(status) + " without Location from " + current.text);
    if (redirects >= c.max_redirects)
      return make_error(errc::forbidden, "more than " + std::to_string(c.max_redirects) +
                                             " redirects (next: " + st.location + ") from " + url);
    auto next = check_url(st.location, current.handle.get());
    if (!next) return make_error(next.err().code, "redirect from " + current.text + ": " + next.err().detail);
    retired_urls.push_back(std::move(current.handle));
    current = std::move(*next);
  }
}

base::result<void> check_url_text(const std::string& url) {
  auto u = check_url(url);
  if (!u) return u.err();
  return {};
}

/* One hop, as fetch_url's first: the checked URL, the connect-time guard, the body sink with its
 * cap (a non-2xx answer's body stops the transfer at its first byte, as for fetch_url). */
base::result<long> post_json(const std::string& url, const std::string& body, const std::vector<std::string>& headers,
                             const fetch_config& c) {
  IDPHOTO_TRY(validate(c));
  auto target = check_url(url);
  if (!target) return target.err();
  auto made = net::new_handle(
      {.timeout_ms = c.timeout_ms, .connect_timeout_ms = c.connect_timeout_ms, .user_agent = "idphoto-webhook/0.1"});
  if (!made) return made.err();
  net::curl_ptr handle = std::move(*made);
  std::vector<std::string> lines = {"Content-Type: application/json", "Expect:"};
  lines.insert(lines.end(), headers.begin(), headers.end());
  auto list = net::header_list(lines);
  if (!list) return list.err();
  transfer_state st;
  st.config = &c;
  char error_buffer[CURL_ERROR_SIZE] = {};
  IDPHOTO_TRY(set_common_options(handle.get(), st, c, error_buffer, list->get()));
  if (!set(handle.get(), CURLOPT_CURLU, target->handle.get()) ||
      !set(handle.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size())) ||
      !set(handle.get(), CURLOPT_POSTFIELDS, body.data()))
    return make_error(errc::internal, "curl_easy_setopt failed");
  const CURLcode rc = curl_easy_perform(handle.get());
  const bool stopped_on_purpose = rc == CURLE_WRITE_ERROR && st.sink.skipped;
  if (rc != CURLE_OK && !stopped_on_purpose) return transfer_error(rc, st, target->text, error_buffer);
  long status = 0;
  curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status < 100) return make_error(errc::unavailable, "no HTTP answer from " + target->text);
  return status;
}

}  // namespace idphoto::fetch

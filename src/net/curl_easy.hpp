// curl_easy: the one place idphoto sets up libcurl — global init once, a handle with the
// settings every caller wants, a body reader with a byte cap, and CURLcode → errc. Used by
// fetch (client URLs, under its address policy) and store (Cloudinary, S3). Callers add their
// own options (URL checks, connect hooks, SigV4, MIME) on the handle this returns.
#pragma once
#include <curl/curl.h>

#include <cstddef>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_handle.hpp"

namespace idphoto::net {

using curl_ptr = base::unique_handle<CURL, curl_easy_cleanup>;
using curl_slist_ptr = base::unique_handle<curl_slist, curl_slist_free_all>;
using curl_mime_ptr = base::unique_handle<curl_mime, curl_mime_free>;
using curl_url_ptr = base::unique_handle<CURLU, curl_url_cleanup>;
using curl_string_ptr = base::unique_handle<char, curl_free>;

// curl_global_init(CURL_GLOBAL_DEFAULT) once per process; errc::internal if it failed.
base::result<void> global_init();

struct handle_options {
  long timeout_ms = 30000;  // whole transfer
  long connect_timeout_ms = 10000;
  const char* user_agent = "idphoto";
  // Always: http,https only (also for redirects); redirects never followed by curl (callers
  // that follow do it by hand); no signals (threads); no proxy, from the environment or else.
};

// A fresh easy handle with the options above set; calls global_init() first. errc::internal
// when init fails or libcurl refuses one of the options (too old).
base::result<curl_ptr> new_handle(const handle_options& options);

// The request header list of these lines (null for none); errc::internal when out of memory.
base::result<curl_slist_ptr> header_list(const std::vector<std::string>& lines);

/* Collects a response body, refusing to grow past max_bytes. Attach with attach_body(); after
 * curl_easy_perform, over_cap tells a CURLE_WRITE_ERROR caused by the cap from any other.
 * The cap is applied while streaming: a declared Content-Length over it stops the transfer
 * before the first byte is kept, a body without one stops as soon as it would pass it.
 * With only_2xx, the body of any other status (a redirect, an error page) is not wanted: its
 * first byte stops the transfer (CURLE_WRITE_ERROR) with skipped set. */
struct capped_body {
  std::string* out = nullptr;
  std::size_t max_bytes = 0;
  bool only_2xx = false;
  bool over_cap = false;
  bool skipped = false;
  CURL* handle = nullptr;  // set by attach_body
};
// Sets CURLOPT_WRITEFUNCTION / CURLOPT_WRITEDATA; body must outlive the transfer.
void attach_body(CURL* h, capped_body* body);

// CURLcode → errc: timeouts → timeout; resolve/connect/send/recv/TLS/HTTP2 → unavailable;
// anything else → internal.
base::errc errc_for(CURLcode rc);

// make_error(errc_for(rc), what + ": " + curl_easy_strerror(rc)).
base::error error_for(CURLcode rc, const std::string& what);

struct response {
  long status = 0;
  std::string body;
};

// curl_easy_perform with the body collected (at most max_body_bytes) and the HTTP status.
// too_large "<what>: response over N bytes" past the cap, else error_for(rc, what). Any HTTP
// status is a response, not an error.
base::result<response> perform(CURL* h, std::size_t max_body_bytes, const std::string& what);

}  // namespace idphoto::net

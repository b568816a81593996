// curl_easy: the one place idphoto sets up libcurl — global init once, a handle with the
// settings every caller wants, a body reader with a byte cap, and CURLcode → errc. Used by
// fetch (client URLs, under its address policy) and store (Cloudinary, S3). Callers add their
// own options (URL checks, connect hooks, SigV4, MIME) on the handle this returns.
#pragma once
#include <curl/curl.h>

#include <cstddef>
#include <string>

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
  long timeout_ms = 30000;         // whole transfer
  long connect_timeout_ms = 10000;
  const char* user_agent = "idphoto";
  // http,https only; redirects never followed by curl (callers that follow do it by hand);
  // no signals (threads); no proxy from the environment.
};

// A fresh easy handle with the options above set; calls global_init() first.
base::result<curl_ptr> new_handle(const handle_options& options);

// Collects a response body, refusing to grow past max_bytes. Attach with attach_body(); after
// curl_easy_perform, over_cap tells a CURLE_WRITE_ERROR caused by the cap from any other.
struct capped_body {
  std::string* out = nullptr;
  std::size_t max_bytes = 0;
  bool over_cap = false;
};
void attach_body(CURL* h, capped_body* body);

// CURLcode → errc: timeouts → timeout; resolve/connect/send/recv/TLS/HTTP2 → unavailable;
// anything else → internal.
base::errc errc_for(CURLcode rc);

// make_error(errc_for(rc), what + ": " + curl_easy_strerror(rc)).
base::error error_for(CURLcode rc, const std::string& what);

}  // namespace idphoto::net

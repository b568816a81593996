// Internal to idphoto_fetch (and its fuzz target): the URL checks fetch_url applies to the URL
// it is given and to every redirect target, before any connection is made.
#pragma once
#include <string>

#include <curl/curl.h>

#include "base/result.hpp"
#include "net/curl_easy.hpp"

namespace idphoto::fetch {

// One checked URL: the parsed handle libcurl will use and its normalised text.
struct checked_url {
  net::curl_url_ptr handle;
  std::string text;
};

/* Bounded length (8192 bytes, before and after resolution), no control characters, spaces or
 * backslashes, a plainly spelled authority ("scheme://host", never "http:/x" or "http:///x"),
 * parsed by curl's own URL parser (the one the transfer uses), http or https only, a host, no
 * user, password or login options. With base_url, text is a reference resolved against it
 * (RFC 3986; a redirect's Location). invalid_argument naming the failed check; internal when
 * curl cannot allocate. */
base::result<checked_url> check_url(const std::string& text, CURLU* base_url = nullptr);

}  // namespace idphoto::fetch

// Security headers: nosniff and no-referrer everywhere, the page's CSP without scheme-wide
// sources, and header values that cannot split a response.
#include "server/security_headers.hpp"

namespace idphoto::server {

namespace {

// "scheme://host[:port]" of an absolute http(s) URL; "" otherwise.
std::string origin_of(const std::string& url) {
  const auto sep = url.find("://");
  if (sep == std::string::npos || (url.compare(0, sep, "http") != 0 && url.compare(0, sep, "https") != 0)) return "";
  const std::string origin = url.substr(0, url.find_first_of("/?#", sep + 3));
  return origin.find_first_of(" ;,'\"") == std::string::npos ? origin : "";
}

}  // namespace

header_map security_headers() { return {{"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"}}; }

/* Scripts, styles and requests to this origin only; images also from where the store serves
 * photos (the public URL, or Cloudinary's delivery host) — so an injected script could neither
 * load code nor send the token in localStorage elsewhere. */
std::string page_csp(const app::app_config& c) {
  std::string img = "'self' data: blob:";
  const std::string store = origin_of(c.cloudinary ? c.cloudinary->delivery_base_url : c.effective_public_url());
  if (!store.empty()) img += " " + store;
  return "default-src 'self'; img-src " + img +
         "; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
}

std::string header_safe(std::string v) {
  for (char& c : v)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return v;
}

}  // namespace idphoto::server

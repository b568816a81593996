// check_url (check_url.hpp): the checks every URL fetch_url is given, or redirected to, passes
// before any connection.
#include "fetch/check_url.hpp"

#include <cctype>
#include <optional>
#include <string_view>
#include <utility>

namespace idphoto::fetch {

namespace {

using base::errc;
using base::make_error;

constexpr std::size_t k_max_url_bytes = 8192;

std::optional<std::string> url_part(CURLU* u, CURLUPart part) {
  char* out = nullptr;
  if (curl_url_get(u, part, &out, 0) != CURLUE_OK || out == nullptr) return std::nullopt;
  net::curl_string_ptr owned(out);
  return std::string(owned.get());
}

/* The authority must be spelled plainly: "scheme://host…" or "//host…" with exactly two
 * slashes. curl 7.88 reads "http:///x" as host "x" and "http:/x" likewise; we refuse both
 * rather than guess (a guessed host is a DNS lookup nobody asked for). A reference without a
 * scheme and without "//" (a relative Location like "/a" or "a") is left to the resolver. */
bool authority_spelled_plainly(std::string_view text) {
  std::size_t i = 0;
  bool has_scheme = false;
  if (!text.empty() && std::isalpha(static_cast<unsigned char>(text[0]))) {
    while (i < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '+' || text[i] == '-' || text[i] == '.'))
      ++i;
    has_scheme = i < text.size() && text[i] == ':';
  }
  std::string_view rest = has_scheme ? text.substr(i + 1) : text;
  if (rest.substr(0, 2) != "//") return !has_scheme;  // "/path" or "path" is fine, "http:x" is not
  return rest.size() > 2 && rest[2] != '/';
}

}  // namespace

/* The checks every URL passes before any connection, the first one and each redirect target:
 * bounded length, no control characters, spaces or backslashes (no header/request smuggling,
 * no NUL truncation, no "\\" read as "/" by some other parser), a plainly spelled authority,
 * parsed by curl's own URL parser (the same one the transfer uses, so there is no parser
 * differential), http or https only, a host, and no user, password or login options. */
base::result<checked_url> check_url(const std::string& text, CURLU* base_url) {
  if (text.empty()) return make_error(errc::invalid_argument, "empty URL");
  if (text.size() > k_max_url_bytes)
    return make_error(errc::invalid_argument,
                      "URL of " + std::to_string(text.size()) + " bytes (max " + std::to_string(k_max_url_bytes) + ")");
  for (unsigned char ch : text)
    if (ch <= 0x20 || ch == 0x7f || ch == '\\')
      return make_error(errc::invalid_argument, "URL contains a space, control character or backslash");
  if (!authority_spelled_plainly(text))
    return make_error(errc::invalid_argument, "URL authority is not of the form scheme://host");
  net::curl_url_ptr u(base_url ? curl_url_dup(base_url) : curl_url());
  if (!u) return make_error(errc::internal, "curl_url: out of memory");
  // With a base, a relative reference (a Location header) is resolved against it (RFC 3986).
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0);
  if (rc != CURLUE_OK)
    return make_error(errc::invalid_argument, std::string("malformed URL: ") + curl_url_strerror(rc));
  auto scheme = url_part(u.get(), CURLUPART_SCHEME);
  if (!scheme || (*scheme != "http" && *scheme != "https"))
    return make_error(errc::invalid_argument, "scheme '" + scheme.value_or("") + "' is not allowed (http, https only)");
  if (url_part(u.get(), CURLUPART_USER) || url_part(u.get(), CURLUPART_PASSWORD) ||
      url_part(u.get(), CURLUPART_OPTIONS))
    return make_error(errc::invalid_argument, "credentials in URL are not allowed");
  auto host = url_part(u.get(), CURLUPART_HOST);
  if (!host || host->empty()) return make_error(errc::invalid_argument, "URL has no host");
  auto full = url_part(u.get(), CURLUPART_URL);
  if (!full) return make_error(errc::invalid_argument, "URL cannot be normalised");
  if (full->size() > k_max_url_bytes) return make_error(errc::invalid_argument, "URL too long after resolution");
  return checked_url{std::move(u), std::move(*full)};
}

}  // namespace idphoto::fetch

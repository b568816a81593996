// Fetch a photo from a URL the client gave (libcurl), refusing every address a server
// must not be steered to: checked after DNS resolution, at connect time, on every redirect.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "base/env.hpp"
#include "base/result.hpp"

struct sockaddr;

namespace idphoto::fetch {

struct fetch_config {
  std::size_t max_bytes = 15u << 20;  // IDPHOTO_FETCH_MAX_BYTES; body cap, checked while streaming
  int timeout_ms = 15000;             // IDPHOTO_FETCH_TIMEOUT_MS; whole fetch, redirects included
  int connect_timeout_ms = 5000;      // IDPHOTO_FETCH_CONNECT_TIMEOUT_MS; per connection
  int max_redirects = 3;              // IDPHOTO_FETCH_MAX_REDIRECTS; each target re-checked
  // IDPHOTO_FETCH_ALLOW: comma-separated IPs or CIDRs allowed even though private/loopback
  // (for tests and private networks). Empty by default.
  std::vector<std::string> allow;
};

// IDPHOTO_FETCH_MAX_BYTES (bytes), IDPHOTO_FETCH_TIMEOUT_MS, IDPHOTO_FETCH_CONNECT_TIMEOUT_MS
// (durations), IDPHOTO_FETCH_MAX_REDIRECTS, IDPHOTO_FETCH_ALLOW (list), each with its one range.
const std::vector<base::env_key>& env_keys();
// Overrides the fields of *c whose keys are set; appends one error per bad key to *errors
// (the allow entries are checked by validate, not here).
void load_env(const base::env_lookup& env, fetch_config* c, std::vector<std::string>* errors);

// load_env on the defaults, then validate. invalid_argument: a set key that is not a number in
// its range / not a list of IPs or CIDRs (names the key or the entry).
base::result<fetch_config> fetch_config_from_env(const base::env_lookup& env = base::process_env);

// invalid_argument listing every bad field: non-positive size or timeouts, max_redirects outside
// 0..20, an allow entry that is not an IP or CIDR.
base::result<void> validate(const fetch_config& c);

struct fetched {
  std::string bytes;
  std::string content_type;  // from the magic bytes (image/jpeg, image/png, …), never the header
  std::string final_url;
};

// invalid_argument: not http/https, malformed URL, credentials in URL;
// forbidden: a refused address (names which one) — no packet is sent to it;
// too_large: over max_bytes; timeout; unavailable: DNS failure, connection refused, HTTP ≥ 400;
// unsupported: the body is not an image format we read (by magic bytes);
// forbidden also: more than max_redirects redirects.
// An HTTP 404 is unavailable like every other status >= 400 (the detail names the status).
base::result<fetched> fetch_url(const std::string& url, const fetch_config& c);

// A URL fetch_url or post_json would accept (http/https, no credentials, plainly spelled, bounded
// length): invalid_argument naming the failed check. The address is checked only at connect.
base::result<void> check_url_text(const std::string& url);

/* POSTs body (Content-Type: application/json, plus extra header lines) to url under the same
 * address policy as fetch_url, checked at connect. No redirect is followed (a 3xx is the
 * answer); the response body is read up to max_bytes and dropped. The HTTP status, or
 * fetch_url's errors for the transfer (invalid_argument, forbidden, timeout, unavailable: no
 * connection or no answer). Used for webhooks (app/webhook.hpp). */
base::result<long> post_json(const std::string& url, const std::string& body, const std::vector<std::string>& headers,
                             const fetch_config& c);

// True when addr may be connected to under c.allow (the policy fetch_url applies).
bool address_allowed(const sockaddr* addr, const fetch_config& c);

// Test hook: called for every socket fetch_url is about to connect, after the policy check
// passed; returning false aborts that connection. Tests use it to count and to fail on any
// non-loopback attempt. nullptr (default) = no hook.
void set_connect_hook(std::function<bool(const sockaddr*)> hook);

}  // namespace idphoto::fetch

// Headers that protect clients: the ones on every answer, the web page's Content-Security-Policy,
// and header values made safe to send.
#pragma once
#include "server/http_message.hpp"

#include <string>

#include "app/config.hpp"

namespace idphoto::server {

// Sent with every answer: X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer.
header_map security_headers();
// The page's Content-Security-Policy for config's store (where photos are served from).
std::string page_csp(const app::app_config& config);
// A header value: printable ASCII only (anything else becomes '?'), so no CR/LF can split it.
std::string header_safe(std::string v);

}  // namespace idphoto::server

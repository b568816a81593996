// JSON Web Tokens, HS256 only (RFC 7519 / 7515): sign for `idphoto token`, verify for the
// API. Any other "alg" — none, HS384, RS256, … — is refused, so a token cannot pick its check.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"

namespace idphoto::server {

struct jwt_claims {
  std::string sub;             // who (an operator name)
  int64_t exp = 0;             // expiry, seconds since the epoch (required)
  std::optional<int64_t> nbf;  // not before, seconds since the epoch
  std::optional<int64_t> iat;  // issued at
};

constexpr std::size_t k_max_token_bytes = 8192;

// A compact JWS "header.payload.signature" with {"alg":"HS256","typ":"JWT"}.
// invalid_argument when the secret is empty.
base::result<std::string> jwt_sign_hs256(const jwt_claims& c, const std::string& secret);

/* Checks, in this order: size (≤ k_max_token_bytes), three base64url segments, header JSON
 * with alg exactly "HS256" (typ "JWT" when present, no "crit"), the HMAC-SHA256 signature
 * (constant-time compare), payload JSON, exp present and > now - leeway, nbf ≤ now + leeway.
 * forbidden with a detail naming the failed check (for the log, never for the client). */
base::result<jwt_claims> jwt_verify_hs256(const std::string& token, const std::string& secret, int64_t now_s,
                                          int64_t leeway_s = 0);

// Base64url without padding (RFC 4648 §5), as JWS uses it.
std::string base64url_encode(const std::string& bytes);
// nullopt on any character outside the alphabet, on padding, or on an impossible length.
std::optional<std::string> base64url_decode(const std::string& text);

}  // namespace idphoto::server

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
  // "scope" (RFC 8693 §4.2): space-separated names from k_scope_names, as signed; nullopt = no
  // scope claim, which grants everything (tokens made before scopes existed keep working).
  std::optional<std::string> scope;
  // "org": the tenant; the token sees only cards whose organization is exactly this.
  // nullopt = every card. 1..k_max_org_bytes bytes.
  std::optional<std::string> org;
};

constexpr std::size_t k_max_token_bytes = 8192;
constexpr std::size_t k_max_org_bytes = 200;  // a card's organization is at most this long (db::max_field_bytes)

// What a scope grants, as bits. cards:write includes cards:read (every write answers with the
// card, so a write-only token would read anyway); admin includes both.
enum scope_bit : unsigned { scope_cards_read = 1u, scope_cards_write = 2u, scope_admin = 4u };
constexpr unsigned k_all_scopes = scope_cards_read | scope_cards_write | scope_admin;
// The names, in the order of the bits: "cards:read", "cards:write", "admin".
inline constexpr const char* k_scope_names[] = {"cards:read", "cards:write", "admin"};

// The grant of a scope claim: names separated by one or more spaces (leading and trailing
// spaces ignored, a name twice is fine). invalid_argument naming the fault when it holds no
// name or a name not in k_scope_names (names are case-sensitive).
base::result<unsigned> parse_scope(const std::string& scope);
// invalid_argument unless org is 1..k_max_org_bytes bytes without control characters (a value
// a card's organization can hold).
base::result<void> check_org(const std::string& org);
// The grant of verified claims: k_all_scopes without a scope claim, else parse_scope's
// (0 when it would not parse; jwt_verify_hs256 refuses those).
unsigned granted_scopes(const jwt_claims& c);

// A compact JWS "header.payload.signature" with {"alg":"HS256","typ":"JWT"}.
// invalid_argument when the secret is empty.
base::result<std::string> jwt_sign_hs256(const jwt_claims& c, const std::string& secret);

/* Checks, in this order: size (≤ k_max_token_bytes), three base64url segments, header JSON
 * with alg exactly "HS256" (typ "JWT" when present, no "crit"), the HMAC-SHA256 signature
 * (constant-time compare), payload JSON, exp present and > now - leeway, nbf ≤ now + leeway,
 * scope (when present) a string parse_scope takes, org (when present) a string of
 * 1..k_max_org_bytes bytes. forbidden with a detail naming the failed check (for the log, never for the client). */
base::result<jwt_claims> jwt_verify_hs256(const std::string& token, const std::string& secret, int64_t now_s,
                                          int64_t leeway_s = 0);

// Base64url without padding (RFC 4648 §5), as JWS uses it.
std::string base64url_encode(const std::string& bytes);
// nullopt on any character outside the alphabet, on padding, or on an impossible length.
std::optional<std::string> base64url_decode(const std::string& text);

}  // namespace idphoto::server

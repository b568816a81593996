// HS256 JSON Web Tokens with OpenSSL's HMAC and a constant-time comparison.
#include "server/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>

#include "server/strict_json.hpp"

namespace idphoto::server {

using base::errc;
using json = nlohmann::json;

namespace {

const char* k_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

base::error refuse(const std::string& why) { return base::make_error(errc::forbidden, "token refused: " + why); }

std::optional<std::string> hmac_sha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out, &n))
    return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out), n);
}

// An integer NumericDate (RFC 7519 §2); fractional seconds are truncated.
std::optional<int64_t> numeric_date(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!(d > -9.2e18 && d < 9.2e18)) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

}  // namespace

base::result<unsigned> parse_scope(const std::string& scope) {
  unsigned bits = 0;
  bool any = false;
  size_t i = 0;
  while (i < scope.size()) {
    if (scope[i] == ' ') {
      ++i;
      continue;
    }
    const size_t end = std::min(scope.find(' ', i), scope.size());
    const std::string name = scope.substr(i, end - i);
    bool known = false;
    for (unsigned b = 0; b < std::size(k_scope_names); ++b) {
      if (name != k_scope_names[b]) continue;
      bits |= 1u << b;
      known = true;
    }
    if (!known) return base::make_error(errc::invalid_argument, "unknown scope \"" + name.substr(0, 40) + "\"");
    any = true;
    i = end;
  }
  if (!any) return base::make_error(errc::invalid_argument, "scope names no scope");
  if (bits & scope_admin) bits |= k_all_scopes;
  if (bits & scope_cards_write) bits |= scope_cards_read;
  return bits;
}

base::result<void> check_org(const std::string& org) {
  if (org.empty() || org.size() > k_max_org_bytes)
    return base::make_error(errc::invalid_argument, "org must be 1.." + std::to_string(k_max_org_bytes) + " bytes");
  if (std::any_of(org.begin(), org.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; }))
    return base::make_error(errc::invalid_argument, "org contains control characters");
  return {};
}

unsigned granted_scopes(const jwt_claims& c) {
  if (!c.scope) return k_all_scopes;
  auto s = parse_scope(*c.scope);
  return s.ok() ? *s : 0u;
}

std::string base64url_encode(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto* b = reinterpret_cast<const unsigned char*>(in.data());
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out += k_alphabet[(v >> 18) & 63];
    out += k_alphabet[(v >> 12) & 63];
    out += k_alphabet[(v >> 6) & 63];
    out += k_alphabet[v & 63];
  }
  if (in.size() - i == 1) {
    const uint32_t v = b[i] << 16;
    out += k_alphabet[(v >> 18) & 63];
    out += k_alphabet[(v >> 12) & 63];
  } else if (in.size() - i == 2) {
    const uint32_t v = (b[i] << 16) | (b[i + 1] << 8);
    out += k_alphabet[(v >> 18) & 63];
    out += k_alphabet[(v >> 12) & 63];
    out += k_alphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(const std::string& text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : text) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '-') v = 62;
    else if (ch == '_') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical trailing bits
  return out;
}

base::result<std::string> jwt_sign_hs256(const jwt_claims& c, const std::string& secret) {
  if (secret.empty()) return base::make_error(errc::invalid_argument, "empty JWT secret");
  json payload = {{"exp", c.exp}};
  if (!c.sub.empty()) payload["sub"] = c.sub;
  if (c.nbf) payload["nbf"] = *c.nbf;
  if (c.iat) payload["iat"] = *c.iat;
  if (c.scope) payload["scope"] = *c.scope;
  if (c.org) payload["org"] = *c.org;
  const std::string signing_input =
      base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(payload.dump());
  auto mac = hmac_sha256(secret, signing_input);
  if (!mac) return base::make_error(errc::internal, "HMAC-SHA256 failed");
  return signing_input + "." + base64url_encode(*mac);
}

base::result<jwt_claims> jwt_verify_hs256(const std::string& token, const std::string& secret, int64_t now_s,
                                          int64_t leeway_s) {
  if (secret.empty()) return refuse("no secret configured");
  if (token.size() > k_max_token_bytes) return refuse("longer than " + std::to_string(k_max_token_bytes) + " bytes");
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string::npos ? std::string::npos : token.find('.', d1 + 1);
  if (d1 == std::string::npos || d2 == std::string::npos || token.find('.', d2 + 1) != std::string::npos)
    return refuse("not three dot-separated segments");
  const std::string h64 = token.substr(0, d1), p64 = token.substr(d1 + 1, d2 - d1 - 1), s64 = token.substr(d2 + 1);
  if (h64.empty() || p64.empty() || s64.empty()) return refuse("an empty segment");

  auto header_text = base64url_decode(h64);
  if (!header_text) return refuse("header is not base64url");
  const auto header_doc = parse_strict_json(*header_text);  // a name twice: refused (RFC 7515 §5.2)
  if (!header_doc || !header_doc->is_object()) return refuse("header is not a JSON object with unique member names");
  const json& header = *header_doc;
  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get<std::string>() != "HS256") return refuse("alg is not HS256");
  if (const auto typ = header.find("typ");
      typ != header.end() && (!typ->is_string() || (*typ != "JWT" && *typ != "jwt")))
    return refuse("typ is not JWT");
  if (header.contains("crit")) return refuse("crit header extensions are not supported");

  auto sig = base64url_decode(s64);
  if (!sig) return refuse("signature is not base64url");
  auto mac = hmac_sha256(secret, token.substr(0, d2));
  if (!mac) return base::make_error(errc::internal, "HMAC-SHA256 failed");
  if (sig->size() != mac->size() || CRYPTO_memcmp(sig->data(), mac->data(), mac->size()) != 0)
    return refuse("bad signature");

  auto payload_text = base64url_decode(p64);
  if (!payload_text) return refuse("payload is not base64url");
  const auto payload_doc = parse_strict_json(*payload_text);  // {"exp":1,"exp":<future>}: refused
  if (!payload_doc || !payload_doc->is_object()) return refuse("payload is not a JSON object with unique member names");
  const json& payload = *payload_doc;
  jwt_claims c;
  const auto exp = payload.find("exp");
  if (exp == payload.end()) return refuse("no exp claim");
  auto e = numeric_date(*exp);
  if (!e) return refuse("exp is not a number");
  c.exp = *e;
  if (now_s - leeway_s >= c.exp) return refuse("expired");
  if (const auto nbf = payload.find("nbf"); nbf != payload.end()) {
    auto n = numeric_date(*nbf);
    if (!n) return refuse("nbf is not a number");
    if (*n > now_s + leeway_s) return refuse("not valid yet (nbf)");
    c.nbf = *n;
  }
  if (const auto iat = payload.find("iat"); iat != payload.end()) {
    if (auto i = numeric_date(*iat)) c.iat = *i;
  }
  if (const auto sub = payload.find("sub"); sub != payload.end() && sub->is_string()) c.sub = sub->get<std::string>();
  // A claim that narrows access and does not parse is refused, never ignored: ignoring it
  // would widen the token to full access.
  if (const auto scope = payload.find("scope"); scope != payload.end()) {
    if (!scope->is_string()) return refuse("scope is not a string (space-separated names)");
    c.scope = scope->get<std::string>();
    if (auto s = parse_scope(*c.scope); !s.ok()) return refuse("scope: " + s.err().detail);
  }
  if (const auto org = payload.find("org"); org != payload.end()) {
    if (!org->is_string()) return refuse("org is not a string");
    c.org = org->get<std::string>();
    if (auto o = check_org(*c.org); !o.ok()) return refuse(o.err().detail);
  }
  return c;
}

}  // namespace idphoto::server

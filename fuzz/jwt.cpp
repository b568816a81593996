// Fuzz target jwt: bearer tokens as the API checks them (jwt_verify_hs256, fixed secret and
// clock) and base64url_decode. The first byte picks what the rest is:
//   even: the token itself (and, separately, base64url text to decode);
//   odd:  "header JSON\npayload JSON", made into a token signed with the secret here, so the
//         payload checks after the signature (exp, nbf, iat, sub, duplicates) are reached too.
// Invariants: base64url decode then encode gives the text back; a token that verifies has an
// exp after now - leeway and an nbf before now + leeway; sign then verify keeps the claims.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <string>

#include "fuzz_target.hpp"
#include "server/jwt.hpp"

namespace {

const std::string k_secret = "fuzz-secret-0123456789abcdef";
constexpr int64_t k_now = 1'800'000'000;
constexpr int64_t k_leeway = 30;

std::string signed_token(const std::string& header, const std::string& payload) {
  using idphoto::server::base64url_encode;
  const std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  FUZZ_CHECK(HMAC(EVP_sha256(), k_secret.data(), static_cast<int>(k_secret.size()),
                  reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n) != nullptr);
  return input + "." + base64url_encode(std::string(reinterpret_cast<const char*>(mac), n));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace idphoto::server;
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string token = rest;
  if (data[0] % 2 == 0) {
    if (auto decoded = base64url_decode(rest)) FUZZ_CHECK(base64url_encode(*decoded) == rest);
  } else {
    const auto nl = rest.find('\n');
    token = signed_token(rest.substr(0, nl), nl == std::string::npos ? std::string() : rest.substr(nl + 1));
  }

  auto claims = jwt_verify_hs256(token, k_secret, k_now, k_leeway);
  if (!claims.ok()) {
    FUZZ_CHECK(claims.err().code == idphoto::base::errc::forbidden);
    return 0;
  }
  FUZZ_CHECK(k_now - k_leeway < claims->exp);
  FUZZ_CHECK(!claims->nbf || *claims->nbf <= k_now + k_leeway);

  auto again = jwt_sign_hs256(*claims, k_secret);
  FUZZ_CHECK(again.ok());
  auto back = jwt_verify_hs256(*again, k_secret, k_now, k_leeway);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->sub == claims->sub && back->exp == claims->exp && back->nbf == claims->nbf &&
             back->iat == claims->iat);
  return 0;
}

// JWT HS256: round trip and every way a token must be refused.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "server/jwt.hpp"

using namespace idphoto::server;

namespace {
const std::string k_secret = "0123456789abcdef0123456789abcdef";
const int64_t k_now = 1'800'000'000;

std::string b64(const std::string& s) { return base64url_encode(s); }
std::string hs(const EVP_MD* md, const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}
// A token with any header and payload, signed with HMAC-SHA256 (or another digest).
std::string forge(const std::string& header, const std::string& payload, const std::string& secret = k_secret,
                  const EVP_MD* md = EVP_sha256()) {
  const std::string in = b64(header) + "." + b64(payload);
  return in + "." + b64(hs(md, secret, in));
}
std::string valid_payload() { return R"({"sub":"ops","exp":)" + std::to_string(k_now + 3600) + "}"; }
void expect_refused(const std::string& token, const char* why) {
  auto r = jwt_verify_hs256(token, k_secret, k_now);
  ASSERT_FALSE(r.ok()) << why;
  EXPECT_EQ(r.err().code, idphoto::base::errc::forbidden) << why;
}
}  // namespace

TEST(jwt, round_trip) {
  jwt_claims c;
  c.sub = "alice";
  c.exp = k_now + 60;
  c.iat = k_now;
  auto t = jwt_sign_hs256(c, k_secret);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(std::count(t->begin(), t->end(), '.'), 2);
  auto v = jwt_verify_hs256(*t, k_secret, k_now);
  ASSERT_TRUE(v.ok()) << v.err().detail;
  EXPECT_EQ(v->sub, "alice");
  EXPECT_EQ(v->exp, k_now + 60);
  ASSERT_TRUE(v->iat.has_value());
  EXPECT_EQ(*v->iat, k_now);
  // A token made by another implementation (same bytes as jwt.io would produce) verifies too.
  EXPECT_TRUE(jwt_verify_hs256(forge(R"({"typ":"JWT","alg":"HS256"})", valid_payload()), k_secret, k_now).ok());
}

TEST(jwt, tampered_payload) {
  auto t = forge(R"({"alg":"HS256","typ":"JWT"})", valid_payload());
  const auto d1 = t.find('.'), d2 = t.rfind('.');
  const std::string other = b64(R"({"sub":"root","exp":)" + std::to_string(k_now + 3600) + "}");
  expect_refused(t.substr(0, d1 + 1) + other + t.substr(d2), "payload swapped, signature kept");
  std::string flipped = t;
  flipped[d1 + 3] = flipped[d1 + 3] == 'A' ? 'B' : 'A';
  expect_refused(flipped, "one payload character changed");
  std::string sig = t;
  sig.back() = sig.back() == 'A' ? 'Q' : 'A';
  expect_refused(sig, "signature changed");
}

TEST(jwt, wrong_secret) {
  expect_refused(forge(R"({"alg":"HS256"})", valid_payload(), "another-secret-another-secret-xx"),
                 "signed with another key");
}

TEST(jwt, alg_none_and_others_refused) {
  const std::string p = b64(valid_payload());
  expect_refused(b64(R"({"alg":"none","typ":"JWT"})") + "." + p + ".", "alg none, empty signature");
  expect_refused(b64(R"({"alg":"none"})") + "." + p + "." + b64("x"), "alg none with a signature");
  expect_refused(forge(R"({"alg":"HS384"})", valid_payload(), k_secret, EVP_sha384()), "HS384 correctly signed");
  expect_refused(forge(R"({"alg":"HS512"})", valid_payload(), k_secret, EVP_sha512()), "HS512 correctly signed");
  expect_refused(forge(R"({"alg":"RS256"})", valid_payload()), "RS256 header over an HMAC signature");
  expect_refused(forge(R"({"alg":"hs256"})", valid_payload()), "case matters");
  expect_refused(forge(R"({"typ":"JWT"})", valid_payload()), "no alg");
  expect_refused(forge(R"({"alg":["HS256"]})", valid_payload()), "alg not a string");
  expect_refused(forge(R"({"alg":"HS256","crit":["b64"]})", valid_payload()), "crit extension");
}

TEST(jwt, a_member_twice_is_refused) {
  // Last-wins would read exp as the future one, alg as HS256 after none.
  expect_refused(forge(R"({"alg":"HS256"})", R"({"exp":1,"exp":)" + std::to_string(k_now + 3600) + "}"), "exp twice");
  expect_refused(forge(R"({"alg":"none","alg":"HS256"})", valid_payload()), "alg twice");
  expect_refused(
      forge(R"({"alg":"HS256"})", R"({"sub":"a","x":{"k":1,"k":2},"exp":)" + std::to_string(k_now + 3600) + "}"),
      "a nested member twice");
  EXPECT_TRUE(jwt_verify_hs256(forge(R"({"alg":"HS256"})", R"({"sub":"a","x":{"k":1},"y":{"k":2},"exp":)" +
                                                               std::to_string(k_now + 3600) + "}"),
                               k_secret, k_now)
                  .ok())
      << "the same name in two objects is fine";
}

TEST(jwt, exp_required_and_checked) {
  expect_refused(forge(R"({"alg":"HS256"})", R"({"sub":"ops"})"), "no exp");
  expect_refused(forge(R"({"alg":"HS256"})", R"({"sub":"ops","exp":"tomorrow"})"), "exp a string");
  expect_refused(forge(R"({"alg":"HS256"})", R"({"exp":)" + std::to_string(k_now - 1) + "}"), "expired a second ago");
  expect_refused(forge(R"({"alg":"HS256"})", R"({"exp":)" + std::to_string(k_now) + "}"), "expires exactly now");
  EXPECT_TRUE(jwt_verify_hs256(forge(R"({"alg":"HS256"})", R"({"exp":)" + std::to_string(k_now - 10) + "}"), k_secret,
                               k_now, 30)
                  .ok())
      << "within the leeway";
  EXPECT_TRUE(jwt_verify_hs256(forge(R"({"alg":"HS256"})", R"({"exp":9223372036854775807})"), k_secret, k_now, 30).ok())
      << "far future";
  expect_refused(forge(R"({"alg":"HS256"})", R"({"exp":1e300})"), "exp out of range");
}

TEST(jwt, nbf_in_future_refused) {
  expect_refused(forge(R"({"alg":"HS256"})",
                       R"({"exp":)" + std::to_string(k_now + 3600) + R"(,"nbf":)" + std::to_string(k_now + 600) + "}"),
                 "nbf in ten minutes");
  EXPECT_TRUE(jwt_verify_hs256(forge(R"({"alg":"HS256"})", R"({"exp":)" + std::to_string(k_now + 3600) + R"(,"nbf":)" +
                                                               std::to_string(k_now - 5) + "}"),
                               k_secret, k_now)
                  .ok());
}

TEST(jwt, malformed_base64_and_json) {
  auto t = forge(R"({"alg":"HS256"})", valid_payload());
  const auto d1 = t.find('.');
  expect_refused("*" + t.substr(1), "header not base64url");
  expect_refused(t.substr(0, d1 + 1) + "%%%" + t.substr(t.rfind('.')), "payload not base64url");
  expect_refused(t.substr(0, t.rfind('.') + 1) + "a+b/", "signature in base64, not base64url");
  expect_refused(t + "=", "padding");
  expect_refused(forge("not json", valid_payload()), "header not JSON");
  expect_refused(forge(R"({"alg":"HS256"})", "[1,2]"), "payload not an object");
  expect_refused(forge(R"({"alg":"HS256"})", "{\"exp\":"), "payload truncated JSON");
  EXPECT_FALSE(base64url_decode("A").has_value()) << "impossible length";
  EXPECT_FALSE(base64url_decode("AB").has_value() && base64url_decode("AB")->size() != 1);
  EXPECT_EQ(base64url_decode(base64url_encode(std::string("\x00\xff\x10", 3))).value(), std::string("\x00\xff\x10", 3));
}

TEST(jwt, segment_count) {
  auto t = forge(R"({"alg":"HS256"})", valid_payload());
  expect_refused(t.substr(0, t.rfind('.')), "two segments");
  expect_refused(t + ".xyz", "four segments");
  expect_refused("", "empty");
  expect_refused("..", "three empty segments");
  expect_refused("Bearer " + t, "prefix left in");
}

TEST(jwt, huge_token_refused) {
  std::string big_payload =
      R"({"exp":)" + std::to_string(k_now + 3600) + R"(,"pad":")" + std::string(100 * 1024, 'a') + "\"}";
  expect_refused(forge(R"({"alg":"HS256"})", big_payload), "100 KB token");
}

TEST(jwt, empty_secret) {
  jwt_claims c;
  c.exp = k_now + 1;
  EXPECT_FALSE(jwt_sign_hs256(c, "").ok());
  auto t = jwt_sign_hs256(c, k_secret);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(jwt_verify_hs256(*t, "", k_now).ok());
}

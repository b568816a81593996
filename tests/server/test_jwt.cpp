// JWT HS256: round trip and every way a token must be refused.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <vector>

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

namespace {
// The payload of valid_payload() with extra members ("…" is the JSON after the comma).
std::string with(const std::string& members) {
  return R"({"sub":"ops","exp":)" + std::to_string(k_now + 3600) + "," + members + "}";
}
idphoto::base::result<jwt_claims> verify_with(const std::string& members) {
  return jwt_verify_hs256(forge(R"({"alg":"HS256"})", with(members)), k_secret, k_now);
}
}  // namespace

TEST(jwt, scope_names_and_what_they_grant) {
  struct good {
    const char* scope;
    unsigned grant;
  };
  const unsigned rw = scope_cards_read | scope_cards_write;
  for (const good& g : std::vector<good>{{"cards:read", scope_cards_read},
                                         {"cards:write", rw},
                                         {"admin", k_all_scopes},
                                         {"cards:read cards:write", rw},
                                         {"  cards:read   admin ", k_all_scopes},
                                         {"cards:read cards:read", scope_cards_read}}) {
    auto v = verify_with(std::string(R"("scope":")") + g.scope + "\"");
    ASSERT_TRUE(v.ok()) << g.scope << ": " << v.err().detail;
    ASSERT_TRUE(v->scope.has_value()) << g.scope;
    EXPECT_EQ(*v->scope, g.scope);
    EXPECT_EQ(granted_scopes(*v), g.grant) << g.scope;
  }
  auto none = jwt_verify_hs256(forge(R"({"alg":"HS256"})", valid_payload()), k_secret, k_now);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->scope.has_value());
  EXPECT_FALSE(none->org.has_value());
  EXPECT_EQ(granted_scopes(*none), k_all_scopes) << "no scope claim: everything (compatibility)";
}

TEST(jwt, scope_claims_that_do_not_parse_are_refused) {
  for (const char* members : {
           R"("scope":["cards:read"])",                // an array (some issuers' "scp" style)
           R"("scope":[])",                            //
           R"("scope":7)",                             // a number
           R"("scope":true)",                          //
           R"("scope":null)",                          //
           R"("scope":{"cards:read":true})",           // an object
           R"("scope":"")",                            // names no scope
           R"("scope":"   ")",                         //
           R"("scope":"cards:delete")",                // unknown
           R"("scope":"cards:read cards:delete")",     // one unknown among known ones
           R"("scope":"Cards:Read")",                  // case-sensitive
           R"("scope":"cards:read,cards:write")",      // commas are not separators
           R"("scope":"cards:read\tcards:write")",     // nor tabs
           R"("scope":"admin\u0000")",                 // a NUL inside the name
           R"("scope":"admin","scope":"cards:read")",  // twice (strict JSON)
       })
    expect_refused(forge(R"({"alg":"HS256"})", with(members)), members);
  std::string long_unknown = R"("scope":")" + std::string(5000, 'x') + "\"";
  auto v = verify_with(long_unknown);
  ASSERT_FALSE(v.ok());
  EXPECT_LT(v.err().detail.size(), 200u) << "the log detail quotes at most a short piece of the name";
}

TEST(jwt, org_claim) {
  auto v = verify_with(R"("org":"Analytical Engines")");
  ASSERT_TRUE(v.ok()) << v.err().detail;
  ASSERT_TRUE(v->org.has_value());
  EXPECT_EQ(*v->org, "Analytical Engines");
  EXPECT_EQ(granted_scopes(*v), k_all_scopes) << "org does not narrow the scope";
  EXPECT_TRUE(verify_with("\"org\":\"" + std::string(k_max_org_bytes, 'o') + "\"").ok()) << "the longest org";
  EXPECT_TRUE(verify_with(R"("org":"Zürich AG")").ok()) << "UTF-8";
  for (const std::string& members :
       {std::string(R"("org":7)"), std::string(R"("org":["a"])"), std::string(R"("org":null)"),
        std::string(R"("org":{"name":"a"})"), std::string(R"("org":true)"), std::string(R"("org":"")"),
        std::string(R"("org":"a\nb")"), std::string(R"("org":"a\u0000")"), std::string(R"("org":"a","org":"b")"),
        "\"org\":\"" + std::string(k_max_org_bytes + 1, 'o') + "\""})
    expect_refused(forge(R"({"alg":"HS256"})", with(members)), members.c_str());
}

TEST(jwt, scope_and_org_round_trip) {
  jwt_claims c;
  c.sub = "reader";
  c.exp = k_now + 60;
  c.scope = "cards:read";
  c.org = "A \"quoted\" org";
  auto t = jwt_sign_hs256(c, k_secret);
  ASSERT_TRUE(t.ok());
  auto v = jwt_verify_hs256(*t, k_secret, k_now);
  ASSERT_TRUE(v.ok()) << v.err().detail;
  EXPECT_EQ(v->scope, c.scope);
  EXPECT_EQ(v->org, c.org);
  EXPECT_EQ(granted_scopes(*v), unsigned{scope_cards_read});
  // Without them the payload names neither (an older server reads the token the same way).
  jwt_claims plain;
  plain.exp = k_now + 60;
  auto p = jwt_sign_hs256(plain, k_secret);
  ASSERT_TRUE(p.ok());
  const auto d1 = p->find('.'), d2 = p->rfind('.');
  const auto payload = base64url_decode(p->substr(d1 + 1, d2 - d1 - 1));
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(payload->find("scope"), std::string::npos) << *payload;
  EXPECT_EQ(payload->find("org"), std::string::npos) << *payload;
}

TEST(jwt, parse_scope_and_check_org) {
  EXPECT_EQ(parse_scope("cards:write").value(), unsigned{scope_cards_read | scope_cards_write});
  EXPECT_FALSE(parse_scope("").ok());
  EXPECT_FALSE(parse_scope("read").ok());
  EXPECT_EQ(parse_scope("nope").err().code, idphoto::base::errc::invalid_argument);
  EXPECT_TRUE(check_org("A").ok());
  EXPECT_FALSE(check_org("").ok());
  EXPECT_FALSE(check_org("a\x7f").ok());
  EXPECT_FALSE(check_org(std::string(k_max_org_bytes + 1, 'a')).ok());
  jwt_claims bad;
  bad.scope = "nonsense";
  EXPECT_EQ(granted_scopes(bad), 0u) << "an unparsable scope grants nothing";
}

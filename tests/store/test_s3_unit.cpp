// S3 specifics that need no server: SigV4 presigning against AWS's published example, URI
// encoding, IDPHOTO_S3_URL parsing, config checks, and presigned URLs for hostile keys.
#include <gtest/gtest.h>

#include "store/blob_store.hpp"
#include "store/sigv4.hpp"

namespace idphoto::store::test {
namespace {

using base::errc;

s3_config good_config() {
  s3_config c;
  c.endpoint = "http://127.0.0.1:9000";
  c.bucket = "photos";
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = "very-secret-value";
  return c;
}

// AWS S3 documentation, "Authenticating Requests: Using Query Parameters", the example
// presigned URL for GET /test.txt of examplebucket, signed 2013-05-24T00:00:00Z for 86400 s.
TEST(store_s3_sigv4, presigned_url_matches_the_aws_documented_example) {
  detail::presign_request r;
  r.scheme = "https";
  r.host = "examplebucket.s3.amazonaws.com";
  r.path = "/test.txt";
  r.region = "us-east-1";
  r.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  r.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  r.now_unix_s = 1369353600;  // 2013-05-24T00:00:00Z
  r.expiry_s = 86400;
  EXPECT_EQ(detail::presign_get_url(r),
            "https://examplebucket.s3.amazonaws.com/test.txt"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(store_s3_sigv4, a_different_secret_time_or_path_changes_the_signature) {
  detail::presign_request r;
  r.host = "h";
  r.path = "/b/k";
  r.access_key_id = "A";
  r.secret_access_key = "S";
  r.now_unix_s = 1700000000;
  const std::string base = detail::presign_get_url(r);
  auto changed = [&](auto mutate) {
    detail::presign_request m = r;
    mutate(m);
    return detail::presign_get_url(m);
  };
  EXPECT_NE(base, changed([](auto& m) { m.secret_access_key = "T"; }));
  EXPECT_NE(base, changed([](auto& m) { m.now_unix_s += 1; }));
  EXPECT_NE(base, changed([](auto& m) { m.path = "/b/l"; }));
  EXPECT_NE(base, changed([](auto& m) { m.region = "eu-west-1"; }));
  EXPECT_EQ(base, detail::presign_get_url(r));
  EXPECT_EQ(base.find("S&"), std::string::npos) << "the secret must not appear in the URL";
}

TEST(store_s3_sigv4, uri_encoding_and_hashes) {
  EXPECT_EQ(detail::aws_uri_encode("a-Z_0.~/x y+%", true), "a-Z_0.~/x%20y%2B%25");
  EXPECT_EQ(detail::aws_uri_encode("a/b", false), "a%2Fb");
  EXPECT_EQ(detail::aws_uri_encode("\xc3\xa9", true), "%C3%A9");
  EXPECT_EQ(detail::aws_uri_encode("", true), "");
  EXPECT_EQ(detail::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(detail::sha256_hex(std::string("\0", 1)),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(detail::amz_date(0), "19700101T000000Z");
}

// ---- IDPHOTO_S3_URL -------------------------------------------------------------------------

TEST(store_s3_from_url, parses_every_part) {
  auto c = s3_from_url(
      "s3://test%3Atester:se%2Fcr%2Bet@127.0.0.1:8080/idphoto-test/cards/v1/"
      "?scheme=http&region=eu-west-1&style=path&presign_expiry_s=600");
  ASSERT_TRUE(c.ok()) << c.err().to_string();
  EXPECT_EQ(c->access_key_id, "test:tester");
  EXPECT_EQ(c->secret_access_key, "se/cr+et");
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:8080");
  EXPECT_EQ(c->bucket, "idphoto-test");
  EXPECT_EQ(c->prefix, "cards/v1/");
  EXPECT_EQ(c->region, "eu-west-1");
  EXPECT_EQ(c->addressing, s3_addressing::path);
  EXPECT_EQ(c->presign_expiry_s, 600);
  EXPECT_TRUE(c->public_base_url.empty());
}

TEST(store_s3_from_url, defaults_and_virtual_style_and_at_in_secret) {
  auto c = s3_from_url(
      "s3://AKID:a@b@s3.eu-west-1.amazonaws.com/my.photos?style=virtual"
      "&region=eu-west-1&public_base_url=https%3A%2F%2Fcdn.example%2Fp");
  ASSERT_TRUE(c.ok()) << c.err().to_string();
  EXPECT_EQ(c->secret_access_key, "a@b");
  EXPECT_EQ(c->endpoint, "https://s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(c->addressing, s3_addressing::virtual_host);
  EXPECT_EQ(c->presign_expiry_s, 3600);
  EXPECT_EQ(c->public_base_url, "https://cdn.example/p");
  EXPECT_EQ(c->prefix, "");
}

TEST(store_s3_from_url, errors_name_the_problem_and_never_the_secret) {
  const std::string secret = "TOPSECRETVALUE";
  struct bad_case {
    std::string url, must_mention;
  };
  const bad_case cases[] = {
      {"", "s3://"},
      {"http://k:" + secret + "@h/b", "s3://"},
      {"s3://k:" + secret + "@h", "BUCKET"},
      {"s3://k" + secret + "@h/b", "secret"},
      {"s3://:" + secret + "@h/b", "access key"},
      {"s3://k:@h/b", "secret"},
      {"s3://k:" + secret + "@/b", "host"},
      {"s3://k:" + secret + "@h/", "bucket"},
      {"s3://k:" + secret + "@h/B_ad", "bucket"},
      {"s3://k:" + secret + "@h/ab", "bucket"},
      {"s3://k:" + secret + "@h/bucket?scheme=ftp", "scheme"},
      {"s3://k:" + secret + "@h/bucket?style=dots", "style"},
      {"s3://k:" + secret + "@h/bucket?presign_expiry_s=604801", "expiry"},
      {"s3://k:" + secret + "@h/bucket?presign_expiry_s=0", "expiry"},
      {"s3://k:" + secret + "@h/bucket?presign_expiry_s=-5", "presign_expiry_s"},
      {"s3://k:" + secret + "@h/bucket?regoin=x", "regoin"},
      {"s3://k:" + secret + "@h/bucket?region", "region"},
      {"s3://k:" + secret + "@h/bucket?region=EU_West", "region"},
      {"s3://k:%zz" + secret + "@h/bucket", "percent"},
      {"s3://k:" + secret + "%00@h/bucket", "percent"},
      {"s3://k:" + secret + "@h:99999/bucket", "endpoint"},
      {"s3://k:" + secret + "@h:/bucket", "endpoint"},
      {"s3://k:" + secret + "@h$x/bucket", "endpoint"},
      {"s3://k:" + secret + "@h/bucket/noslash", "prefix"},
      {"s3://k:" + secret + "@h/bucket/a//b/", "prefix"},
      {"s3://k:" + secret + "@h/bucket/../", "prefix"},
      {"s3://k:" + secret + "@127.0.0.1/bucket?style=virtual", "IP address"},
      {"s3://k:" + secret + "@h/bucket?public_base_url=ftp%3A%2F%2Fx", "public base URL"},
      {"s3://k:" + secret + "@h/bucket?" + std::string(3000, 'a'), "2048"},
  };
  for (const auto& bc : cases) {
    auto c = s3_from_url(bc.url);
    ASSERT_FALSE(c.ok()) << bc.url;
    EXPECT_EQ(c.err().code, errc::invalid_argument) << bc.url;
    EXPECT_NE(c.err().detail.find(bc.must_mention), std::string::npos) << bc.url << " → " << c.err().detail;
    EXPECT_EQ(c.err().detail.find(secret), std::string::npos) << c.err().detail;
  }
}

// ---- make_s3_store / presign ----------------------------------------------------------------

TEST(store_s3_config, make_refuses_bad_fields_naming_them) {
  struct bad_case {
    void (*mutate)(s3_config&);
    const char* must_mention;
  };
  const bad_case cases[] = {
      {[](s3_config& c) { c.bucket.clear(); }, "bucket"},
      {[](s3_config& c) { c.bucket = "-bad"; }, "bucket"},
      {[](s3_config& c) { c.bucket = std::string(64, 'a'); }, "bucket"},
      {[](s3_config& c) { c.access_key_id.clear(); }, "access key"},
      {[](s3_config& c) { c.access_key_id = "has space"; }, "access key"},
      {[](s3_config& c) { c.secret_access_key.clear(); }, "secret"},
      {[](s3_config& c) { c.secret_access_key = "line\nbreak"; }, "secret"},
      {[](s3_config& c) { c.endpoint = "127.0.0.1:9000"; }, "endpoint"},
      {[](s3_config& c) { c.endpoint = "http://h/path"; }, "endpoint"},
      {[](s3_config& c) { c.endpoint = "http://user@h"; }, "endpoint"},
      {[](s3_config& c) { c.endpoint = "http://h?x"; }, "endpoint"},
      {[](s3_config& c) { c.region.clear(); }, "region"},
      {[](s3_config& c) { c.region = "us east"; }, "region"},
      {[](s3_config& c) { c.prefix = "/abs/"; }, "prefix"},
      {[](s3_config& c) { c.prefix = "a\n/"; }, "prefix"},
      {[](s3_config& c) { c.presign_expiry_s = 0; }, "expiry"},
      {[](s3_config& c) { c.presign_expiry_s = 604801; }, "expiry"},
      {[](s3_config& c) { c.public_base_url = "javascript:x"; }, "public base URL"},
      {[](s3_config& c) { c.timeout_ms = 0; }, "timeout"},
      {[](s3_config& c) { c.addressing = s3_addressing::virtual_host; }, "IP address"},
  };
  for (const auto& bc : cases) {
    s3_config c = good_config();
    bc.mutate(c);
    auto s = make_s3_store(c);
    ASSERT_FALSE(s.ok()) << bc.must_mention;
    EXPECT_EQ(s.err().code, errc::invalid_argument);
    EXPECT_NE(s.err().detail.find(bc.must_mention), std::string::npos) << s.err().detail;
    EXPECT_EQ(s.err().detail.find("very-secret-value"), std::string::npos);
  }
  auto ok = make_s3_store(good_config());
  ASSERT_TRUE(ok.ok()) << ok.err().to_string();
  EXPECT_EQ((*ok)->backend_name(), "s3");
  s3_config aws = good_config();
  aws.endpoint.clear();  // AWS's regional endpoint
  aws.addressing = s3_addressing::virtual_host;
  EXPECT_TRUE(make_s3_store(aws).ok());
}

TEST(store_s3_config, presigned_urls_for_both_styles_and_bad_input) {
  const std::string key = "clean/0123456789abcdef0123456789abcdef.png";
  s3_config c = good_config();
  auto path = s3_presigned_get_url(c, key, 1700000000, 60);
  ASSERT_TRUE(path.ok()) << path.err().to_string();
  EXPECT_EQ(path->rfind("http://127.0.0.1:9000/photos/" + key + "?X-Amz-Algorithm=", 0), 0u) << *path;
  EXPECT_NE(path->find("X-Amz-Expires=60&"), std::string::npos);

  c.endpoint = "https://s3.example.com:443";
  c.addressing = s3_addressing::virtual_host;
  c.prefix = "p/q/";
  auto vh = s3_presigned_get_url(c, key, 1700000000, 60);
  ASSERT_TRUE(vh.ok()) << vh.err().to_string();
  EXPECT_EQ(vh->rfind("https://photos.s3.example.com/p/q/" + key + "?", 0), 0u) << *vh;

  for (const char* bad :
       {"", "../x", "clean/../../etc/passwd", "clean/0123.png", "clean/0123456789abcdef0123456789abcdef.png?x=1"}) {
    auto r = s3_presigned_get_url(c, bad, 1700000000, 60);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
  }
  for (int expiry : {0, -1, 604801}) {
    auto r = s3_presigned_get_url(c, key, 1700000000, expiry);
    ASSERT_FALSE(r.ok()) << expiry;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
  }
}

}  // namespace
}  // namespace idphoto::store::test

// S3 specifics against a real S3 implementation (OpenStack Swift's s3api, started by the CTest
// fixture on loopback): signatures are verified by the server (wrong secret, changed payload),
// presigned URLs work and expire, the bucket is private, both addressing styles, prefixes,
// public base URLs, a missing bucket, an unreachable endpoint.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <ctime>
#include <memory>

#include "store/blob_store.hpp"
#include "store/sigv4.hpp"
#include "store/swift_server.hpp"

namespace idphoto::store::test {
namespace {

using base::errc;

struct curl_deleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct slist_deleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct raw_response {
  long status = 0;
  std::string body;
  CURLcode rc = CURLE_OK;
};

size_t append_cb(char* d, size_t s, size_t n, void* u) {
  static_cast<std::string*>(u)->append(d, s * n);
  return s * n;
}

// A plain request, no credentials unless sigv4 is given (then signed by curl with our hash header).
raw_response raw(const std::string& method, const std::string& url, const std::string& body = "",
                 const std::string& sigv4 = "", const std::string& user = "", const std::string& pass = "",
                 const std::string& payload_hash = "") {
  raw_response r;
  std::unique_ptr<CURL, curl_deleter> h(curl_easy_init());
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, &append_cb);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &r.body);
  std::unique_ptr<curl_slist, slist_deleter> hdrs;
  if (method == "PUT") {
    curl_easy_setopt(h.get(), CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    hdrs.reset(curl_slist_append(hdrs.release(), "Content-Type: image/png"));
  }
  if (!sigv4.empty()) {
    curl_easy_setopt(h.get(), CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(h.get(), CURLOPT_USERNAME, user.c_str());
    curl_easy_setopt(h.get(), CURLOPT_PASSWORD, pass.c_str());
    hdrs.reset(curl_slist_append(hdrs.release(), ("x-amz-content-sha256: " + payload_hash).c_str()));
  }
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, hdrs.get());
  r.rc = curl_easy_perform(h.get());
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

class store_s3 : public ::testing::Test {
 protected:
  void SetUp() override {
    swift_ = find_swift_server();
    ASSERT_EQ(swift_.error, "");
  }
  std::unique_ptr<blob_store> make(const s3_config& c) {
    auto s = make_s3_store(c);
    EXPECT_TRUE(s.ok()) << s.err().to_string();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::string object_url(const std::string& key) const { return swift_.endpoint + "/" + swift_.bucket + "/" + key; }
  swift_server swift_;
};

TEST_F(store_s3, wrong_secret_is_refused_by_the_server_as_forbidden) {
  s3_config c = config_for(swift_);
  c.secret_access_key = "not-the-secret";
  auto s = make(c);
  ASSERT_TRUE(s);
  auto put = s->put("bytes", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::forbidden) << put.err().to_string();
  EXPECT_NE(put.err().detail.find("SignatureDoesNotMatch"), std::string::npos) << put.err().detail;
  EXPECT_EQ(put.err().detail.find("not-the-secret"), std::string::npos);
  auto got = s->get("raw/0123456789abcdef0123456789abcdef.png");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.err().code, errc::forbidden);
  auto ex = s->exists("raw/0123456789abcdef0123456789abcdef.png");
  ASSERT_FALSE(ex.ok());
  EXPECT_EQ(ex.err().code, errc::forbidden);
  auto p = s->ping();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.err().code, errc::forbidden);
}

TEST_F(store_s3, unknown_access_key_is_forbidden) {
  s3_config c = config_for(swift_);
  c.access_key_id = "nobody:none";
  auto s = make(c);
  ASSERT_TRUE(s);
  auto put = s->put("bytes", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::forbidden) << put.err().to_string();
}

// The server, not only our client, checks the payload: the same signed PUT with a hash that is
// not the body's is refused (BadDigest), and with the right hash accepted.
TEST_F(store_s3, server_verifies_the_payload_hash) {
  const std::string provider = "aws:amz:" + swift_.region + ":s3";
  const std::string url = object_url("raw/ffffffffffffffffffffffffffffffff.png");
  auto wrong =
      raw("PUT", url, "hello", provider, swift_.access_key, swift_.secret_key, detail::sha256_hex("something else"));
  ASSERT_EQ(wrong.rc, CURLE_OK);
  EXPECT_EQ(wrong.status, 400) << wrong.body;
  EXPECT_NE(wrong.body.find("<Code>BadDigest</Code>"), std::string::npos) << wrong.body;
  auto right = raw("PUT", url, "hello", provider, swift_.access_key, swift_.secret_key, detail::sha256_hex("hello"));
  EXPECT_EQ(right.status, 200) << right.body;
  auto s = make(config_for(swift_));
  ASSERT_TRUE(s);
  auto got = s->get("raw/ffffffffffffffffffffffffffffffff.png");
  ASSERT_TRUE(got.ok()) << got.err().to_string();
  EXPECT_EQ(*got, "hello");
  EXPECT_TRUE(s->remove("raw/ffffffffffffffffffffffffffffffff.png").ok());
}

TEST_F(store_s3, bucket_is_private_and_presigned_urls_read_until_they_expire) {
  auto s = make(config_for(swift_));
  ASSERT_TRUE(s);
  auto put = s->put("face bytes", "image/jpeg", "clean");
  ASSERT_TRUE(put.ok()) << put.err().to_string();

  // Unsigned, the S3 path is not served (Swift hands it to its native API, which answers 400
  // for a path without /v1/), and the native path of the same object asks for a token (401).
  auto anon = raw("GET", object_url(put->key));
  EXPECT_GE(anon.status, 400) << anon.body;
  EXPECT_EQ(anon.body.find("face bytes"), std::string::npos);
  auto native = raw("GET", swift_.endpoint + "/v1/AUTH_test/" + swift_.bucket + "/" + put->key);
  EXPECT_EQ(native.status, 401) << native.body;
  EXPECT_EQ(native.body.find("face bytes"), std::string::npos);

  auto signed_get = raw("GET", put->url);
  EXPECT_EQ(signed_get.status, 200) << signed_get.body;
  EXPECT_EQ(signed_get.body, "face bytes");

  std::string tampered = put->url;
  char& last = tampered.back();
  last = last == '0' ? '1' : '0';
  auto t = raw("GET", tampered);
  EXPECT_EQ(t.status, 403) << t.body;
  EXPECT_NE(t.body.find("SignatureDoesNotMatch"), std::string::npos) << t.body;

  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto expired = s3_presigned_get_url(config_for(swift_), put->key, now - 7200, 60);
  ASSERT_TRUE(expired.ok());
  auto e = raw("GET", *expired);
  EXPECT_EQ(e.status, 403) << e.body;
  EXPECT_EQ(e.body.find("face bytes"), std::string::npos);

  auto fresh = s3_presigned_get_url(config_for(swift_), put->key, now, 120);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(raw("GET", *fresh).body, "face bytes");

  s3_config wrong = config_for(swift_);
  wrong.secret_access_key = "guess";
  auto forged = s3_presigned_get_url(wrong, put->key, now, 120);
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(raw("GET", *forged).status, 403);
  EXPECT_TRUE(s->remove(put->key).ok());
}

TEST_F(store_s3, virtual_host_style_round_trip) {
  s3_config c = config_for(swift_);
  c.endpoint = swift_.virtual_host_endpoint;
  c.addressing = s3_addressing::virtual_host;
  auto s = make(c);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->ping().ok());
  auto put = s->put("vhost", "image/webp", "card");
  ASSERT_TRUE(put.ok()) << put.err().to_string();
  EXPECT_EQ(put->url.rfind("http://" + swift_.bucket + ".localhost:", 0), 0u) << put->url;
  auto got = s->get(put->key);
  ASSERT_TRUE(got.ok()) << got.err().to_string();
  EXPECT_EQ(*got, "vhost");
  EXPECT_EQ(raw("GET", put->url).body, "vhost");
  // the same object through the path-style store: one bucket, two spellings
  auto path_store = make(config_for(swift_));
  ASSERT_TRUE(path_store);
  auto again = path_store->get(put->key);
  ASSERT_TRUE(again.ok()) << again.err().to_string();
  EXPECT_EQ(*again, "vhost");
  ASSERT_TRUE(s->remove(put->key).ok());
  auto ex = path_store->exists(put->key);
  ASSERT_TRUE(ex.ok());
  EXPECT_FALSE(*ex);
}

TEST_F(store_s3, prefix_places_objects_below_it) {
  s3_config c = config_for(swift_);
  c.prefix = "tenant-a/v1/";
  auto s = make(c);
  ASSERT_TRUE(s);
  auto put = s->put("prefixed", "image/png", "raw");
  ASSERT_TRUE(put.ok()) << put.err().to_string();
  EXPECT_EQ(put->url.rfind(object_url("tenant-a/v1/" + put->key) + "?", 0), 0u) << put->url;
  EXPECT_EQ(raw("GET", put->url).body, "prefixed");
  auto plain = make(config_for(swift_));
  ASSERT_TRUE(plain);
  auto ex = plain->exists(put->key);
  ASSERT_TRUE(ex.ok());
  EXPECT_FALSE(*ex) << "without the prefix the key names another object";
  auto got = s->get(put->key);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "prefixed");
  EXPECT_TRUE(s->remove(put->key).ok());
}

TEST_F(store_s3, public_base_url_replaces_presigning) {
  s3_config c = config_for(swift_);
  c.public_base_url = "https://cdn.example.org/photos/";
  auto s = make(c);
  ASSERT_TRUE(s);
  auto put = s->put("pub", "image/png", "clean");
  ASSERT_TRUE(put.ok()) << put.err().to_string();
  EXPECT_EQ(put->url, "https://cdn.example.org/photos/" + put->key);
  EXPECT_TRUE(s->remove(put->key).ok());
}

TEST_F(store_s3, missing_bucket_is_reported) {
  s3_config c = config_for(swift_);
  c.bucket = "no-such-bucket-here";
  auto s = make(c);
  ASSERT_TRUE(s);
  auto p = s->ping();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.err().code, errc::unavailable);
  EXPECT_NE(p.err().detail.find("no-such-bucket-here"), std::string::npos) << p.err().detail;
  auto put = s->put("x", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::internal) << put.err().to_string();
  EXPECT_NE(put.err().detail.find("NoSuchBucket"), std::string::npos) << put.err().detail;
  auto got = s->get("raw/0123456789abcdef0123456789abcdef.png");
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.err().code, errc::not_found) << "a missing bucket is not a missing object";
}

TEST_F(store_s3, unreachable_endpoint_is_unavailable) {
  s3_config c = config_for(swift_);
  c.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  c.timeout_ms = 3000;
  auto s = make(c);
  ASSERT_TRUE(s);
  auto put = s->put("x", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::unavailable) << put.err().to_string();
  auto p = s->ping();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.err().code, errc::unavailable);
  auto got = s->get("raw/0123456789abcdef0123456789abcdef.png");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.err().code, errc::unavailable);
}

}  // namespace
}  // namespace idphoto::store::test

// Cloudinary specifics: CLOUDINARY_URL parsing, the documented signature, config checks, and
// how failures of the service (refusals, outages, slowness, garbage) come back as errors.
// The service is the local stand-in (cloudinary_standin.hpp), never the real Cloudinary.
#include <gtest/gtest.h>
#include <httplib.h>

#include <ctime>

#include "store/blob_store.hpp"
#include "store/cloudinary_standin.hpp"
#include "store/store_test_util.hpp"

namespace idphoto::store::test {
namespace {

using base::errc;

const char* k_cloud = "democloud";
const char* k_key = "123456789";
const char* k_secret = "s3cr3t-value-xyz";

cloudinary_config config_for(const cloudinary_standin& s, std::string secret = k_secret) {
  cloudinary_config c;
  c.cloud_name = k_cloud;
  c.api_key = k_key;
  c.api_secret = std::move(secret);
  c.api_base_url = s.base_url();
  c.delivery_base_url = s.base_url();
  c.timeout_ms = 5000;
  return c;
}

std::unique_ptr<blob_store> make(const cloudinary_config& c) {
  auto s = make_cloudinary_store(c);
  EXPECT_TRUE(s.ok()) << s.err().to_string();
  return s.ok() ? std::move(*s) : nullptr;
}

// ---- CLOUDINARY_URL -------------------------------------------------------------------------

TEST(store_cloudinary_from_url, parses_key_secret_cloud_with_percent_decoding) {
  auto c = cloudinary_from_url("cloudinary://123456:abc%40d%2Fe%3Af@my-cloud");
  ASSERT_TRUE(c.ok()) << c.err().to_string();
  EXPECT_EQ(c->api_key, "123456");
  EXPECT_EQ(c->api_secret, "abc@d/e:f");
  EXPECT_EQ(c->cloud_name, "my-cloud");
  EXPECT_EQ(c->folder, "idphoto");
  EXPECT_EQ(c->api_base_url, "https://api.cloudinary.com");
}

TEST(store_cloudinary_from_url, unencoded_at_in_secret_and_trailing_options) {
  auto c = cloudinary_from_url("cloudinary://k1:a@b@cloud_1?secure=true");
  ASSERT_TRUE(c.ok()) << c.err().to_string();
  EXPECT_EQ(c->api_secret, "a@b");
  EXPECT_EQ(c->cloud_name, "cloud_1");
}

TEST(store_cloudinary_from_url, errors_name_what_is_missing_and_never_the_secret) {
  struct bad_case {
    std::string url, must_mention;
  };
  const std::string secret = "TopSecretValue";
  for (const auto& b : std::vector<bad_case>{
           {"", "cloudinary://"},
           {"https://k:" + secret + "@c", "cloudinary://"},
           {"cloudinary://k:" + secret, "'@'"},
           {"cloudinary://k" + secret + "@c", "':'"},
           {"cloudinary://:" + secret + "@c", "API key"},
           {"cloudinary://k:@c", "API secret"},
           {"cloudinary://k:" + secret + "@", "cloud name"},
           {"cloudinary://k:" + secret + "@?x=1", "cloud name"},
           {"cloudinary://k:" + secret + "%zz@c", "percent-encoding in API secret"},
           {"cloudinary://k:" + secret + "%00@c", "percent-encoding in API secret"},
           {"cloudinary://k%4:" + secret + "@c", "percent-encoding in API key"},
           {"cloudinary://k:" + secret + "@bad cloud", "cloud name"},
       }) {
    auto c = cloudinary_from_url(b.url);
    ASSERT_FALSE(c.ok()) << b.url;
    EXPECT_EQ(c.err().code, errc::invalid_argument) << b.url;
    EXPECT_NE(c.err().detail.find(b.must_mention), std::string::npos) << b.url << " → " << c.err().detail;
    EXPECT_EQ(c.err().detail.find(secret), std::string::npos) << c.err().detail;
  }
}

// ---- signature -----------------------------------------------------------------------------

TEST(store_cloudinary_signature, matches_the_documented_example) {
  // Cloudinary's "Generating authentication signatures" page: these params, secret "abcd".
  std::map<std::string, std::string> p = {
      {"timestamp", "1315060510"}, {"public_id", "sample_image"}, {"eager", "w_400,h_300,c_pad|w_260,h_200,c_crop"}};
  EXPECT_EQ(cloudinary_signature(p, "abcd"), "bfd09f95f331f558cbd1320e67aa8d488770583e");
}

TEST(store_cloudinary_signature, excluded_params_do_not_change_it) {
  std::map<std::string, std::string> base = {{"public_id", "x"}, {"timestamp", "1"}};
  auto with = base;
  with["file"] = "bytes";
  with["api_key"] = "k";
  with["resource_type"] = "image";
  with["cloud_name"] = "c";
  EXPECT_EQ(cloudinary_signature(with, "s"), cloudinary_signature(base, "s"));
  EXPECT_NE(cloudinary_signature(base, "s"), cloudinary_signature(base, "t"));
  with["overwrite"] = "false";
  EXPECT_NE(cloudinary_signature(with, "s"), cloudinary_signature(base, "s"));
}

TEST(store_cloudinary_signature, agrees_with_the_standins_independent_implementation) {
  std::map<std::string, std::string> p = {
      {"public_id", "idphoto/raw/abc"}, {"timestamp", "1700000000"}, {"overwrite", "false"}};
  EXPECT_EQ(cloudinary_signature(p, "zz"), cloudinary_standin::sign(p, "zz"));
}

// ---- config --------------------------------------------------------------------------------

TEST(store_cloudinary_config, refuses_missing_or_malformed_fields_by_name) {
  cloudinary_config good;
  good.cloud_name = "c";
  good.api_key = "k";
  good.api_secret = "SecretSecret";
  ASSERT_TRUE(make_cloudinary_store(good).ok());
  struct bad_case {
    void (*edit)(cloudinary_config&);
    const char* must_mention;
  };
  for (const auto& b : std::vector<bad_case>{
           {[](cloudinary_config& c) { c.cloud_name.clear(); }, "cloud_name"},
           {[](cloudinary_config& c) { c.cloud_name = "a/b"; }, "cloud_name"},
           {[](cloudinary_config& c) { c.api_key.clear(); }, "api_key"},
           {[](cloudinary_config& c) { c.api_secret.clear(); }, "api_secret"},
           {[](cloudinary_config& c) { c.api_secret = "Secret\nSecret"; }, "api_secret"},
           {[](cloudinary_config& c) { c.folder = "/abs"; }, "folder"},
           {[](cloudinary_config& c) { c.folder = "a/../b"; }, "folder"},
           {[](cloudinary_config& c) { c.api_base_url = "ftp://x"; }, "api_base_url"},
           {[](cloudinary_config& c) { c.delivery_base_url = ""; }, "delivery_base_url"},
           {[](cloudinary_config& c) { c.timeout_ms = 0; }, "timeout_ms"},
       }) {
    cloudinary_config c = good;
    b.edit(c);
    auto s = make_cloudinary_store(c);
    ASSERT_FALSE(s.ok()) << b.must_mention;
    EXPECT_EQ(s.err().code, errc::invalid_argument);
    EXPECT_NE(s.err().detail.find(b.must_mention), std::string::npos) << s.err().detail;
    EXPECT_EQ(s.err().detail.find("SecretSecret"), std::string::npos);
  }
}

// ---- the stand-in is not a rubber stamp ------------------------------------------------------

class store_standin_checks : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(standin_.start()); }
  httplib::Result upload(std::map<std::string, std::string> fields, bool sign = true) {
    if (sign) fields["signature"] = cloudinary_standin::sign(fields, k_secret);
    httplib::MultipartFormDataItems items;
    items.push_back({"file", "bytes", "a.png", "image/png"});
    for (const auto& [k, v] : fields) items.push_back({k, v, "", ""});
    httplib::Client cli("127.0.0.1", std::stoi(standin_.base_url().substr(17)));
    return cli.Post(("/v1_1/" + std::string(k_cloud) + "/image/upload").c_str(), items);
  }
  cloudinary_standin standin_{k_cloud, k_key, k_secret};
};

TEST_F(store_standin_checks, accepts_a_correct_request) {
  auto r = upload({{"api_key", k_key}, {"timestamp", std::to_string(std::time(nullptr))}, {"public_id", "p1"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(store_standin_checks, refuses_a_timestamp_over_an_hour_old) {
  auto r = upload({{"api_key", k_key}, {"timestamp", std::to_string(std::time(nullptr) - 3700)}, {"public_id", "p1"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("Stale request"), std::string::npos) << r->body;
}

TEST_F(store_standin_checks, refuses_a_tampered_field_and_a_missing_signature) {
  std::map<std::string, std::string> f = {
      {"api_key", k_key}, {"timestamp", std::to_string(std::time(nullptr))}, {"public_id", "p1"}};
  f["signature"] = cloudinary_standin::sign(f, k_secret);
  f["public_id"] = "p2";  // changed after signing
  auto r = upload(f, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("Invalid Signature"), std::string::npos) << r->body;
  f.erase("signature");
  auto r2 = upload(f, false);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 400);
  EXPECT_EQ(standin_.stored_count(), 0u);
}

// ---- service failures as errors ------------------------------------------------------------

TEST(store_cloudinary, wrong_secret_is_forbidden_with_a_clean_message) {
  cloudinary_standin standin(k_cloud, k_key, k_secret);
  ASSERT_TRUE(standin.start());
  auto store = make(config_for(standin, "WrongSecretValue"));
  ASSERT_TRUE(store);
  auto put = store->put("bytes", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::forbidden);
  EXPECT_NE(put.err().detail.find("Invalid Signature"), std::string::npos) << put.err().detail;
  EXPECT_NE(put.err().detail.find("401"), std::string::npos) << put.err().detail;
  EXPECT_EQ(put.err().detail.find("WrongSecretValue"), std::string::npos) << put.err().detail;
  EXPECT_EQ(put.err().detail.find(k_secret), std::string::npos);
  auto rm = store->remove("raw/0123456789abcdef0123456789abcdef.png");
  ASSERT_FALSE(rm.ok());
  EXPECT_EQ(rm.err().code, errc::forbidden);
  EXPECT_EQ(standin.stored_count(), 0u);
}

TEST(store_cloudinary, wrong_api_key_is_forbidden) {
  cloudinary_standin standin(k_cloud, k_key, k_secret);
  ASSERT_TRUE(standin.start());
  auto c = config_for(standin);
  c.api_key = "999";
  auto store = make(c);
  ASSERT_TRUE(store);
  auto put = store->put("bytes", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::forbidden);
}

TEST(store_cloudinary, service_down_is_unavailable) {
  cloudinary_standin standin(k_cloud, k_key, k_secret);
  ASSERT_TRUE(standin.start());
  auto store = make(config_for(standin));
  ASSERT_TRUE(store);
  standin.stop();  // nothing listens on that port any more
  auto put = store->put("bytes", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::unavailable) << put.err().to_string();
  auto got = store->get("raw/0123456789abcdef0123456789abcdef.png");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.err().code, errc::unavailable);
  auto ex = store->exists("raw/0123456789abcdef0123456789abcdef.png");
  ASSERT_FALSE(ex.ok());
  EXPECT_EQ(ex.err().code, errc::unavailable);
  auto p = store->ping();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.err().code, errc::unavailable);
}

TEST(store_cloudinary, slow_service_is_timeout) {
  cloudinary_standin standin(k_cloud, k_key, k_secret);
  ASSERT_TRUE(standin.start());
  auto c = config_for(standin);
  c.timeout_ms = 300;
  auto store = make(c);
  ASSERT_TRUE(store);
  standin.set_delay_ms(5000);
  auto put = store->put("bytes", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::timeout) << put.err().to_string();
  auto got = store->get("raw/0123456789abcdef0123456789abcdef.png");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.err().code, errc::timeout) << got.err().to_string();
  auto rm = store->remove("raw/0123456789abcdef0123456789abcdef.png");
  ASSERT_FALSE(rm.ok());
  EXPECT_EQ(rm.err().code, errc::timeout) << rm.err().to_string();
}

TEST(store_cloudinary, malformed_json_is_corrupt_not_a_crash) {
  cloudinary_standin standin(k_cloud, k_key, k_secret);
  ASSERT_TRUE(standin.start());
  auto store = make(config_for(standin));
  ASSERT_TRUE(store);
  standin.set_mode(cloudinary_standin::mode::malformed_json);
  auto put = store->put("bytes", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::corrupt) << put.err().to_string();
  auto rm = store->remove("raw/0123456789abcdef0123456789abcdef.png");
  ASSERT_FALSE(rm.ok());
  EXPECT_EQ(rm.err().code, errc::corrupt) << rm.err().to_string();
}

TEST(store_cloudinary, json_without_secure_url_is_corrupt) {
  cloudinary_standin standin(k_cloud, k_key, k_secret);
  ASSERT_TRUE(standin.start());
  auto store = make(config_for(standin));
  ASSERT_TRUE(store);
  standin.set_mode(cloudinary_standin::mode::no_secure_url);
  auto put = store->put("bytes", "image/png", "raw");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.err().code, errc::corrupt) << put.err().to_string();
}

TEST(store_cloudinary, server_error_and_rate_limit_are_unavailable) {
  cloudinary_standin standin(k_cloud, k_key, k_secret);
  ASSERT_TRUE(standin.start());
  auto store = make(config_for(standin));
  ASSERT_TRUE(store);
  for (auto m : {cloudinary_standin::mode::server_error, cloudinary_standin::mode::rate_limited}) {
    standin.set_mode(m);
    auto put = store->put("bytes", "image/png", "raw");
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.err().code, errc::unavailable) << put.err().to_string();
    auto got = store->get("raw/0123456789abcdef0123456789abcdef.png");
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.err().code, errc::unavailable) << got.err().to_string();
  }
}

TEST(store_cloudinary, keys_map_to_public_ids_under_the_configured_folder) {
  cloudinary_standin standin(k_cloud, k_key, k_secret);
  ASSERT_TRUE(standin.start());
  auto c = config_for(standin);
  c.folder = "tenant_a/photos";
  auto store = make(c);
  ASSERT_TRUE(store);
  auto put = store->put("bytes", "application/pdf", "card");
  ASSERT_TRUE(put.ok()) << put.err().to_string();
  const std::string id = put->key.substr(5, 32);
  EXPECT_NE(put->url.find("/democloud/image/upload/v"), std::string::npos) << put->url;
  EXPECT_NE(put->url.find("/tenant_a/photos/card/" + id + ".pdf"), std::string::npos) << put->url;
  // The delivery URL the store rebuilds from the key serves the same bytes as secure_url.
  httplib::Client cli("127.0.0.1", std::stoi(standin.base_url().substr(17)));
  auto r = cli.Get(put->url.substr(standin.base_url().size()).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "bytes");
  auto got = store->get(put->key);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "bytes");
}

TEST(store_cloudinary, ping_fails_for_an_unresolvable_host) {
  cloudinary_config c;
  c.cloud_name = "c";
  c.api_key = "k";
  c.api_secret = "s";
  c.api_base_url = "http://no-such-host.invalid";
  c.timeout_ms = 3000;
  auto store = make(c);
  ASSERT_TRUE(store);
  auto p = store->ping();
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.err().code == errc::unavailable || p.err().code == errc::timeout) << p.err().to_string();
}

}  // namespace
}  // namespace idphoto::store::test

// The S3 endpoint the tests use: the throwaway Swift (s3api) that the CTest fixture starts with
// scripts/swift-test-server, found through IDPHOTO_TEST_S3_DIR. Missing = a test failure.
#pragma once
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "store/blob_store.hpp"

namespace idphoto::store::test {

struct swift_server {
  std::string endpoint;               // http://127.0.0.1:PORT
  std::string virtual_host_endpoint;  // http://localhost:PORT (bucket.localhost resolves to loopback)
  std::string access_key, secret_key, bucket, region;
  std::string error;  // non-empty when the server's description could not be read
};

// Reads $IDPHOTO_TEST_S3_DIR/s3.json (written by swift-test-server start).
inline swift_server find_swift_server() {
  swift_server s;
  const char* dir = std::getenv("IDPHOTO_TEST_S3_DIR");
  if (!dir || !*dir) {
    s.error = "IDPHOTO_TEST_S3_DIR is not set (run through ctest: the store.s3_server_start fixture)";
    return s;
  }
  std::ifstream in(std::string(dir) + "/s3.json");
  if (!in) {
    s.error = std::string("no ") + dir + "/s3.json: the Swift test server is not running";
    return s;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    s.error = "s3.json does not parse";
    return s;
  }
  s.endpoint = j.value("endpoint", "");
  s.virtual_host_endpoint = j.value("virtual_host_endpoint", "");
  s.access_key = j.value("access_key", "");
  s.secret_key = j.value("secret_key", "");
  s.bucket = j.value("bucket", "");
  s.region = j.value("region", "");
  if (s.endpoint.empty() || s.secret_key.empty()) s.error = "s3.json lacks endpoint or secret";
  return s;
}

inline s3_config config_for(const swift_server& s) {
  s3_config c;
  c.endpoint = s.endpoint;
  c.region = s.region;
  c.bucket = s.bucket;
  c.access_key_id = s.access_key;
  c.secret_access_key = s.secret_key;
  c.timeout_ms = 20000;
  return c;
}

}  // namespace idphoto::store::test

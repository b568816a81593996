// fetch_config_from_env and validate.
#include <gtest/gtest.h>

#include <cstdlib>

#include "fetch/fetch_url.hpp"

namespace idphoto::fetch {
namespace {

const char* const k_keys[] = {"IDPHOTO_FETCH_MAX_BYTES", "IDPHOTO_FETCH_TIMEOUT_MS", "IDPHOTO_FETCH_CONNECT_TIMEOUT_MS",
                              "IDPHOTO_FETCH_MAX_REDIRECTS", "IDPHOTO_FETCH_ALLOW"};

class fetch_config_env : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* k : k_keys) unsetenv(k);
  }
  void TearDown() override {
    for (const char* k : k_keys) unsetenv(k);
  }
};

TEST_F(fetch_config_env, defaults_when_unset) {
  auto c = fetch_config_from_env();
  ASSERT_TRUE(c.ok()) << c.err().to_string();
  fetch_config d;
  EXPECT_EQ(c->max_bytes, d.max_bytes);
  EXPECT_EQ(c->timeout_ms, d.timeout_ms);
  EXPECT_EQ(c->connect_timeout_ms, d.connect_timeout_ms);
  EXPECT_EQ(c->max_redirects, d.max_redirects);
  EXPECT_TRUE(c->allow.empty());
}

TEST_F(fetch_config_env, reads_every_key) {
  setenv("IDPHOTO_FETCH_MAX_BYTES", "1048576", 1);
  setenv("IDPHOTO_FETCH_TIMEOUT_MS", "2500", 1);
  setenv("IDPHOTO_FETCH_CONNECT_TIMEOUT_MS", "700", 1);
  setenv("IDPHOTO_FETCH_MAX_REDIRECTS", "5", 1);
  setenv("IDPHOTO_FETCH_ALLOW", " 127.0.0.1/32, ::1 ,,10.0.0.0/8", 1);
  auto c = fetch_config_from_env();
  ASSERT_TRUE(c.ok()) << c.err().to_string();
  EXPECT_EQ(c->max_bytes, 1048576u);
  EXPECT_EQ(c->timeout_ms, 2500);
  EXPECT_EQ(c->connect_timeout_ms, 700);
  EXPECT_EQ(c->max_redirects, 5);
  EXPECT_EQ(c->allow, (std::vector<std::string>{"127.0.0.1/32", "::1", "10.0.0.0/8"}));
}

TEST_F(fetch_config_env, bad_values_are_reported_together) {
  setenv("IDPHOTO_FETCH_MAX_BYTES", "15MB", 1);
  setenv("IDPHOTO_FETCH_TIMEOUT_MS", "-1", 1);
  auto c = fetch_config_from_env();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.err().code, base::errc::invalid_argument);
  EXPECT_NE(c.err().detail.find("IDPHOTO_FETCH_MAX_BYTES"), std::string::npos) << c.err().detail;
  EXPECT_NE(c.err().detail.find("IDPHOTO_FETCH_TIMEOUT_MS"), std::string::npos) << c.err().detail;
}

TEST_F(fetch_config_env, bad_allow_entry_is_invalid) {
  setenv("IDPHOTO_FETCH_ALLOW", "127.0.0.1/32,intranet.local", 1);
  auto c = fetch_config_from_env();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.err().code, base::errc::invalid_argument);
  EXPECT_NE(c.err().detail.find("intranet.local"), std::string::npos) << c.err().detail;
}

TEST(fetch_config_validate, rejects_each_bad_field) {
  EXPECT_TRUE(validate(fetch_config{}).ok());
  fetch_config c;
  c.max_bytes = 0;
  c.timeout_ms = 0;
  c.connect_timeout_ms = -5;
  c.max_redirects = 21;
  c.allow = {"300.1.1.1"};
  auto r = validate(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, base::errc::invalid_argument);
  for (const char* field : {"max_bytes", "timeout_ms", "connect_timeout_ms", "max_redirects", "300.1.1.1"})
    EXPECT_NE(r.err().detail.find(field), std::string::npos) << field << " in " << r.err().detail;
  fetch_config neg;
  neg.max_redirects = -1;
  EXPECT_FALSE(validate(neg).ok());
}

}  // namespace
}  // namespace idphoto::fetch

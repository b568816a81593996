// app_config: environment parsing, every error reported at once, the memory ceiling; the key
// tables it composes (one range per key, whichever entry point reads it).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "app/config.hpp"
#include "fetch/fetch_url.hpp"

using idphoto::app::app_config;

namespace {
// An environment from a map (nothing read from the process).
idphoto::app::env_lookup env_of(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}
const std::string k_secret(40, 'k');
}  // namespace

TEST(app_config, defaults_with_a_secret_are_valid_and_fit_512_mb) {
  auto c = app_config::from_env(env_of({{"JWT_SECRET", k_secret}}));
  ASSERT_TRUE(c.ok()) << c.err().detail;
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->n_workers, 1);
  EXPECT_EQ(c->queue_size, 4);
  EXPECT_EQ(c->effective_database_url(), "sqlite:data/idphoto.db");
  EXPECT_EQ(c->effective_store_dir(), "data/files");
  EXPECT_EQ(c->effective_public_url(), "http://localhost:8080");
  EXPECT_FALSE(c->cloudinary.has_value());
  EXPECT_LE(c->memory_estimate_bytes(), c->memory_limit_bytes);
  EXPECT_LT(c->memory_limit_bytes, int64_t{512} << 20);
  EXPECT_EQ(c->pipeline.limits.max_bytes, c->max_body_bytes)
      << "an image is never larger than the body that carries it";
}

TEST(app_config, missing_secret_is_an_error) {
  auto c = app_config::from_env(env_of({}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.err().detail.find("JWT_SECRET"), std::string::npos) << c.err().detail;
  auto short_secret = app_config::from_env(env_of({{"JWT_SECRET", "short"}}));
  ASSERT_FALSE(short_secret.ok());
  EXPECT_NE(short_secret.err().detail.find("too short"), std::string::npos) << short_secret.err().detail;
}

TEST(app_config, every_error_is_reported_at_once) {
  auto c = app_config::from_env(env_of({{"PORT", "eighty"},
                                        {"IDPHOTO_WORKERS", "0"},
                                        {"IDPHOTO_QUEUE_SIZE", "-3"},
                                        {"IDPHOTO_DEFAULT_BG", "chartreuse-ish"},
                                        {"IDPHOTO_DEFAULT_FORMAT", "gif"},
                                        {"IDPHOTO_PUBLIC_URL", "ftp://x"},
                                        {"IDPHOTO_CARD_VERIFY_URL", "javascript:alert(1)"},
                                        {"IDPHOTO_MAX_BODY_BYTES", "12abc"},
                                        {"IDPHOTO_FETCH_ALLOW", "not-an-ip"}}));
  ASSERT_FALSE(c.ok());
  const std::string& d = c.err().detail;
  for (const char* key :
       {"PORT", "IDPHOTO_WORKERS", "IDPHOTO_QUEUE_SIZE", "IDPHOTO_DEFAULT_BG", "IDPHOTO_DEFAULT_FORMAT",
        "IDPHOTO_PUBLIC_URL", "IDPHOTO_CARD_VERIFY_URL", "IDPHOTO_MAX_BODY_BYTES", "JWT_SECRET", "IDPHOTO_FETCH_ALLOW"})
    EXPECT_NE(d.find(key), std::string::npos) << key << " not reported in:\n" << d;
  EXPECT_GE(std::count(d.begin(), d.end(), '\n'), 9) << "one line per problem:\n" << d;
}

TEST(app_config, memory_ceiling_refuses_too_many_workers) {
  auto c =
      app_config::from_env(env_of({{"JWT_SECRET", k_secret}, {"IDPHOTO_WORKERS", "3"}, {"IDPHOTO_HTTP_THREADS", "8"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.err().detail.find("IDPHOTO_MEMORY_LIMIT_BYTES"), std::string::npos) << c.err().detail;
  auto raised = app_config::from_env(env_of({{"JWT_SECRET", k_secret},
                                             {"IDPHOTO_WORKERS", "3"},
                                             {"IDPHOTO_HTTP_THREADS", "8"},
                                             {"IDPHOTO_MEMORY_LIMIT_BYTES", std::to_string(int64_t{2} << 30)}}));
  EXPECT_TRUE(raised.ok()) << raised.err().detail;
}

TEST(app_config, http_threads_must_exceed_workers) {
  auto c = app_config::from_env(env_of({{"JWT_SECRET", k_secret},
                                        {"IDPHOTO_WORKERS", "2"},
                                        {"IDPHOTO_HTTP_THREADS", "2"},
                                        {"IDPHOTO_MEMORY_LIMIT_BYTES", std::to_string(int64_t{4} << 30)}}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.err().detail.find("IDPHOTO_HTTP_THREADS"), std::string::npos) << c.err().detail;
}

TEST(app_config, keys_are_read) {
  auto c = app_config::from_env(env_of({{"JWT_SECRET", k_secret},
                                        {"PORT", "9000"},
                                        {"DATABASE_URL", "postgres://u:p@db/idphoto"},
                                        {"IDPHOTO_DATA_DIR", "/var/lib/idphoto"},
                                        {"IDPHOTO_PUBLIC_URL", "https://photos.example.org/"},
                                        {"IDPHOTO_QUEUE_SIZE", "0"},
                                        {"IDPHOTO_JOB_TIMEOUT_MS", "5000"},
                                        {"IDPHOTO_FETCH_ALLOW", " 127.0.0.1/32, ::1 "},
                                        {"IDPHOTO_MAX_BODY_BYTES", "2000000"},
                                        {"IDPHOTO_DEFAULT_BG", "white"}}));
  ASSERT_TRUE(c.ok()) << c.err().detail;
  EXPECT_EQ(c->port, 9000);
  EXPECT_EQ(c->effective_database_url(), "postgres://u:p@db/idphoto");
  EXPECT_EQ(c->effective_store_dir(), "/var/lib/idphoto/files");
  EXPECT_EQ(c->effective_public_url(), "https://photos.example.org") << "trailing slash dropped";
  EXPECT_EQ(c->queue_size, 0);
  EXPECT_EQ(c->job_timeout_ms, 5000);
  ASSERT_EQ(c->fetch.allow.size(), 2u);
  EXPECT_EQ(c->fetch.allow[0], "127.0.0.1/32");
  EXPECT_EQ(c->fetch.allow[1], "::1");
  EXPECT_EQ(c->max_body_bytes, 2000000);
  EXPECT_EQ(c->pipeline.limits.max_bytes, 2000000);
  EXPECT_EQ(c->fetch.max_bytes, 2000000u);
}

TEST(app_config, cloudinary_forms) {
  auto url = app_config::from_env(env_of({{"JWT_SECRET", k_secret}, {"CLOUDINARY_URL", "cloudinary://123:abc@demo"}}));
  ASSERT_TRUE(url.ok()) << url.err().detail;
  ASSERT_TRUE(url->cloudinary.has_value());
  EXPECT_EQ(url->cloudinary->cloud_name, "demo");
  EXPECT_EQ(url->cloudinary->api_key, "123");
  EXPECT_EQ(url->cloudinary->api_secret, "abc");
  auto parts = app_config::from_env(
      env_of({{"JWT_SECRET", k_secret}, {"CLOUDINARY_CLOUD_NAME", "demo"}, {"CLOUDINARY_API_KEY", "123"}}));
  ASSERT_FALSE(parts.ok()) << "a missing CLOUDINARY_API_SECRET is an error";
  EXPECT_NE(parts.err().detail.find("CLOUDINARY_API_SECRET"), std::string::npos) << parts.err().detail;
  auto both = app_config::from_env(
      env_of({{"JWT_SECRET", k_secret}, {"CLOUDINARY_URL", "cloudinary://1:2@d"}, {"CLOUDINARY_CLOUD_NAME", "x"}}));
  EXPECT_FALSE(both.ok());
  auto bad = app_config::from_env(env_of({{"JWT_SECRET", k_secret}, {"CLOUDINARY_URL", "https://nope"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.err().detail.find("CLOUDINARY_URL"), std::string::npos) << bad.err().detail;
}

TEST(app_config, serve_reads_every_fetch_key) {
  auto c = app_config::from_env(env_of({{"JWT_SECRET", k_secret},
                                        {"IDPHOTO_FETCH_CONNECT_TIMEOUT_MS", "1500"},
                                        {"IDPHOTO_FETCH_MAX_REDIRECTS", "7"},
                                        {"IDPHOTO_FETCH_TIMEOUT_MS", "20s"}}));
  ASSERT_TRUE(c.ok()) << c.err().detail;
  EXPECT_EQ(c->fetch.connect_timeout_ms, 1500);
  EXPECT_EQ(c->fetch.max_redirects, 7);
  EXPECT_EQ(c->fetch.timeout_ms, 20000);
  auto bad = app_config::from_env(env_of(
      {{"JWT_SECRET", k_secret}, {"IDPHOTO_FETCH_MAX_REDIRECTS", "21"}, {"IDPHOTO_FETCH_CONNECT_TIMEOUT_MS", "fast"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.err().detail.find("IDPHOTO_FETCH_MAX_REDIRECTS: must be in 0..20"), std::string::npos)
      << bad.err().detail;
  EXPECT_NE(bad.err().detail.find("IDPHOTO_FETCH_CONNECT_TIMEOUT_MS: expected a duration"), std::string::npos)
      << bad.err().detail;
}

TEST(app_config, fetch_timeout_has_one_range_whichever_entry_point_reads_it) {
  const auto* key = idphoto::base::find_env_key(idphoto::fetch::env_keys(), "IDPHOTO_FETCH_TIMEOUT_MS");
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(idphoto::base::find_env_key(idphoto::app::env_keys(), "IDPHOTO_FETCH_TIMEOUT_MS")->hi, key->hi);
  for (int64_t v : {key->lo - 1, key->lo, key->hi, key->hi + 1}) {
    const bool in_range = v >= key->lo && v <= key->hi;
    const auto env = env_of({{"JWT_SECRET", k_secret}, {"IDPHOTO_FETCH_TIMEOUT_MS", std::to_string(v)}});
    auto served = app_config::from_env(env);
    auto fetched = idphoto::fetch::fetch_config_from_env(env);
    EXPECT_EQ(served.ok(), in_range) << v << ": " << (served.ok() ? "" : served.err().detail);
    EXPECT_EQ(fetched.ok(), in_range) << v << ": " << (fetched.ok() ? "" : fetched.err().detail);
    if (in_range && served.ok() && fetched.ok()) {
      EXPECT_EQ(served->fetch.timeout_ms, v);
      EXPECT_EQ(fetched->timeout_ms, v);
    }
  }
}

TEST(app_config, env_keys_name_no_key_twice_and_every_numeric_key_is_read_with_its_range) {
  std::set<std::string> seen;
  for (const auto& k : idphoto::app::env_keys()) EXPECT_TRUE(seen.insert(k.name).second) << k.name << " twice";
  for (const char* k : {"PORT", "JWT_SECRET", "IDPHOTO_MAX_IMAGE_BYTES", "IDPHOTO_FETCH_MAX_REDIRECTS",
                        "IDPHOTO_QUEUE_URL", "IDPHOTO_MAX_ZIP_RATIO"})
    EXPECT_EQ(seen.count(k), 1u) << k << " missing from app::env_keys()";
  using idphoto::base::env_kind;
  for (const auto& k : idphoto::app::env_keys()) {
    if (k.kind != env_kind::integer && k.kind != env_kind::bytes && k.kind != env_kind::duration_ms) continue;
    auto over = app_config::parse_env(env_of({{k.name, std::to_string(k.hi + 1)}}));
    ASSERT_EQ(over.errors.size(), 1u) << k.name << " above its range";
    EXPECT_EQ(over.errors[0], std::string(k.name) + ": must be in " + std::to_string(k.lo) + ".." +
                                  std::to_string(k.hi) + ", got " + std::to_string(k.hi + 1));
    auto at_most = app_config::parse_env(env_of({{k.name, std::to_string(k.hi)}}));
    EXPECT_TRUE(at_most.errors.empty()) << k.name << ": " << (at_most.errors.empty() ? "" : at_most.errors[0]);
    auto garbage = app_config::parse_env(env_of({{k.name, "12abc"}}));
    ASSERT_EQ(garbage.errors.size(), 1u) << k.name;
    EXPECT_EQ(garbage.errors[0].rfind(std::string(k.name) + ": expected ", 0), 0u) << garbage.errors[0];
  }
}

TEST(app_config, units_and_trimming) {
  auto c = app_config::from_env(env_of({{"JWT_SECRET", k_secret},
                                        {"IDPHOTO_MAX_BODY_BYTES", " 2MiB "},
                                        {"IDPHOTO_JOB_TIMEOUT_MS", "90s"},
                                        {"IDPHOTO_REQUEST_TIMEOUT_MS", "1m"},
                                        {"IDPHOTO_DATA_DIR", "  /srv/idphoto\t"},
                                        {"IDPHOTO_WORKERS", " "}}));
  ASSERT_TRUE(c.ok()) << c.err().detail;
  EXPECT_EQ(c->max_body_bytes, int64_t{2} << 20);
  EXPECT_EQ(c->pipeline.limits.max_bytes, int64_t{2} << 20) << "the image cap follows the body cap";
  EXPECT_EQ(c->fetch.max_bytes, std::size_t{2} << 20);
  EXPECT_EQ(c->job_timeout_ms, 90000);
  EXPECT_EQ(c->request_timeout_ms, 60000);
  EXPECT_EQ(c->data_dir, "/srv/idphoto");
  EXPECT_EQ(c->n_workers, 1) << "a blank value keeps the default";
  auto own_caps = app_config::from_env(env_of({{"JWT_SECRET", k_secret},
                                               {"IDPHOTO_MAX_BODY_BYTES", "2MiB"},
                                               {"IDPHOTO_MAX_IMAGE_BYTES", "1MiB"},
                                               {"IDPHOTO_FETCH_MAX_BYTES", "512K"}}));
  ASSERT_TRUE(own_caps.ok()) << own_caps.err().detail;
  EXPECT_EQ(own_caps->pipeline.limits.max_bytes, int64_t{1} << 20);
  EXPECT_EQ(own_caps->fetch.max_bytes, std::size_t{512} << 10);
}

TEST(app_config, queue_and_batch_keys_are_read_and_checked_without_echoing_secrets) {
  auto c = app_config::from_env(env_of({{"JWT_SECRET", k_secret},
                                        {"IDPHOTO_QUEUE_URL", "amqp://u:pw@broker:5673/idp"},
                                        {"IDPHOTO_QUEUE_HEARTBEAT_S", "0"},
                                        {"IDPHOTO_QUEUE_PUBLISH_TIMEOUT_MS", "2s"},
                                        {"IDPHOTO_MAX_BATCH_ROWS", "20"}}));
  ASSERT_TRUE(c.ok()) << c.err().detail;
  EXPECT_EQ(c->queue.url, "amqp://u:pw@broker:5673/idp");
  EXPECT_EQ(c->queue.heartbeat_s, 0);
  EXPECT_EQ(c->queue.publish_timeout_ms, 2000);
  EXPECT_EQ(c->batch.max_rows, 20);
  auto bad = app_config::from_env(env_of({{"JWT_SECRET", k_secret},
                                          {"IDPHOTO_QUEUE_URL", "amqp://user:s3cr3t-pw@"},
                                          {"IDPHOTO_MAX_ZIP_RATIO", "0"},
                                          {"DATABASE_URL", " "}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.err().detail.find("IDPHOTO_QUEUE_URL"), std::string::npos) << bad.err().detail;
  EXPECT_NE(bad.err().detail.find("IDPHOTO_MAX_ZIP_RATIO"), std::string::npos) << bad.err().detail;
  EXPECT_EQ(bad.err().detail.find("s3cr3t"), std::string::npos) << bad.err().detail;
  auto unset = app_config::from_env(env_of({{"JWT_SECRET", k_secret}}));
  ASSERT_TRUE(unset.ok()) << unset.err().detail;
  EXPECT_TRUE(unset->queue.url.empty()) << "no queue: in-process dispatch, and no queue check";
}

// Reads the server's configuration from the environment and checks it as a whole.
#include "app/config.hpp"

#include <algorithm>

namespace idphoto::app {

using base::errc;

std::string join_lines(const std::vector<std::string>& lines) { return base::join_errors(lines, "\n"); }

namespace {

using base::env_key;
using base::env_kind;

constexpr int64_t k_mib = int64_t{1} << 20;

// The app's own keys; the image, fetch, queue and batch keys are their modules' (env_keys()).
const env_key k_port{"PORT", env_kind::integer, 0, 65535, "TCP port; 0 = any free port"};
const env_key k_bind{"IDPHOTO_BIND", env_kind::string, 0, 0, "address to bind"};
const env_key k_http_threads{"IDPHOTO_HTTP_THREADS", env_kind::integer, 1, 256, "requests handled at once"};
const env_key k_max_body{"IDPHOTO_MAX_BODY_BYTES", env_kind::bytes, 1024, int64_t{1} << 32, "largest request body"};
const env_key k_request_timeout{"IDPHOTO_REQUEST_TIMEOUT_MS", env_kind::duration_ms, 100, 3'600'000,
                                "idle timeout of a connection"};
const env_key k_header_timeout{"IDPHOTO_HEADER_TIMEOUT_MS", env_kind::duration_ms, 100, 600'000,
                               "time from a connection (or its last answer) to complete request headers"};
const env_key k_max_header_bytes{"IDPHOTO_MAX_HEADER_BYTES", env_kind::bytes, 4096, int64_t{1} << 20,
                                 "request line + headers of one request (431)"};
const env_key k_max_headers{"IDPHOTO_MAX_HEADERS", env_kind::integer, 8, 10000, "header lines in one request (431)"};
const env_key k_max_connections{"IDPHOTO_MAX_CONNECTIONS", env_kind::integer, 8, 65536, "open connections"};
const env_key k_max_connections_per_ip{"IDPHOTO_MAX_CONNECTIONS_PER_IP", env_kind::integer, 0, 65536,
                                       "open connections from one address; 0 = no limit"};
const env_key k_retry_after{"IDPHOTO_RETRY_AFTER_S", env_kind::integer, 1, 3600, "Retry-After of every 503, s"};
const env_key k_jwt_secret{"JWT_SECRET", env_kind::secret, 0, 0, "HS256 key, at least 32 bytes"};
const env_key k_public_url{"IDPHOTO_PUBLIC_URL", env_kind::string, 0, 0, "public base URL of this server"};
const env_key k_card_verify_url{"IDPHOTO_CARD_VERIFY_URL", env_kind::string, 0, 0, "URL prefix in the card QR code"};
const env_key k_data_dir{"IDPHOTO_DATA_DIR", env_kind::string, 0, 0, "SQLite file, local store, dev secret"};
const env_key k_database_url{"DATABASE_URL", env_kind::secret, 0, 0, "sqlite:PATH or postgres://..."};
const env_key k_store_dir{"IDPHOTO_STORE_DIR", env_kind::string, 0, 0, "local store directory"};
const env_key k_cloudinary_url{"CLOUDINARY_URL", env_kind::secret, 0, 0, "cloudinary://KEY:SECRET@CLOUD"};
const env_key k_cloudinary_name{"CLOUDINARY_CLOUD_NAME", env_kind::string, 0, 0, "Cloudinary cloud name"};
const env_key k_cloudinary_key{"CLOUDINARY_API_KEY", env_kind::string, 0, 0, "Cloudinary API key"};
const env_key k_cloudinary_secret{"CLOUDINARY_API_SECRET", env_kind::secret, 0, 0, "Cloudinary API secret"};
const env_key k_cloudinary_folder{"IDPHOTO_CLOUDINARY_FOLDER", env_kind::string, 0, 0, "public id prefix"};
const env_key k_cloudinary_api{"IDPHOTO_CLOUDINARY_API_BASE_URL", env_kind::string, 0, 0, "Cloudinary API base URL"};
const env_key k_workers{"IDPHOTO_WORKERS", env_kind::integer, 1, 64, "inference slots"};
const env_key k_queue_size{"IDPHOTO_QUEUE_SIZE", env_kind::integer, 0, 1000, "admitted jobs waiting for a slot"};
const env_key k_job_timeout{"IDPHOTO_JOB_TIMEOUT_MS", env_kind::duration_ms, 100, 3'600'000,
                            "deadline of one clean, queue wait included"};
const env_key k_job_lease{"IDPHOTO_JOB_LEASE_MS", env_kind::duration_ms, 1000, 3'600'000,
                          "a running photo job's lease without a heartbeat"};
const env_key k_job_attempts{"IDPHOTO_JOB_MAX_ATTEMPTS", env_kind::integer, 1, 100,
                             "runs of a photo job before our failures make it dead"};
const env_key k_models_dir{"IDPHOTO_MODELS_DIR", env_kind::string, 0, 0, "models directory"};
const env_key k_model{"IDPHOTO_MODEL", env_kind::string, 0, 0, "segmentation model name or .onnx path"};
const env_key k_model_norm{"IDPHOTO_MODEL_NORM", env_kind::string, 0, 0, "normalisation of a model path"};
const env_key k_model_size{"IDPHOTO_MODEL_SIZE", env_kind::integer, 0, 1024,
                           "network input side, px; 0 = follow the subject"};
const env_key k_model_retry_size{"IDPHOTO_MODEL_RETRY_SIZE", env_kind::integer, 0, 1024,
                                 "second run's side for small subjects, px; 0 = never"};
const env_key k_threads{"IDPHOTO_THREADS", env_kind::integer, 0, 256, "inference threads per worker"};
const env_key k_default_bg{"IDPHOTO_DEFAULT_BG", env_kind::string, 0, 0, "default background"};
const env_key k_default_max_size{"IDPHOTO_DEFAULT_MAX_SIZE", env_kind::integer, 16, 4096, "default maxSize, px"};
const env_key k_default_format{"IDPHOTO_DEFAULT_FORMAT", env_kind::string, 0, 0, "png, jpg or webp"};
const env_key k_max_output_size{"IDPHOTO_MAX_OUTPUT_SIZE", env_kind::integer, 16, 4096, "largest maxSize, px"};
const env_key k_raw_retention{"IDPHOTO_RAW_RETENTION_DAYS", env_kind::integer, 0, 3650,
                              "days a raw photo is kept once the card has a clean photo; 0 = forever"};
const env_key k_memory_limit{"IDPHOTO_MEMORY_LIMIT_BYTES", env_kind::bytes, 64 * k_mib, int64_t{1} << 40,
                             "ceiling the memory estimate must fit"};

const std::vector<env_key>& own_keys() {
  static const std::vector<env_key> keys = {k_port,
                                            k_bind,
                                            k_http_threads,
                                            k_max_body,
                                            k_request_timeout,
                                            k_header_timeout,
                                            k_max_header_bytes,
                                            k_max_headers,
                                            k_max_connections,
                                            k_max_connections_per_ip,
                                            k_retry_after,
                                            k_jwt_secret,
                                            k_public_url,
                                            k_card_verify_url,
                                            k_data_dir,
                                            k_database_url,
                                            k_store_dir,
                                            k_cloudinary_url,
                                            k_cloudinary_name,
                                            k_cloudinary_key,
                                            k_cloudinary_secret,
                                            k_cloudinary_folder,
                                            k_cloudinary_api,
                                            k_workers,
                                            k_queue_size,
                                            k_job_timeout,
                                            k_job_attempts,
                                            k_job_lease,
                                            k_models_dir,
                                            k_model,
                                            k_model_norm,
                                            k_model_size,
                                            k_model_retry_size,
                                            k_threads,
                                            k_default_bg,
                                            k_default_max_size,
                                            k_default_format,
                                            k_max_output_size,
                                            k_raw_retention,
                                            k_memory_limit};
  return keys;
}

// Cloudinary: CLOUDINARY_URL, or the three separate keys (all three, or none).
void read_cloudinary(const env_lookup& env, app_config* c, std::vector<std::string>* errs) {
  std::string url;
  store::cloudinary_config parts;
  base::read_env_key(env, k_cloudinary_url, &url, errs);
  base::read_env_key(env, k_cloudinary_name, &parts.cloud_name, errs);
  base::read_env_key(env, k_cloudinary_key, &parts.api_key, errs);
  base::read_env_key(env, k_cloudinary_secret, &parts.api_secret, errs);
  const bool any_part = !parts.cloud_name.empty() || !parts.api_key.empty() || !parts.api_secret.empty();
  if (!url.empty()) {
    auto cc = store::cloudinary_from_url(url);
    if (!cc.ok()) errs->push_back("CLOUDINARY_URL: " + cc.err().detail);
    else c->cloudinary = *cc;
    if (any_part)
      errs->push_back("CLOUDINARY_URL and CLOUDINARY_CLOUD_NAME/_API_KEY/_API_SECRET are both set; set one form only");
  } else if (any_part) {
    for (auto [k, v] : {std::pair{"CLOUDINARY_CLOUD_NAME", &parts.cloud_name},
                        {"CLOUDINARY_API_KEY", &parts.api_key},
                        {"CLOUDINARY_API_SECRET", &parts.api_secret}})
      if (v->empty()) errs->push_back(std::string(k) + ": missing (the three CLOUDINARY_* keys go together)");
    c->cloudinary = parts;
  }
  if (c->cloudinary) {
    base::read_env_key(env, k_cloudinary_folder, &c->cloudinary->folder, errs);
    base::read_env_key(env, k_cloudinary_api, &c->cloudinary->api_base_url, errs);
  }
}

}  // namespace

const std::vector<base::env_key>& env_keys() {
  static const std::vector<env_key> keys = [] {
    std::vector<env_key> all = own_keys();
    for (const auto* module : {&image::env_keys(), &fetch::env_keys(), &queue::env_keys(), &batch::env_keys()})
      all.insert(all.end(), module->begin(), module->end());
    return all;
  }();
  return keys;
}

app_config::parsed app_config::parse_env(const env_lookup& env) {
  parsed p;
  app_config& c = p.cfg;
  auto* errs = &p.errors;
  // Server defaults that differ from the modules' own: photos bounded for a 512 MB host.
  c.pipeline.limits.max_bytes = c.max_body_bytes;
  c.pipeline.limits.max_pixels = int64_t{1} << 25;
  c.fetch.max_bytes = static_cast<std::size_t>(c.max_body_bytes);

  base::read_env_key_as(env, k_port, &c.port, errs);
  base::read_env_key(env, k_bind, &c.bind_host, errs);
  base::read_env_key_as(env, k_http_threads, &c.http_threads, errs);
  base::read_env_key(env, k_max_body, &c.max_body_bytes, errs);
  // The image and fetch caps follow the body cap unless their own keys are set (read below).
  c.pipeline.limits.max_bytes = c.max_body_bytes;
  c.fetch.max_bytes = static_cast<std::size_t>(c.max_body_bytes);
  base::read_env_key_as(env, k_request_timeout, &c.request_timeout_ms, errs);
  base::read_env_key_as(env, k_header_timeout, &c.header_timeout_ms, errs);
  base::read_env_key(env, k_max_header_bytes, &c.max_header_bytes, errs);
  base::read_env_key_as(env, k_max_headers, &c.max_headers, errs);
  base::read_env_key_as(env, k_max_connections, &c.max_connections, errs);
  base::read_env_key_as(env, k_max_connections_per_ip, &c.max_connections_per_ip, errs);
  base::read_env_key_as(env, k_retry_after, &c.retry_after_s, errs);
  base::read_env_key(env, k_jwt_secret, &c.jwt_secret, errs);
  base::read_env_key(env, k_public_url, &c.public_url, errs);
  base::read_env_key(env, k_card_verify_url, &c.card_verify_url, errs);
  while (!c.public_url.empty() && c.public_url.back() == '/') c.public_url.pop_back();

  base::read_env_key(env, k_data_dir, &c.data_dir, errs);
  base::read_env_key(env, k_database_url, &c.database_url, errs);
  base::read_env_key(env, k_store_dir, &c.store_dir, errs);
  read_cloudinary(env, &c, errs);

  base::read_env_key_as(env, k_workers, &c.n_workers, errs);
  base::read_env_key_as(env, k_queue_size, &c.queue_size, errs);
  base::read_env_key_as(env, k_job_timeout, &c.job_timeout_ms, errs);
  base::read_env_key_as(env, k_job_attempts, &c.job_max_attempts, errs);
  base::read_env_key_as(env, k_job_lease, &c.job_lease_ms, errs);
  base::read_env_key(env, k_models_dir, &c.pipeline.models_dir, errs);
  base::read_env_key(env, k_model, &c.pipeline.model, errs);
  base::read_env_key(env, k_model_norm, &c.pipeline.model_norm, errs);
  base::read_env_key_as(env, k_model_size, &c.pipeline.model_size_px, errs);
  base::read_env_key_as(env, k_model_retry_size, &c.pipeline.retry_size_px, errs);
  base::read_env_key_as(env, k_threads, &c.pipeline.n_threads, errs);
  image::load_env(env, &c.pipeline.limits, errs);
  fetch::load_env(env, &c.fetch, errs);
  queue::load_env(env, &c.queue, errs);
  batch::load_env(env, &c.batch, errs);

  base::read_env_key(env, k_default_bg, &c.default_bg, errs);
  base::read_env_key_as(env, k_default_max_size, &c.default_max_size_px, errs);
  base::read_env_key(env, k_default_format, &c.default_format, errs);
  base::read_env_key_as(env, k_max_output_size, &c.max_size_limit_px, errs);
  base::read_env_key_as(env, k_raw_retention, &c.raw_retention_days, errs);
  base::read_env_key(env, k_memory_limit, &c.memory_limit_bytes, errs);
  return p;
}

int64_t app_config::memory_estimate_bytes() const {
  const int64_t per_thread =
      std::max<int64_t>(2 * max_body_bytes, static_cast<int64_t>(fetch.max_bytes) + max_body_bytes);
  return budget.base_bytes + int64_t{n_workers} * budget.job_bytes + int64_t{http_threads} * per_thread;
}

std::string app_config::effective_public_url() const {
  if (!public_url.empty()) return public_url;
  return "http://localhost:" + std::to_string(port);
}
std::string app_config::effective_database_url() const {
  return database_url.empty() ? "sqlite:" + data_dir + "/idphoto.db" : database_url;
}
std::string app_config::effective_store_dir() const { return store_dir.empty() ? data_dir + "/files" : store_dir; }

std::vector<std::string> app_config::problems() const {
  std::vector<std::string> p;
  if (jwt_secret.empty())
    p.push_back(
        "JWT_SECRET: missing; set a random secret of at least 32 bytes (openssl rand -hex 32), or run serve --dev");
  else if (jwt_secret.size() < 32)
    p.push_back("JWT_SECRET: " + std::to_string(jwt_secret.size()) +
                " bytes is too short for HS256; use at least 32 (openssl rand -hex 32)");
  if (data_dir.empty()) p.push_back("IDPHOTO_DATA_DIR: must not be empty");
  if (!public_url.empty() && public_url.rfind("http://", 0) != 0 && public_url.rfind("https://", 0) != 0)
    p.push_back("IDPHOTO_PUBLIC_URL: must start with http:// or https://, got '" + public_url + "'");
  if (!card_verify_url.empty() && card_verify_url.rfind("http://", 0) != 0 && card_verify_url.rfind("https://", 0) != 0)
    p.push_back("IDPHOTO_CARD_VERIFY_URL: must start with http:// or https://, got '" + card_verify_url + "'");
  if (auto v = pipeline.validate(); !v.ok())
    p.push_back("pipeline (IDPHOTO_MODEL*, IDPHOTO_MAX_IMAGE_*): " + v.err().detail);
  if (auto v = fetch::validate(fetch); !v.ok())
    p.push_back("IDPHOTO_FETCH_* (IDPHOTO_FETCH_ALLOW takes IPs or CIDRs): " + v.err().detail);
  if (!queue.url.empty())
    if (auto v = queue::validate(queue); !v.ok()) p.push_back(v.err().detail);
  if (auto v = batch.validate(); !v.ok()) p.push_back("batch limits: " + v.err().detail);
  if (auto bg = pipeline::parse_background(default_bg); !bg.ok()) p.push_back("IDPHOTO_DEFAULT_BG: " + bg.err().detail);
  if (default_format != "png" && default_format != "jpg" && default_format != "jpeg" && default_format != "webp")
    p.push_back("IDPHOTO_DEFAULT_FORMAT: must be png, jpg or webp, got '" + default_format + "'");
  if (default_format == "jpg" || default_format == "jpeg") {
    if (auto bg = pipeline::parse_background(default_bg); bg.ok() && !*bg)
      p.push_back("IDPHOTO_DEFAULT_BG=none needs IDPHOTO_DEFAULT_FORMAT png or webp (JPEG has no transparency)");
  }
  if (default_max_size_px > max_size_limit_px)
    p.push_back("IDPHOTO_DEFAULT_MAX_SIZE (" + std::to_string(default_max_size_px) +
                ") is over IDPHOTO_MAX_OUTPUT_SIZE (" + std::to_string(max_size_limit_px) + ")");
  if (raw_retention_days < 0 || raw_retention_days > 3650)
    p.push_back("IDPHOTO_RAW_RETENTION_DAYS: must be in 0..3650 (0 = keep raw photos), got " +
                std::to_string(raw_retention_days));
  if (n_workers < 1) p.push_back("IDPHOTO_WORKERS: must be >= 1");
  if (queue_size < 0) p.push_back("IDPHOTO_QUEUE_SIZE: must be >= 0");
  if (job_max_attempts < 1 || job_max_attempts > 100) p.push_back("IDPHOTO_JOB_MAX_ATTEMPTS: must be in 1..100");
  if (job_lease_ms < 1000 || job_lease_ms > 3600000) p.push_back("IDPHOTO_JOB_LEASE_MS: must be in 1000..3600000");
  if (http_threads < n_workers + 1)
    p.push_back("IDPHOTO_HTTP_THREADS (" + std::to_string(http_threads) + ") must exceed IDPHOTO_WORKERS (" +
                std::to_string(n_workers) +
                "), or health checks and 503s cannot be answered while every worker is busy");
  const int64_t est = memory_estimate_bytes();
  if (est > memory_limit_bytes)
    p.push_back("memory: the estimate " + std::to_string(est >> 20) +
                " MiB (96 MiB base + IDPHOTO_WORKERS x 200 MiB + IDPHOTO_HTTP_THREADS x " +
                "max(2 x IDPHOTO_MAX_BODY_BYTES, IDPHOTO_FETCH_MAX_BYTES + IDPHOTO_MAX_BODY_BYTES)) is over "
                "IDPHOTO_MEMORY_LIMIT_BYTES (" +
                std::to_string(memory_limit_bytes >> 20) + " MiB); lower one of them or raise the limit");
  return p;
}

base::result<void> app_config::validate() const {
  auto p = problems();
  if (!p.empty()) return base::make_error(errc::invalid_argument, join_lines(p));
  return {};
}

base::result<app_config> app_config::from_env(const env_lookup& env) {
  auto p = parse_env(env);
  auto more = p.cfg.problems();
  p.errors.insert(p.errors.end(), more.begin(), more.end());
  if (!p.errors.empty()) return base::make_error(errc::invalid_argument, join_lines(p.errors));
  return p.cfg;
}

}  // namespace idphoto::app

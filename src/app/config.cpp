// Reads the server's configuration from the environment and checks it as a whole.
#include "app/config.hpp"

#include <charconv>
#include <cstdlib>
#include <sstream>

namespace idphoto::app {

using base::errc;

std::optional<std::string> process_env(const std::string& key) {
  const char* v = std::getenv(key.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += "\n";
    out += l;
  }
  return out;
}

namespace {

// Reads a decimal integer in [lo, hi]; leaves *out alone when unset or empty; records an error otherwise.
template <class T>
void read_int(const env_lookup& env, const char* key, T* out, int64_t lo, int64_t hi, std::vector<std::string>* errors) {
  auto raw = env(key);
  if (!raw || raw->empty()) return;
  int64_t v = 0;
  const std::string& s = *raw;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    errors->push_back(std::string(key) + ": expected an integer, got '" + s + "'");
    return;
  }
  if (v < lo || v > hi) {
    errors->push_back(std::string(key) + ": must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + s);
    return;
  }
  *out = static_cast<T>(v);
}

void read_str(const env_lookup& env, const char* key, std::string* out) {
  auto raw = env(key);
  if (raw && !raw->empty()) *out = *raw;
}

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace

app_config::parsed app_config::parse_env(const env_lookup& env) {
  parsed p;
  app_config& c = p.cfg;
  auto& errs = p.errors;
  // Server defaults that differ from the modules' own: photos bounded for a 512 MB host.
  c.pipeline.limits.max_bytes = c.max_body_bytes;
  c.pipeline.limits.max_pixels = int64_t{1} << 25;
  c.fetch.max_bytes = static_cast<std::size_t>(c.max_body_bytes);

  read_int(env, "PORT", &c.port, 0, 65535, &errs);
  read_str(env, "IDPHOTO_BIND", &c.bind_host);
  read_int(env, "IDPHOTO_HTTP_THREADS", &c.http_threads, 1, 256, &errs);
  const int64_t body_before = c.max_body_bytes;
  read_int(env, "IDPHOTO_MAX_BODY_BYTES", &c.max_body_bytes, 1024, int64_t{1} << 32, &errs);
  if (c.max_body_bytes != body_before) {  // the image and fetch caps follow the body cap unless set
    c.pipeline.limits.max_bytes = c.max_body_bytes;
    c.fetch.max_bytes = static_cast<std::size_t>(c.max_body_bytes);
  }
  read_int(env, "IDPHOTO_REQUEST_TIMEOUT_MS", &c.request_timeout_ms, 100, 3'600'000, &errs);
  read_int(env, "IDPHOTO_RETRY_AFTER_S", &c.retry_after_s, 1, 3600, &errs);
  read_str(env, "JWT_SECRET", &c.jwt_secret);
  read_str(env, "IDPHOTO_PUBLIC_URL", &c.public_url);
  read_str(env, "IDPHOTO_CARD_VERIFY_URL", &c.card_verify_url);
  while (!c.public_url.empty() && c.public_url.back() == '/') c.public_url.pop_back();

  read_str(env, "IDPHOTO_DATA_DIR", &c.data_dir);
  read_str(env, "DATABASE_URL", &c.database_url);
  read_str(env, "IDPHOTO_STORE_DIR", &c.store_dir);

  // Cloudinary: CLOUDINARY_URL, or the three separate keys (all three, or none).
  const auto curl = env("CLOUDINARY_URL");
  const auto cname = env("CLOUDINARY_CLOUD_NAME"), ckey = env("CLOUDINARY_API_KEY"), csecret = env("CLOUDINARY_API_SECRET");
  const bool any_part = (cname && !cname->empty()) || (ckey && !ckey->empty()) || (csecret && !csecret->empty());
  if (curl && !curl->empty()) {
    auto cc = store::cloudinary_from_url(*curl);
    if (!cc.ok()) errs.push_back("CLOUDINARY_URL: " + cc.err().detail);
    else c.cloudinary = *cc;
    if (any_part) errs.push_back("CLOUDINARY_URL and CLOUDINARY_CLOUD_NAME/_API_KEY/_API_SECRET are both set; set one form only");
  } else if (any_part) {
    store::cloudinary_config cc;
    cc.cloud_name = cname.value_or("");
    cc.api_key = ckey.value_or("");
    cc.api_secret = csecret.value_or("");
    for (auto [k, v] : {std::pair{"CLOUDINARY_CLOUD_NAME", &cc.cloud_name}, {"CLOUDINARY_API_KEY", &cc.api_key},
                        {"CLOUDINARY_API_SECRET", &cc.api_secret}})
      if (v->empty()) errs.push_back(std::string(k) + ": missing (the three CLOUDINARY_* keys go together)");
    c.cloudinary = cc;
  }
  if (c.cloudinary) {
    read_str(env, "IDPHOTO_CLOUDINARY_FOLDER", &c.cloudinary->folder);
    read_str(env, "IDPHOTO_CLOUDINARY_API_BASE_URL", &c.cloudinary->api_base_url);
  }

  read_int(env, "IDPHOTO_WORKERS", &c.n_workers, 1, 64, &errs);
  read_int(env, "IDPHOTO_QUEUE_SIZE", &c.queue_size, 0, 1000, &errs);
  read_int(env, "IDPHOTO_JOB_TIMEOUT_MS", &c.job_timeout_ms, 100, 3'600'000, &errs);
  read_str(env, "IDPHOTO_MODELS_DIR", &c.pipeline.models_dir);
  read_str(env, "IDPHOTO_MODEL", &c.pipeline.model);
  read_str(env, "IDPHOTO_MODEL_NORM", &c.pipeline.model_norm);
  read_int(env, "IDPHOTO_MODEL_SIZE", &c.pipeline.model_size_px, 1, 100000, &errs);
  read_int(env, "IDPHOTO_MODEL_RETRY_SIZE", &c.pipeline.retry_size_px, 0, 100000, &errs);
  read_int(env, "IDPHOTO_THREADS", &c.pipeline.n_threads, 0, 256, &errs);
  read_int(env, "IDPHOTO_MAX_IMAGE_BYTES", &c.pipeline.limits.max_bytes, 1, int64_t{1} << 40, &errs);
  read_int(env, "IDPHOTO_MAX_IMAGE_PIXELS", &c.pipeline.limits.max_pixels, 1, int64_t{1} << 40, &errs);
  read_int(env, "IDPHOTO_MAX_IMAGE_SIDE_PX", &c.pipeline.limits.max_side_px, 1, 10'000'000, &errs);

  read_int(env, "IDPHOTO_FETCH_MAX_BYTES", &c.fetch.max_bytes, 1, int64_t{1} << 32, &errs);
  read_int(env, "IDPHOTO_FETCH_TIMEOUT_MS", &c.fetch.timeout_ms, 100, 600'000, &errs);
  if (auto allow = env("IDPHOTO_FETCH_ALLOW"); allow && !allow->empty()) c.fetch.allow = split_csv(*allow);

  read_str(env, "IDPHOTO_DEFAULT_BG", &c.default_bg);
  read_int(env, "IDPHOTO_DEFAULT_MAX_SIZE", &c.default_max_size_px, 16, 4096, &errs);
  read_str(env, "IDPHOTO_DEFAULT_FORMAT", &c.default_format);
  read_int(env, "IDPHOTO_MAX_OUTPUT_SIZE", &c.max_size_limit_px, 16, 4096, &errs);
  read_int(env, "IDPHOTO_MEMORY_LIMIT_BYTES", &c.memory_limit_bytes, int64_t{64} << 20, int64_t{1} << 40, &errs);
  return p;
}

int64_t app_config::memory_estimate_bytes() const {
  const int64_t per_thread = std::max<int64_t>(2 * max_body_bytes, static_cast<int64_t>(fetch.max_bytes) + max_body_bytes);
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
    p.push_back("JWT_SECRET: missing; set a random secret of at least 32 bytes (openssl rand -hex 32), or run serve --dev");
  else if (jwt_secret.size() < 32)
    p.push_back("JWT_SECRET: " + std::to_string(jwt_secret.size()) + " bytes is too short for HS256; use at least 32 (openssl rand -hex 32)");
  if (data_dir.empty()) p.push_back("IDPHOTO_DATA_DIR: must not be empty");
  if (!public_url.empty() && public_url.rfind("http://", 0) != 0 && public_url.rfind("https://", 0) != 0)
    p.push_back("IDPHOTO_PUBLIC_URL: must start with http:// or https://, got '" + public_url + "'");
  if (!card_verify_url.empty() && card_verify_url.rfind("http://", 0) != 0 && card_verify_url.rfind("https://", 0) != 0)
    p.push_back("IDPHOTO_CARD_VERIFY_URL: must start with http:// or https://, got '" + card_verify_url + "'");
  if (auto v = pipeline.validate(); !v.ok()) p.push_back("pipeline (IDPHOTO_MODEL*, IDPHOTO_MAX_IMAGE_*): " + v.err().detail);
  if (auto v = fetch::validate(fetch); !v.ok()) p.push_back("IDPHOTO_FETCH_* (IDPHOTO_FETCH_ALLOW takes IPs or CIDRs): " + v.err().detail);
  if (auto bg = pipeline::parse_background(default_bg); !bg.ok()) p.push_back("IDPHOTO_DEFAULT_BG: " + bg.err().detail);
  if (default_format != "png" && default_format != "jpg" && default_format != "jpeg" && default_format != "webp")
    p.push_back("IDPHOTO_DEFAULT_FORMAT: must be png, jpg or webp, got '" + default_format + "'");
  if (default_format == "jpg" || default_format == "jpeg") {
    if (auto bg = pipeline::parse_background(default_bg); bg.ok() && !*bg)
      p.push_back("IDPHOTO_DEFAULT_BG=none needs IDPHOTO_DEFAULT_FORMAT png or webp (JPEG has no transparency)");
  }
  if (default_max_size_px > max_size_limit_px)
    p.push_back("IDPHOTO_DEFAULT_MAX_SIZE (" + std::to_string(default_max_size_px) + ") is over IDPHOTO_MAX_OUTPUT_SIZE (" +
                std::to_string(max_size_limit_px) + ")");
  if (n_workers < 1) p.push_back("IDPHOTO_WORKERS: must be >= 1");
  if (queue_size < 0) p.push_back("IDPHOTO_QUEUE_SIZE: must be >= 0");
  if (http_threads < n_workers + 1)
    p.push_back("IDPHOTO_HTTP_THREADS (" + std::to_string(http_threads) + ") must exceed IDPHOTO_WORKERS (" + std::to_string(n_workers) +
                "), or health checks and 503s cannot be answered while every worker is busy");
  const int64_t est = memory_estimate_bytes();
  if (est > memory_limit_bytes)
    p.push_back("memory: the estimate " + std::to_string(est >> 20) + " MiB (96 MiB base + IDPHOTO_WORKERS x 200 MiB + IDPHOTO_HTTP_THREADS x " +
                "max(2 x IDPHOTO_MAX_BODY_BYTES, IDPHOTO_FETCH_MAX_BYTES + IDPHOTO_MAX_BODY_BYTES)) is over IDPHOTO_MEMORY_LIMIT_BYTES (" +
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

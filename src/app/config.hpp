// The server's whole configuration in one aggregate: every key read from the environment
// (the seed's names plus IDPHOTO_*), and one validate() that reports every problem at once.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/env.hpp"
#include "base/result.hpp"
#include "batch/batch_config.hpp"
#include "fetch/fetch_url.hpp"
#include "image/limits.hpp"
#include "pipeline/clean.hpp"
#include "queue/job_queue.hpp"
#include "store/blob_store.hpp"

namespace idphoto::app {

// Looks a variable up; nullopt when unset. The default reads the process environment.
using env_lookup = base::env_lookup;
using base::process_env;

// Every key the server reads: the app's own (HTTP, auth, backends, work, pipeline, per-request
// defaults, memory) and those of image, fetch, queue and batch; no name twice. This is the
// table config/idphoto.example.env is checked against (tests/base/test_env_doc.cpp).
const std::vector<base::env_key>& env_keys();

/* Memory model (the default fits a 512 MB host; see config/idphoto.example.env).
 * Requests are synchronous: each HTTP thread holds at most one request, and an admitted
 * job's photo is the bytes its HTTP thread received or fetched, so photos in memory are
 * bounded by the HTTP threads, not by the queue:
 *   estimate = base_bytes                         (binary, libs, model weights streamed fp16)
 *            + n_workers * job_bytes              (one clean: decode box, planes, activations)
 *            + http_threads * max(2 * max_body_bytes, fetch.max_bytes + max_body_bytes)
 *                                                 (body + multipart copy, or a fetched photo)
 * validate() refuses a configuration whose estimate is over memory_limit_bytes, so raising
 * workers, threads or body size needs raising the ceiling too (or lowering another).
 * job_bytes assumes max_image_pixels <= 2^25: HEIF/AVIF decode whole frames at ~4.5 B/px. */
struct memory_budget {
  int64_t base_bytes = int64_t{96} << 20;  // measured idle RSS with ISNet fp16 loaded is ~70 MiB
  int64_t job_bytes = int64_t{200} << 20;  // measured peak of one 12-MP JPEG clean is ~190 MiB
};

struct app_config {
  // HTTP
  int port = 8080;                             // PORT; 0 = any free port (tests)
  std::string bind_host = "0.0.0.0";           // IDPHOTO_BIND
  int http_threads = 6;                        // IDPHOTO_HTTP_THREADS; requests handled at once
  int64_t max_body_bytes = int64_t{10} << 20;  // IDPHOTO_MAX_BODY_BYTES; larger bodies get 413
  int request_timeout_ms = 30000;              // IDPHOTO_REQUEST_TIMEOUT_MS; idle timeout of a connection
  int header_timeout_ms = 10000;               // IDPHOTO_HEADER_TIMEOUT_MS; connection (or last answer) to headers
  int64_t max_header_bytes = 32768;            // IDPHOTO_MAX_HEADER_BYTES; request line + headers (431)
  int max_headers = 100;                       // IDPHOTO_MAX_HEADERS; header lines in a request (431)
  int max_connections = 1024;                  // IDPHOTO_MAX_CONNECTIONS; open connections
  int max_connections_per_ip = 256;            // IDPHOTO_MAX_CONNECTIONS_PER_IP; 0 = no per-address limit
  int retry_after_s = 5;                       // IDPHOTO_RETRY_AFTER_S; sent with every 503
  std::string jwt_secret;                      // JWT_SECRET; HS256 key, >= 32 bytes
  std::string public_url;                      // IDPHOTO_PUBLIC_URL; "" = http://localhost:PORT
  std::string card_verify_url;                 // IDPHOTO_CARD_VERIFY_URL; "" = the card QR holds the id only

  // Backends
  std::string data_dir = "data";                       // IDPHOTO_DATA_DIR; SQLite file, local store, dev secret
  std::string database_url;                            // DATABASE_URL; "" = sqlite:<data_dir>/idphoto.db
  std::string store_dir;                               // IDPHOTO_STORE_DIR; "" = <data_dir>/files
  std::optional<store::cloudinary_config> cloudinary;  // CLOUDINARY_URL or CLOUDINARY_CLOUD_NAME/_API_KEY/_API_SECRET

  // Work
  int n_workers = 1;           // IDPHOTO_WORKERS; inference slots, each loads the model
  int queue_size = 4;          // IDPHOTO_QUEUE_SIZE; admitted jobs waiting for a slot
  int job_timeout_ms = 60000;  // IDPHOTO_JOB_TIMEOUT_MS; queue wait + clean
  int job_max_attempts = 3;    // IDPHOTO_JOB_MAX_ATTEMPTS; runs of a photo job (our failures retried)
  int job_lease_ms = 30000;    // IDPHOTO_JOB_LEASE_MS; a killed worker's job is picked up again after this
  pipeline::pipeline_config
      pipeline;  // IDPHOTO_MODELS_DIR, IDPHOTO_MODEL, IDPHOTO_MODEL_SIZE, IDPHOTO_THREADS, IDPHOTO_MAX_IMAGE_*
  fetch::fetch_config fetch;  // IDPHOTO_FETCH_* (fetch::env_keys())
  queue::queue_config queue;  // IDPHOTO_QUEUE_URL, _NAME, ... (queue::env_keys()); url "" = in-process
  batch::batch_config batch;  // IDPHOTO_MAX_BATCH_*, IDPHOTO_MAX_ZIP_* (batch::env_keys())

  // Per-request defaults (the API's bg, maxSize, format)
  std::string default_bg = "blue";     // IDPHOTO_DEFAULT_BG
  int default_max_size_px = 800;       // IDPHOTO_DEFAULT_MAX_SIZE
  std::string default_format = "png";  // IDPHOTO_DEFAULT_FORMAT
  int max_size_limit_px = 2048;        // IDPHOTO_MAX_OUTPUT_SIZE; largest maxSize a request may ask

  // Privacy (docs/privacy.md)
  int raw_retention_days = 0;  // IDPHOTO_RAW_RETENTION_DAYS; a card's raw photo is removed this many
                               // days after it was stored, once the card has a clean photo; 0 = kept

  // Memory
  int64_t memory_limit_bytes = int64_t{448} << 20;  // IDPHOTO_MEMORY_LIMIT_BYTES
  memory_budget budget;

  // Every key of env_keys(), its parse errors collected (one line each); unset or empty keys
  // keep their defaults. The image and fetch byte caps follow IDPHOTO_MAX_BODY_BYTES unless
  // their own keys are set.
  struct parsed;
  static parsed parse_env(const env_lookup& env = process_env);
  // parse_env + validate; invalid_argument whose detail lists every problem, one per line.
  static base::result<app_config> from_env(const env_lookup& env = process_env);

  // Every inconsistent or out-of-range field, one message each (empty = valid).
  std::vector<std::string> problems() const;
  // invalid_argument listing problems(), one per line.
  base::result<void> validate() const;

  int64_t memory_estimate_bytes() const;
  std::string effective_public_url() const;
  std::string effective_database_url() const;
  std::string effective_store_dir() const;
};

struct app_config::parsed {
  app_config cfg;
  std::vector<std::string> errors;
};

// All problems as one message, one per line.
std::string join_lines(const std::vector<std::string>& lines);

}  // namespace idphoto::app

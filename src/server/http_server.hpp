// The HTTP service of idphoto (libmicrohttpd): the routes of docs/api.md over app::service,
// bearer-token auth, one error table, Prometheus metrics, one log line per request.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "app/service.hpp"
#include "base/result.hpp"

namespace idphoto::server {

// Receives one line per request (and startup messages); must be thread-safe. Default: stderr.
using log_sink = std::function<void(const std::string& line)>;

class http_server {
 public:
  // svc must outlive the server. Settings come from svc.config() (bind, port, threads,
  // body limit, timeouts, JWT secret, Retry-After).
  explicit http_server(app::service& svc, log_sink log = nullptr);
  ~http_server();  // stops and joins
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds the configured host and port (0 = any free port); returns the bound port.
  // unavailable when the address cannot be bound.
  base::result<int> bind();
  // Serves on the bound socket until stop(); returns when stopped. internal if it fails.
  base::result<void> listen();
  // Starts listen() on a thread of its own (tests); stop() or the destructor joins it.
  void start_background();
  void stop();
  int port() const;

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

// The OpenAPI 3 document (docs/openapi.json), embedded at build time.
const char* openapi_json();

}  // namespace idphoto::server

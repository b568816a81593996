// The HTTP server's lifecycle over cpp-httplib: settings, the router (405 with Allow, 501),
// httplib's own answers in our JSON shape, the last-resort exception handler (500 without
// detail) and the request log hook. The routes are in routes_*.cpp, by resource.
#include "server/http_server.hpp"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "server/auth.hpp"
#include "server/http_errors.hpp"
#include "server/metrics.hpp"
#include "server/request_log.hpp"
#include "server/respond.hpp"
#include "server/security_headers.hpp"
#include "server/server_internal.hpp"

namespace idphoto::server {

using base::errc;

void router::on(const char* method, const std::string& pattern, const char* name, access need, handler h) {
  routes_.emplace_back(method, std::regex(pattern));
  httplib::Server::Handler wrapped = [&config = config_, name, need, h = std::move(h)](const httplib::Request& req,
                                                                                       httplib::Response& res) {
    this_request().route = name;
    if (need != access::open && !authorised(req, res, config, need)) return;
    h(req, res);
  };
  const std::string m = method;
  if (m == "GET") http_.Get(pattern, std::move(wrapped));
  else if (m == "POST") http_.Post(pattern, std::move(wrapped));
  else if (m == "PATCH") http_.Patch(pattern, std::move(wrapped));
  else http_.Delete(pattern, std::move(wrapped));
}

std::string router::allowed_methods(const std::string& path) const {
  std::string allow;
  for (const auto& [m, re] : routes_) {
    if (!std::regex_match(path, re) || allow.find(m) != std::string::npos) continue;
    allow += (allow.empty() ? "" : ", ") + m + (m == "GET" ? ", HEAD" : "");
  }
  return allow;
}

struct http_server::impl {
  app::service& svc;
  log_sink log;
  httplib::Server http;
  router routes;
  metrics stats;
  int port = 0;
  std::thread bg;
  std::mutex log_mu;

  impl(app::service& s, log_sink l) : svc(s), log(std::move(l)), routes(http, s.config()) {}

  int retry_after() const { return svc.config().retry_after_s; }

  void install_hooks() {
    http.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
      begin_request();
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // httplib's own answers (no route, body over the limit, bad request line) get our JSON shape.
    http.set_error_handler(
        httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty() || res.status == 204) return httplib::Server::HandlerResponse::Unhandled;
          // A method no route has (TRACE, CONNECT, OPTIONS, anything unknown): 501. A standard one
          // on a path that has other methods: 405 with Allow. (Closing the connection after a
          // malformed request is not in our hands with cpp-httplib 0.11: docs/architecture.md.)
          static const std::set<std::string> served = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
          if (!req.method.empty() && !served.count(req.method)) {
            res.status = 501;
          } else if (res.status == 404) {
            if (const std::string allow = routes.allowed_methods(req.path); !allow.empty()) {
              res.status = 405;
              res.set_header("Allow", allow);
            }
          }
          send_error(res, http_error_for_status(res.status), retry_after());
          return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      this_request().log_detail = "exception: " + what;
      res.headers.clear();
      send_error(res, http_error_for(errc::internal), retry_after());
    });
    http.set_logger(
        [this](const httplib::Request& req, const httplib::Response& res) { emit(end_request(req, res, stats)); });
  }

  void install_routes() {
    add_static_routes(routes, svc, stats);
    add_file_routes(routes, svc);
    add_card_routes(routes, svc);
    add_photo_routes(routes, svc);
  }

  void emit(const std::string& line) {
    if (log) return log(line);
    std::lock_guard<std::mutex> lock(log_mu);
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }
};

http_server::http_server(app::service& svc, log_sink log) : p_(std::make_unique<impl>(svc, std::move(log))) {
  const auto& c = svc.config();
  const int threads = c.http_threads;
  p_->http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  p_->http.set_payload_max_length(static_cast<size_t>(c.max_body_bytes));
  const time_t sec = c.request_timeout_ms / 1000, usec = (c.request_timeout_ms % 1000) * 1000;
  p_->http.set_read_timeout(sec, usec);
  p_->http.set_write_timeout(sec, usec);
  p_->http.set_keep_alive_timeout(5);
  p_->http.set_default_headers(security_headers());
  svc.set_clean_observer([m = &p_->stats](double ms, bool ok) { m->observe_clean(ms / 1000.0, ok); });
  p_->install_hooks();
  p_->install_routes();
}
http_server::~http_server() {
  stop();
  p_->svc.set_clean_observer(nullptr);
}

base::result<int> http_server::bind() {
  const auto& c = p_->svc.config();
  if (c.port == 0) {
    const int port = p_->http.bind_to_any_port(c.bind_host);
    if (port <= 0) return base::make_error(errc::unavailable, "cannot bind " + c.bind_host + " on any port");
    p_->port = port;
  } else {
    if (!p_->http.bind_to_port(c.bind_host, c.port))
      return base::make_error(
          errc::unavailable, "cannot bind " + c.bind_host + ":" + std::to_string(c.port) + " (in use, or not allowed)");
    p_->port = c.port;
  }
  return p_->port;
}

base::result<void> http_server::listen() {
  if (!p_->http.listen_after_bind()) return base::make_error(errc::internal, "the HTTP server stopped with an error");
  return {};
}

void http_server::start_background() {
  p_->bg = std::thread([this] { (void)listen(); });
  for (int i = 0; i < 2500 && !p_->http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

void http_server::stop() {
  p_->http.stop();
  if (p_->bg.joinable()) p_->bg.join();
}

int http_server::port() const { return p_->port; }

}  // namespace idphoto::server

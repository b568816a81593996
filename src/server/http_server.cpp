// The HTTP server's lifecycle over libmicrohttpd (MHD): one event-loop thread reads every
// connection's request line, headers and body without holding a handler thread; a complete
// request suspends its connection and runs on the handler pool (IDPHOTO_HTTP_THREADS), which
// resumes it with the answer. Limits are applied while reading, before auth: header bytes
// (MHD's per-connection memory), header count (431), a header deadline (a reaper thread shuts
// the socket of a connection whose headers are late), the body limit for every transfer coding
// (413), one Content-Length and never with Transfer-Encoding (400 + close), and a budget of
// body bytes buffered at once (503). POST /api/batches alone is spooled to a temporary file
// under its own limit (spooled_body.hpp). The routes are in routes_*.cpp, the table in router.cpp.
#include "server/http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include "server/handler_pool.hpp"
#include "server/http_errors.hpp"
#include "server/metrics.hpp"
#include "server/request_log.hpp"
#include "server/respond.hpp"
#include "server/security_headers.hpp"
#include "server/server_internal.hpp"
#include "server/spooled_body.hpp"

namespace idphoto::server {

using base::errc;

namespace {

using steady = std::chrono::steady_clock;

// A connection's deadline for its next complete request line and headers, watched by the reaper.
struct conn_track {
  int fd = -1;
  steady::time_point deadline = steady::time_point::max();  // max: none (reading a body, or answering)
  bool cut = false;
};

// One request, from its request line to its answer being sent.
struct request_state {
  std::string raw_uri;
  steady::time_point start = steady::now();
  http_request req;
  http_response res;
  bool headers_seen = false;
  bool submitted = false;
  bool answered = false;
  int64_t reserved = 0;    // body bytes counted against the server's body budget
  std::string raw_answer;  // an answer written to the socket directly (a body that went over mid-read)
  // POST /api/batches: the body goes here, not to req.body (removed when the request ends,
  // however it ends: release() runs from MHD's completion callback, client disconnects included).
  std::unique_ptr<spooled_body> spool;
  bool spool_counted = false;  // counted in impl::spools
};

MHD_Result collect_header(void* cls, MHD_ValueKind, const char* key, const char* value) {
  static_cast<header_map*>(cls)->emplace(key ? key : "", value ? value : "");
  return MHD_YES;
}

const char* reason_of(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 413:
      return "Content Too Large";
    case 500:
      return "Internal Server Error";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

struct http_server::impl {
  app::service& svc;
  log_sink log;
  router routes;
  metrics stats;
  handler_pool pool;
  int port = 0;
  int listen_fd = -1;
  bool ipv6 = false;
  MHD_Daemon* daemon = nullptr;
  std::mutex log_mu;

  std::mutex track_mu;  // tracks, each track's deadline and cut, stopping, stop_cv
  std::set<conn_track*> tracks;
  std::condition_variable stop_cv;
  bool stopping = false;
  bool stopped = false;
  std::thread reaper;
  std::atomic<int64_t> body_bytes{0};  // bodies buffered now, all connections
  int64_t body_budget = 0;
  std::atomic<int> spools{0};  // spooled bodies now (at most http_threads: their disk is bounded too)

  impl(app::service& s, log_sink l) : svc(s), log(std::move(l)), routes(s.config()), pool(s.config().http_threads) {
    const auto& c = s.config();
    body_budget = int64_t{c.http_threads} * c.max_body_bytes;
  }

  const app::app_config& config() const { return svc.config(); }
  int retry_after() const { return config().retry_after_s; }

  void emit(const std::string& line) {
    if (log) return log(line);
    std::lock_guard<std::mutex> lock(log_mu);
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }

  static conn_track* track_of(MHD_Connection* conn) {
    const auto* info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? static_cast<conn_track*>(info->socket_context) : nullptr;
  }
  void set_deadline(MHD_Connection* conn, steady::time_point when) {
    if (conn_track* t = track_of(conn)) {
      std::lock_guard<std::mutex> lock(track_mu);
      t->deadline = when;
    }
  }
  steady::time_point header_deadline() const {
    return steady::now() + std::chrono::milliseconds(config().header_timeout_ms);
  }

  // Reserves n more body bytes; false when the server's budget would be passed.
  bool reserve(request_state* st, int64_t n) {
    if (body_bytes.fetch_add(n) + n > body_budget) {
      body_bytes.fetch_sub(n);
      return false;
    }
    st->reserved += n;
    return true;
  }

  // The answer of st, with the security headers, queued on conn.
  MHD_Result queue_answer(MHD_Connection* conn, request_state* st, bool close) {
    http_response& res = st->res;
    MHD_Response* r = nullptr;
    if (res.provider_size) {
      r = MHD_create_response_from_callback(
          *res.provider_size, 64 * 1024,
          [](void* cls, uint64_t pos, char* buf, size_t max) -> ssize_t {
            auto* s = static_cast<request_state*>(cls);
            const long n = s->res.provider(pos, buf, max);
            return n > 0 ? static_cast<ssize_t>(n) : MHD_CONTENT_READER_END_WITH_ERROR;
          },
          st, nullptr);
    } else {
      r = MHD_create_response_from_buffer(res.body.size(), res.body.data(), MHD_RESPMEM_PERSISTENT);
    }
    if (!r) return MHD_NO;
    for (const auto& [k, v] : security_headers()) MHD_add_response_header(r, k.c_str(), v.c_str());
    for (const auto& [k, v] : res.headers) MHD_add_response_header(r, k.c_str(), v.c_str());
    if (close) MHD_add_response_header(r, "Connection", "close");
    const MHD_Result ok = MHD_queue_response(conn, static_cast<unsigned>(res.status), r);
    MHD_destroy_response(r);
    return ok;
  }

  // res as the bytes of an HTTP/1.1 answer with Connection: close, for a socket MHD will not answer on.
  static std::string raw_answer(const http_response& res) {
    std::string head = "HTTP/1.1 " + std::to_string(res.status) + " " + reason_of(res.status) + "\r\n";
    for (const auto& [k, v] : security_headers()) head += k + ": " + v + "\r\n";
    for (const auto& [k, v] : res.headers) head += k + ": " + v + "\r\n";
    head += "Content-Length: " + std::to_string(res.body.size()) + "\r\nConnection: close\r\n\r\n";
    return head + res.body;
  }

  // An answer decided while reading (431, 413, 400, 503): logged and counted here, sent with
  // Connection: close so that no byte after it is read as a request.
  MHD_Result refuse(MHD_Connection* conn, request_state* st, int status, const std::string& detail) {
    return refuse(conn, st, http_error_for_status(status), detail);
  }
  // As above with the table's answer e; www_authenticate replaces that header when given.
  MHD_Result refuse(MHD_Connection* conn, request_state* st, const http_error& e, const std::string& detail,
                    const std::string& www_authenticate = "") {
    begin_request(st->start);
    this_request().route = "refused";
    this_request().log_detail = detail;
    st->res = http_response{};
    send_error(st->res, e, retry_after());
    if (!www_authenticate.empty()) st->res.set_header("WWW-Authenticate", www_authenticate);
    emit(end_request(st->req, st->res, stats));
    st->answered = true;
    if (queue_answer(conn, st, true) == MHD_YES) return MHD_YES;
    // MHD queues answers only before the body or after it: in the middle (a chunked body over
    // the limit), the answer goes to the socket as it is, and the connection is closed.
    st->raw_answer = raw_answer(st->res);
    if (conn_track* t = track_of(conn))
      (void)::send(t->fd, st->raw_answer.data(), st->raw_answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return MHD_NO;
  }

  // The first call for a request: its headers are complete. Refuses what must not be read.
  MHD_Result on_headers(MHD_Connection* conn, request_state* st, const char* url, const char* method) {
    st->headers_seen = true;
    set_deadline(conn, steady::time_point::max());
    http_request& req = st->req;
    req.method = method ? method : "";
    req.path = url ? url : "";
    if (const auto* info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        info && info->client_addr) {
      char b[INET6_ADDRSTRLEN] = "";
      const sockaddr* a = info->client_addr;
      if (a->sa_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a)->sin_addr, b, sizeof b);
      else if (a->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr, b, sizeof b);
      req.remote_addr = b;
    }
    const int n = MHD_get_connection_values(conn, MHD_HEADER_KIND, &collect_header, &req.headers);
    const auto& c = config();
    if (n > c.max_headers) return refuse(conn, st, 431, "more than " + std::to_string(c.max_headers) + " headers");
    if (const auto q = st->raw_uri.find('?');
        q != std::string::npos && !parse_query(st->raw_uri.substr(q + 1), &req.params))
      return refuse(conn, st, 400, "a malformed query");
    const auto lengths = req.headers.count("Content-Length");
    const bool chunked = req.has_header("Transfer-Encoding");
    if (lengths > 1) return refuse(conn, st, 400, "Content-Length given twice");
    if (lengths == 1 && chunked) return refuse(conn, st, 400, "Content-Length with Transfer-Encoding");
    if (is_spooled_route(req.method, req.path)) return start_spool(conn, st, lengths == 1);
    if (lengths == 1) {
      const std::string v = req.get_header_value("Content-Length");
      if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
        return refuse(conn, st, 400, "a malformed Content-Length");
      const int64_t declared = std::stoll(v);
      if (declared > c.max_body_bytes) return refuse(conn, st, 413, "Content-Length " + v + " over the limit");
      if (!reserve(st, declared)) return refuse(conn, st, 503, "body budget spent (bodies being read)");
      req.body.reserve(static_cast<size_t>(declared));
    }
    return MHD_YES;
  }

  // The spooled route: its own limit (IDPHOTO_MAX_BATCH_BYTES), the body to a file, not the budget.
  MHD_Result start_spool(MHD_Connection* conn, request_state* st, bool has_length) {
    const auto& c = config();
    // The router's answers (401, or 403 insufficient_scope), given before the body is read.
    if (const int status = spool_refusal(st->req, c); status == 401)
      return refuse(conn, st, 401, "auth: batch upload without a valid token");
    else if (status)
      return refuse(conn, st, http_error_for(access_refusal::insufficient_scope),
                    "auth: batch upload lacks cards:write",
                    "Bearer error=\"insufficient_scope\", scope=\"cards:write\"");
    if (has_length) {
      const std::string v = st->req.get_header_value("Content-Length");
      if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
        return refuse(conn, st, 400, "a malformed Content-Length");
      if (std::stoll(v) > c.batch.max_batch_bytes)
        return refuse(conn, st, 413, "Content-Length " + v + " over the batch limit");
    }
    if (spools.fetch_add(1) >= c.http_threads) {
      spools.fetch_sub(1);
      return refuse(conn, st, 503, "spooled bodies: " + std::to_string(c.http_threads) + " being read");
    }
    st->spool_counted = true;
    auto sp = spooled_body::create(c.data_dir);
    if (!sp) return refuse(conn, st, 500, "spool: " + sp.err().to_string());
    st->spool = std::move(*sp);
    return MHD_YES;
  }

  MHD_Result on_body(MHD_Connection* conn, request_state* st, const char* data, size_t* size) {
    const size_t n = *size;
    *size = 0;
    if (st->answered) return MHD_NO;
    const auto& c = config();
    if (st->spool) {
      if (st->spool->size() + static_cast<int64_t>(n) > c.batch.max_batch_bytes)
        return refuse(conn, st, 413, "the body went over the batch limit while read");
      if (auto w = st->spool->append(data, n); !w) return refuse(conn, st, 500, "spool: " + w.err().to_string());
      return MHD_YES;
    }
    if (static_cast<int64_t>(st->req.body.size() + n) > c.max_body_bytes)
      return refuse(conn, st, 413, "the body went over the limit while read");
    const int64_t have = static_cast<int64_t>(st->req.body.size() + n);
    if (have > st->reserved && !reserve(st, have - st->reserved))
      return refuse(conn, st, 503, "body budget spent (bodies being read)");
    st->req.body.append(data, n);
    return MHD_YES;
  }

  // The request is complete: suspend its connection and run the handler on the pool.
  MHD_Result on_complete(MHD_Connection* conn, request_state* st) {
    if (st->answered) return queue_answer(conn, st, false);
    if (st->submitted) return MHD_YES;
    st->submitted = true;
    MHD_suspend_connection(conn);
    const bool ok = pool.submit([this, conn, st] {
      begin_request(st->start);
      run_handler(st);
      st->spool.reset();  // the body and the ZIP's temp file are gone before the client has the answer
      emit(end_request(st->req, st->res, stats));
      st->answered = true;
      MHD_resume_connection(conn);
    });
    if (!ok) {  // stopping
      st->res = http_response{};
      send_error(st->res, http_error_for_status(503), retry_after());
      st->answered = true;
      MHD_resume_connection(conn);
    }
    return MHD_YES;
  }

  void run_handler(request_state* st) {
    http_request& req = st->req;
    try {
      if (st->spool) {
        if (req.is_multipart_form_data()) {
          auto parts = st->spool->parse(req.get_header_value("Content-Type"), spooled_policy(config()));
          this_request().route = "/api/batches";  // answered here when its body does not parse
          if (!parts.ok())
            return send_bad_request(st->res,
                                    parts.err().code == errc::too_large
                                        ? parts.err().detail
                                        : "malformed multipart/form-data: " + parts.err().detail,
                                    parts.err().code == errc::too_large ? 413 : 400);
          req.files = std::move(parts->parts);
          req.spooled_file = parts->file_path;
        }
      } else if (req.is_multipart_form_data()) {
        auto parts = parse_multipart(req.get_header_value("Content-Type"), req.body);
        if (!parts.ok()) return send_bad_request(st->res, "malformed multipart/form-data: " + parts.err().detail);
        for (auto& p : *parts) req.files.emplace(p.name, std::move(p));
        std::string().swap(req.body);  // one copy of a photo per request (app/config.hpp's estimate)
      }
      routes.dispatch(req, st->res);
    } catch (const std::exception& e) {
      internal_error(st, e.what());
    } catch (...) {
      internal_error(st, "unknown exception");
    }
  }
  void internal_error(request_state* st, const std::string& what) {
    this_request().log_detail = "exception: " + what;
    st->res = http_response{};
    send_error(st->res, http_error_for(errc::internal), retry_after());
  }

  void release(request_state* st) {
    if (st->reserved) body_bytes.fetch_sub(st->reserved);
    if (st->spool_counted) spools.fetch_sub(1);
    delete st;
  }

  // Shuts the socket of every connection whose headers are past their deadline.
  void reap() {
    std::unique_lock<std::mutex> lock(track_mu);
    while (!stopping) {
      stop_cv.wait_for(lock, std::chrono::milliseconds(100));
      const auto now = steady::now();
      for (conn_track* t : tracks) {
        if (t->cut || now < t->deadline) continue;
        t->cut = true;
        ::shutdown(t->fd, SHUT_RDWR);  // MHD sees the end of the stream and closes the connection
      }
    }
  }

  // MHD's callbacks (cls is the impl).
  static void* on_uri(void*, const char* uri, MHD_Connection*) {
    auto* st = new request_state;
    st->raw_uri = uri ? uri : "";
    return st;
  }
  static MHD_Result on_access(void* cls, MHD_Connection* conn, const char* url, const char* method, const char*,
                              const char* upload_data, size_t* upload_size, void** con_cls) {
    auto* self = static_cast<impl*>(cls);
    auto* st = static_cast<request_state*>(*con_cls);
    if (!st) *con_cls = st = new request_state;
    if (!st->headers_seen) return self->on_headers(conn, st, url, method);
    if (*upload_size) return self->on_body(conn, st, upload_data, upload_size);
    return self->on_complete(conn, st);
  }
  static void on_completed(void* cls, MHD_Connection* conn, void** con_cls, MHD_RequestTerminationCode) {
    auto* self = static_cast<impl*>(cls);
    if (*con_cls) self->release(static_cast<request_state*>(*con_cls));
    *con_cls = nullptr;
    self->set_deadline(conn, self->header_deadline());  // the next request on a kept-alive connection
  }
  static void on_connection(void* cls, MHD_Connection* conn, void** socket_context,
                            MHD_ConnectionNotificationCode code) {
    auto* self = static_cast<impl*>(cls);
    std::lock_guard<std::mutex> lock(self->track_mu);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      auto* t = new conn_track;
      const auto* info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
      t->fd = info ? info->connect_fd : -1;
      t->deadline = self->header_deadline();
      self->tracks.insert(t);
      *socket_context = t;
    } else if (auto* t = static_cast<conn_track*>(*socket_context)) {
      // Closed (by the client, the reaper, a refusal, or MHD on a request line it cannot parse,
      // which it closes without an answer: docs/architecture.md).
      self->tracks.erase(t);
      delete t;
      *socket_context = nullptr;
    }
  }

  bool start_daemon() {
    if (daemon) return true;
    const auto& c = config();
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (ipv6) flags |= MHD_USE_IPv6;
    const unsigned idle_s = static_cast<unsigned>(std::max(1, (c.request_timeout_ms + 999) / 1000));
    daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &on_access, this, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                              MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(c.max_connections),
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<unsigned>(c.max_connections_per_ip),
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(c.max_header_bytes),
                              MHD_OPTION_CONNECTION_TIMEOUT, idle_s, MHD_OPTION_NOTIFY_COMPLETED, &on_completed, this,
                              MHD_OPTION_NOTIFY_CONNECTION, &on_connection, this, MHD_OPTION_URI_LOG_CALLBACK, &on_uri,
                              this, MHD_OPTION_END);
    if (!daemon) return false;
    reaper = std::thread([this] { reap(); });
    return true;
  }
};

http_server::http_server(app::service& svc, log_sink log) : p_(std::make_unique<impl>(svc, std::move(log))) {
  svc.set_clean_observer([m = &p_->stats](double ms, bool ok) { m->observe_clean(ms / 1000.0, ok); });
  add_static_routes(p_->routes, svc, p_->stats);
  add_file_routes(p_->routes, svc);
  add_card_routes(p_->routes, svc);
  add_photo_routes(p_->routes, svc);
  add_job_routes(p_->routes, svc);
  add_batch_routes(p_->routes, svc);
}
http_server::~http_server() {
  stop();
  if (p_->listen_fd >= 0 && !p_->daemon) ::close(p_->listen_fd);
  p_->svc.set_clean_observer(nullptr);
}

base::result<int> http_server::bind() {
  const auto& c = p_->svc.config();
  const std::string where = c.bind_host + ":" + std::to_string(c.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(c.bind_host.empty() ? nullptr : c.bind_host.c_str(), std::to_string(c.port).c_str(), &hints,
                  &found) != 0 ||
      !found)
    return base::make_error(errc::unavailable, "cannot resolve " + where);
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 511) != 0) {
      ::close(fd);
      fd = -1;
      continue;
    }
    p_->ipv6 = a->ai_family == AF_INET6;
  }
  freeaddrinfo(found);
  if (fd < 0) return base::make_error(errc::unavailable, "cannot bind " + where + " (in use, or not allowed)");
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  p_->port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  p_->listen_fd = fd;
  return p_->port;
}

base::result<void> http_server::listen() {
  if (!p_->start_daemon()) return base::make_error(errc::internal, "the HTTP server (libmicrohttpd) did not start");
  std::unique_lock<std::mutex> lock(p_->track_mu);
  p_->stop_cv.wait(lock, [this] { return p_->stopped; });
  return {};
}

void http_server::start_background() { (void)p_->start_daemon(); }

void http_server::stop() {
  {
    std::lock_guard<std::mutex> lock(p_->track_mu);
    if (p_->stopped) return;
    p_->stopping = true;
  }
  p_->stop_cv.notify_all();
  if (p_->reaper.joinable()) p_->reaper.join();
  p_->pool.drain();                             // answers what is running; later requests get 503
  if (p_->daemon) MHD_stop_daemon(p_->daemon);  // closes the listening socket too
  {
    std::lock_guard<std::mutex> lock(p_->track_mu);
    p_->stopped = true;
  }
  p_->stop_cv.notify_all();
}

int http_server::port() const { return p_->port; }

}  // namespace idphoto::server

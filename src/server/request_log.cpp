// The request log: one line per request with time, client, method, path, status, duration,
// size, route and the error detail (never shown to the client).
#include "server/request_log.hpp"

#include <cstdio>
#include <ctime>

namespace idphoto::server {

namespace {

thread_local request_scope t_scope;

std::string utc_now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[80];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return b;
}

}  // namespace

request_scope& this_request() { return t_scope; }

void begin_request(std::chrono::steady_clock::time_point start) {
  t_scope = request_scope{};
  t_scope.start = start;
}

std::string end_request(const http_request& req, const http_response& res, metrics& stats) {
  const bool timed = t_scope.start != std::chrono::steady_clock::time_point{};
  const double s =
      timed ? std::chrono::duration<double>(std::chrono::steady_clock::now() - t_scope.start).count() : 0.0;
  stats.count_request(t_scope.route, res.status, s);
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.1f", s * 1000);
  // The path without the query (it may carry options, never secrets, but keep lines short).
  std::string line = utc_now_rfc3339() + " " + log_safe(req.remote_addr, 64) + " " + log_safe(req.method, 16) + " " +
                     log_safe(req.path, 200) + " " + std::to_string(res.status) + " " + ms + "ms " +
                     std::to_string(res.provider_size ? *res.provider_size : res.body.size()) +
                     "B route=" + t_scope.route;
  if (!t_scope.log_detail.empty()) line += " error=\"" + log_safe(t_scope.log_detail, 300) + "\"";
  t_scope = request_scope{};
  return line;
}

// A %0a in a path cannot start a forged line and no ESC sequence reaches a terminal.
std::string log_safe(std::string_view v, std::size_t max_bytes) {
  std::string out;
  for (const unsigned char c : v.substr(0, max_bytes)) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      char b[5];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace idphoto::server

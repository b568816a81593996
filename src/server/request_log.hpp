// One log line per request: this thread's request scope (route, start time, error detail) and
// client text escaped so that it cannot forge a line or reach a terminal as an escape sequence.
#pragma once
#include "server/http_message.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "server/metrics.hpp"

namespace idphoto::server {

// Per-request bookkeeping: a request's routing, handler and log line run on one thread.
struct request_scope {
  std::chrono::steady_clock::time_point start{};
  const char* route = "unmatched";
  std::string log_detail;  // the error detail, for the log line only
};

// The scope of the request this thread is serving.
request_scope& this_request();
// Starts a fresh scope, timed from start (when the request's first byte arrived).
void begin_request(std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now());
// Counts the answered request in stats and returns its log line; clears the scope.
std::string end_request(const http_request& req, const http_response& res, metrics& stats);

// Text from a client made safe for one log line: bytes outside printable ASCII, '"' and '\\'
// become \xNN. At most max_bytes of the input are kept.
std::string log_safe(std::string_view v, std::size_t max_bytes);

}  // namespace idphoto::server

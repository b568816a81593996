// One log line per request: this thread's request scope (route, start time, error detail) and
// client text escaped so that it cannot forge a line or reach a terminal as an escape sequence.
#pragma once
#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "server/metrics.hpp"

namespace idphoto::server {

// Per-request bookkeeping: httplib runs a request's routing, handler and logger on one thread.
struct request_scope {
  std::chrono::steady_clock::time_point start{};
  const char* route = "unmatched";
  std::string log_detail;  // the error detail, for the log line only
};

// The scope of the request this thread is serving.
request_scope& this_request();
// Starts a fresh scope, timed from now (the pre-routing hook).
void begin_request();
// Counts the answered request in stats and returns its log line; clears the scope.
std::string end_request(const httplib::Request& req, const httplib::Response& res, metrics& stats);

// Text from a client made safe for one log line: bytes outside printable ASCII, '"' and '\\'
// become \xNN. At most max_bytes of the input are kept.
std::string log_safe(std::string_view v, std::size_t max_bytes);

}  // namespace idphoto::server

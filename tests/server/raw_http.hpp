// Raw HTTP on 127.0.0.1 for the tests of what a client library would never send: slow
// headers, floods, smuggling shapes, malformed request lines. And the test process's RSS.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace harness {

// One TCP connection to 127.0.0.1:port (the test fails when it cannot connect).
class raw_socket {
 public:
  explicit raw_socket(int port);
  ~raw_socket();
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;
  bool connected() const { return fd_ >= 0; }
  // Sends all of bytes; false when the peer has closed or reset the connection.
  bool send(std::string_view bytes);
  // Reads what has arrived within wait (non-blocking after that); false once the peer closed.
  bool poll_read(std::chrono::milliseconds wait);
  // Reads until the peer closes or max passes; true when it closed.
  bool read_until_closed(std::chrono::milliseconds max);
  const std::string& received() const { return in_; }

 private:
  int fd_ = -1;
  bool closed_ = false;
  std::string in_;
};

// Sends request on a fresh connection and reads until the server closes it or 5 s pass.
std::string raw_exchange(int port, const std::string& request);
// The status of the first response in reply ("HTTP/1.1 200 ..."), or -1.
int status_of(const std::string& reply);
// How many responses reply holds (status lines at the start or after a body).
int responses_in(const std::string& reply);
// This process's resident set (VmRSS of /proc/self/status), bytes.
int64_t rss_bytes();

}  // namespace harness

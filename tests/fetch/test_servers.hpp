// Local servers for the fetch integration tests, bound to 127.0.0.1 on a random port:
// a cpp-httplib server with the routes the tests need, and a raw TCP server for responses
// httplib will not produce (a body that trickles forever, a close-delimited body).
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace idphoto::fetch::test_support {

// A valid 2x2 RGB PNG (74 bytes, made with zlib + CRC32 by hand).
std::string tiny_png();
// JPEG signature + JFIF APP0 + EOI: enough for the magic check (fetch never decodes).
std::string tiny_jpeg();

/* Routes:
 *   /png /jpeg                 the images above
 *   /html                      an HTML page sent with Content-Type: image/png (header must not count)
 *   /empty                     200 with an empty body
 *   /gzip                      gzip bytes with Content-Encoding: gzip (must not be decoded)
 *   /status/<n>                that status, short text body
 *   /no-location               302 without a Location header
 *   /chain/<n>                 302 to /chain/<n-1>; /chain/0 serves the PNG
 *   /redirect?to=<url>         302 Location: <url> (verbatim)
 *   /sized/<n>                 a PNG-prefixed body of exactly n bytes with Content-Length
 *   /chunked/<n>               a PNG-prefixed body of n bytes, chunked (no Content-Length)
 */
class http_server {
 public:
  // host: "127.0.0.1" or "::1".
  explicit http_server(const std::string& host = "127.0.0.1");
  ~http_server();
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  int requests() const { return requests_.load(); }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
  std::atomic<int> requests_{0};
};

// Accepts connections one at a time; for each, reads the request head and hands the socket
// to respond(fd, stopping). Stops (and unblocks respond via `stopping`) in the destructor.
class raw_server {
 public:
  using responder = std::function<void(int fd, const std::atomic<bool>& stopping)>;
  explicit raw_server(responder respond);
  ~raw_server();
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  int connections() const { return connections_.load(); }

 private:
  void run();
  responder respond_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// Writes all of data to fd; false when the peer went away.
bool send_all(int fd, const std::string& data);

}  // namespace idphoto::fetch::test_support

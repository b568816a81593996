// Local test servers for the fetch integration tests (see test_servers.hpp).
#include "fetch/test_servers.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace idphoto::fetch::test_support {

std::string tiny_png() {
  static const unsigned char bytes[] = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
      0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd, 0xd4, 0x9a, 0x73, 0x00, 0x00, 0x00, 0x11, 0x49,
      0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0xcf, 0xc0, 0x00, 0x44, 0x0c, 0x60, 0xf2, 0x3f, 0x00, 0x1b, 0xf2, 0x03,
      0xfd, 0x8e, 0x08, 0xd4, 0xaf, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}

std::string tiny_jpeg() {
  static const unsigned char bytes[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J',  'F',  'I',  'F',  0x00,
                                        0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xd9};
  return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}

namespace {

// n bytes starting with the PNG signature (so only the size can make the fetch fail).
std::string png_prefixed(std::size_t n) {
  std::string s = tiny_png();
  s.resize(n, 'x');
  return s;
}

}  // namespace

http_server::http_server(const std::string& host) : server_(std::make_unique<httplib::Server>()), host_(host) {
  auto& s = *server_;
  s.set_pre_routing_handler([this](const httplib::Request&, httplib::Response&) {
    ++requests_;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.Get("/png", [](const httplib::Request&, httplib::Response& res) { res.set_content(tiny_png(), "image/png"); });
  s.Get("/jpeg", [](const httplib::Request&, httplib::Response& res) { res.set_content(tiny_jpeg(), "image/jpeg"); });
  s.Get("/html", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<!doctype html><html><body>not a photo</body></html>", "image/png");
  });
  s.Get("/empty", [](const httplib::Request&, httplib::Response& res) { res.set_content("", "image/png"); });
  s.Get("/gzip", [](const httplib::Request&, httplib::Response& res) {
    // A gzip member header followed by filler: a decoder would reject it; we must not decode.
    std::string gz("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
    gz += "not really deflate data";
    res.set_header("Content-Encoding", "gzip");
    res.set_content(gz, "image/png");
  });
  s.Get(R"(/status/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    res.status = std::stoi(req.matches[1]);
    res.set_content("status page", "text/plain");
  });
  s.Get("/no-location", [](const httplib::Request&, httplib::Response& res) { res.status = 302; });
  s.Get(R"(/chain/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    int n = std::stoi(req.matches[1]);
    if (n == 0) {
      res.set_content(tiny_png(), "image/png");
      return;
    }
    res.set_redirect("/chain/" + std::to_string(n - 1), 302);
  });
  s.Get("/redirect", [](const httplib::Request& req, httplib::Response& res) {
    res.status = 302;
    res.set_header("Location", req.get_param_value("to"));
  });
  s.Get(R"(/sized/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    std::size_t n = std::stoul(req.matches[1]);
    auto body = std::make_shared<std::string>(png_prefixed(n));
    res.set_content_provider(n, "image/png", [body](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
      return sink.write(body->data() + offset, std::min<std::size_t>(length, 4096));
    });
  });
  s.Get(R"(/chunked/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    std::size_t n = std::stoul(req.matches[1]);
    auto body = std::make_shared<std::string>(png_prefixed(n));
    auto sent = std::make_shared<std::size_t>(0);
    res.set_chunked_content_provider("image/png", [body, sent](std::size_t, httplib::DataSink& sink) {
      if (*sent >= body->size()) {
        sink.done();
        return true;
      }
      std::size_t len = std::min<std::size_t>(body->size() - *sent, 4096);
      if (!sink.write(body->data() + *sent, len)) return false;
      *sent += len;
      return true;
    });
  });
  port_ = s.bind_to_any_port(host_);
  if (port_ <= 0) throw std::runtime_error("http_server: cannot bind " + host_);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

http_server::~http_server() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string http_server::url(const std::string& path) const {
  std::string host = host_.find(':') == std::string::npos ? host_ : "[" + host_ + "]";
  return "http://" + host + ":" + std::to_string(port_) + path;
}

bool send_all(int fd, const std::string& data) {
  std::size_t at = 0;
  while (at < data.size()) {
    ssize_t n = ::send(fd, data.data() + at, data.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += static_cast<std::size_t>(n);
  }
  return true;
}

raw_server::raw_server(responder respond) : respond_(std::move(respond)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("raw_server: socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 8) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("raw_server: bind/listen 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

raw_server::~raw_server() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
}

std::string raw_server::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void raw_server::run() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    // Read the request head (bounded), then respond.
    std::string head;
    char buf[1024];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536 && !stopping_) {
      pollfd q{fd, POLLIN, 0};
      if (::poll(&q, 1, 20) <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<std::size_t>(n));
    }
    if (!stopping_) respond_(fd, stopping_);
    ::close(fd);
  }
}

}  // namespace idphoto::fetch::test_support

// Raw TCP connections on loopback and the RSS reader.
#include "raw_http.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

namespace harness {

raw_socket::raw_socket(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ADD_FAILURE() << "cannot connect to 127.0.0.1:" << port;
  }
}

raw_socket::~raw_socket() {
  if (fd_ >= 0) ::close(fd_);
}

bool raw_socket::send(std::string_view bytes) {
  if (fd_ < 0 || closed_) return false;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool raw_socket::poll_read(std::chrono::milliseconds wait) {
  if (fd_ < 0 || closed_) return false;
  char buf[16384];
  int timeout = static_cast<int>(wait.count());
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout) <= 0) return true;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    in_.append(buf, static_cast<size_t>(n));
    timeout = 0;
  }
}

bool raw_socket::read_until_closed(std::chrono::milliseconds max) {
  const auto deadline = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < deadline)
    if (!poll_read(std::chrono::milliseconds(100))) return true;
  return closed_;
}

std::string raw_exchange(int port, const std::string& request) {
  raw_socket s(port);
  (void)s.send(request);
  (void)s.read_until_closed(std::chrono::seconds(5));
  return s.received();
}

int status_of(const std::string& reply) {
  if (reply.rfind("HTTP/1.1 ", 0) != 0 || reply.size() < 12) return -1;
  return std::stoi(reply.substr(9, 3));
}

int responses_in(const std::string& reply) {
  int n = 0;
  for (size_t at = reply.find("HTTP/1."); at != std::string::npos; at = reply.find("HTTP/1.", at + 1))
    if (at == 0 || reply.compare(at - 1, 1, "\n") == 0 || reply.compare(at - 1, 1, "}") == 0) ++n;
  return n;
}

int64_t rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string key;
  while (f >> key) {
    if (key == "VmRSS:") {
      int64_t kb = 0;
      f >> kb;
      return kb * 1024;
    }
    std::string rest;
    std::getline(f, rest);
  }
  return -1;
}

}  // namespace harness

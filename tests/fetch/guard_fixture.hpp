// The test fixture every fetch integration test uses: a connect hook that counts connection
// attempts and fails the test (and aborts the connection) for any non-loopback address, so no
// packet leaves the host even if the address guard in fetch_url is broken.
#pragma once
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "fetch/fetch_url.hpp"

namespace idphoto::fetch {

// Loopback by this test's own definition (independent of the module's policy code):
// 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104.
inline bool is_loopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    const unsigned char* b = in6.sin6_addr.s6_addr;
    static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b, one, 16) == 0 || (std::memcmp(b, mapped, 12) == 0 && b[12] == 127);
  }
  return false;
}

inline std::string text_of(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

// Every test runs with the guard hook installed.
class fetch_guarded : public ::testing::Test {
 protected:
  static inline std::atomic<int> attempts{0};
  static inline std::mutex seen_mutex;
  static inline std::vector<std::string> seen;

  void SetUp() override {
    attempts = 0;
    {
      std::lock_guard<std::mutex> lock(seen_mutex);
      seen.clear();
    }
    set_connect_hook([](const sockaddr* sa) {
      ++attempts;
      {
        std::lock_guard<std::mutex> lock(seen_mutex);
        seen.push_back(text_of(sa));
      }
      if (!is_loopback(sa)) {
        ADD_FAILURE() << "fetch_url tried to connect to non-loopback " << text_of(sa)
                      << " (the address guard is broken); connection aborted";
        return false;
      }
      return true;
    });
  }
  void TearDown() override { set_connect_hook(nullptr); }

  static fetch_config allow_loopback_v4() {
    fetch_config c;
    c.allow = {"127.0.0.1/32"};
    return c;
  }
  static std::vector<std::string> seen_addresses() {
    std::lock_guard<std::mutex> lock(seen_mutex);
    return seen;
  }
};

#define EXPECT_ERRC(result_, errc_)                                                    \
  do {                                                                                 \
    const auto& r_ = (result_);                                                        \
    ASSERT_FALSE(r_.ok()) << "expected " << base::errc_name(errc_) << ", got success"; \
    EXPECT_EQ(r_.err().code, (errc_)) << r_.err().to_string();                         \
  } while (0)

}  // namespace idphoto::fetch

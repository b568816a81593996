// fetch_url against local servers: the SSRF refusal matrix, redirects, size cap, timeout,
// content sniffing, URL hygiene. No packet may go to a non-loopback address: a connect hook
// fails the test and aborts any such connection, and counts every connection attempt.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fetch/fetch_url.hpp"
#include "fetch/guard_fixture.hpp"
#include "fetch/test_servers.hpp"

namespace idphoto::fetch {
namespace {

using base::errc;
using test_support::http_server;
using test_support::raw_server;

// ---------- happy path ----------

TEST_F(fetch_guarded, png_from_allowed_loopback_server) {
  http_server server;
  auto r = fetch_url(server.url("/png"), allow_loopback_v4());
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->bytes, test_support::tiny_png());
  EXPECT_EQ(r->content_type, "image/png");
  EXPECT_EQ(r->final_url, server.url("/png"));
  EXPECT_EQ(attempts.load(), 1);
  EXPECT_EQ(server.requests(), 1);
}

TEST_F(fetch_guarded, jpeg_content_type_from_magic) {
  http_server server;
  auto r = fetch_url(server.url("/jpeg"), allow_loopback_v4());
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->bytes, test_support::tiny_jpeg());
  EXPECT_EQ(r->content_type, "image/jpeg");
}

TEST_F(fetch_guarded, uppercase_scheme_is_normalised_and_allowed) {
  http_server server;
  auto r = fetch_url("HTTP://127.0.0.1:" + std::to_string(server.port()) + "/png", allow_loopback_v4());
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->content_type, "image/png");
}

// "localhost" resolves to 127.0.0.1 and ::1; with only 127.0.0.1/32 allowed, only 127.0.0.1 may
// ever reach the hook (an ::1 attempt, if curl makes one, is refused before a socket exists).
TEST_F(fetch_guarded, name_with_refused_and_allowed_address_uses_only_the_allowed_one) {
  http_server server;
  auto r = fetch_url("http://localhost:" + std::to_string(server.port()) + "/png", allow_loopback_v4());
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->bytes, test_support::tiny_png());
  for (const auto& a : seen_addresses()) EXPECT_EQ(a, "127.0.0.1");
  EXPECT_GE(attempts.load(), 1);
}

// The same over IPv6 loopback, and "localhost" with only ::1 allowed: now the 127.0.0.1 attempt
// is the one refused, whichever family curl tries first.
TEST_F(fetch_guarded, ipv6_loopback_when_allowed) {
  http_server server("::1");
  fetch_config c;
  c.allow = {"::1/128"};
  auto r = fetch_url(server.url("/png"), c);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->bytes, test_support::tiny_png());
  auto named = fetch_url("http://localhost:" + std::to_string(server.port()) + "/png", c);
  ASSERT_TRUE(named.ok()) << named.err().to_string();
  EXPECT_EQ(named->bytes, test_support::tiny_png());
  for (const auto& a : seen_addresses()) EXPECT_EQ(a, "::1");
  // Not allowed without the entry.
  EXPECT_ERRC(fetch_url(server.url("/png"), allow_loopback_v4()), errc::forbidden);
}

TEST_F(fetch_guarded, body_of_exactly_max_bytes_is_accepted) {
  http_server server;
  auto c = allow_loopback_v4();
  c.max_bytes = 5000;
  auto sized = fetch_url(server.url("/sized/5000"), c);
  ASSERT_TRUE(sized.ok()) << sized.err().to_string();
  EXPECT_EQ(sized->bytes.size(), 5000u);
  auto chunked = fetch_url(server.url("/chunked/5000"), c);
  ASSERT_TRUE(chunked.ok()) << chunked.err().to_string();
  EXPECT_EQ(chunked->bytes.size(), 5000u);
}

// ---------- the refusal matrix: nothing here may reach the hook or the server ----------

TEST_F(fetch_guarded, refusal_matrix_never_connects) {
  http_server server;  // live on 127.0.0.1:port, so a guard failure would really be served
  const std::string p = std::to_string(server.port());
  std::vector<std::string> urls = {
      "http://127.0.0.1:" + p + "/png",
      "http://127.0.0.2:" + p + "/png",
      "http://localhost:" + p + "/png",
      "http://LOCALHOST:" + p + "/png",
      "http://foo.localhost:" + p + "/png",
      "http://10.0.0.1:" + p + "/png",
      "http://172.16.0.1:" + p + "/png",
      "http://172.31.255.254:" + p + "/png",
      "http://192.168.1.1:" + p + "/png",
      "http://169.254.169.254/latest/meta-data/",
      "http://100.64.0.1:" + p + "/png",
      "http://0.0.0.0:" + p + "/png",
      "http://0:" + p + "/png",
      "http://224.0.0.1:" + p + "/png",
      "http://240.0.0.1:" + p + "/png",
      "http://255.255.255.255:" + p + "/png",
      "http://[::1]:" + p + "/png",
      "http://[::]:" + p + "/png",
      "http://[::ffff:127.0.0.1]:" + p + "/png",
      "http://[::ffff:7f00:1]:" + p + "/png",
      "http://[::ffff:169.254.169.254]/",
      "http://[::127.0.0.1]:" + p + "/png",
      "http://[64:ff9b::7f00:1]:" + p + "/png",
      "http://[64:ff9b::a9fe:a9fe]/",
      "http://[2002:7f00:1::1]:" + p + "/png",
      "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]:" + p + "/png",
      "http://[fe80::1]:" + p + "/png",
      "http://[fc00::1]:" + p + "/png",
      "http://[fd00:ec2::254]/",
      "http://[ff02::1]:" + p + "/png",
      "http://2130706433:" + p + "/png",
      "http://0x7f000001:" + p + "/png",
      "http://017700000001:" + p + "/png",
      "http://127.1:" + p + "/png",
      "http://0177.0.0.1:" + p + "/png",
      "http://0x7f.1:" + p + "/png",
      "https://127.0.0.1:" + p + "/png",
  };
  for (const auto& url : urls) {
    attempts = 0;
    auto r = fetch_url(url, fetch_config{});
    if (r.ok()) {
      ADD_FAILURE() << url << " was fetched";
      continue;
    }
    EXPECT_EQ(r.err().code, errc::forbidden) << url << " -> " << r.err().to_string();
    EXPECT_NE(r.err().detail.find("refused"), std::string::npos) << r.err().detail;
    EXPECT_EQ(attempts.load(), 0) << url << " reached the connect hook";
  }
  EXPECT_EQ(server.requests(), 0);
}

// The refusal names the address that was refused, after resolution.
TEST_F(fetch_guarded, refusal_names_the_resolved_address) {
  auto r = fetch_url("http://2130706433:9/", fetch_config{});
  EXPECT_ERRC(r, errc::forbidden);
  EXPECT_NE(r.err().detail.find("127.0.0.1:9"), std::string::npos) << r.err().detail;
  auto m = fetch_url("http://169.254.169.254/latest/meta-data/", fetch_config{});
  EXPECT_ERRC(m, errc::forbidden);
  EXPECT_NE(m.err().detail.find("169.254.169.254:80"), std::string::npos) << m.err().detail;
}

// ---------- redirects ----------

TEST_F(fetch_guarded, redirect_to_refused_loopback_never_makes_the_second_connection) {
  http_server server;
  const std::string p = std::to_string(server.port());
  for (const std::string& target : std::vector<std::string>{
           "http://127.0.0.2:" + p + "/png", "http://[::1]:" + p + "/png", "http://[::ffff:127.0.0.2]:" + p + "/png",
           "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://0x0a000001/"}) {
    attempts = 0;
    int before = server.requests();
    auto r = fetch_url(server.url("/redirect?to=" + target), allow_loopback_v4());
    if (r.ok()) {
      ADD_FAILURE() << target << " was fetched";
      continue;
    }
    EXPECT_EQ(r.err().code, errc::forbidden) << target << " -> " << r.err().to_string();
    EXPECT_EQ(attempts.load(), 1) << target << ": only the first hop may connect";
    EXPECT_EQ(server.requests() - before, 1) << target;
  }
}

TEST_F(fetch_guarded, redirect_to_bad_scheme_or_credentials_is_invalid_argument) {
  http_server server;
  const std::string p = std::to_string(server.port());
  for (const std::string& target :
       {std::string("ftp://127.0.0.1/x"), std::string("file:///etc/passwd"), std::string("gopher://127.0.0.1:70/_x"),
        std::string("dict://127.0.0.1:11211/stat"), "http://user:pass@127.0.0.1:" + p + "/png",
        std::string("///127.0.0.1/png"), std::string("http:///png"), std::string("http:/png")}) {
    attempts = 0;
    auto r = fetch_url(server.url("/redirect?to=" + target), allow_loopback_v4());
    ASSERT_FALSE(r.ok()) << target;
    EXPECT_EQ(r.err().code, errc::invalid_argument) << target << " -> " << r.err().to_string();
    EXPECT_EQ(attempts.load(), 1) << target;
  }
}

TEST_F(fetch_guarded, relative_redirects_are_resolved_against_the_current_url) {
  http_server server;
  for (const std::string& target :
       {std::string("/png"), std::string("png"), "//127.0.0.1:" + std::to_string(server.port()) + "/png"}) {
    auto r = fetch_url(server.url("/redirect?to=" + target), allow_loopback_v4());
    ASSERT_TRUE(r.ok()) << target << ": " << r.err().to_string();
    EXPECT_EQ(r->content_type, "image/png");
    EXPECT_EQ(r->final_url, server.url("/png"));
  }
}

TEST_F(fetch_guarded, redirect_chain_of_max_redirects_is_followed) {
  http_server server;
  auto r = fetch_url(server.url("/chain/3"), allow_loopback_v4());
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->bytes, test_support::tiny_png());
  EXPECT_EQ(r->final_url, server.url("/chain/0"));
  EXPECT_EQ(server.requests(), 4);
}

TEST_F(fetch_guarded, redirect_chain_over_max_redirects_is_refused) {
  http_server server;
  auto r = fetch_url(server.url("/chain/4"), allow_loopback_v4());
  EXPECT_ERRC(r, errc::forbidden);
  EXPECT_NE(r.err().detail.find("redirects"), std::string::npos) << r.err().detail;
  EXPECT_EQ(server.requests(), 4);  // the 4th redirect is not followed
  auto c = allow_loopback_v4();
  c.max_redirects = 0;
  auto none = fetch_url(server.url("/chain/1"), c);
  EXPECT_ERRC(none, errc::forbidden);
  auto direct = fetch_url(server.url("/chain/0"), c);
  EXPECT_TRUE(direct.ok()) << direct.err().to_string();
}

TEST_F(fetch_guarded, redirect_without_location_is_unavailable) {
  http_server server;
  auto r = fetch_url(server.url("/no-location"), allow_loopback_v4());
  EXPECT_ERRC(r, errc::unavailable);
}

// ---------- URL hygiene: refused before any connection ----------

TEST_F(fetch_guarded, bad_urls_are_invalid_argument_without_connecting) {
  http_server server;
  const std::string base = server.url("");
  std::vector<std::string> urls = {
      "",
      base + "/" + std::string(10 * 1024, 'a'),
      base + "/a b",
      base + "/png\r\nX-Injected: 1",
      base + "/png\tx",
      std::string("http://127.0.0.1/\0png", 21),
      base + "/png" + std::string("\x7f"),
      "ftp://127.0.0.1/x",
      "file:///etc/passwd",
      "gopher://127.0.0.1:70/_GET",
      "data:image/png;base64,iVBORw0KGgo=",
      "javascript:alert(1)",
      "dict://127.0.0.1:11211/stat",
      "ldap://127.0.0.1/",
      "http://user:pass@127.0.0.1:" + std::to_string(server.port()) + "/png",
      "http://user@127.0.0.1:" + std::to_string(server.port()) + "/png",
      "http://:pass@127.0.0.1:" + std::to_string(server.port()) + "/png",
      "127.0.0.1/png",
      "http:///png",
      "http:////127.0.0.1/png",
      "http:/127.0.0.1/png",
      "http:127.0.0.1/png",
      "http:\\\\127.0.0.1\\png",
      "http://127.0.0.1\\@10.0.0.1/",
      "http://[::1/",
      "http://127.0.0.1:99999/",
  };
  for (const auto& url : urls) {
    attempts = 0;
    auto r = fetch_url(url, allow_loopback_v4());
    if (r.ok()) {
      ADD_FAILURE() << "accepted: " << url.substr(0, 80);
      continue;
    }
    EXPECT_EQ(r.err().code, errc::invalid_argument) << url.substr(0, 80) << " -> " << r.err().to_string();
    EXPECT_EQ(attempts.load(), 0) << url.substr(0, 80);
  }
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(fetch_guarded, invalid_config_is_invalid_argument) {
  fetch_config c;
  c.allow = {"not-an-ip"};
  EXPECT_ERRC(fetch_url("http://127.0.0.1:9/", c), errc::invalid_argument);
  fetch_config z;
  z.max_bytes = 0;
  EXPECT_ERRC(fetch_url("http://127.0.0.1:9/", z), errc::invalid_argument);
  EXPECT_EQ(attempts.load(), 0);
}

// ---------- size cap ----------

TEST_F(fetch_guarded, body_over_max_bytes_with_content_length_is_too_large) {
  http_server server;
  auto c = allow_loopback_v4();
  c.max_bytes = 5000;
  EXPECT_ERRC(fetch_url(server.url("/sized/5001"), c), errc::too_large);
  EXPECT_ERRC(fetch_url(server.url("/sized/10000000"), c), errc::too_large);
}

TEST_F(fetch_guarded, chunked_body_over_max_bytes_is_too_large) {
  http_server server;
  auto c = allow_loopback_v4();
  c.max_bytes = 5000;
  EXPECT_ERRC(fetch_url(server.url("/chunked/5001"), c), errc::too_large);
  EXPECT_ERRC(fetch_url(server.url("/chunked/10000000"), c), errc::too_large);
}

// No Content-Length, no chunking: the body ends when the server closes. The server offers far
// more than the cap; the fetch must stop at the cap.
TEST_F(fetch_guarded, close_delimited_body_over_max_bytes_is_too_large) {
  raw_server server([](int fd, const std::atomic<bool>& stopping) {
    if (!test_support::send_all(fd, "HTTP/1.0 200 OK\r\nContent-Type: image/png\r\n\r\n" + test_support::tiny_png()))
      return;
    std::string block(4096, 'x');
    for (int i = 0; i < 4096 && !stopping; ++i) {  // up to 16 MiB
      if (!test_support::send_all(fd, block)) return;
    }
  });
  fetch_config c = allow_loopback_v4();
  c.max_bytes = 5000;
  EXPECT_ERRC(fetch_url(server.url("/"), c), errc::too_large);
}

// A Content-Length that lies low: curl stops reading at the declared length, so what we keep is
// never more than declared (and the declared size is under the cap).
TEST_F(fetch_guarded, content_length_that_lies_low_keeps_only_declared_bytes) {
  raw_server server([&](int fd, const std::atomic<bool>&) {
    std::string png = test_support::tiny_png();
    test_support::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(png.size()) +
                                   "\r\nConnection: close\r\n\r\n" + png + std::string(100000, 'x'));
  });
  auto r = fetch_url(server.url("/"), allow_loopback_v4());
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->bytes, test_support::tiny_png());
}

// ---------- timeout ----------

TEST_F(fetch_guarded, server_trickling_forever_times_out) {
  raw_server server([](int fd, const std::atomic<bool>& stopping) {
    if (!test_support::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n")) return;
    while (!stopping) {
      if (!test_support::send_all(fd, "x")) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  fetch_config c = allow_loopback_v4();
  c.timeout_ms = 300;
  EXPECT_ERRC(fetch_url(server.url("/"), c), errc::timeout);
}

TEST_F(fetch_guarded, server_that_never_answers_times_out) {
  raw_server server([](int, const std::atomic<bool>& stopping) {
    while (!stopping) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  });
  fetch_config c = allow_loopback_v4();
  c.timeout_ms = 300;
  EXPECT_ERRC(fetch_url(server.url("/"), c), errc::timeout);
}

// ---------- content and status ----------

TEST_F(fetch_guarded, html_body_is_unsupported_whatever_the_header_says) {
  http_server server;
  EXPECT_ERRC(fetch_url(server.url("/html"), allow_loopback_v4()), errc::unsupported);
  EXPECT_ERRC(fetch_url(server.url("/empty"), allow_loopback_v4()), errc::unsupported);
}

TEST_F(fetch_guarded, compressed_body_is_not_decoded) {
  http_server server;
  EXPECT_ERRC(fetch_url(server.url("/gzip"), allow_loopback_v4()), errc::unsupported);
}

TEST_F(fetch_guarded, http_errors_are_unavailable) {
  http_server server;
  for (int status : {404, 403, 500, 503}) {
    auto r = fetch_url(server.url("/status/" + std::to_string(status)), allow_loopback_v4());
    EXPECT_ERRC(r, errc::unavailable);
    EXPECT_NE(r.err().detail.find(std::to_string(status)), std::string::npos) << r.err().detail;
  }
  // 204 is a success with no body: not an image.
  EXPECT_ERRC(fetch_url(server.url("/status/204"), allow_loopback_v4()), errc::unsupported);
}

TEST_F(fetch_guarded, connection_refused_is_unavailable) {
  int port = 0;
  {
    raw_server closed([](int, const std::atomic<bool>&) {});
    port = closed.port();
  }  // closed now: nothing listens on that port
  auto r = fetch_url("http://127.0.0.1:" + std::to_string(port) + "/", allow_loopback_v4());
  EXPECT_ERRC(r, errc::unavailable);
}

// The hook itself: returning false aborts the connection, and that is reported as forbidden.
TEST_F(fetch_guarded, connect_hook_returning_false_aborts) {
  http_server server;
  set_connect_hook([](const sockaddr*) {
    ++attempts;
    return false;
  });
  auto r = fetch_url(server.url("/png"), allow_loopback_v4());
  EXPECT_ERRC(r, errc::forbidden);
  EXPECT_EQ(attempts.load(), 1);
  EXPECT_EQ(server.requests(), 0);
}

// Proxy variables must not route the fetch (a proxy would pick the address, not our guard).
TEST_F(fetch_guarded, proxy_environment_is_ignored) {
  http_server server;
  raw_server proxy([](int fd, const std::atomic<bool>&) {
    test_support::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nPROX");
  });
  const std::string proxy_url = proxy.url("");
  setenv("http_proxy", proxy_url.c_str(), 1);
  setenv("HTTP_PROXY", proxy_url.c_str(), 1);
  setenv("ALL_PROXY", proxy_url.c_str(), 1);
  auto r = fetch_url(server.url("/png"), allow_loopback_v4());
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  unsetenv("ALL_PROXY");
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->bytes, test_support::tiny_png());
  EXPECT_EQ(proxy.connections(), 0);
}

}  // namespace
}  // namespace idphoto::fetch

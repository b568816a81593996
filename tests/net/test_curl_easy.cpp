// Tests for net/curl_easy (the shared libcurl setup) and base::unique_handle: the body cap
// against raw loopback servers (declared length, chunked, close-delimited, exactly at the cap,
// unwanted statuses), the handle's fixed options (no redirects, http/https only, no proxy from
// the environment), CURLcode → errc, global_init, and that unique_handle frees exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_handle.hpp"
#include "fetch/test_servers.hpp"
#include "net/curl_easy.hpp"

namespace idphoto::net {
namespace {

using base::errc;
using fetch::test_support::raw_server;
using fetch::test_support::send_all;

// A server that answers every connection with the same bytes and closes.
raw_server answering(std::string reply) {
  return raw_server([reply = std::move(reply)](int fd, const std::atomic<bool>&) { send_all(fd, reply); });
}

std::string with_length(const std::string& status_line, const std::string& body) {
  return status_line + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::string chunked(const std::string& body) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx", body.size());
  return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + std::string(size) + "\r\n" +
         body + "\r\n0\r\n\r\n";
}

curl_ptr handle_for(const std::string& url, long timeout_ms = 10000) {
  auto h = new_handle({.timeout_ms = timeout_ms, .connect_timeout_ms = 5000, .user_agent = "t"});
  EXPECT_TRUE(h.ok()) << h.err().to_string();
  if (!h.ok()) return nullptr;
  curl_easy_setopt(h->get(), CURLOPT_URL, url.c_str());
  return std::move(*h);
}

base::result<response> get(const std::string& url, std::size_t cap) {
  auto h = handle_for(url);
  if (!h) return base::make_error(errc::internal, "no handle");
  return perform(h.get(), cap, "GET " + url);
}

// curl_easy_perform on a fresh handle with body attached.
CURLcode perform_into(const std::string& url, capped_body* body) {
  auto h = handle_for(url);
  if (!h) return CURLE_FAILED_INIT;
  attach_body(h.get(), body);
  return curl_easy_perform(h.get());
}

// ---------- the body cap ----------

TEST(net_body_cap, body_exactly_at_the_cap_is_kept) {
  auto server = answering(with_length("HTTP/1.1 200 OK", std::string(1000, 'a')));
  auto r = get(server.url("/"), 1000);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::string(1000, 'a'));
}

TEST(net_body_cap, declared_length_over_the_cap_keeps_nothing) {
  auto server = answering(with_length("HTTP/1.1 200 OK", std::string(1001, 'a')));
  std::string out;
  capped_body body{&out, 1000};
  EXPECT_EQ(perform_into(server.url("/"), &body), CURLE_WRITE_ERROR);
  EXPECT_TRUE(body.over_cap);
  EXPECT_FALSE(body.skipped);
  EXPECT_TRUE(out.empty()) << out.size();
}

TEST(net_body_cap, chunked_body_over_the_cap_is_too_large) {
  auto server = answering(chunked(std::string(5001, 'a')));
  auto r = get(server.url("/"), 5000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::too_large);
  EXPECT_NE(r.err().detail.find("over 5000 bytes"), std::string::npos) << r.err().detail;
  EXPECT_NE(r.err().detail.find("GET http://127.0.0.1:"), std::string::npos) << r.err().detail;
}

TEST(net_body_cap, chunked_body_under_the_cap_is_kept) {
  auto server = answering(chunked(std::string(4999, 'b')));
  auto r = get(server.url("/"), 5000);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->body, std::string(4999, 'b'));
}

// No length, no chunking: the server offers far more than the cap and the reader stops at it.
TEST(net_body_cap, close_delimited_body_stops_at_the_cap) {
  raw_server server([](int fd, const std::atomic<bool>& stopping) {
    if (!send_all(fd, "HTTP/1.0 200 OK\r\n\r\n")) return;
    std::string block(4096, 'x');
    for (int i = 0; i < 4096 && !stopping; ++i)  // up to 16 MiB
      if (!send_all(fd, block)) return;
  });
  std::string out;
  capped_body body{&out, 10000};
  EXPECT_EQ(perform_into(server.url("/"), &body), CURLE_WRITE_ERROR);
  EXPECT_TRUE(body.over_cap);
  EXPECT_LE(out.size(), 10000u);
}

TEST(net_body_cap, zero_cap_takes_an_empty_body_and_refuses_one_byte) {
  auto empty = answering(with_length("HTTP/1.1 200 OK", ""));
  auto r = get(empty.url("/"), 0);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());
  auto one = answering(with_length("HTTP/1.1 200 OK", "x"));
  auto r1 = get(one.url("/"), 0);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.err().code, errc::too_large);
}

// perform: any status is a response (the caller maps it), its body capped like any other.
TEST(net_body_cap, error_status_is_a_response_with_its_body) {
  auto server = answering(with_length("HTTP/1.1 404 Not Found", "<Code>NoSuchKey</Code>"));
  auto r = get(server.url("/"), 1000);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "<Code>NoSuchKey</Code>");
}

// only_2xx: a redirect's or an error's body is not wanted; its first byte stops the transfer
// and that is told apart from the cap.
TEST(net_body_cap, only_2xx_skips_other_bodies_without_calling_them_too_large) {
  for (const char* status : {"HTTP/1.1 302 Found", "HTTP/1.1 500 Internal Server Error"}) {
    auto server = answering(with_length(status, std::string(50000, 'r')));
    std::string out;
    capped_body body{&out, 10, /*only_2xx=*/true};
    EXPECT_EQ(perform_into(server.url("/"), &body), CURLE_WRITE_ERROR) << status;
    EXPECT_TRUE(body.skipped) << status;
    EXPECT_FALSE(body.over_cap) << status;
    EXPECT_TRUE(out.empty()) << status;
  }
  auto ok = answering(with_length("HTTP/1.1 200 OK", "fine"));
  std::string out;
  capped_body body{&out, 10, /*only_2xx=*/true};
  EXPECT_EQ(perform_into(ok.url("/"), &body), CURLE_OK);
  EXPECT_FALSE(body.skipped);
  EXPECT_EQ(out, "fine");
}

// ---------- the handle's fixed options ----------

TEST(net_handle, redirects_are_not_followed) {
  auto target = answering(with_length("HTTP/1.1 200 OK", "target"));
  auto server = answering("HTTP/1.1 302 Found\r\nLocation: " + target.url("/") +
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  auto r = get(server.url("/"), 1000);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(target.connections(), 0);
}

TEST(net_handle, only_http_and_https) {
  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1/", "dict://127.0.0.1/"}) {
    auto r = get(url, 1000);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.err().code, errc::internal) << url << ": " << r.err().detail;
  }
}

TEST(net_handle, proxy_environment_is_ignored) {
  auto server = answering(with_length("HTTP/1.1 200 OK", "direct"));
  auto proxy = answering(with_length("HTTP/1.1 200 OK", "PROXY"));
  const std::string proxy_url = proxy.url("");
  for (const char* var : {"http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"}) setenv(var, proxy_url.c_str(), 1);
  auto r = get(server.url("/"), 1000);
  for (const char* var : {"http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"}) unsetenv(var);
  ASSERT_TRUE(r.ok()) << r.err().to_string();
  EXPECT_EQ(r->body, "direct");
  EXPECT_EQ(proxy.connections(), 0);
}

TEST(net_handle, connection_refused_is_unavailable) {
  int port = 0;
  {
    raw_server closed([](int, const std::atomic<bool>&) {});
    port = closed.port();
  }  // nothing listens on that port now
  auto r = get("http://127.0.0.1:" + std::to_string(port) + "/", 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().detail;
}

TEST(net_handle, server_that_never_answers_times_out) {
  raw_server server([](int, const std::atomic<bool>& stopping) {
    while (!stopping) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  });
  auto h = handle_for(server.url("/"), 300);
  ASSERT_TRUE(h);
  auto r = perform(h.get(), 1000, "GET");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::timeout) << r.err().detail;
}

TEST(net_handle, header_list_keeps_lines_in_order_and_none_is_null) {
  auto none = header_list({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->get(), nullptr);
  auto list = header_list({"A: 1", "Expect:", "B: 2"});
  ASSERT_TRUE(list.ok());
  std::vector<std::string> got;
  for (curl_slist* p = list->get(); p != nullptr; p = p->next) got.emplace_back(p->data);
  EXPECT_EQ(got, (std::vector<std::string>{"A: 1", "Expect:", "B: 2"}));
}

// ---------- CURLcode → errc ----------

TEST(net_errc, timeouts_transport_and_the_rest) {
  EXPECT_EQ(errc_for(CURLE_OPERATION_TIMEDOUT), errc::timeout);
  for (CURLcode rc : {CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT, CURLE_SEND_ERROR,
                      CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_SSL_CONNECT_ERROR,
                      CURLE_PEER_FAILED_VERIFICATION, CURLE_HTTP2, CURLE_HTTP2_STREAM})
    EXPECT_EQ(errc_for(rc), errc::unavailable) << curl_easy_strerror(rc);
  for (CURLcode rc : {CURLE_OK, CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_WRITE_ERROR, CURLE_OUT_OF_MEMORY,
                      CURLE_BAD_FUNCTION_ARGUMENT, CURLE_FILESIZE_EXCEEDED, CURL_LAST})
    EXPECT_EQ(errc_for(rc), errc::internal) << static_cast<int>(rc);
}

TEST(net_errc, error_for_names_what_and_curls_text) {
  auto e = error_for(CURLE_COULDNT_CONNECT, "PUT http://x/y");
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_EQ(e.detail, std::string("PUT http://x/y: ") + curl_easy_strerror(CURLE_COULDNT_CONNECT));
}

// ---------- global_init ----------

TEST(net_global_init, idempotent_and_safe_from_many_threads) {
  EXPECT_TRUE(global_init().ok());
  EXPECT_TRUE(global_init().ok());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      if (global_init().ok()) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  // Handles keep working after repeated calls (a second curl_global_init would not break them
  // either, but a second curl_global_cleanup would; we never call it).
  auto h = new_handle({});
  EXPECT_TRUE(h.ok());
}

// ---------- base::unique_handle ----------

int g_frees = 0;
int* g_last_freed = nullptr;
void counting_free(int* p) {
  ++g_frees;
  g_last_freed = p;
  delete p;
}
using counted_ptr = base::unique_handle<int, counting_free>;

TEST(net_unique_handle, calls_the_free_function_exactly_once) {
  g_frees = 0;
  int* raw = new int(7);
  {
    counted_ptr p(raw);
    EXPECT_EQ(*p, 7);
    EXPECT_EQ(g_frees, 0);
  }
  EXPECT_EQ(g_frees, 1);
  EXPECT_EQ(g_last_freed, raw);
}

TEST(net_unique_handle, never_calls_it_for_null) {
  g_frees = 0;
  { counted_ptr p; }
  { counted_ptr p(nullptr); }
  counted_ptr q(new int(1));
  q.reset();
  EXPECT_EQ(g_frees, 1);
  q.reset();  // already null
  EXPECT_EQ(g_frees, 1);
}

TEST(net_unique_handle, move_release_and_reset_free_each_handle_once) {
  g_frees = 0;
  counted_ptr a(new int(1));
  counted_ptr b(std::move(a));
  EXPECT_EQ(a.get(), nullptr);
  b = counted_ptr(new int(2));  // frees the first
  EXPECT_EQ(g_frees, 1);
  int* kept = b.release();
  b.reset();
  EXPECT_EQ(g_frees, 1);
  delete kept;
  static_assert(sizeof(counted_ptr) == sizeof(int*), "the deleter takes no space");
  static_assert(sizeof(curl_ptr) == sizeof(CURL*));
}

}  // namespace
}  // namespace idphoto::net

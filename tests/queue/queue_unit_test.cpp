// idphoto_queue without a broker: IDPHOTO_QUEUE_URL parsing, config checks, hostile inputs, and
// what open_job_queue says when nothing listens.
#include <gtest/gtest.h>

#include "queue/job_queue.hpp"

namespace idphoto::queue {
namespace {

using base::errc;

TEST(queue_url, parses_user_password_host_port_vhost) {
  auto e = parse_amqp_url("amqp://idp%40hoto:p%3Aa%2Fss@broker-1.internal:5673/prod%2Fjobs");
  ASSERT_FALSE(e.ok());  // a vhost with '/' inside is refused…
  e = parse_amqp_url("amqp://idp%40hoto:p%3Aa%2Fss@broker-1.internal:5673/prod-jobs");
  ASSERT_TRUE(e.ok()) << e.err().to_string();
  EXPECT_EQ(e->user, "idp@hoto");
  EXPECT_EQ(e->password, "p:a/ss");
  EXPECT_EQ(e->host, "broker-1.internal");
  EXPECT_EQ(e->port, 5673);
  EXPECT_EQ(e->vhost, "prod-jobs");
}

TEST(queue_url, default_port_and_vhost) {
  for (const char* url : {"amqp://u:p@h", "amqp://u:p@h/", "amqp://u:p@h/%2F", "amqp://u:p@h/%2f"}) {
    auto e = parse_amqp_url(url);
    ASSERT_TRUE(e.ok()) << url << ": " << e.err().to_string();
    EXPECT_EQ(e->port, 5672) << url;
    EXPECT_EQ(e->vhost, "/") << url;
  }
  auto at = parse_amqp_url("amqp://u:p@ss@127.0.0.1:1");
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->password, "p@ss");
}

TEST(queue_url, errors_name_the_problem_never_the_password) {
  const std::string pw = "Sup3rSecretPw";
  struct bad_case {
    std::string url, must_mention;
  };
  const bad_case cases[] = {
      {"", "amqp://"},
      {"http://u:" + pw + "@h", "amqp://"},
      {"amqp://h:5672", "USER:PASSWORD@"},
      {"amqp://u" + pw + "@h", "password"},
      {"amqp://:" + pw + "@h", "user"},
      {"amqp://u:@h", "password"},
      {"amqp://u:" + pw + "@", "host"},
      {"amqp://u:" + pw + "@:5672", "host"},
      {"amqp://u:" + pw + "@h:", "port"},
      {"amqp://u:" + pw + "@h:0", "port"},
      {"amqp://u:" + pw + "@h:65536", "port"},
      {"amqp://u:" + pw + "@h:12x", "port"},
      {"amqp://u:" + pw + "@h_h", "host"},
      {"amqp://u:" + pw + "@[::1]:5672", "host"},
      {"amqp://u:" + pw + "@h/a/b", "vhost"},
      {"amqp://u:" + pw + "@h/?heartbeat=5", "query"},
      {"amqp://u:%zz" + pw + "@h", "percent"},
      {"amqp://u:" + pw + "%00@h", "percent"},
      {"amqp://u:" + pw + "%0a@h", "percent"},
      {"amqp://u:" + pw + "@h/" + std::string(3000, 'v'), "2048"},
  };
  for (const auto& bc : cases) {
    auto e = parse_amqp_url(bc.url);
    ASSERT_FALSE(e.ok()) << bc.url;
    EXPECT_EQ(e.err().code, errc::invalid_argument) << bc.url;
    EXPECT_NE(e.err().detail.find(bc.must_mention), std::string::npos) << bc.url << " → " << e.err().detail;
    EXPECT_EQ(e.err().detail.find(pw), std::string::npos) << e.err().detail;
  }
  auto tls = parse_amqp_url("amqps://u:" + pw + "@h");
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.err().code, errc::unsupported);
  EXPECT_EQ(tls.err().detail.find(pw), std::string::npos);
}

TEST(queue_config, validate_names_the_bad_field) {
  struct bad_case {
    void (*mutate)(queue_config&);
    const char* must_mention;
  };
  const bad_case cases[] = {
      {[](queue_config& c) { c.url = "amqp://u@h"; }, "IDPHOTO_QUEUE_URL"},
      {[](queue_config& c) { c.queue_name.clear(); }, "queue name"},
      {[](queue_config& c) { c.queue_name = "has space"; }, "queue name"},
      {[](queue_config& c) { c.queue_name = std::string(201, 'q'); }, "queue name"},
      {[](queue_config& c) { c.queue_name = "amq.jobs"; }, "amq."},
      {[](queue_config& c) { c.delivery_limit = 0; }, "delivery limit"},
      {[](queue_config& c) { c.delivery_limit = 1001; }, "delivery limit"},
      {[](queue_config& c) { c.max_length = 0; }, "max length"},
      {[](queue_config& c) { c.heartbeat_s = -1; }, "heartbeat"},
      {[](queue_config& c) { c.heartbeat_s = 601; }, "heartbeat"},
      {[](queue_config& c) { c.connect_timeout_ms = 0; }, "connect timeout"},
      {[](queue_config& c) { c.publish_timeout_ms = 50; }, "publish timeout"},
      {[](queue_config& c) { c.reconnect_min_ms = 500, c.reconnect_max_ms = 100; }, "backoff"},
  };
  for (const auto& bc : cases) {
    queue_config c;
    c.url = "amqp://u:p@127.0.0.1:5672/";
    bc.mutate(c);
    auto r = validate(c);
    ASSERT_FALSE(r.ok()) << bc.must_mention;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().detail.find(bc.must_mention), std::string::npos) << r.err().detail;
    auto q = open_job_queue(c);
    ASSERT_FALSE(q.ok());
    EXPECT_EQ(q.err().code, errc::invalid_argument);
  }
  queue_config ok;
  ok.url = "amqp://u:p@127.0.0.1:5672/";
  EXPECT_TRUE(validate(ok).ok());
}

TEST(queue_open, unreachable_port_is_unavailable_and_says_where) {
  queue_config c;
  c.url = "amqp://u:p@127.0.0.1:1/";  // nothing listens on port 1
  c.connect_timeout_ms = 2000;
  auto q = open_job_queue(c);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.err().code, errc::unavailable) << q.err().to_string();
  EXPECT_NE(q.err().detail.find("127.0.0.1:1"), std::string::npos) << q.err().detail;
  EXPECT_EQ(q.err().detail.find(":p@"), std::string::npos);
}

}  // namespace
}  // namespace idphoto::queue

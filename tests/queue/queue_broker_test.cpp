// idphoto_queue against a real RabbitMQ 3.10 that the CTest fixture starts on loopback
// (scripts/rabbitmq-test-server, found through IDPHOTO_TEST_RMQ_DIR): confirms, consuming,
// delivery limits and dead letters, overflow, refused logins, and a broker restart.
// Each test uses its own queue names, so they share one broker without seeing each other.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "queue/job_queue.hpp"

namespace idphoto::queue {
namespace {

using base::errc;
using namespace std::chrono_literals;

std::string broker_dir() {
  const char* d = std::getenv("IDPHOTO_TEST_RMQ_DIR");
  return d ? d : "";
}

std::string broker_url() {
  std::ifstream in(broker_dir() + "/amqp_url");
  std::string url;
  std::getline(in, url);
  return url;
}

int broker_script(const std::string& cmd) {
  std::string line =
      std::string(IDPHOTO_SOURCE_DIR) + "/scripts/rabbitmq-test-server " + cmd + " '" + broker_dir() + "' >/dev/null";
  return std::system(line.c_str());
}

std::string unique_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::random_device rd;
  return std::string("t.") + info->name() + "." + std::to_string(rd() % 1000000);
}

// Polls pred every 50 ms for at most limit; true when it held.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

class queue_broker : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(broker_dir(), "") << "IDPHOTO_TEST_RMQ_DIR is not set (run through ctest: fixture queue_rmq)";
    url_ = broker_url();
    ASSERT_NE(url_, "") << "no amqp_url in " << broker_dir() << ": the test broker is not running";
    c_.url = url_;
    c_.queue_name = unique_name();
  }
  std::unique_ptr<job_queue> open(const queue_config& c) {
    auto q = open_job_queue(c);
    EXPECT_TRUE(q.ok()) << q.err().to_string();
    return q.ok() ? std::move(*q) : nullptr;
  }
  std::string url_;
  queue_config c_;
};

TEST_F(queue_broker, publish_is_confirmed_then_consumed_with_the_job_id) {
  auto q = open(c_);
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->connected());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(q->publish("job-" + std::to_string(i)).ok());
  auto d0 = q->depth();
  ASSERT_TRUE(d0.ok()) << d0.err().to_string();
  EXPECT_EQ(d0->ready, 10u) << "every confirmed publish is in the queue";
  ASSERT_TRUE(q->start_consuming(3).ok());
  std::set<std::string> seen;
  for (int i = 0; i < 10; ++i) {
    auto d = q->receive(10000);
    ASSERT_TRUE(d) << "delivery " << i;
    EXPECT_EQ(d->delivery_count, 0);
    EXPECT_FALSE(d->redelivered);
    seen.insert(d->job_id);
    ASSERT_TRUE(q->ack(*d).ok());
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_TRUE(seen.count("job-0") && seen.count("job-9"));
  EXPECT_FALSE(q->receive(300)) << "nothing more";
  auto d1 = q->depth();
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(d1->ready, 0u);
  EXPECT_EQ(d1->dead, 0u);
}

TEST_F(queue_broker, prefetch_bounds_the_deliveries_in_hand) {
  auto q = open(c_);
  ASSERT_TRUE(q);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q->publish("p" + std::to_string(i)).ok());
  ASSERT_TRUE(q->start_consuming(2).ok());
  auto a = q->receive(10000), b = q->receive(10000);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(q->receive(1000)) << "a third delivery while two are unacked";
  ASSERT_TRUE(q->ack(*a).ok());
  auto c = q->receive(10000);
  ASSERT_TRUE(c) << "acking one lets the next come";
  ASSERT_TRUE(q->ack(*b).ok());
  ASSERT_TRUE(q->ack(*c).ok());
}

TEST_F(queue_broker, nack_requeue_counts_deliveries_and_past_the_limit_dead_letters) {
  c_.delivery_limit = 2;
  auto q = open(c_);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->publish("flaky-job").ok());
  ASSERT_TRUE(q->start_consuming(1).ok());
  int deliveries = 0;
  while (auto d = q->receive(5000)) {
    EXPECT_EQ(d->job_id, "flaky-job");
    EXPECT_EQ(d->delivery_count, deliveries) << "x-delivery-count counts the returns";
    if (deliveries > 0) {
      EXPECT_TRUE(d->redelivered);
    }
    ++deliveries;
    ASSERT_TRUE(q->nack(*d, /*requeue=*/true).ok());
    ASSERT_LE(deliveries, 10) << "never dead-lettered";
  }
  EXPECT_EQ(deliveries, c_.delivery_limit + 1) << "the first delivery plus delivery_limit returns";
  std::optional<dead_letter> dl;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = q->next_dead_letter();
        if (r.ok() && *r) dl = **r;
        return dl.has_value();
      },
      10s))
      << "no dead letter";
  EXPECT_EQ(dl->job_id, "flaky-job");
  EXPECT_EQ(dl->reason, "delivery_limit");
  ASSERT_TRUE(q->ack_dead_letter(*dl).ok());
  auto none = q->next_dead_letter();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none) << "acked dead letters are gone";
}

TEST_F(queue_broker, reject_sends_to_the_dead_letter_queue_at_once) {
  auto q = open(c_);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->publish("poison-photo").ok());
  ASSERT_TRUE(q->publish("good-photo").ok());
  ASSERT_TRUE(q->start_consuming(1).ok());
  auto d = q->receive(10000);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->job_id, "poison-photo");
  ASSERT_TRUE(q->reject(*d).ok());
  auto next = q->receive(10000);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->job_id, "good-photo") << "a rejected message is not redelivered";
  ASSERT_TRUE(q->ack(*next).ok());
  std::optional<dead_letter> dl;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = q->next_dead_letter();
        if (r.ok() && *r) dl = **r;
        return dl.has_value();
      },
      10s));
  EXPECT_EQ(dl->job_id, "poison-photo");
  EXPECT_EQ(dl->reason, "rejected");
  ASSERT_TRUE(q->ack_dead_letter(*dl).ok());
}

TEST_F(queue_broker, a_full_queue_nacks_the_publish_with_a_clear_error) {
  c_.max_length = 3;
  auto q = open(c_);
  ASSERT_TRUE(q);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q->publish("fill-" + std::to_string(i)).ok()) << i;
  base::result<void> r;
  int extra = 0;
  for (; extra < 10; ++extra) {
    r = q->publish("over-" + std::to_string(extra));
    if (!r.ok()) break;
  }
  ASSERT_FALSE(r.ok()) << "publishing past x-max-length never refused";
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().to_string();
  EXPECT_NE(r.err().detail.find("full"), std::string::npos) << r.err().detail;
  EXPECT_NE(r.err().detail.find("nack"), std::string::npos) << r.err().detail;
  auto d = q->depth();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ready, 3u + static_cast<unsigned>(extra)) << "confirmed = stored, refused = not";
  EXPECT_TRUE(q->connected()) << "a nack does not cost the connection";
}

TEST_F(queue_broker, hostile_job_ids_are_refused_before_the_wire) {
  auto q = open(c_);
  ASSERT_TRUE(q);
  for (const std::string& id : {std::string(), std::string(256, 'x'), std::string("a\0b", 3), std::string("a b"),
                                std::string("line\n"), std::string("\xc3\xa9t\xc3\xa9")}) {
    auto r = q->publish(id);
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
  }
  EXPECT_TRUE(q->publish(std::string(255, 'x')).ok());
  EXPECT_TRUE(q->connected());
}

TEST_F(queue_broker, concurrent_publishers_all_confirmed_and_delivered_once) {
  auto q = open(c_);
  ASSERT_TRUE(q);
  constexpr int n_threads = 8, n_each = 25;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(n_threads);
  for (int t = 0; t < n_threads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < n_each; ++i) {
        auto r = q->publish("c-" + std::to_string(t) + "-" + std::to_string(i));
        if (!r.ok()) {
          errors[t] = r.err().to_string();
          return;
        }
      }
    });
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  ASSERT_TRUE(q->start_consuming(50).ok());
  std::set<std::string> seen;
  int total = 0;
  while (auto d = q->receive(2000)) {
    seen.insert(d->job_id);
    ++total;
    ASSERT_TRUE(q->ack(*d).ok());
  }
  EXPECT_EQ(total, n_threads * n_each);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n_threads * n_each));
}

TEST_F(queue_broker, stop_consuming_leaves_new_messages_in_the_queue) {
  auto q = open(c_);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->start_consuming(5).ok());
  ASSERT_TRUE(q->publish("before").ok());
  auto d = q->receive(10000);
  ASSERT_TRUE(d);
  q->stop_consuming();
  ASSERT_TRUE(q->ack(*d).ok()) << "a delivery in hand can still be acked after stop";
  ASSERT_TRUE(q->publish("after").ok());
  EXPECT_FALSE(q->receive(1000));
  auto depth = q->depth();
  ASSERT_TRUE(depth.ok());
  EXPECT_EQ(depth->ready, 1u);
}

TEST_F(queue_broker, wrong_password_is_forbidden) {
  auto at = url_.find('@');
  auto colon = url_.find(':', 7);
  ASSERT_NE(at, std::string::npos);
  c_.url = url_.substr(0, colon + 1) + "wrong-password" + url_.substr(at);
  auto q = open_job_queue(c_);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.err().code, errc::forbidden) << q.err().to_string();
  EXPECT_NE(q.err().detail.find("ACCESS_REFUSED"), std::string::npos) << q.err().detail;
  EXPECT_EQ(q.err().detail.find("wrong-password"), std::string::npos);
}

TEST_F(queue_broker, unknown_vhost_is_forbidden) {
  auto slash = url_.rfind('/');
  c_.url = url_.substr(0, slash) + "/no-such-vhost";
  auto q = open_job_queue(c_);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.err().code, errc::forbidden) << q.err().to_string();
  EXPECT_NE(q.err().detail.find("no-such-vhost"), std::string::npos) << q.err().detail;
}

TEST_F(queue_broker, queue_declared_with_other_arguments_is_a_conflict) {
  auto first = open(c_);
  ASSERT_TRUE(first);
  queue_config other = c_;
  other.delivery_limit = c_.delivery_limit + 1;
  auto q = open_job_queue(other);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.err().code, errc::conflict) << q.err().to_string();
  EXPECT_NE(q.err().detail.find("PRECONDITION_FAILED"), std::string::npos) << q.err().detail;
  EXPECT_TRUE(first->connected()) << "another client's refusal does not touch ours";
}

// A worker that holds a delivery past the broker's consumer_timeout (15 s in the test broker)
// is cut off: the broker closes its channel and gives the job to the queue again (counting a
// delivery); the client reconnects by itself, its stale delivery cannot be acked, and the job
// comes back.
TEST_F(queue_broker, a_stuck_consumer_is_cut_off_by_consumer_timeout_and_the_job_comes_back) {
  c_.reconnect_min_ms = 100;
  c_.reconnect_max_ms = 1000;
  auto q = open(c_);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->publish("slow-job").ok());
  ASSERT_TRUE(q->start_consuming(1).ok());
  auto held = q->receive(10000);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->delivery_count, 0);
  ASSERT_TRUE(eventually([&] { return !q->connected(); }, 60s)) << "consumer_timeout never fired";
  EXPECT_NE(q->last_error().find("406"), std::string::npos) << q->last_error();
  ASSERT_TRUE(eventually([&] { return q->connected(); }, 30s)) << "no reconnect: " << q->last_error();
  auto again = q->receive(20000);
  ASSERT_TRUE(again) << "the job did not come back";
  EXPECT_EQ(again->job_id, "slow-job");
  EXPECT_GE(again->delivery_count, 1);
  auto stale = q->ack(*held);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.err().code, errc::conflict);
  ASSERT_TRUE(q->ack(*again).ok());
}

// The broker is stopped for 5 s and started again (same node, same data): the client notices,
// refuses publishes meanwhile, reconnects by itself, and every message confirmed before the
// stop is still there. A delivery in hand when the connection died cannot be acked afterwards;
// the broker delivers it again.
TEST_F(queue_broker, broker_restart_reconnects_and_loses_nothing_confirmed) {
  c_.reconnect_min_ms = 100;
  c_.reconnect_max_ms = 1000;
  c_.heartbeat_s = 5;
  auto q = open(c_);
  ASSERT_TRUE(q);
  std::set<std::string> confirmed;
  for (int i = 0; i < 20; ++i) {
    std::string id = "durable-" + std::to_string(i);
    ASSERT_TRUE(q->publish(id).ok());
    confirmed.insert(id);
  }
  ASSERT_TRUE(q->start_consuming(1).ok());
  auto in_hand = q->receive(10000);
  ASSERT_TRUE(in_hand);

  ASSERT_EQ(broker_script("halt"), 0);
  ASSERT_TRUE(eventually([&] { return !q->connected(); }, 30s)) << "the client did not notice";
  auto during = q->publish("during-outage");
  ASSERT_FALSE(during.ok());
  EXPECT_EQ(during.err().code, errc::unavailable) << during.err().to_string();
  EXPECT_NE(q->last_error(), "");
  std::this_thread::sleep_for(5s);
  ASSERT_EQ(broker_script("start"), 0);
  ASSERT_TRUE(eventually([&] { return q->connected(); }, 120s)) << "no reconnect: " << q->last_error();

  auto stale = q->ack(*in_hand);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.err().code, errc::conflict);

  ASSERT_TRUE(q->publish("after-restart").ok());
  std::set<std::string> seen;
  bool saw_redelivery = false;
  ASSERT_TRUE(q->start_consuming(20).ok());
  while (auto d = q->receive(3000)) {
    seen.insert(d->job_id);
    if (d->job_id == in_hand->job_id) saw_redelivery = d->redelivered || d->delivery_count > 0;
    ASSERT_TRUE(q->ack(*d).ok());
  }
  for (const auto& id : confirmed) EXPECT_TRUE(seen.count(id)) << id << " was confirmed, then lost";
  EXPECT_TRUE(seen.count("after-restart"));
  EXPECT_TRUE(saw_redelivery) << "the unacked delivery came back marked as redelivered";
}

}  // namespace
}  // namespace idphoto::queue

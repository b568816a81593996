// Internal to idphoto_queue: the RabbitMQ job queue's class and the rabbitmq-c helpers its three
// files share — amqp_job_queue.cpp (the connection: connect, declare, the I/O thread, losing and
// regaining it), amqp_job_queue_publish.cpp (publish with confirms) and
// amqp_job_queue_consume.cpp (consuming, settling deliveries, dead letters, depth, frames).
#pragma once
#include <amqp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "base/unique_handle.hpp"
#include "queue/job_queue.hpp"

namespace idphoto::queue::detail {

inline constexpr amqp_channel_t k_pub = 1, k_sub = 2, k_ctl = 3;
inline constexpr int k_tick_ms = 100;

using amqp_conn_ptr = base::unique_handle<amqp_connection_state_t_, amqp_destroy_connection>;

struct fd_closer {
  int fd = -1;
  ~fd_closer();
};

// The bytes as a string ("" for null bytes).
std::string bytes_str(amqp_bytes_t b);
// Text of an RPC reply that is not normal, and the error code it means.
base::error reply_error(const std::string& what, const amqp_rpc_reply_t& r);

/* One connection, one I/O thread that owns it (see amqp_job_queue.cpp for the design). The
 * methods marked "I/O thread" run only there (or in start(), before the thread exists). */
class amqp_job_queue final : public job_queue {
 public:
  amqp_job_queue(queue_config c, amqp_endpoint e);
  ~amqp_job_queue() override;

  // Connects on the calling thread, then starts the I/O thread (which owns the connection).
  base::result<void> start();

  // amqp_job_queue_publish.cpp
  base::result<void> publish(const std::string& job_id) override;

  // amqp_job_queue_consume.cpp
  base::result<void> start_consuming(int prefetch) override;
  void stop_consuming() override;
  std::optional<delivery> receive(int timeout_ms) override;
  base::result<void> ack(const delivery& d) override;
  base::result<void> nack(const delivery& d, bool requeue) override;
  base::result<void> reject(const delivery& d) override;
  base::result<std::optional<dead_letter>> next_dead_letter() override;
  base::result<void> ack_dead_letter(const dead_letter& d) override;
  base::result<queue_depth> depth() override;

  // amqp_job_queue.cpp
  bool connected() const override;
  std::string last_error() const override;

 private:
  struct pending_publish {
    std::string job_id;
    std::shared_ptr<std::promise<base::result<void>>> done;
  };
  // Content being assembled on one channel (after basic.deliver or basic.return).
  struct content {
    enum kind_t { none, deliver, returned } kind = none;
    uint64_t tag = 0;
    bool redelivered = false;
    std::string message_id, body;
    int delivery_count = 0;
    uint64_t body_size = 0;
  };

  // ---- amqp_job_queue.cpp: handing work to the I/O thread
  base::error not_connected(const std::string& what) const;
  void wake();
  // Queues fn for the I/O thread (which runs what is left when it stops, before it exits).
  void submit(std::function<void()> fn);

  // Runs fn on the I/O thread and returns its result (bounded by the publish timeout).
  template <class T>
  base::result<T> call(std::function<base::result<T>()> fn) {
    auto p = std::make_shared<std::promise<base::result<T>>>();
    auto fut = p->get_future();
    submit([p, fn = std::move(fn)] { p->set_value(fn()); });
    if (fut.wait_for(std::chrono::milliseconds(c_.publish_timeout_ms + c_.connect_timeout_ms)) !=
        std::future_status::ready)
      return base::make_error(base::errc::timeout, "queue: the I/O thread did not answer in time");
    return fut.get();
  }

  // amqp_job_queue_consume.cpp: ack / nack / reject of a delivery by send(connection, tag).
  template <class Send>
  base::result<void> settle_delivery(const delivery& d, const char* what, Send send);

  // ---- everything below runs on the I/O thread (or in start(), before it exists) ----------

  // amqp_job_queue.cpp: the connection
  base::error fail_setup(const std::string& what, const amqp_rpc_reply_t& r);
  base::result<void> connect_and_declare();
  base::error remember(base::error e);
  void lose_connection(const std::string& why);
  void run_commands();
  bool stopping();
  // Sleeps up to ms, woken early by a command or by stop.
  void nap(int ms);
  void run();

  // amqp_job_queue_publish.cpp: a basic.ack / basic.nack on the confirm channel.
  void settle(uint64_t tag, bool multiple, bool acked);

  // amqp_job_queue_consume.cpp
  base::result<void> consume_on(amqp_connection_state_t c);
  void complete(content& ct, amqp_channel_t ch);
  void handle_frame(const amqp_frame_t& f);

  const queue_config c_;
  const amqp_endpoint e_;
  const std::string dlx_, dlq_;

  // shared between threads, under mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> commands_;
  std::deque<delivery> deliveries_;
  std::string last_error_;
  bool stop_ = false;
  std::atomic<bool> connected_{false};

  // the I/O thread's own
  amqp_conn_ptr conn_;
  fd_closer wake_;
  std::thread thread_;
  std::uint64_t generation_ = 0;
  std::uint64_t publish_seq_ = 0;
  std::map<std::uint64_t, pending_publish> pending_;
  std::set<std::string> returned_;
  std::map<amqp_channel_t, content> content_;
  bool consuming_ = false;
  int prefetch_ = 1;
  std::string consumer_tag_;
  std::minstd_rand rng_;
};

}  // namespace idphoto::queue::detail

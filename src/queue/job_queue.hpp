// The job queue: job ids delivered to many instances through a RabbitMQ quorum queue.
// The database's jobs table is the truth; the broker only carries ids (see docs/deploy.md).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/env.hpp"
#include "base/result.hpp"

namespace idphoto::queue {

struct queue_config {
  std::string url;                          // IDPHOTO_QUEUE_URL amqp://user:pass@host[:port][/vhost]
  std::string queue_name = "idphoto.jobs";  // IDPHOTO_QUEUE_NAME; the DLQ is "<name>.dead"
  int delivery_limit = 5;                   // IDPHOTO_QUEUE_DELIVERY_LIMIT: x-delivery-limit, redeliveries
                                            // after the first before the broker dead-letters (1..1000)
  int max_length = 100000;                  // IDPHOTO_QUEUE_MAX_LENGTH: x-max-length; past it publishes
                                            // are refused (x-overflow=reject-publish) (1..100000000)
  int heartbeat_s = 30;                     // IDPHOTO_QUEUE_HEARTBEAT_S: AMQP heartbeat (0 = off; 0..600)
  int connect_timeout_ms = 5000;            // TCP connect + AMQP handshake + each setup RPC
  int publish_timeout_ms = 10000;           // IDPHOTO_QUEUE_PUBLISH_TIMEOUT_MS: wait for the confirm
  int reconnect_min_ms = 200;               // backoff after a lost connection: doubles from min…
  int reconnect_max_ms = 10000;             // …to max, with ±25% jitter
};

// IDPHOTO_QUEUE_URL (a secret: it holds the password), IDPHOTO_QUEUE_NAME,
// IDPHOTO_QUEUE_DELIVERY_LIMIT, IDPHOTO_QUEUE_MAX_LENGTH, IDPHOTO_QUEUE_HEARTBEAT_S,
// IDPHOTO_QUEUE_PUBLISH_TIMEOUT_MS (a duration), each with its one valid range (validate's).
const std::vector<base::env_key>& env_keys();
// Overrides the fields of *c whose keys are set; appends one error per bad key to *errors. The
// URL itself is checked by validate (never echoing the password).
void load_env(const base::env_lookup& env, queue_config* c, std::vector<std::string>* errors);

struct amqp_endpoint {
  std::string host;
  int port = 5672;
  std::string user, password, vhost = "/";
};
// Parses "amqp://USER:PASS@HOST[:PORT][/VHOST]" (user, password and vhost percent-decoded; no
// path or an empty one = vhost "/"; "%2F" = "/"). invalid_argument naming what is wrong, never
// the password; unsupported for amqps:// (TLS is not implemented yet).
base::result<amqp_endpoint> parse_amqp_url(const std::string& url);
// invalid_argument naming the first bad field (URL included), never the password.
base::result<void> validate(const queue_config& c);

struct delivery {
  std::string job_id;            // the message_id (= the body)
  std::uint64_t tag = 0;         // delivery tag, valid on the connection it came from
  std::uint64_t connection = 0;  // which connection (ack/nack/reject on a later one are refused)
  int delivery_count = 0;        // x-delivery-count: 0 on the first delivery, +1 per return
  bool redelivered = false;
};

struct dead_letter {
  std::string job_id;
  std::string reason;  // x-first-death-reason: "delivery_limit", "rejected", …
  std::uint64_t tag = 0, connection = 0;
};

struct queue_depth {
  std::uint64_t ready = 0;  // messages in the queue not yet delivered
  std::uint64_t dead = 0;   // messages waiting in the dead-letter queue
};

/*
 * One AMQP connection owned by one I/O thread, which also sends and checks heartbeats and
 * reconnects with backoff (a rabbitmq-c connection is not thread-safe; every other method hands
 * its work to that thread and waits). Channel 1 publishes in confirm mode, channel 2 consumes,
 * channel 3 declares, counts and reads the dead-letter queue. On every (re)connect the topology
 * is declared: the quorum queue (x-queue-type=quorum, x-delivery-limit, x-max-length,
 * x-overflow=reject-publish, at-least-once dead-lettering to exchange "<name>.dlx" → queue
 * "<name>.dead", also quorum). Every method is safe to call from many threads.
 */
class job_queue {
 public:
  virtual ~job_queue() = default;
  // Persistent message, message_id = body = job_id, on the confirm channel; returns only after
  // the broker's basic.ack. invalid_argument for an empty, over-255-byte or non-printable id;
  // unavailable when not connected, when the connection drops before the ack (publish again:
  // the same id twice is harmless), or when the broker nacks (the queue is full); timeout
  // after publish_timeout_ms.
  virtual base::result<void> publish(const std::string& job_id) = 0;
  // Starts consuming with at most `prefetch` unacknowledged deliveries (1..1000); again after
  // every reconnect. invalid_argument for a bad prefetch; unavailable when not connected.
  virtual base::result<void> start_consuming(int prefetch) = 0;
  // Stops new deliveries (basic.cancel); those in hand can still be acked. Never fails.
  virtual void stop_consuming() = 0;
  // The next delivery, waiting up to timeout_ms; nullopt when none came.
  virtual std::optional<delivery> receive(int timeout_ms) = 0;
  // Done: the broker forgets the message. conflict when the delivery came on a connection that
  // has since been lost (the broker delivers it again); unavailable when the send fails.
  virtual base::result<void> ack(const delivery& d) = 0;
  // Give it back: requeue=true counts toward x-delivery-limit; false dead-letters it. Errors as ack.
  virtual base::result<void> nack(const delivery& d, bool requeue) = 0;
  // The client's fault: straight to the dead-letter queue. Errors as ack.
  virtual base::result<void> reject(const delivery& d) = 0;
  // The oldest dead letter (not yet removed: ack_dead_letter does that after the job is marked);
  // nullopt when the dead-letter queue is empty. unavailable when not connected.
  virtual base::result<std::optional<dead_letter>> next_dead_letter() = 0;
  // Removes a dead letter got from next_dead_letter. Errors as ack.
  virtual base::result<void> ack_dead_letter(const dead_letter& d) = 0;
  // Ready counts of the queue and its dead-letter queue. unavailable when not connected.
  virtual base::result<queue_depth> depth() = 0;
  // True while the connection is up and the topology declared (for /readyz).
  virtual bool connected() const = 0;
  // Why the last connection was lost or the last reconnect failed ("" if never); for logs.
  virtual std::string last_error() const = 0;
};

// Connects once, synchronously, and declares the topology: invalid_argument for a bad config,
// forbidden for refused credentials or vhost, unavailable when the broker cannot be reached,
// conflict when the queue exists with other arguments. After that, lost connections are
// re-established in the background.
base::result<std::unique_ptr<job_queue>> open_job_queue(const queue_config& c);

}  // namespace idphoto::queue

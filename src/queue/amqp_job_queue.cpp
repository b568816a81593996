// The RabbitMQ job queue over rabbitmq-c 0.11: one connection, one I/O thread that owns it,
// publisher confirms read from the frames, consuming, heartbeats and reconnecting with backoff.
//
// Threads: the I/O thread is the only one that touches the amqp connection. Every public call
// becomes a command (a closure) on a queue that the I/O thread runs between reads, and the
// caller waits on a promise. The thread sleeps in poll() on the socket and an eventfd, so a
// command or a frame wakes it at once; at least every k_tick_ms it calls into rabbitmq-c, which
// is where rabbitmq-c sends heartbeats when due and notices missed ones.
//
// Publisher confirms: rabbitmq-c 0.11 has no wait-for-confirm helper. Channel 1 is put in
// confirm mode; the n-th publish on it has sequence number n (per channel, from 1). The I/O
// thread keeps the promise of each unconfirmed publish by number and settles it when a
// basic.ack / basic.nack frame arrives (`multiple` settles every number up to the tag). A
// message the broker could not route comes back as basic.return (content frames follow)
// before its ack; its message_id is remembered so that the ack is turned into an error. When the
// connection is lost, every unconfirmed publish fails (unavailable): the caller publishes again,
// duplicates being harmless by design (the job id is the message id, jobs are idempotent).
//
// Deliveries: basic.deliver, then a content header (message_id, x-delivery-count) and body
// frames, possibly interleaved with frames of other channels, so content is assembled per
// channel. Deliveries wait in a deque until receive(); prefetch bounds it. A delivery carries
// the generation of its connection; after a reconnect the broker has already requeued the
// unacknowledged ones, so the old deliveries still buffered are dropped and acks for them refused.
//
// This file: the connection and the I/O thread. Publishing: amqp_job_queue_publish.cpp;
// consuming, dead letters and the frames read: amqp_job_queue_consume.cpp.
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "queue/amqp_job_queue_internal.hpp"

namespace idphoto::queue {

namespace detail {

using base::errc;
using base::make_error;

fd_closer::~fd_closer() {
  if (fd >= 0) ::close(fd);
}

std::string bytes_str(amqp_bytes_t b) {
  return b.bytes ? std::string(static_cast<const char*>(b.bytes), b.len) : std::string();
}

// Text of an RPC reply that is not normal, and the error code it means.
base::error reply_error(const std::string& what, const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return make_error(errc::internal, what + ": no error");
    case AMQP_RESPONSE_NONE:
      return make_error(errc::unavailable, what + ": no reply from the broker");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: {
      errc code = r.library_error == AMQP_STATUS_TIMEOUT ? errc::timeout : errc::unavailable;
      return make_error(code, what + ": " + amqp_error_string2(r.library_error));
    }
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      break;
  }
  int reply_code = 0;
  std::string text;
  if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
    reply_code = m->reply_code;
    text = bytes_str(m->reply_text);
  } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
    reply_code = m->reply_code;
    text = bytes_str(m->reply_text);
  }
  errc code = errc::internal;
  if (reply_code == 403 || reply_code == 530) code = errc::forbidden;  // ACCESS_REFUSED, NOT_ALLOWED (vhost)
  else if (reply_code == 406) code = errc::conflict;                   // PRECONDITION_FAILED
  else if (reply_code == 404) code = errc::not_found;
  else if (reply_code == 320 || reply_code == 541 || reply_code == 506) code = errc::unavailable;
  return make_error(code, what + ": broker said " + std::to_string(reply_code) + " " + text);
}

namespace {

timeval ms_tv(int ms) { return timeval{ms / 1000, static_cast<suseconds_t>((ms % 1000) * 1000)}; }

amqp_table_entry_t str_entry(const char* key, const char* value) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = amqp_cstring_bytes(value);
  return e;
}

amqp_table_entry_t int_entry(const char* key, int64_t value) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  return e;
}

}  // namespace

// ---- called from any thread

amqp_job_queue::amqp_job_queue(queue_config c, amqp_endpoint e)
    : c_(std::move(c)),
      e_(std::move(e)),
      dlx_(c_.queue_name + ".dlx"),
      dlq_(c_.queue_name + ".dead"),
      rng_(std::random_device{}()) {}

amqp_job_queue::~amqp_job_queue() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  wake();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// Connects on the calling thread, then starts the I/O thread (which owns the connection).
base::result<void> amqp_job_queue::start() {
  wake_.fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_.fd < 0) return make_error(errc::internal, "eventfd failed");
  IDPHOTO_TRY(connect_and_declare());
  thread_ = std::thread([this] { run(); });
  return {};
}

bool amqp_job_queue::connected() const { return connected_.load(); }

std::string amqp_job_queue::last_error() const {
  std::lock_guard<std::mutex> lk(mu_);
  return last_error_;
}

base::error amqp_job_queue::not_connected(const std::string& what) const {
  std::lock_guard<std::mutex> lk(mu_);
  return make_error(errc::unavailable, "queue " + what + ": not connected to the broker at " + e_.host + ":" +
                                           std::to_string(e_.port) +
                                           (last_error_.empty() ? "" : " (" + last_error_ + ")"));
}

void amqp_job_queue::wake() {
  if (wake_.fd < 0) return;
  uint64_t one = 1;
  ssize_t n = ::write(wake_.fd, &one, sizeof one);
  (void)n;
}

// Queues fn for the I/O thread (which runs what is left when it stops, before it exits).
void amqp_job_queue::submit(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    commands_.push_back(std::move(fn));
  }
  wake();
}

// ---- everything below runs on the I/O thread (or in start(), before it exists) ------------

base::error amqp_job_queue::fail_setup(const std::string& what, const amqp_rpc_reply_t& r) {
  auto e = reply_error(what, r);
  if (conn_) lose_connection(e.detail);
  return e;
}

/*
 * TCP connect, AMQP login (PLAIN, heartbeat), three channels, confirm mode on channel 1,
 * then the topology (idempotent declares: the same arguments every time, so a second
 * instance or a reconnect agrees with the first), then consuming again if we were.
 */
base::result<void> amqp_job_queue::connect_and_declare() {
  const std::string where = e_.host + ":" + std::to_string(e_.port);
  amqp_conn_ptr conn(amqp_new_connection());
  if (!conn) return make_error(errc::internal, "amqp_new_connection failed");
  amqp_connection_state_t c = conn.get();
  amqp_socket_t* sock = amqp_tcp_socket_new(c);  // owned by the connection
  if (!sock) return make_error(errc::internal, "amqp_tcp_socket_new failed");
  timeval tv = ms_tv(c_.connect_timeout_ms);
  int st = amqp_socket_open_noblock(sock, e_.host.c_str(), e_.port, &tv);
  if (st != AMQP_STATUS_OK)
    return remember(make_error(st == AMQP_STATUS_TIMEOUT ? errc::timeout : errc::unavailable,
                               "cannot connect to the broker at " + where + ": " + amqp_error_string2(st)));
  amqp_set_handshake_timeout(c, &tv);
  amqp_set_rpc_timeout(c, &tv);
  amqp_rpc_reply_t r = amqp_login(c, e_.vhost.c_str(), 0, 131072, c_.heartbeat_s, AMQP_SASL_METHOD_PLAIN,
                                  e_.user.c_str(), e_.password.c_str());
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    auto e = reply_error("login to " + where + " vhost '" + e_.vhost + "' as '" + e_.user + "'", r);
    // RabbitMQ refuses bad credentials with connection.close 403; a broker that just drops the
    // socket during login has refused them too.
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_CONNECTION_CLOSED)
      e.code = errc::forbidden;
    return remember(e);
  }
  for (amqp_channel_t ch : {k_pub, k_sub, k_ctl}) {
    if (!amqp_channel_open(c, ch)) return remember(reply_error("channel.open", amqp_get_rpc_reply(c)));
  }
  if (!amqp_confirm_select(c, k_pub)) return remember(reply_error("confirm.select", amqp_get_rpc_reply(c)));
  if (!amqp_exchange_declare(c, k_ctl, amqp_cstring_bytes(dlx_.c_str()), amqp_cstring_bytes("direct"), 0,
                             /*durable=*/1, 0, 0, amqp_empty_table))
    return remember(reply_error("exchange.declare " + dlx_, amqp_get_rpc_reply(c)));
  amqp_table_entry_t dlq_args[] = {str_entry("x-queue-type", "quorum")};
  if (!amqp_queue_declare(c, k_ctl, amqp_cstring_bytes(dlq_.c_str()), 0, /*durable=*/1, 0, 0,
                          amqp_table_t{1, dlq_args}))
    return remember(reply_error("queue.declare " + dlq_, amqp_get_rpc_reply(c)));
  if (!amqp_queue_bind(c, k_ctl, amqp_cstring_bytes(dlq_.c_str()), amqp_cstring_bytes(dlx_.c_str()),
                       amqp_cstring_bytes(dlq_.c_str()), amqp_empty_table))
    return remember(reply_error("queue.bind " + dlq_, amqp_get_rpc_reply(c)));
  amqp_table_entry_t args[] = {
      str_entry("x-queue-type", "quorum"),
      int_entry("x-delivery-limit", c_.delivery_limit),
      int_entry("x-max-length", c_.max_length),
      str_entry("x-overflow", "reject-publish"),
      str_entry("x-dead-letter-exchange", dlx_.c_str()),
      str_entry("x-dead-letter-routing-key", dlq_.c_str()),
      // at-least-once dead-lettering (quorum queues, needs reject-publish): a dead letter is
      // only removed from the queue once the dead-letter queue has confirmed it
      str_entry("x-dead-letter-strategy", "at-least-once"),
  };
  if (!amqp_queue_declare(c, k_ctl, amqp_cstring_bytes(c_.queue_name.c_str()), 0, /*durable=*/1, 0, 0,
                          amqp_table_t{static_cast<int>(std::size(args)), args})) {
    auto e = reply_error("queue.declare " + c_.queue_name, amqp_get_rpc_reply(c));
    if (e.code == errc::conflict)
      e.detail += " (the queue exists with other arguments: delete it or use another IDPHOTO_QUEUE_NAME)";
    return remember(e);
  }
  consumer_tag_.clear();
  if (consuming_) {
    auto cr = consume_on(c);
    if (!cr.ok()) return remember(cr.err());
  }
  conn_ = std::move(conn);
  publish_seq_ = 0;
  ++generation_;
  connected_ = true;
  return {};
}

base::error amqp_job_queue::remember(base::error e) {
  std::lock_guard<std::mutex> lk(mu_);
  last_error_ = e.detail;
  return e;
}

void amqp_job_queue::lose_connection(const std::string& why) {
  connected_ = false;
  conn_.reset();  // the socket is broken or the broker closed it: no close handshake
  consumer_tag_.clear();
  content_.clear();
  returned_.clear();
  for (auto& [seq, p] : pending_)
    p.done->set_value(make_error(
        errc::unavailable,
        "queue publish " + p.job_id + ": connection lost before the broker confirmed (" + why + "); publish again"));
  pending_.clear();
  std::lock_guard<std::mutex> lk(mu_);
  last_error_ = why;
  deliveries_.clear();  // the broker requeues them; they come again on the next connection
}

void amqp_job_queue::run_commands() {
  std::deque<std::function<void()>> todo;
  {
    std::lock_guard<std::mutex> lk(mu_);
    todo.swap(commands_);
  }
  for (auto& fn : todo) fn();
}

bool amqp_job_queue::stopping() {
  std::lock_guard<std::mutex> lk(mu_);
  return stop_;
}

// Sleeps up to ms, woken early by a command or by stop.
void amqp_job_queue::nap(int ms) {
  pollfd p{wake_.fd, POLLIN, 0};
  ::poll(&p, 1, ms);
  uint64_t v;
  ssize_t n = ::read(wake_.fd, &v, sizeof v);
  (void)n;
}

void amqp_job_queue::run() {
  int backoff_ms = c_.reconnect_min_ms;
  while (!stopping()) {
    run_commands();
    if (!conn_) {
      std::uniform_int_distribution<int> jitter(-backoff_ms / 4, backoff_ms / 4);
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms + jitter(rng_));
      while (!stopping() && std::chrono::steady_clock::now() < until) {
        nap(static_cast<int>(std::max<long long>(
            1,
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count())));
        run_commands();  // they answer "not connected" at once rather than waiting
      }
      if (stopping()) break;
      if (connect_and_declare().ok()) backoff_ms = c_.reconnect_min_ms;
      else backoff_ms = std::min(backoff_ms * 2, c_.reconnect_max_ms);
      continue;
    }
    amqp_connection_state_t c = conn_.get();
    if (!amqp_frames_enqueued(c) && !amqp_data_in_buffer(c)) {
      pollfd fds[2] = {{amqp_get_sockfd(c), POLLIN, 0}, {wake_.fd, POLLIN, 0}};
      ::poll(fds, 2, k_tick_ms);
      if (fds[1].revents & POLLIN) {
        uint64_t v;
        ssize_t n = ::read(wake_.fd, &v, sizeof v);
        (void)n;
      }
    }
    // Read what is there (a zero timeout); rabbitmq-c sends a heartbeat here when one is due
    // and reports a missed one from the broker as AMQP_STATUS_HEARTBEAT_TIMEOUT.
    for (int i = 0; i < 256 && conn_; ++i) {
      amqp_frame_t f;
      timeval zero{0, 0};
      int st = amqp_simple_wait_frame_noblock(conn_.get(), &f, &zero);
      if (st == AMQP_STATUS_TIMEOUT) break;
      if (st != AMQP_STATUS_OK) {
        lose_connection(std::string("connection lost: ") + amqp_error_string2(st));
        break;
      }
      handle_frame(f);
    }
    if (conn_) amqp_maybe_release_buffers(conn_.get());
  }
  // closing: settle what is waiting, then a polite close
  run_commands();
  if (conn_) {
    for (auto& [seq, p] : pending_)
      p.done->set_value(make_error(errc::unavailable, "queue publish " + p.job_id + ": the queue is closing"));
    pending_.clear();
    amqp_connection_close(conn_.get(), AMQP_REPLY_SUCCESS);
    conn_.reset();
  }
  connected_ = false;
}

}  // namespace detail

base::result<std::unique_ptr<job_queue>> open_job_queue(const queue_config& c) {
  IDPHOTO_TRY(validate(c));
  auto e = parse_amqp_url(c.url);
  if (!e.ok()) return e.err();
  auto q = std::make_unique<detail::amqp_job_queue>(c, *e);
  IDPHOTO_TRY(q->start());
  return std::unique_ptr<job_queue>(std::move(q));
}

}  // namespace idphoto::queue

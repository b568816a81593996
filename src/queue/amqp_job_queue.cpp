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
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "queue/job_queue.hpp"

namespace idphoto::queue {

namespace {

using base::errc;
using base::make_error;

constexpr amqp_channel_t k_pub = 1, k_sub = 2, k_ctl = 3;
constexpr int k_tick_ms = 100;

struct amqp_conn_deleter {
  void operator()(amqp_connection_state_t c) const { amqp_destroy_connection(c); }
};
using amqp_conn_ptr = std::unique_ptr<amqp_connection_state_t_, amqp_conn_deleter>;

struct fd_closer {
  int fd = -1;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

std::string bytes_str(amqp_bytes_t b) {
  return b.bytes ? std::string(static_cast<const char*>(b.bytes), b.len) : std::string();
}

timeval ms_tv(int ms) { return timeval{ms / 1000, static_cast<suseconds_t>((ms % 1000) * 1000)}; }

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
  if (reply_code == 403 || reply_code == 530) code = errc::forbidden;     // ACCESS_REFUSED, NOT_ALLOWED (vhost)
  else if (reply_code == 406) code = errc::conflict;                      // PRECONDITION_FAILED
  else if (reply_code == 404) code = errc::not_found;
  else if (reply_code == 320 || reply_code == 541 || reply_code == 506) code = errc::unavailable;
  return make_error(code, what + ": broker said " + std::to_string(reply_code) + " " + text);
}

// An integer header value of any AMQP integer kind; fallback when absent or not an integer.
long long int_value(const amqp_field_value_t& v, long long fallback) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8: return v.value.i8;
    case AMQP_FIELD_KIND_U8: return v.value.u8;
    case AMQP_FIELD_KIND_I16: return v.value.i16;
    case AMQP_FIELD_KIND_U16: return v.value.u16;
    case AMQP_FIELD_KIND_I32: return v.value.i32;
    case AMQP_FIELD_KIND_U32: return v.value.u32;
    case AMQP_FIELD_KIND_I64: return v.value.i64;
    case AMQP_FIELD_KIND_U64: return static_cast<long long>(v.value.u64);
    default: return fallback;
  }
}

const amqp_field_value_t* find_header(const amqp_basic_properties_t* p, const char* key) {
  if (!p || !(p->_flags & AMQP_BASIC_HEADERS_FLAG)) return nullptr;
  const std::string_view k(key);
  for (int i = 0; i < p->headers.num_entries; ++i) {
    const auto& e = p->headers.entries[i];
    if (std::string_view(static_cast<const char*>(e.key.bytes), e.key.len) == k) return &e.value;
  }
  return nullptr;
}

std::string string_header(const amqp_basic_properties_t* p, const char* key) {
  const auto* v = find_header(p, key);
  if (!v || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES)) return {};
  return bytes_str(v->value.bytes);
}

bool valid_job_id(const std::string& id) {
  return !id.empty() && id.size() <= 255 && std::all_of(id.begin(), id.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

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

class amqp_job_queue final : public job_queue {
 public:
  amqp_job_queue(queue_config c, amqp_endpoint e)
      : c_(std::move(c)), e_(std::move(e)), dlx_(c_.queue_name + ".dlx"), dlq_(c_.queue_name + ".dead"),
        rng_(std::random_device{}()) {}

  ~amqp_job_queue() override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    wake();
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Connects on the calling thread, then starts the I/O thread (which owns the connection).
  base::result<void> start() {
    wake_.fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_.fd < 0) return make_error(errc::internal, "eventfd failed");
    IDPHOTO_TRY(connect_and_declare());
    thread_ = std::thread([this] { run(); });
    return {};
  }

  base::result<void> publish(const std::string& job_id) override {
    if (!valid_job_id(job_id))
      return make_error(errc::invalid_argument,
                        "queue publish: job id must be 1..255 printable ASCII characters");
    auto p = std::make_shared<std::promise<base::result<void>>>();
    auto fut = p->get_future();
    submit([this, job_id, p] {
      if (!conn_) {
        p->set_value(not_connected("publish"));
        return;
      }
      amqp_basic_properties_t props;
      props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                     AMQP_BASIC_MESSAGE_ID_FLAG;
      props.content_type = amqp_cstring_bytes("text/plain");
      props.delivery_mode = 2;  // persistent
      props.message_id = amqp_cstring_bytes(job_id.c_str());
      int st = amqp_basic_publish(conn_.get(), k_pub, amqp_empty_bytes,
                                  amqp_cstring_bytes(c_.queue_name.c_str()), /*mandatory=*/1,
                                  /*immediate=*/0, &props, amqp_cstring_bytes(job_id.c_str()));
      if (st != AMQP_STATUS_OK) {
        std::string why = std::string("publish failed: ") + amqp_error_string2(st);
        lose_connection(why);
        p->set_value(make_error(errc::unavailable, "queue publish " + job_id + ": " + why));
        return;
      }
      pending_[++publish_seq_] = pending_publish{job_id, p};
    });
    if (fut.wait_for(std::chrono::milliseconds(c_.publish_timeout_ms)) != std::future_status::ready)
      return make_error(errc::timeout, "queue publish " + job_id + ": no confirm from the broker within " +
                                           std::to_string(c_.publish_timeout_ms) + " ms");
    return fut.get();
  }

  base::result<void> start_consuming(int prefetch) override {
    if (prefetch < 1 || prefetch > 1000)
      return make_error(errc::invalid_argument, "queue: prefetch must be 1..1000");
    return call<void>([this, prefetch]() -> base::result<void> {
      consuming_ = true;
      prefetch_ = prefetch;
      if (!conn_) return not_connected("consume");
      return consume_on(conn_.get());
    });
  }

  void stop_consuming() override {
    (void)call<void>([this]() -> base::result<void> {
      consuming_ = false;
      if (conn_ && !consumer_tag_.empty()) {
        amqp_basic_cancel(conn_.get(), k_sub, amqp_cstring_bytes(consumer_tag_.c_str()));
        auto r = amqp_get_rpc_reply(conn_.get());
        consumer_tag_.clear();
        if (r.reply_type != AMQP_RESPONSE_NORMAL) lose_connection(reply_error("basic.cancel", r).detail);
      }
      return {};
    });
  }

  std::optional<delivery> receive(int timeout_ms) override {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(std::max(0, timeout_ms)),
                 [&] { return stop_ || !deliveries_.empty(); });
    if (deliveries_.empty()) return std::nullopt;
    delivery d = std::move(deliveries_.front());
    deliveries_.pop_front();
    return d;
  }

  base::result<void> ack(const delivery& d) override {
    return settle_delivery(d, "ack", [](amqp_connection_state_t c, uint64_t tag) {
      return amqp_basic_ack(c, k_sub, tag, 0);
    });
  }
  base::result<void> nack(const delivery& d, bool requeue) override {
    return settle_delivery(d, requeue ? "nack(requeue)" : "nack", [requeue](amqp_connection_state_t c, uint64_t tag) {
      return amqp_basic_nack(c, k_sub, tag, 0, requeue ? 1 : 0);
    });
  }
  base::result<void> reject(const delivery& d) override {
    return settle_delivery(d, "reject", [](amqp_connection_state_t c, uint64_t tag) {
      return amqp_basic_reject(c, k_sub, tag, 0);
    });
  }

  base::result<std::optional<dead_letter>> next_dead_letter() override {
    return call<std::optional<dead_letter>>([this]() -> base::result<std::optional<dead_letter>> {
      if (!conn_) return not_connected("dead-letter get");
      amqp_connection_state_t c = conn_.get();
      amqp_rpc_reply_t r = amqp_basic_get(c, k_ctl, amqp_cstring_bytes(dlq_.c_str()), /*no_ack=*/0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        auto e = reply_error("basic.get " + dlq_, r);
        lose_connection(e.detail);
        return e;
      }
      if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::optional<dead_letter>();
      auto* ok = static_cast<amqp_basic_get_ok_t*>(r.reply.decoded);
      dead_letter d;
      d.tag = ok->delivery_tag;
      d.connection = generation_;
      amqp_message_t msg;
      r = amqp_read_message(c, k_ctl, &msg, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        auto e = reply_error("reading a dead letter", r);
        lose_connection(e.detail);
        return e;
      }
      d.job_id = (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) ? bytes_str(msg.properties.message_id)
                                                                      : bytes_str(msg.body);
      d.reason = string_header(&msg.properties, "x-first-death-reason");
      amqp_destroy_message(&msg);
      return std::optional<dead_letter>(std::move(d));
    });
  }

  base::result<void> ack_dead_letter(const dead_letter& d) override {
    return call<void>([this, d]() -> base::result<void> {
      if (!conn_ || d.connection != generation_)
        return make_error(errc::conflict, "queue: dead letter " + d.job_id +
                                              " came on a lost connection; it is still in the queue");
      int st = amqp_basic_ack(conn_.get(), k_ctl, d.tag, 0);
      if (st != AMQP_STATUS_OK) {
        lose_connection(std::string("ack failed: ") + amqp_error_string2(st));
        return make_error(errc::unavailable, "queue: ack of dead letter " + d.job_id + " failed");
      }
      return {};
    });
  }

  base::result<queue_depth> depth() override {
    return call<queue_depth>([this]() -> base::result<queue_depth> {
      if (!conn_) return not_connected("depth");
      queue_depth q;
      for (auto [name, out] : {std::pair{&c_.queue_name, &q.ready}, std::pair{&dlq_, &q.dead}}) {
        auto* ok = amqp_queue_declare(conn_.get(), k_ctl, amqp_cstring_bytes(name->c_str()),
                                      /*passive=*/1, 0, 0, 0, amqp_empty_table);
        if (!ok) {
          auto e = reply_error("queue.declare(passive) " + *name, amqp_get_rpc_reply(conn_.get()));
          lose_connection(e.detail);
          return e;
        }
        *out = ok->message_count;
      }
      return q;
    });
  }

  bool connected() const override { return connected_.load(); }

  std::string last_error() const override {
    std::lock_guard<std::mutex> lk(mu_);
    return last_error_;
  }

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

  base::error not_connected(const std::string& what) const {
    std::lock_guard<std::mutex> lk(mu_);
    return make_error(errc::unavailable, "queue " + what + ": not connected to the broker at " +
                                             e_.host + ":" + std::to_string(e_.port) +
                                             (last_error_.empty() ? "" : " (" + last_error_ + ")"));
  }

  void wake() {
    if (wake_.fd < 0) return;
    uint64_t one = 1;
    ssize_t n = ::write(wake_.fd, &one, sizeof one);
    (void)n;
  }

  // Queues fn for the I/O thread (which runs what is left when it stops, before it exits).
  void submit(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      commands_.push_back(std::move(fn));
    }
    wake();
  }

  // Runs fn on the I/O thread and returns its result (bounded by the publish timeout).
  template <class T>
  base::result<T> call(std::function<base::result<T>()> fn) {
    auto p = std::make_shared<std::promise<base::result<T>>>();
    auto fut = p->get_future();
    submit([p, fn = std::move(fn)] { p->set_value(fn()); });
    if (fut.wait_for(std::chrono::milliseconds(c_.publish_timeout_ms + c_.connect_timeout_ms)) !=
        std::future_status::ready)
      return make_error(errc::timeout, "queue: the I/O thread did not answer in time");
    return fut.get();
  }

  template <class Send>
  base::result<void> settle_delivery(const delivery& d, const char* what, Send send) {
    return call<void>([this, d, what, send]() -> base::result<void> {
      if (!conn_ || d.connection != generation_)
        return make_error(errc::conflict, std::string("queue ") + what + " of " + d.job_id +
                                              ": its connection was lost; the broker delivers it again");
      int st = send(conn_.get(), d.tag);
      if (st != AMQP_STATUS_OK) {
        lose_connection(std::string(what) + " failed: " + amqp_error_string2(st));
        return make_error(errc::unavailable, std::string("queue ") + what + " of " + d.job_id + " failed");
      }
      return {};
    });
  }

  // ---- everything below runs on the I/O thread (or in start(), before it exists) ----------

  base::result<void> consume_on(amqp_connection_state_t c) {
    if (!amqp_basic_qos(c, k_sub, 0, static_cast<uint16_t>(prefetch_), 0))
      return fail_setup("basic.qos", amqp_get_rpc_reply(c));
    if (!consumer_tag_.empty()) return {};  // already consuming: only the prefetch changed
    auto* ok = amqp_basic_consume(c, k_sub, amqp_cstring_bytes(c_.queue_name.c_str()), amqp_empty_bytes,
                                  0, /*no_ack=*/0, 0, amqp_empty_table);
    if (!ok) return fail_setup("basic.consume " + c_.queue_name, amqp_get_rpc_reply(c));
    consumer_tag_ = bytes_str(ok->consumer_tag);
    return {};
  }

  base::error fail_setup(const std::string& what, const amqp_rpc_reply_t& r) {
    auto e = reply_error(what, r);
    if (conn_) lose_connection(e.detail);
    return e;
  }

  /*
   * TCP connect, AMQP login (PLAIN, heartbeat), three channels, confirm mode on channel 1,
   * then the topology (idempotent declares: the same arguments every time, so a second
   * instance or a reconnect agrees with the first), then consuming again if we were.
   */
  base::result<void> connect_and_declare() {
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
    amqp_rpc_reply_t r = amqp_login(c, e_.vhost.c_str(), 0, 131072, c_.heartbeat_s,
                                    AMQP_SASL_METHOD_PLAIN, e_.user.c_str(), e_.password.c_str());
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

  base::error remember(base::error e) {
    std::lock_guard<std::mutex> lk(mu_);
    last_error_ = e.detail;
    return e;
  }

  void lose_connection(const std::string& why) {
    connected_ = false;
    conn_.reset();  // the socket is broken or the broker closed it: no close handshake
    consumer_tag_.clear();
    content_.clear();
    returned_.clear();
    for (auto& [seq, p] : pending_)
      p.done->set_value(make_error(errc::unavailable, "queue publish " + p.job_id +
                                                          ": connection lost before the broker confirmed (" +
                                                          why + "); publish again"));
    pending_.clear();
    std::lock_guard<std::mutex> lk(mu_);
    last_error_ = why;
    deliveries_.clear();  // the broker requeues them; they come again on the next connection
  }

  void settle(uint64_t tag, bool multiple, bool acked) {
    auto end = multiple ? pending_.upper_bound(tag) : pending_.find(tag);
    auto begin = multiple ? pending_.begin() : end;
    if (!multiple) {
      if (end == pending_.end()) return;
      end = std::next(end);
    }
    for (auto it = begin; it != end; ++it) {
      auto& p = it->second;
      if (!acked) {
        p.done->set_value(make_error(errc::unavailable, "queue publish " + p.job_id +
                                                            ": the broker refused it (basic.nack: the queue is "
                                                            "full, x-overflow=reject-publish)"));
      } else if (returned_.erase(p.job_id)) {
        p.done->set_value(make_error(errc::internal, "queue publish " + p.job_id +
                                                         ": returned unroutable (no queue '" + c_.queue_name + "')"));
      } else {
        p.done->set_value(base::result<void>());
      }
    }
    pending_.erase(begin, end);
  }

  void complete(content& ct, amqp_channel_t ch) {
    if (ct.kind == content::deliver) {
      delivery d;
      d.job_id = ct.message_id.empty() ? ct.body : ct.message_id;
      d.tag = ct.tag;
      d.connection = generation_;
      d.delivery_count = ct.delivery_count;
      d.redelivered = ct.redelivered;
      {
        std::lock_guard<std::mutex> lk(mu_);
        deliveries_.push_back(std::move(d));
      }
      cv_.notify_one();
    } else if (ct.kind == content::returned) {
      returned_.insert(ct.message_id.empty() ? ct.body : ct.message_id);
    }
    content_.erase(ch);
  }

  void handle_frame(const amqp_frame_t& f) {
    amqp_connection_state_t c = conn_.get();
    if (f.frame_type == AMQP_FRAME_METHOD) {
      const auto& m = f.payload.method;
      switch (m.id) {
        case AMQP_BASIC_ACK_METHOD: {
          auto* a = static_cast<amqp_basic_ack_t*>(m.decoded);
          if (f.channel == k_pub) settle(a->delivery_tag, a->multiple, true);
          return;
        }
        case AMQP_BASIC_NACK_METHOD: {
          auto* n = static_cast<amqp_basic_nack_t*>(m.decoded);
          if (f.channel == k_pub) settle(n->delivery_tag, n->multiple, false);
          return;
        }
        case AMQP_BASIC_RETURN_METHOD: {
          content ct;
          ct.kind = content::returned;
          content_[f.channel] = ct;
          return;
        }
        case AMQP_BASIC_DELIVER_METHOD: {
          auto* d = static_cast<amqp_basic_deliver_t*>(m.decoded);
          content ct;
          ct.kind = content::deliver;
          ct.tag = d->delivery_tag;
          ct.redelivered = d->redelivered;
          content_[f.channel] = ct;
          return;
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
          auto* cl = static_cast<amqp_channel_close_t*>(m.decoded);
          std::string why = "the broker closed channel " + std::to_string(f.channel) + ": " +
                            std::to_string(cl->reply_code) + " " + bytes_str(cl->reply_text);
          amqp_channel_close_ok_t ok{};
          amqp_send_method(c, f.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
          lose_connection(why);  // simplest sound recovery: a fresh connection, all channels
          return;
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
          auto* cl = static_cast<amqp_connection_close_t*>(m.decoded);
          std::string why = "the broker closed the connection: " + std::to_string(cl->reply_code) + " " +
                            bytes_str(cl->reply_text);
          amqp_connection_close_ok_t ok{};
          amqp_send_method(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
          lose_connection(why);
          return;
        }
        case AMQP_BASIC_CANCEL_METHOD:  // the broker cancelled our consumer (queue deleted)
          lose_connection("the broker cancelled the consumer");
          return;
        default:
          return;  // consume-ok and the like arrive through the RPC calls
      }
    }
    auto it = content_.find(f.channel);
    if (it == content_.end()) return;
    content& ct = it->second;
    if (f.frame_type == AMQP_FRAME_HEADER) {
      auto* p = static_cast<amqp_basic_properties_t*>(f.payload.properties.decoded);
      ct.body_size = f.payload.properties.body_size;
      if (p && (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)) ct.message_id = bytes_str(p->message_id);
      if (const auto* v = find_header(p, "x-delivery-count")) ct.delivery_count = static_cast<int>(int_value(*v, 0));
      if (ct.body_size == 0) complete(ct, f.channel);
    } else if (f.frame_type == AMQP_FRAME_BODY) {
      ct.body += bytes_str(f.payload.body_fragment);
      if (ct.body.size() >= ct.body_size) complete(ct, f.channel);
    }
  }

  void run_commands() {
    std::deque<std::function<void()>> todo;
    {
      std::lock_guard<std::mutex> lk(mu_);
      todo.swap(commands_);
    }
    for (auto& fn : todo) fn();
  }

  bool stopping() {
    std::lock_guard<std::mutex> lk(mu_);
    return stop_;
  }

  // Sleeps up to ms, woken early by a command or by stop.
  void nap(int ms) {
    pollfd p{wake_.fd, POLLIN, 0};
    ::poll(&p, 1, ms);
    uint64_t v;
    ssize_t n = ::read(wake_.fd, &v, sizeof v);
    (void)n;
  }

  void run() {
    int backoff_ms = c_.reconnect_min_ms;
    while (!stopping()) {
      run_commands();
      if (!conn_) {
        std::uniform_int_distribution<int> jitter(-backoff_ms / 4, backoff_ms / 4);
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms + jitter(rng_));
        while (!stopping() && std::chrono::steady_clock::now() < until) {
          nap(static_cast<int>(std::max<long long>(
              1, std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count())));
          run_commands();  // they answer "not connected" at once rather than waiting
        }
        if (stopping()) break;
        if (connect_and_declare().ok())
          backoff_ms = c_.reconnect_min_ms;
        else
          backoff_ms = std::min(backoff_ms * 2, c_.reconnect_max_ms);
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

}  // namespace

base::result<std::unique_ptr<job_queue>> open_job_queue(const queue_config& c) {
  IDPHOTO_TRY(validate(c));
  auto e = parse_amqp_url(c.url);
  if (!e.ok()) return e.err();
  auto q = std::make_unique<amqp_job_queue>(c, *e);
  IDPHOTO_TRY(q->start());
  return std::unique_ptr<job_queue>(std::move(q));
}

}  // namespace idphoto::queue

// The RabbitMQ job queue's consuming side: basic.consume with a prefetch, deliveries assembled
// from the frames the I/O thread reads (handle_frame), ack / nack / reject, the dead-letter
// queue and the depth counts (see amqp_job_queue.cpp for the threading and the generations).
#include <algorithm>
#include <optional>
#include <string_view>

#include "queue/amqp_job_queue_internal.hpp"

namespace idphoto::queue::detail {

using base::errc;
using base::make_error;

namespace {

// An integer header value of any AMQP integer kind; fallback when absent or not an integer.
long long int_value(const amqp_field_value_t& v, long long fallback) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8:
      return v.value.i8;
    case AMQP_FIELD_KIND_U8:
      return v.value.u8;
    case AMQP_FIELD_KIND_I16:
      return v.value.i16;
    case AMQP_FIELD_KIND_U16:
      return v.value.u16;
    case AMQP_FIELD_KIND_I32:
      return v.value.i32;
    case AMQP_FIELD_KIND_U32:
      return v.value.u32;
    case AMQP_FIELD_KIND_I64:
      return v.value.i64;
    case AMQP_FIELD_KIND_U64:
      return static_cast<long long>(v.value.u64);
    default:
      return fallback;
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

}  // namespace

template <class Send>
base::result<void> amqp_job_queue::settle_delivery(const delivery& d, const char* what, Send send) {
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

base::result<void> amqp_job_queue::start_consuming(int prefetch) {
  if (prefetch < 1 || prefetch > 1000) return make_error(errc::invalid_argument, "queue: prefetch must be 1..1000");
  return call<void>([this, prefetch]() -> base::result<void> {
    consuming_ = true;
    prefetch_ = prefetch;
    if (!conn_) return not_connected("consume");
    return consume_on(conn_.get());
  });
}

void amqp_job_queue::stop_consuming() {
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

std::optional<delivery> amqp_job_queue::receive(int timeout_ms) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(std::max(0, timeout_ms)), [&] { return stop_ || !deliveries_.empty(); });
  if (deliveries_.empty()) return std::nullopt;
  delivery d = std::move(deliveries_.front());
  deliveries_.pop_front();
  return d;
}

base::result<void> amqp_job_queue::ack(const delivery& d) {
  return settle_delivery(d, "ack",
                         [](amqp_connection_state_t c, uint64_t tag) { return amqp_basic_ack(c, k_sub, tag, 0); });
}
base::result<void> amqp_job_queue::nack(const delivery& d, bool requeue) {
  return settle_delivery(d, requeue ? "nack(requeue)" : "nack", [requeue](amqp_connection_state_t c, uint64_t tag) {
    return amqp_basic_nack(c, k_sub, tag, 0, requeue ? 1 : 0);
  });
}
base::result<void> amqp_job_queue::reject(const delivery& d) {
  return settle_delivery(d, "reject",
                         [](amqp_connection_state_t c, uint64_t tag) { return amqp_basic_reject(c, k_sub, tag, 0); });
}

base::result<std::optional<dead_letter>> amqp_job_queue::next_dead_letter() {
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

base::result<void> amqp_job_queue::ack_dead_letter(const dead_letter& d) {
  return call<void>([this, d]() -> base::result<void> {
    if (!conn_ || d.connection != generation_)
      return make_error(errc::conflict,
                        "queue: dead letter " + d.job_id + " came on a lost connection; it is still in the queue");
    int st = amqp_basic_ack(conn_.get(), k_ctl, d.tag, 0);
    if (st != AMQP_STATUS_OK) {
      lose_connection(std::string("ack failed: ") + amqp_error_string2(st));
      return make_error(errc::unavailable, "queue: ack of dead letter " + d.job_id + " failed");
    }
    return {};
  });
}

base::result<queue_depth> amqp_job_queue::depth() {
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

// ---- on the I/O thread

base::result<void> amqp_job_queue::consume_on(amqp_connection_state_t c) {
  if (!amqp_basic_qos(c, k_sub, 0, static_cast<uint16_t>(prefetch_), 0))
    return fail_setup("basic.qos", amqp_get_rpc_reply(c));
  if (!consumer_tag_.empty()) return {};  // already consuming: only the prefetch changed
  auto* ok = amqp_basic_consume(c, k_sub, amqp_cstring_bytes(c_.queue_name.c_str()), amqp_empty_bytes, 0, /*no_ack=*/0,
                                0, amqp_empty_table);
  if (!ok) return fail_setup("basic.consume " + c_.queue_name, amqp_get_rpc_reply(c));
  consumer_tag_ = bytes_str(ok->consumer_tag);
  return {};
}

void amqp_job_queue::complete(content& ct, amqp_channel_t ch) {
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

void amqp_job_queue::handle_frame(const amqp_frame_t& f) {
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
        std::string why =
            "the broker closed the connection: " + std::to_string(cl->reply_code) + " " + bytes_str(cl->reply_text);
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

}  // namespace idphoto::queue::detail

// The RabbitMQ job queue's publishing: a persistent message on the confirm channel, and the
// broker's basic.ack / basic.nack settling the waiting publishes (see amqp_job_queue.cpp for
// how confirms are numbered and what a lost connection does to them).
#include <algorithm>

#include "queue/amqp_job_queue_internal.hpp"

namespace idphoto::queue::detail {

using base::errc;
using base::make_error;

namespace {

bool valid_job_id(const std::string& id) {
  return !id.empty() && id.size() <= 255 && std::all_of(id.begin(), id.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

}  // namespace

base::result<void> amqp_job_queue::publish(const std::string& job_id) {
  if (!valid_job_id(job_id))
    return make_error(errc::invalid_argument, "queue publish: job id must be 1..255 printable ASCII characters");
  auto p = std::make_shared<std::promise<base::result<void>>>();
  auto fut = p->get_future();
  submit([this, job_id, p] {
    if (!conn_) {
      p->set_value(not_connected("publish"));
      return;
    }
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    props.content_type = amqp_cstring_bytes("text/plain");
    props.delivery_mode = 2;  // persistent
    props.message_id = amqp_cstring_bytes(job_id.c_str());
    int st = amqp_basic_publish(conn_.get(), k_pub, amqp_empty_bytes, amqp_cstring_bytes(c_.queue_name.c_str()),
                                /*mandatory=*/1,
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

void amqp_job_queue::settle(uint64_t tag, bool multiple, bool acked) {
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
      p.done->set_value(make_error(
          errc::internal, "queue publish " + p.job_id + ": returned unroutable (no queue '" + c_.queue_name + "')"));
    } else {
      p.done->set_value(base::result<void>());
    }
  }
  pending_.erase(begin, end);
}

}  // namespace idphoto::queue::detail

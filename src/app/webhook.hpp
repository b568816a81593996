// Webhooks: when a photo job ends, the result is POSTed to the callbackUrl its request gave,
// signed, and retried with backoff — as a job of its own (kind "webhook"), so a restart loses
// no pending delivery and the dispatcher's retry rules apply.
#pragma once
#include <string>

#include "base/result.hpp"
#include "fetch/fetch_url.hpp"

namespace idphoto::app {

inline constexpr const char* webhook_kind = "webhook";
inline constexpr int webhook_max_attempts = 8;  // 2 s, 4 s, ... about 4 min of retries in all

// "sha256=" + lowercase hex HMAC-SHA256(secret, body): the X-Idphoto-Signature header.
std::string webhook_signature(const std::string& secret, const std::string& body);

// The webhook job's payload: {"v":1,"url","body"}; corrupt when it does not parse.
std::string encode_webhook(const std::string& url, const std::string& body);
struct webhook_payload {
  std::string url, body;
};
base::result<webhook_payload> decode_webhook(const std::string& text);

// How one delivery went, in the dispatcher's terms.
enum class delivery { done, refused, retry };
struct delivery_result {
  delivery how = delivery::retry;
  std::string detail;  // the status or the transfer error, for last_error
};
/* POSTs the payload's body with X-Idphoto-Signature, X-Idphoto-Delivery (the webhook job's id)
 * and X-Idphoto-Event: photo_job.ended, under the fetch address policy. 2xx: done. A refused
 * URL or address (the SSRF policy) and a 4xx other than 408 and 429: refused (the receiver will
 * not take it; never retried). A 3xx (not followed), 408, 429, 5xx, no connection, a timeout:
 * retry. */
delivery_result deliver_webhook(const webhook_payload& p, const std::string& delivery_id, const std::string& secret,
                                const fetch::fetch_config& fetch);

}  // namespace idphoto::app

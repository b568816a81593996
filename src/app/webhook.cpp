// Webhook signing (OpenSSL HMAC), payload and one delivery (fetch::post_json).
#include "app/webhook.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

namespace idphoto::app {

std::string webhook_signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &n);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

std::string encode_webhook(const std::string& url, const std::string& body) {
  return nlohmann::json{{"v", 1}, {"url", url}, {"body", body}}.dump(-1, ' ', false,
                                                                     nlohmann::json::error_handler_t::replace);
}

base::result<webhook_payload> decode_webhook(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("v") || j["v"] != 1 || !j.contains("url") || !j["url"].is_string() ||
      !j.contains("body") || !j["body"].is_string())
    return base::make_error(base::errc::corrupt, "webhook payload does not parse");
  return webhook_payload{j["url"].get<std::string>(), j["body"].get<std::string>()};
}

delivery_result deliver_webhook(const webhook_payload& p, const std::string& delivery_id, const std::string& secret,
                                const fetch::fetch_config& fetch) {
  auto status = fetch::post_json(p.url, p.body,
                                 {"X-Idphoto-Signature: " + webhook_signature(secret, p.body),
                                  "X-Idphoto-Delivery: " + delivery_id, "X-Idphoto-Event: photo_job.ended"},
                                 fetch);
  if (!status.ok()) {
    const bool refused =
        status.err().code == base::errc::forbidden || status.err().code == base::errc::invalid_argument;
    return {refused ? delivery::refused : delivery::retry, status.err().to_string()};
  }
  const long s = *status;
  const std::string detail = "HTTP " + std::to_string(s) + " from the callback URL";
  if (s >= 200 && s < 300) return {delivery::done, detail};
  if (s >= 400 && s < 500 && s != 408 && s != 429) return {delivery::refused, detail};
  return {delivery::retry, detail};
}

}  // namespace idphoto::app

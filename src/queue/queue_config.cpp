// IDPHOTO_QUEUE_URL parsing and the checks on queue_config.
// A hand-written parser so that every error can say what is wrong without echoing the password;
// the IDPHOTO_QUEUE_* key table, whose ranges validate() checks too.
#include <algorithm>
#include <string_view>

#include "base/percent_decode.hpp"
#include "queue/job_queue.hpp"

namespace idphoto::queue {

namespace {

using base::errc;
using base::make_error;

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

const base::env_key k_url{"IDPHOTO_QUEUE_URL", base::env_kind::secret, 0, 0,
                          "amqp://USER:PASSWORD@HOST[:PORT][/VHOST]; empty = in-process dispatch"};
const base::env_key k_name{"IDPHOTO_QUEUE_NAME", base::env_kind::string, 0, 0, "queue name"};
const base::env_key k_delivery_limit{"IDPHOTO_QUEUE_DELIVERY_LIMIT", base::env_kind::integer, 1, 1000,
                                     "x-delivery-limit"};
const base::env_key k_max_length{"IDPHOTO_QUEUE_MAX_LENGTH", base::env_kind::integer, 1, 100'000'000, "x-max-length"};
const base::env_key k_heartbeat{"IDPHOTO_QUEUE_HEARTBEAT_S", base::env_kind::integer, 0, 600,
                                "AMQP heartbeat, s (0 = off)"};
const base::env_key k_publish_timeout{"IDPHOTO_QUEUE_PUBLISH_TIMEOUT_MS", base::env_kind::duration_ms, 100, 600'000,
                                      "wait for the broker's confirm"};

}  // namespace

const std::vector<base::env_key>& env_keys() {
  static const std::vector<base::env_key> keys = {k_url,        k_name,      k_delivery_limit,
                                                  k_max_length, k_heartbeat, k_publish_timeout};
  return keys;
}

void load_env(const base::env_lookup& env, queue_config* c, std::vector<std::string>* errors) {
  base::read_env_key(env, k_url, &c->url, errors);
  base::read_env_key(env, k_name, &c->queue_name, errors);
  base::read_env_key_as(env, k_delivery_limit, &c->delivery_limit, errors);
  base::read_env_key_as(env, k_max_length, &c->max_length, errors);
  base::read_env_key_as(env, k_heartbeat, &c->heartbeat_s, errors);
  base::read_env_key_as(env, k_publish_timeout, &c->publish_timeout_ms, errors);
}

base::result<amqp_endpoint> parse_amqp_url(const std::string& url) {
  auto bad = [](const std::string& why) -> base::result<amqp_endpoint> {
    return make_error(errc::invalid_argument, "IDPHOTO_QUEUE_URL: " + why);
  };
  if (url.rfind("amqps://", 0) == 0)
    return make_error(errc::unsupported,
                      "IDPHOTO_QUEUE_URL: amqps:// (TLS) is not supported yet; "
                      "use amqp:// on a private network or a TLS sidecar");
  if (url.rfind("amqp://", 0) != 0) return bad("must start with amqp://");
  if (url.size() > 2048) return bad("longer than 2048 characters");
  std::string_view rest(url);
  rest.remove_prefix(7);
  if (rest.find_first_of("?#") != std::string_view::npos) return bad("query or fragment not supported");
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path = authority.size() < rest.size() ? rest.substr(authority.size() + 1) : "";
  amqp_endpoint e;
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) return bad("missing USER:PASSWORD@ before the host");
  std::string_view userinfo = authority.substr(0, at), hostport = authority.substr(at + 1);
  auto colon = userinfo.find(':');
  if (colon == std::string_view::npos) return bad("missing ':' and password");
  if (!base::percent_decode(userinfo.substr(0, colon), &e.user)) return bad("bad percent-encoding in the user");
  if (!base::percent_decode(userinfo.substr(colon + 1), &e.password))
    return bad("bad percent-encoding in the password");
  if (e.user.empty()) return bad("missing user");
  if (e.password.empty()) return bad("missing password");
  std::string_view host = hostport;
  if (auto pc = hostport.rfind(':'); pc != std::string_view::npos) {
    host = hostport.substr(0, pc);
    std::string_view port = hostport.substr(pc + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return bad("port must be a number");
    e.port = std::stoi(std::string(port));
    if (e.port < 1 || e.port > 65535) return bad("port must be 1..65535");
  }
  if (host.empty()) return bad("missing host");
  if (host.size() > 253 || !std::all_of(host.begin(), host.end(), host_char))
    return bad("host must be a name or IPv4 address of [A-Za-z0-9.-]");
  e.host = std::string(host);
  if (!path.empty()) {
    if (!base::percent_decode(path, &e.vhost)) return bad("bad percent-encoding in the vhost");
    if (e.vhost.find('/') != std::string::npos && e.vhost != "/")
      return bad("vhost must be one path segment (write '/' as %2F)");
  }
  if (e.vhost.empty())
    e.vhost.assign(1, '/');  // not = "/": GCC 12 warns there (-Wrestrict false positive, GCC bug 105329)
  return e;
}

base::result<void> validate(const queue_config& c) {
  auto bad = [](const std::string& why) -> base::result<void> {
    return make_error(errc::invalid_argument, "queue config: " + why);
  };
  auto url = parse_amqp_url(c.url);
  if (!url.ok()) return url.err();
  if (c.queue_name.empty() || c.queue_name.size() > 200 ||
      !std::all_of(c.queue_name.begin(), c.queue_name.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
               ch == '-' || ch == '_';
      }))
    return bad("queue name must be 1..200 of [A-Za-z0-9._-]");
  if (c.queue_name.rfind("amq.", 0) == 0) return bad("queue names starting with amq. are the broker's");
  auto outside = [](int v, const base::env_key& k) { return v < k.lo || v > k.hi; };
  auto range = [](const base::env_key& k) { return std::to_string(k.lo) + ".." + std::to_string(k.hi); };
  if (outside(c.delivery_limit, k_delivery_limit)) return bad("delivery limit must be " + range(k_delivery_limit));
  if (outside(c.max_length, k_max_length)) return bad("max length must be " + range(k_max_length));
  if (outside(c.heartbeat_s, k_heartbeat)) return bad("heartbeat must be " + range(k_heartbeat) + " s");
  if (c.connect_timeout_ms < 100 || c.connect_timeout_ms > 600000) return bad("connect timeout must be 100..600000 ms");
  if (outside(c.publish_timeout_ms, k_publish_timeout))
    return bad("publish timeout must be " + range(k_publish_timeout) + " ms");
  if (c.reconnect_min_ms < 10 || c.reconnect_max_ms < c.reconnect_min_ms || c.reconnect_max_ms > 600000)
    return bad("reconnect backoff must satisfy 10 <= min <= max <= 600000 ms");
  return {};
}

}  // namespace idphoto::queue

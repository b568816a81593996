// fetch_config from the environment, and its validation (every error reported at once).
#include <cstdint>
#include <string>
#include <vector>

#include "fetch/address_policy.hpp"
#include "fetch/fetch_url.hpp"

namespace idphoto::fetch {

namespace {

using base::env_kind;

const base::env_key k_max_bytes{"IDPHOTO_FETCH_MAX_BYTES", env_kind::bytes, 1, int64_t{1} << 32,
                                "largest photo fetched, checked while streaming"};
const base::env_key k_timeout{"IDPHOTO_FETCH_TIMEOUT_MS", env_kind::duration_ms, 100, 600'000,
                              "whole fetch deadline, redirects included"};
const base::env_key k_connect_timeout{"IDPHOTO_FETCH_CONNECT_TIMEOUT_MS", env_kind::duration_ms, 100, 600'000,
                                      "deadline of each TCP (and TLS) connection"};
const base::env_key k_max_redirects{"IDPHOTO_FETCH_MAX_REDIRECTS", env_kind::integer, 0, 20,
                                    "redirects followed, each target re-checked"};
const base::env_key k_allow{"IDPHOTO_FETCH_ALLOW", env_kind::list, 0, 0,
                            "IPs or CIDRs reachable although private or loopback"};

}  // namespace

const std::vector<base::env_key>& env_keys() {
  static const std::vector<base::env_key> keys = {k_max_bytes, k_timeout, k_connect_timeout, k_max_redirects, k_allow};
  return keys;
}

void load_env(const base::env_lookup& env, fetch_config* c, std::vector<std::string>* errors) {
  base::read_env_key_as(env, k_max_bytes, &c->max_bytes, errors);
  base::read_env_key_as(env, k_timeout, &c->timeout_ms, errors);
  base::read_env_key_as(env, k_connect_timeout, &c->connect_timeout_ms, errors);
  base::read_env_key_as(env, k_max_redirects, &c->max_redirects, errors);
  base::read_env_key(env, k_allow, &c->allow, errors);
}

base::result<fetch_config> fetch_config_from_env(const base::env_lookup& env) {
  fetch_config c;
  std::vector<std::string> errors;
  load_env(env, &c, &errors);
  if (!errors.empty()) return base::make_error(base::errc::invalid_argument, base::join_errors(errors, "; "));
  auto ok = validate(c);
  if (!ok) return ok.err();
  return c;
}

base::result<void> validate(const fetch_config& c) {
  std::string errors;
  auto add = [&](const std::string& e) { errors += (errors.empty() ? "" : "; ") + e; };
  if (c.max_bytes == 0) add("max_bytes must be > 0");
  if (c.timeout_ms <= 0) add("timeout_ms must be > 0");
  if (c.connect_timeout_ms <= 0) add("connect_timeout_ms must be > 0");
  if (c.max_redirects < 0 || c.max_redirects > 20) add("max_redirects must be in 0..20");
  for (const auto& entry : c.allow)
    if (!parse_cidr(entry)) add("allow entry '" + entry + "' is not an IP address or CIDR");
  if (!errors.empty()) return base::make_error(base::errc::invalid_argument, "fetch config: " + errors);
  return {};
}

}  // namespace idphoto::fetch

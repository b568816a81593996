// fetch_config from the environment, and its validation (every error reported at once).
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

#include "fetch/address_policy.hpp"
#include "fetch/fetch_url.hpp"

namespace idphoto::fetch {

namespace {

// nullopt when text is not a whole non-negative decimal number that fits in long long.
std::optional<long long> parse_count(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  long long v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + (ch - '0');
  }
  return v;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

}  // namespace

base::result<fetch_config> fetch_config_from_env() {
  fetch_config c;
  std::string errors;
  auto number = [&](const char* key, long long max, auto& field) {
    const char* v = std::getenv(key);
    if (v == nullptr) return;
    auto n = parse_count(trim(v));
    if (!n || *n > max) {
      errors += std::string(errors.empty() ? "" : "; ") + key + "='" + v + "' is not a number in 0.." +
                std::to_string(max);
      return;
    }
    field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
  };
  number("IDPHOTO_FETCH_MAX_BYTES", 1ll << 40, c.max_bytes);
  number("IDPHOTO_FETCH_TIMEOUT_MS", std::numeric_limits<int>::max(), c.timeout_ms);
  number("IDPHOTO_FETCH_CONNECT_TIMEOUT_MS", std::numeric_limits<int>::max(), c.connect_timeout_ms);
  number("IDPHOTO_FETCH_MAX_REDIRECTS", 1000, c.max_redirects);
  if (const char* v = std::getenv("IDPHOTO_FETCH_ALLOW")) {
    std::string list = v;
    std::size_t at = 0;
    while (at <= list.size()) {
      auto comma = list.find(',', at);
      if (comma == std::string::npos) comma = list.size();
      std::string entry = trim(list.substr(at, comma - at));
      if (!entry.empty()) c.allow.push_back(entry);
      at = comma + 1;
    }
  }
  if (!errors.empty()) return base::make_error(base::errc::invalid_argument, errors);
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

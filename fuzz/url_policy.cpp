// Fuzz target url_policy: what stands between a client's rawPhotoUrl and a connection. The
// input is "URL\nSECOND": check_url (length, characters, authority spelling, curl's parser,
// scheme, credentials, host) on URL, then SECOND as a redirect Location resolved against it,
// and the address policy (parse_ip, parse_cidr, is_public, address_allowed) on the URL's host
// when it is an IP literal and on both lines as address text. No DNS, no connection.
// Invariants: a checked URL checks again to the same text; an address parses back from its
// printed form; without an allow list the policy is exactly is_public; an allow entry admits
// the addresses it contains.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>
#include <string>

#include <curl/curl.h>

#include "fetch/address_policy.hpp"
#include "fetch/check_url.hpp"
#include "fetch/fetch_url.hpp"
#include "fuzz_target.hpp"

namespace {

using namespace idphoto::fetch;

sockaddr_storage to_sockaddr(const ip_address& ip) {
  sockaddr_storage ss{};
  if (ip.v6) {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(443);
    std::memcpy(&in6.sin6_addr, ip.bytes.data(), 16);
    std::memcpy(&ss, &in6, sizeof in6);
  } else {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(80);
    std::memcpy(&in.sin_addr, ip.bytes.data(), 4);
    std::memcpy(&ss, &in, sizeof in);
  }
  return ss;
}

bool same(const ip_address& a, const ip_address& b) { return a.v6 == b.v6 && a.bytes == b.bytes; }

void check_address(const ip_address& ip, const std::optional<cidr>& allow, const std::string& allow_text) {
  const sockaddr_storage ss = to_sockaddr(ip);
  const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
  auto back = ip_of(sa);
  FUZZ_CHECK(back && same(*back, ip));
  // "1.2.3.4:80" / "[::1]:443": the address is everything before the last ':'.
  const std::string printed = address_to_string(sa);
  auto reparsed = parse_ip(printed.substr(0, printed.rfind(':')));
  FUZZ_CHECK(reparsed && same(*reparsed, ip));
  FUZZ_CHECK(address_allowed(sa, fetch_config{}) == is_public(ip));
  if (allow) {
    fetch_config c;
    c.allow = {allow_text};
    const bool contained = cidr_contains(*allow, ip);
    FUZZ_CHECK(address_allowed(sa, c) == (contained || is_public(ip)));
  }
}

std::optional<std::string> host_of(CURLU* u) {
  char* out = nullptr;
  if (curl_url_get(u, CURLUPART_HOST, &out, 0) != CURLUE_OK || out == nullptr) return std::nullopt;
  std::string h(out);
  curl_free(out);
  return h;
}

void check_checked(const checked_url& u, const std::optional<cidr>& allow, const std::string& allow_text) {
  auto again = check_url(u.text);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->text == u.text);
  if (auto host = host_of(u.handle.get()))
    if (auto ip = parse_ip(*host)) check_address(*ip, allow, allow_text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const std::string first = input.substr(0, nl);
  const std::string second = nl == std::string::npos ? std::string() : input.substr(nl + 1);

  auto allow = parse_cidr(second);
  if (allow) {
    FUZZ_CHECK(allow->prefix_bits >= 0 && allow->prefix_bits <= (allow->net.v6 ? 128 : 32));
    FUZZ_CHECK(cidr_contains(*allow, allow->net));
  }
  if (auto ip = parse_ip(first)) check_address(*ip, allow, second);

  auto url = check_url(first);
  if (!url.ok()) return 0;
  check_checked(*url, allow, second);
  if (second.empty()) return 0;
  auto next = check_url(second, url->handle.get());
  if (next.ok()) check_checked(*next, allow, second);
  return 0;
}

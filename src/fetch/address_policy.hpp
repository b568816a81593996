// Internal to idphoto_fetch: IP address parsing, CIDR matching and printing used by the
// connect-time policy (address_allowed), config validation and error details.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;

namespace idphoto::fetch {

// An IPv4 (first 4 bytes used) or IPv6 address. IPv4-mapped IPv6 (::ffff:a.b.c.d) is always
// stored as IPv4: the kernel connects such a socket to the IPv4 host.
struct ip_address {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
};

struct cidr {
  ip_address net;
  int prefix_bits = 0;  // 0..32 for v4, 0..128 for v6
};

// nullopt: not a plain dotted-quad IPv4 or an RFC 4291 IPv6 text (brackets allowed).
std::optional<ip_address> parse_ip(std::string_view text);

// nullopt: not "IP" or "IP/prefix" with prefix in range. A bare IP is a /32 or /128.
std::optional<cidr> parse_cidr(std::string_view text);

// nullopt: addr is null or not AF_INET/AF_INET6.
std::optional<ip_address> ip_of(const sockaddr* addr);

bool cidr_contains(const cidr& range, const ip_address& ip);

// True when ip is a globally routable unicast address (the policy without any allow list).
bool is_public(const ip_address& ip);

// "127.0.0.1:80" / "[::1]:443" / "<not an IP socket address>".
std::string address_to_string(const sockaddr* addr);

}  // namespace idphoto::fetch

// The connect-time address policy: which resolved addresses fetch_url may open a socket to.
// Pure functions over sockaddr / text; no libcurl here.
#include "fetch/address_policy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "fetch/fetch_url.hpp"

namespace idphoto::fetch {

namespace {

ip_address v4_from(const std::uint8_t* four) {
  ip_address ip;
  std::memcpy(ip.bytes.data(), four, 4);
  return ip;
}

// ::ffff:0:0/96
bool is_v4_mapped(const std::array<std::uint8_t, 16>& b) {
  for (int i = 0; i < 10; ++i)
    if (b[i] != 0) return false;
  return b[10] == 0xff && b[11] == 0xff;
}

ip_address canonical_v6(const std::array<std::uint8_t, 16>& b) {
  if (is_v4_mapped(b)) return v4_from(b.data() + 12);
  ip_address ip;
  ip.v6 = true;
  ip.bytes = b;
  return ip;
}

bool prefix_equal(const std::uint8_t* a, const std::uint8_t* b, int bits) {
  int full = bits / 8;
  if (std::memcmp(a, b, static_cast<std::size_t>(full)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

struct v4_range {
  std::uint8_t net[4];
  int bits;
};

/* IPv4 ranges that are never a public web server (IANA special-purpose registry, RFC 6890
 * and successors). Anything outside them is treated as public. */
constexpr v4_range k_refused_v4[] = {
    {{0, 0, 0, 0}, 8},        // "this network", incl. 0.0.0.0 (reaches the local host)
    {{10, 0, 0, 0}, 8},       // private
    {{100, 64, 0, 0}, 10},    // carrier-grade NAT
    {{127, 0, 0, 0}, 8},      // loopback
    {{169, 254, 0, 0}, 16},   // link-local, incl. cloud metadata 169.254.169.254
    {{172, 16, 0, 0}, 12},    // private
    {{192, 0, 0, 0}, 24},     // IETF protocol assignments
    {{192, 0, 2, 0}, 24},     // TEST-NET-1
    {{192, 88, 99, 0}, 24},   // 6to4 relay anycast
    {{192, 168, 0, 0}, 16},   // private
    {{198, 18, 0, 0}, 15},    // benchmarking
    {{198, 51, 100, 0}, 24},  // TEST-NET-2
    {{203, 0, 113, 0}, 24},   // TEST-NET-3
    {{224, 0, 0, 0}, 4},      // multicast
    {{240, 0, 0, 0}, 4},      // reserved, incl. broadcast 255.255.255.255
};

bool v4_public(const std::uint8_t* a) {
  for (const auto& r : k_refused_v4)
    if (prefix_equal(a, r.net, r.bits)) return false;
  return true;
}

/* IPv6: only global unicast 2000::/3 can be public; everything outside it (::, ::1, the
 * IPv4-compatible ::/96, ULA fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast
 * ff00::/8, discard 100::/64, local-use NAT64 64:ff9b:1::/48, …) is refused, except NAT64
 * 64:ff9b::/96 (RFC 6052) where the embedded IPv4 address decides. Inside 2000::/3 we refuse the special
 * blocks: 2001::/23 (IETF protocol assignments, incl. Teredo 2001::/32 whose client address is
 * obfuscated), documentation 2001:db8::/32 and 3fff::/20, and 6to4 2002::/16 unless its embedded
 * IPv4 (bytes 2..5) is itself public. IPv4-mapped addresses never get here: they are IPv4. */
struct v6_range {
  std::uint8_t net[16];
  int bits;
};

constexpr v6_range k_refused_global_v6[] = {
    {{0x20, 0x01, 0x00, 0x00}, 23},  // IETF protocol assignments, incl. Teredo 2001::/32
    {{0x20, 0x01, 0x0d, 0xb8}, 32},  // documentation
    {{0x3f, 0xff, 0x00, 0x00}, 20},  // documentation (RFC 9637)
};

bool v6_public(const std::uint8_t* b) {
  static constexpr v6_range nat64{{0x00, 0x64, 0xff, 0x9b}, 96};
  static constexpr v6_range global{{0x20}, 3};
  static constexpr v6_range six_to_four{{0x20, 0x02}, 16};
  if (prefix_equal(b, nat64.net, nat64.bits)) return v4_public(b + 12);
  if (!prefix_equal(b, global.net, global.bits)) return false;
  for (const auto& r : k_refused_global_v6)
    if (prefix_equal(b, r.net, r.bits)) return false;
  if (prefix_equal(b, six_to_four.net, six_to_four.bits)) return v4_public(b + 2);
  return true;
}

}  // namespace

std::optional<ip_address> parse_ip(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  std::uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return v4_from(buf);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    std::array<std::uint8_t, 16> b;
    std::memcpy(b.data(), buf, 16);
    return canonical_v6(b);
  }
  return std::nullopt;
}

std::optional<cidr> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  auto ip = parse_ip(text.substr(0, slash));
  if (!ip) return std::nullopt;
  // A mapped v6 text ("::ffff:10.0.0.0/104") was turned into v4; its prefix counts from bit 96.
  bool written_v6 = text.substr(0, slash).find(':') != std::string_view::npos;
  int max_bits = ip->v6 ? 128 : 32;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    bits = 0;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return std::nullopt;
      bits = bits * 10 + (ch - '0');
    }
    if (written_v6 && !ip->v6) {
      if (bits < 96 || bits > 128) return std::nullopt;
      bits -= 96;
    }
    if (bits > max_bits) return std::nullopt;
  }
  return cidr{*ip, bits};
}

std::optional<ip_address> ip_of(const sockaddr* addr) {
  if (addr == nullptr) return std::nullopt;
  if (addr->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, addr, sizeof in);
    return v4_from(reinterpret_cast<const std::uint8_t*>(&in.sin_addr));
  }
  if (addr->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, addr, sizeof in6);
    std::array<std::uint8_t, 16> b;
    std::memcpy(b.data(), &in6.sin6_addr, 16);
    return canonical_v6(b);
  }
  return std::nullopt;
}

bool cidr_contains(const cidr& range, const ip_address& ip) {
  if (range.net.v6 != ip.v6) return false;
  return prefix_equal(range.net.bytes.data(), ip.bytes.data(), range.prefix_bits);
}

bool is_public(const ip_address& ip) { return ip.v6 ? v6_public(ip.bytes.data()) : v4_public(ip.bytes.data()); }

std::string address_to_string(const sockaddr* addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr != nullptr && addr->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, addr, sizeof in);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (addr != nullptr && addr->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, addr, sizeof in6);
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  return "<not an IP socket address>";
}

/* Policy: the allow list wins (an operator's explicit choice, e.g. 127.0.0.1/32 for tests or
 * 10.1.2.0/24 for an internal image host); otherwise only public unicast addresses pass.
 * Unparseable allow entries are ignored here (validate() reports them before any fetch). */
bool address_allowed(const sockaddr* addr, const fetch_config& c) {
  auto ip = ip_of(addr);
  if (!ip) return false;
  for (const auto& entry : c.allow) {
    auto range = parse_cidr(entry);
    if (range && cidr_contains(*range, *ip)) return true;
  }
  return is_public(*ip);
}

}  // namespace idphoto::fetch

// address_allowed over tables of IPv4/IPv6 addresses, the allow list, and CIDR parsing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <string>

#include "fetch/address_policy.hpp"
#include "fetch/fetch_url.hpp"

namespace idphoto::fetch {
namespace {

// A sockaddr_storage holding the v4 or v6 address written in text (port 80).
sockaddr_storage sockaddr_of(const std::string& text) {
  sockaddr_storage ss{};
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, text.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(80);
  } else if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(80);
  } else {
    ADD_FAILURE() << "bad test address " << text;
  }
  return ss;
}

bool allowed(const std::string& text, const fetch_config& c = {}) {
  auto ss = sockaddr_of(text);
  return address_allowed(reinterpret_cast<const sockaddr*>(&ss), c);
}

TEST(fetch_address_policy, refused_ipv4) {
  for (const char* a :
       {"127.0.0.1",       "127.0.0.2",   "127.255.255.254", "10.0.0.1",        "10.255.255.255",  "172.16.0.1",
        "172.31.255.255",  "192.168.0.1", "192.168.255.255", "169.254.169.254", "169.254.0.1",     "100.64.0.1",
        "100.127.255.255", "0.0.0.0",     "0.1.2.3",         "224.0.0.1",       "239.255.255.250", "240.0.0.1",
        "255.255.255.255", "192.0.0.170", "192.0.2.1",       "192.88.99.1",     "198.18.0.1",      "198.19.255.255",
        "198.51.100.7",    "203.0.113.9"})
    EXPECT_FALSE(allowed(a)) << a;
}

TEST(fetch_address_policy, allowed_ipv4) {
  for (const char* a :
       {"8.8.8.8", "1.1.1.1", "93.184.216.34", "9.255.255.255", "11.0.0.1", "172.15.255.255", "172.32.0.0",
        "100.63.255.255", "100.128.0.0", "169.253.255.255", "169.255.0.1", "192.167.255.255", "192.169.0.0",
        "198.17.255.255", "198.20.0.0", "223.255.255.255", "126.255.255.255", "128.0.0.1"})
    EXPECT_TRUE(allowed(a)) << a;
}

TEST(fetch_address_policy, refused_ipv6) {
  for (const char* a : {"::",
                        "::1",  // unspecified, loopback
                        "::ffff:127.0.0.1",
                        "::ffff:10.0.0.1",  // IPv4-mapped private
                        "::ffff:169.254.169.254",
                        "::ffff:0.0.0.0",
                        "::ffff:192.168.1.1",
                        "::127.0.0.1",
                        "::8.8.8.8",
                        "::10.0.0.1",  // IPv4-compatible (deprecated)
                        "64:ff9b::7f00:1",
                        "64:ff9b::a00:1",
                        "64:ff9b::a9fe:a9fe",  // NAT64 to private
                        "64:ff9b:1::1",        // local-use NAT64
                        "2002:7f00:1::1",
                        "2002:a00:1::",
                        "2002:c0a8:101::1",
                        "2002:a9fe:a9fe::",  // 6to4
                        "2001::1",
                        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  // Teredo
                        "2001:1::1",
                        "2001:10::1",
                        "2001:1ff::1",  // rest of 2001::/23
                        "2001:db8::1",
                        "3fff::1",  // documentation
                        "fc00::1",
                        "fd12:3456::1",
                        "fd00:ec2::254",  // ULA (incl. AWS metadata v6)
                        "fe80::1",
                        "febf::1",
                        "fec0::1",  // link-local, site-local
                        "ff02::1",
                        "ff05::1:3",
                        "ff0e::1",  // multicast
                        "100::1",
                        "5f00::1",
                        "4000::1",
                        "1fff::1",
                        "e000::1"})
    EXPECT_FALSE(allowed(a)) << a;
}

TEST(fetch_address_policy, allowed_ipv6) {
  for (const char* a : {"2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1", "2001:200::1", "3ffe::1",
                        "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"})
    EXPECT_TRUE(allowed(a)) << a;
}

TEST(fetch_address_policy, allow_list_permits_only_what_it_names) {
  fetch_config c;
  c.allow = {"127.0.0.1/32"};
  EXPECT_TRUE(allowed("127.0.0.1", c));
  EXPECT_TRUE(allowed("::ffff:127.0.0.1", c));  // the same host through a mapped v6 socket
  EXPECT_FALSE(allowed("127.0.0.2", c));
  EXPECT_FALSE(allowed("::1", c));
  EXPECT_FALSE(allowed("10.0.0.1", c));
  EXPECT_TRUE(allowed("8.8.8.8", c));  // public stays allowed

  c.allow = {"10.0.0.0/8", "::1", "fd00::/8", "::ffff:192.168.0.0/112"};
  EXPECT_TRUE(allowed("10.9.9.9", c));
  EXPECT_TRUE(allowed("::1", c));
  EXPECT_TRUE(allowed("fd00::5", c));
  EXPECT_FALSE(allowed("fc00::1", c));
  EXPECT_TRUE(allowed("192.168.3.4", c));
  EXPECT_TRUE(allowed("192.169.0.0", c));  // public anyway
  EXPECT_FALSE(allowed("127.0.0.1", c));
  EXPECT_FALSE(allowed("172.16.0.1", c));

  c.allow = {" 10.0.0.1", "garbage", "10.0.0.0/33", ""};  // unparseable entries permit nothing
  EXPECT_FALSE(allowed("10.0.0.1", c));
}

TEST(fetch_address_policy, non_ip_or_null_address_is_refused) {
  EXPECT_FALSE(address_allowed(nullptr, fetch_config{}));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(address_allowed(reinterpret_cast<const sockaddr*>(&un), fetch_config{}));
  fetch_config everything;
  everything.allow = {"0.0.0.0/0", "::/0"};
  EXPECT_FALSE(address_allowed(reinterpret_cast<const sockaddr*>(&un), everything));
  EXPECT_TRUE(allowed("127.0.0.1", everything));
  EXPECT_TRUE(allowed("fe80::1", everything));
}

TEST(fetch_address_policy, parse_cidr_accepts_and_rejects) {
  for (const char* ok : {"127.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "1.2.3.4/32", "::1", "::/0", "fd00::/8", "[::1]",
                         "2001:db8::/128", "::ffff:10.0.0.0/104"})
    EXPECT_TRUE(parse_cidr(ok).has_value()) << ok;
  for (const char* bad :
       {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0", "2130706433",
        "0x7f000001", "127.1", "localhost", "10.0.0.0/ 8", "::ffff:10.0.0.0/95", "1.2.3.4/0008"})
    EXPECT_FALSE(parse_cidr(bad).has_value()) << bad;
  auto mapped = parse_cidr("::ffff:10.0.0.0/104");
  ASSERT_TRUE(mapped);
  EXPECT_FALSE(mapped->net.v6);
  EXPECT_EQ(mapped->prefix_bits, 8);
}

TEST(fetch_address_policy, address_to_string_names_address_and_port) {
  auto v4 = sockaddr_of("169.254.169.254");
  EXPECT_EQ(address_to_string(reinterpret_cast<const sockaddr*>(&v4)), "169.254.169.254:80");
  auto v6 = sockaddr_of("::1");
  EXPECT_EQ(address_to_string(reinterpret_cast<const sockaddr*>(&v6)), "[::1]:80");
  EXPECT_EQ(address_to_string(nullptr), "<not an IP socket address>");
}

}  // namespace
}  // namespace idphoto::fetch

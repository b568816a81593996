// Run only by tests/fetch/netns_matrix.sh inside a network namespace that has nothing but
// loopback: there, host names that glibc would send to a DNS server can be tried without any
// packet leaving the host. They must never reach a connection.
#include <gtest/gtest.h>

#include <cstdlib>

#include "fetch/guard_fixture.hpp"

namespace idphoto::fetch {
namespace {

using base::errc;

// Inside scripts/netns (tests/fetch/netns_matrix.sh) there is no DNS server to leak to, so
// names that glibc would send to DNS here can be tried too: they must never connect anywhere.
TEST_F(fetch_guarded, names_needing_dns_never_connect_inside_netns) {
  ASSERT_NE(std::getenv("IDPHOTO_FETCH_IN_NETNS"), nullptr)
      << "run me through tests/fetch/netns_matrix.sh only: outside a namespace these names go to DNS";
  for (const char* url : {"http://localhost./", "http://ip6-localhost/", "http://ip6-loopback/",
                          "http://metadata.google.internal/", "http://example.com/"}) {
    attempts = 0;
    auto r = fetch_url(url, fetch_config{});
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_TRUE(r.err().code == errc::forbidden || r.err().code == errc::unavailable)
        << url << " -> " << r.err().to_string();
    EXPECT_EQ(attempts.load(), 0) << url;
  }
}

}  // namespace
}  // namespace idphoto::fetch

#include <gtest/gtest.h>

#include "base/memory_stats.hpp"
#include "base/result.hpp"

using namespace idphoto::base;

namespace {
result<int> parse_positive(int v) {
  if (v <= 0) return make_error(errc::invalid_argument, "not positive: " + std::to_string(v));
  return v;
}
result<int> twice(int v) {
  auto r = parse_positive(v);
  IDPHOTO_TRY(r);
  return *r * 2;
}
}  // namespace

TEST(result, carries_value_or_error) {
  auto ok = twice(3);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 6);
  auto bad = twice(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::invalid_argument);
  EXPECT_EQ(bad.err().to_string(), "invalid_argument: not positive: -1");
}

TEST(memory_stats, reads_proc) {
  EXPECT_GT(current_rss_bytes(), 0);
  EXPECT_GE(peak_rss_bytes(), current_rss_bytes());
}

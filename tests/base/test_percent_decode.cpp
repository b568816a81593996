#include "base/percent_decode.hpp"

#include <gtest/gtest.h>

namespace idphoto::base {
namespace {

TEST(percent_decode, decodes_escapes_of_either_case_and_keeps_the_rest) {
  std::string out;
  ASSERT_TRUE(percent_decode("a%2Fb%2fc%40%3A", &out));
  EXPECT_EQ(out, "a/b/c@:");
  ASSERT_TRUE(percent_decode("", &out));
  EXPECT_EQ(out, "");
  ASSERT_TRUE(percent_decode("%C3%A9t%C3%A9", &out));  // UTF-8 passes through as bytes
  EXPECT_EQ(out, "\xC3\xA9t\xC3\xA9");
}

TEST(percent_decode, refuses_malformed_or_cut_escapes) {
  std::string out;
  for (const char* in : {"%", "%4", "ab%", "ab%4", "%zz", "%4g", "%g4", "%%41"})
    EXPECT_FALSE(percent_decode(in, &out)) << in;
}

TEST(percent_decode, refuses_control_characters_raw_or_escaped) {
  std::string out;
  for (const char* in : {"%00", "a%0ab", "%0D%0A", "%1f", "%7F", "tab\there", "cr\r"})
    EXPECT_FALSE(percent_decode(in, &out)) << in;
  EXPECT_FALSE(percent_decode(std::string_view("a\0b", 3), &out));
  ASSERT_TRUE(percent_decode("%20%7e", &out));  // space and ~ are printable
  EXPECT_EQ(out, " ~");
}

TEST(percent_decode, a_failed_decode_then_a_good_one_starts_clean) {
  std::string out = "left over";
  EXPECT_FALSE(percent_decode("x%0a", &out));
  ASSERT_TRUE(percent_decode("y", &out));
  EXPECT_EQ(out, "y");
}

}  // namespace
}  // namespace idphoto::base
